"""Every metric against values computed by hand in the comments."""

from __future__ import annotations

import numpy as np
import pytest

from genaisys.eval.metrics import (
    accuracy,
    binary_scores,
    bootstrap_metrics,
    confusion_matrix,
    f1_score,
    paired_bootstrap,
    precision,
    recall,
    yes_ratio,
)

# pred/gold: TP = items 0,1 ; FP = item 2 ; FN = items 3 (no) and 4 (None) ; TN = items 5,6,7
PRED = ["yes", "yes", "yes", "no", None, "no", "no", "no"]
GOLD = ["yes", "yes", "no", "yes", "yes", "no", "no", "no"]


def test_binary_metrics_by_hand() -> None:
    assert accuracy([p == g for p, g in zip(PRED, GOLD)]) == 5 / 8      # TP 2 + TN 3
    assert precision(PRED, GOLD) == 2 / 3                               # 2 / (2 + 1)
    assert recall(PRED, GOLD) == 2 / 4                                  # 2 / (2 + 2)
    assert f1_score(PRED, GOLD) == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))  # = 4/7
    assert f1_score(PRED, GOLD) == pytest.approx(4 / 7)
    assert yes_ratio(PRED) == 3 / 8                                     # of predictions, not labels (4/8)
    s = binary_scores(PRED, GOLD)
    assert s == {"accuracy": 5 / 8, "precision": 2 / 3, "recall": 0.5, "f1": pytest.approx(4 / 7),
                 "yes_ratio": 3 / 8}


def test_zero_division_and_mismatch() -> None:
    assert precision(["no", "no"], ["yes", "no"]) == 0.0
    assert recall(["yes"], ["no"]) == 0.0
    assert f1_score(["no"], ["no"]) == 0.0
    assert accuracy([]) == 0.0 and yes_ratio([]) == 0.0
    with pytest.raises(ValueError, match="pair up"):
        precision(["yes"], ["yes", "no"])
    with pytest.raises(ValueError, match="pair up"):
        binary_scores(["yes"], [])


def test_confusion_matrix_by_hand() -> None:
    m = confusion_matrix(["a", "b", "b", None, "z"], ["a", "a", "b", "b", "c"], ["a", "b", "c"])
    # rows gold a,b,c; cols pred a,b,c,other
    assert m == [[1, 1, 0, 0], [0, 1, 0, 1], [0, 0, 0, 1]]


def _acc(records):
    return {"accuracy": accuracy([r["correct"] for r in records])}


def test_bootstrap_matches_a_hand_rolled_percentile_bootstrap() -> None:
    correct = [True, True, False, True, False, True, True, True, False, True]
    recs = [{"id": i, "correct": c} for i, c in enumerate(correct)]
    out = bootstrap_metrics(_acc, recs, n_resamples=200, seed=7)["accuracy"]
    rng = np.random.default_rng(7)
    arr = np.array(correct, dtype=float)
    means = [arr[rng.integers(0, 10, 10)].mean() for _ in range(200)]
    assert out.value == 0.7
    assert out.low == pytest.approx(np.percentile(means, 2.5))
    assert out.high == pytest.approx(np.percentile(means, 97.5))
    assert out.low < 0.7 < out.high
    again = bootstrap_metrics(_acc, recs, n_resamples=200, seed=7)["accuracy"]
    assert again == out  # fixed seed → same interval


def test_bootstrap_degenerate_and_grouped() -> None:
    recs = [{"id": i, "correct": True} for i in range(5)]
    iv = bootstrap_metrics(_acc, recs)["accuracy"]
    assert (iv.value, iv.low, iv.high) == (1.0, 1.0, 1.0)
    # Groups move together: 2 groups of 2 identical records → only 0, 0.5, 1 are possible means.
    grouped = [{"id": f"{g}{k}", "group": g, "correct": g == "a"} for g in "ab" for k in range(2)]
    iv = bootstrap_metrics(_acc, grouped, n_resamples=300, seed=0)["accuracy"]
    assert iv.value == 0.5 and iv.low == 0.0 and iv.high == 1.0
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_metrics(_acc, recs, confidence=1.5)


def test_paired_bootstrap_detects_real_change_and_not_noise() -> None:
    a = [{"id": i, "correct": i % 2 == 0} for i in range(40)]
    same = paired_bootstrap(_acc, a, [dict(r) for r in a])["accuracy"]
    assert same["delta"] == 0.0 and not same["beyond_noise"] and same["p_value"] == 1.0
    better = paired_bootstrap(_acc, a, [{"id": i, "correct": True} for i in range(40)])["accuracy"]
    assert better["delta"] == 0.5 and better["beyond_noise"] and better["ci_low"] > 0
    one_flip = [dict(r) for r in a]
    one_flip[1]["correct"] = True
    small = paired_bootstrap(_acc, a, one_flip)["accuracy"]
    assert small["delta"] == pytest.approx(1 / 40) and not small["beyond_noise"]
    with pytest.raises(ValueError, match="share no item"):
        paired_bootstrap(_acc, a, [{"id": "x", "correct": True}])
