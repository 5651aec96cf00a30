"""Metrics and their uncertainty: accuracy, precision/recall/F1, POPE yes-ratio, bootstrap intervals.

Every metric here is a plain function of per-item values, so it can be checked by hand. The
intervals come from a percentile bootstrap over *items* — or over item groups (a multiple-choice
item and its rotations move together) — with a fixed seed, so the same records give the same
interval on every machine. `paired_bootstrap` resamples the same items for two systems, which is
what "is this difference beyond noise?" needs.

Conventions: an unparsed binary prediction (``None``) counts as a *negative* prediction (it did
not say yes) and as wrong; precision with no positive prediction, recall with no positive label
and F1 when both are 0 are 0.0 (scikit-learn's ``zero_division=0``).

Example:
    >>> binary_scores(["yes", "no", "yes", "no"], ["yes", "yes", "no", "no"])["precision"]
    0.5
    >>> yes_ratio(["yes", "no", None, "yes"])
    0.5
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Interval",
    "accuracy",
    "binary_scores",
    "bootstrap_metrics",
    "confusion_matrix",
    "f1_score",
    "paired_bootstrap",
    "precision",
    "recall",
    "yes_ratio",
]

DEFAULT_RESAMPLES = 1000


def accuracy(correct: Sequence[bool | None]) -> float:
    """Share of items that are right (``None`` counts as wrong); 0.0 for no items.

    Example:
        >>> accuracy([True, False, True, None])
        0.5
    """
    return sum(1 for c in correct if c) / len(correct) if correct else 0.0


def _counts(pred: Sequence[Any], gold: Sequence[Any], positive: Any) -> tuple[int, int, int, int]:
    if len(pred) != len(gold):
        raise ValueError(f"{len(pred)} predictions but {len(gold)} labels; they must pair up")
    tp = sum(1 for p, g in zip(pred, gold) if p == positive and g == positive)
    fp = sum(1 for p, g in zip(pred, gold) if p == positive and g != positive)
    fn = sum(1 for p, g in zip(pred, gold) if p != positive and g == positive)
    tn = len(pred) - tp - fp - fn
    return tp, fp, fn, tn


def precision(pred: Sequence[Any], gold: Sequence[Any], positive: Any = "yes") -> float:
    """TP / (TP + FP); 0.0 when nothing was predicted positive."""
    tp, fp, _, _ = _counts(pred, gold, positive)
    return tp / (tp + fp) if tp + fp else 0.0


def recall(pred: Sequence[Any], gold: Sequence[Any], positive: Any = "yes") -> float:
    """TP / (TP + FN); 0.0 when no label is positive."""
    tp, _, fn, _ = _counts(pred, gold, positive)
    return tp / (tp + fn) if tp + fn else 0.0


def f1_score(pred: Sequence[Any], gold: Sequence[Any], positive: Any = "yes") -> float:
    """Harmonic mean of precision and recall; 0.0 when both are 0."""
    p, r = precision(pred, gold, positive), recall(pred, gold, positive)
    return 2 * p * r / (p + r) if p + r else 0.0


def yes_ratio(pred: Sequence[Any], positive: Any = "yes") -> float:
    """Share of *predictions* that say yes (POPE's bias indicator; not the share of yes labels).

    Unparsed predictions stay in the denominator: they are answers that did not say yes.
    """
    return sum(1 for p in pred if p == positive) / len(pred) if pred else 0.0


def binary_scores(pred: Sequence[Any], gold: Sequence[Any], positive: Any = "yes") -> dict[str, float]:
    """POPE's five numbers: accuracy, precision, recall, F1 and yes-ratio (of predictions).

    Example:
        >>> s = binary_scores(["yes", "yes", "no", None], ["yes", "no", "no", "yes"])
        >>> [round(s[k], 4) for k in ("accuracy", "precision", "recall", "f1", "yes_ratio")]
        [0.5, 0.5, 0.5, 0.5, 0.5]
    """
    return {
        "accuracy": accuracy([p == g for p, g in zip(pred, gold)]) if len(pred) == len(gold) else _mismatch(pred, gold),
        "precision": precision(pred, gold, positive),
        "recall": recall(pred, gold, positive),
        "f1": f1_score(pred, gold, positive),
        "yes_ratio": yes_ratio(pred, positive),
    }


def _mismatch(pred: Sequence[Any], gold: Sequence[Any]) -> float:
    raise ValueError(f"{len(pred)} predictions but {len(gold)} labels; they must pair up")


def confusion_matrix(pred: Sequence[Any], gold: Sequence[Any], labels: Sequence[str]) -> list[list[int]]:
    """Counts ``[gold_index][pred_index]``; predictions outside ``labels`` (or ``None``) go to a last
    "other" column, so the matrix is ``len(labels) × (len(labels) + 1)``.

    Example:
        >>> confusion_matrix(["a", "b", None], ["a", "a", "b"], ["a", "b"])
        [[1, 1, 0], [0, 0, 1]]
    """
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * (len(labels) + 1) for _ in labels]
    for p, g in zip(pred, gold):
        if g in index:
            matrix[index[g]][index.get(p, len(labels))] += 1
    return matrix


@dataclass(frozen=True)
class Interval:
    """A metric's value on all items and its bootstrap interval."""

    value: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float]:
        return {"value": self.value, "ci_low": self.low, "ci_high": self.high}


