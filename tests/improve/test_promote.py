"""``genaisys eval loop --promote``: a round's candidate core is served only when the report's checks hold.

Both decisions come from real rounds on a tiny core: one whose training fixes the adversarial set and
the held-out slice (promoted), one whose training breaks a held-out slice it never saw (refused).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from genaisys.errors import ConfigError
from genaisys.eval.parsing import normalize
from genaisys.improve.promote import PROMOTION_FILE, decide_promotion, promote_core, promotion_checks
from genaisys.improve.round import improvement_round
from tests.improve.test_round import _COLOURS, ColourTask
from tests.train.conftest import tiny_chat

_TRAIN = {"loop.lr": 1e-2, "loop.batch_size": 4}


class AbstainOnHeldout(ColourTask):
    """Probe items (c0–c5) want the colour; held-out items (c6–c11) want anything but a colour word:
    learning the probe failures breaks the held-out slice, which the round never trains on."""

    def score(self, item, prediction):
        if int(item.id[1:]) < 6:
            return super().score(item, prediction)
        words = normalize(prediction.text).split()
        return {"id": item.id, "correct": not words or words[0] not in _COLOURS}


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def _round(tmp_path: Path, task, **kw):
    return improvement_round(tiny_chat(init=0.2), tasks=[task], out_dir=tmp_path / "loop", limit=6, holdout=6,
                             steps=30, replay_records=[], n_resamples=200,
                             train_overrides={**_TRAIN, "stage_options.feature_dir": str(tmp_path / "features")}, **kw)


def test_a_round_whose_checks_hold_is_promoted(tmp_path: Path) -> None:
    served = tmp_path / "served"
    report = _round(tmp_path, ColourTask(tmp_path), promote=True, served=served)
    p = report.promotion
    assert p["asked"] and p["checks_hold"] and p["promoted"] and p["decision"] == "promoted"
    assert [c["name"] for c in p["checks"]] == ["adversarial set raised beyond noise",
                                                "colours held-out accuracy not lowered"]
    assert all(c["passed"] for c in p["checks"])
    # the served folder is now the candidate, with the decision beside the weights
    candidate = sorted(f.name for f in report.core_after.iterdir())
    assert sorted(f.name for f in served.iterdir()) == sorted([*candidate, PROMOTION_FILE])
    assert json.loads((served / PROMOTION_FILE).read_text())["round"] == str(report.round_dir)
    md = (report.round_dir / "loop_report.md").read_text()
    assert "## Promotion" in md and "**Decision: promoted.**" in md and "paired-bootstrap" in md
    assert "trained on this round" in md  # the leakage caveat beside the decision
    assert json.loads((report.round_dir / "loop_report.json").read_text())["promotion"]["promoted"] is True


def test_a_round_that_lowers_a_heldout_slice_is_refused(tmp_path: Path) -> None:
    served = tmp_path / "served"
    report = _round(tmp_path, AbstainOnHeldout(tmp_path), promote=True, served=served)
    checks = {c["name"]: c for c in report.promotion["checks"]}
    held = report.tasks["colours"]["heldout"]["compare"]["accuracy"]
    assert held["delta"] < 0 and held["beyond_noise"]  # the training really broke the unseen slice
    assert checks["adversarial set raised beyond noise"]["passed"]  # … while fixing what it was shown
    assert not checks["colours held-out accuracy not lowered"]["passed"]
    assert report.promotion["decision"] == "refused: colours held-out accuracy not lowered"
    assert not report.promotion["promoted"] and not served.exists()
    assert report.core_after.is_dir()  # the candidate stays in the round folder
    assert "**Decision: refused: colours held-out accuracy not lowered.**" in (
        report.round_dir / "loop_report.md").read_text()


def _report(heldout: dict, adv_delta: float = 0.5, adv_noise: bool = True) -> dict:
    return {"adversarial": {"n": 10, "compare": {"accuracy": {"delta": adv_delta, "ci_low": adv_delta - 0.2,
                                                              "ci_high": adv_delta + 0.2, "beyond_noise": adv_noise}}},
            "tasks": {"pope": {"heldout": heldout}} if heldout else {}, "model_before": "a", "model_after": "b",
            "core_after": "cand", "round_dir": "r"}


def _slice(before: dict, after: dict, compare: dict) -> dict:
    return {"n": 40, "before": {k: {"value": v} for k, v in before.items()},
            "after": {k: {"value": v} for k, v in after.items()},
            "compare": {k: {"delta": d, "ci_low": d - 0.05, "ci_high": d + 0.05, "beyond_noise": n}
                        for k, (d, n) in compare.items()}}


def test_checks_on_f1_yes_ratio_and_missing_slices() -> None:
    def failed(report, **kw):
        return [c["name"] for c in promotion_checks(report, **kw) if not c["passed"]]

    fine = _slice({"accuracy": 0.8, "f1": 0.8, "yes_ratio": 0.5}, {"accuracy": 0.82, "f1": 0.79, "yes_ratio": 0.55},
                  {"accuracy": (0.02, False), "f1": (-0.01, False)})
    assert failed(_report(fine)) == []
    f1_down = _slice({"f1": 0.8}, {"f1": 0.6}, {"f1": (-0.2, True)})
    assert failed(_report(f1_down)) == ["pope held-out f1 not lowered"]
    yes_man = _slice({"yes_ratio": 0.5}, {"yes_ratio": 0.9}, {})
    assert failed(_report(yes_man)) == ["pope held-out yes_ratio in its band"]
    assert failed(_report(yes_man), bands={"yes_ratio": (0.0, 1.0)}) == []
    closer = _slice({"yes_ratio": 0.95}, {"yes_ratio": 0.8}, {})  # out before, less far out now
    assert failed(_report(closer)) == []
    assert failed(_report(fine, adv_noise=False)) == ["adversarial set raised beyond noise"]
    assert failed(_report(fine, adv_delta=-0.3)) == ["adversarial set raised beyond noise"]
    assert failed(_report({})) == ["held-out slices evaluated"]
    with pytest.raises(ConfigError, match="low <= high"):
        promotion_checks(_report(fine), bands={"yes_ratio": (0.7, 0.3)})
    not_asked = decide_promotion(_report(yes_man), served="nowhere", promote=False)
    assert not_asked["promoted"] is False and not_asked["decision"].startswith("candidate only (would be refused")


def test_promote_core_keeps_the_previous_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a saved core"):
        promote_core(tmp_path, tmp_path / "served")
    for name, text in (("one", "1"), ("two", "2")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "genaisys_core.json").write_text(text)
        promote_core(tmp_path / name, tmp_path / "served", record={"n": text})
    assert (tmp_path / "served" / "genaisys_core.json").read_text() == "2"
    assert (tmp_path / "served.previous" / "genaisys_core.json").read_text() == "1"
    assert json.loads((tmp_path / "served" / PROMOTION_FILE).read_text()) == {"n": "2"}


def test_eval_loop_promote_on_the_command_line(tmp_path: Path) -> None:
    from genaisys.cli import app
    from genaisys.eval.tasks import register_task, unregister_task

    core_dir = tmp_path / "core"
    tiny_chat(init=0.2).core.save_pretrained(core_dir)
    register_task("colours-abstain", lambda: AbstainOnHeldout(tmp_path))
    try:
        res = CliRunner().invoke(app, [
            "eval", "loop", "--core", str(core_dir), "--tasks", "colours-abstain", "--limit", "6", "--holdout", "6",
            "--out", str(tmp_path / "loop"), "--steps", "30", "--replay", "0", "--max-new-tokens", "4",
            "--set", "loop.lr=1e-2", "--set", "loop.batch_size=4", "--set", f"stage_options.feature_dir={tmp_path}/f",
            "--promote", "--json"])
    finally:
        unregister_task("colours-abstain")
    assert res.exit_code == 3, res.output  # a refused promotion is the command's failure status
    promotion = json.loads(res.stdout)["promotion"]
    assert promotion["asked"] and not promotion["promoted"] and promotion["served"] == str(tmp_path / "loop" / "served")
    assert "promotion: refused: colours held-out accuracy not lowered" in res.stderr
    assert "not promoted: refused: colours held-out accuracy not lowered" in res.stderr
    assert not (tmp_path / "loop" / "served").exists()