def _groups(records: Sequence[Mapping[str, Any]], group_key: str) -> list[list[Mapping[str, Any]]]:
    groups: dict[Hashable, list[Mapping[str, Any]]] = {}
    for i, rec in enumerate(records):
        groups.setdefault(rec.get(group_key, rec.get("id", i)), []).append(rec)
    return list(groups.values())


def bootstrap_metrics(
    metric_fn: Callable[[list[Mapping[str, Any]]], Mapping[str, float]],
    records: Sequence[Mapping[str, Any]],
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
    group_key: str = "group",
) -> dict[str, Interval]:
    """Every metric ``metric_fn(records)`` returns, with a percentile bootstrap interval.

    Groups of records (same ``record[group_key]``, else same ``record["id"]``) are resampled with
    replacement, ``n_resamples`` times, with ``numpy.random.default_rng(seed)``.

    Example:
        >>> recs = [{"id": i, "correct": c} for i, c in enumerate([1, 1, 0, 1])]
        >>> out = bootstrap_metrics(lambda r: {"accuracy": accuracy([x["correct"] for x in r])}, recs)
        >>> out["accuracy"].value, out["accuracy"].low <= 0.75 <= out["accuracy"].high
        (0.75, True)
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    point = dict(metric_fn(list(records)))
    groups = _groups(records, group_key)
    if not groups or n_resamples < 1:
        return {k: Interval(float(v), float(v), float(v)) for k, v in point.items()}
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {k: [] for k in point}
    for _ in range(n_resamples):
        picks = rng.integers(0, len(groups), len(groups))
        resampled = [rec for j in picks for rec in groups[j]]
        values = metric_fn(resampled)
        for k in point:
            samples[k].append(float(values[k]))
    tail = (1 - confidence) / 2 * 100
    return {k: Interval(float(point[k]), float(np.percentile(samples[k], tail)),
                        float(np.percentile(samples[k], 100 - tail))) for k in point}


def paired_bootstrap(
    metric_fn: Callable[[list[Mapping[str, Any]]], Mapping[str, float]],
    records_a: Sequence[Mapping[str, Any]],
    records_b: Sequence[Mapping[str, Any]],
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
    group_key: str = "group",
) -> dict[str, dict[str, float]]:
    """Per metric: ``delta = b − a`` on the groups both runs share, its paired bootstrap interval,
    a two-sided bootstrap p-value, and ``beyond_noise`` (the interval excludes 0).

    The same resampled groups are scored for both systems, so item difficulty cancels out.

    Example:
        >>> a = [{"id": i, "correct": i < 5} for i in range(20)]
        >>> b = [{"id": i, "correct": True} for i in range(20)]
        >>> fn = lambda r: {"accuracy": accuracy([x["correct"] for x in r])}
        >>> out = paired_bootstrap(fn, a, b)["accuracy"]
        >>> out["delta"], out["beyond_noise"]
        (0.75, True)
    """
    def keyed(records: Sequence[Mapping[str, Any]]) -> dict[Hashable, list[Mapping[str, Any]]]:
        out: dict[Hashable, list[Mapping[str, Any]]] = {}
        for i, rec in enumerate(records):
            out.setdefault(rec.get(group_key, rec.get("id", i)), []).append(rec)
        return out

    ga, gb = keyed(records_a), keyed(records_b)
    shared = [k for k in ga if k in gb]
    if not shared:
        raise ValueError("the two runs share no item; compare runs of the same task and data")
    flat_a = [r for k in shared for r in ga[k]]
    flat_b = [r for k in shared for r in gb[k]]
    pa, pb = metric_fn(flat_a), metric_fn(flat_b)
    names = [k for k in pa if k in pb]
    rng = np.random.default_rng(seed)
    deltas: dict[str, list[float]] = {k: [] for k in names}
    for _ in range(max(n_resamples, 1)):
        picks = rng.integers(0, len(shared), len(shared))
        va = metric_fn([r for j in picks for r in ga[shared[j]]])
        vb = metric_fn([r for j in picks for r in gb[shared[j]]])
        for k in names:
            deltas[k].append(float(vb[k]) - float(va[k]))
    tail = (1 - confidence) / 2 * 100
    out: dict[str, dict[str, float]] = {}
    for k in names:
        d = np.asarray(deltas[k])
        low, high = float(np.percentile(d, tail)), float(np.percentile(d, 100 - tail))
        p = min(1.0, 2 * min(float(np.mean(d <= 0)), float(np.mean(d >= 0))))
        delta = float(pb[k]) - float(pa[k])
        out[k] = {"a": float(pa[k]), "b": float(pb[k]), "delta": delta, "ci_low": low, "ci_high": high,
                  "p_value": p, "beyond_noise": bool(low > 0 or high < 0) and not math.isclose(delta, 0.0),
                  "n_shared": len(shared)}
    return out
