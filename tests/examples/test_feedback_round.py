"""examples/feedback_round.py on a tiny random core saved to a folder: the server answers twelve scripted
turns, every answer is rated through the API, and one round trains on the ratings and reports them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "feedback_round.py"


def test_feedback_round_rates_a_served_session_and_trains_on_it(tmp_path):
    from genaisys.train.engine.feedback import FeedbackStore
    from tests.standard_suites import tiny_vision_core

    core = tmp_path / "core"
    tiny_vision_core().save_pretrained(core)
    out = tmp_path / "out"
    replay = tmp_path / "replay.jsonl"  # the core's own training records, replayed beside the failures
    replay.write_text("".join(json.dumps({"id": f"r{i}", "conversations": [
        {"from": "human", "value": f"What is {i} plus {i}?"}, {"from": "gpt", "value": f"{i} plus {i} is {2 * i}."}]})
        + "\n" for i in range(5)))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    run = subprocess.run(
        [sys.executable, str(EXAMPLE), "--core", str(core), "--out", str(out), "--limit", "easy-vqa=3,pope-adversarial=4",
         "--holdout", "1", "--steps", "2", "--select-every", "1", "--replay", "2", "--replay-from", str(replay),
         "--max-new-tokens", "8", "--eval-max-new-tokens", "4", "--resamples", "50",
         "--threads", "1", "--set", "loop.batch_size=4", "--set", f"stage_options.feature_dir={tmp_path / 'f'}"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:] + run.stdout[-2000:]
    # every turn was answered by the served graph and rated through POST /v1/feedback
    summary = json.loads(next(line for line in run.stdout.splitlines() if line.startswith("feedback: "))[10:])
    assert summary["turns"] == 12 and summary["good"] + summary["bad"] == 12
    store = FeedbackStore(summary["store"])
    try:
        ratings = store.all()
        assert len(ratings) == 12 and set(store.threads()) == {"math", "colours", "yes-no", "greeting"}
        assert sum(r.verdict == "reject" for r in ratings) == summary["bad"]
        assert all(r.edited for r in ratings if r.verdict == "reject")  # a wrong answer always comes corrected
    finally:
        store.close()
    # the round read those sessions: one SFT record per rated answer, a DPO pair per corrected one
    report = json.loads(next((out / "loop").glob("round-*/loop_report.json")).read_text())
    assert report["adversarial_set"]["sessions"] == {"sft": 12, "dpo": summary["bad"], "failures": 0}
    assert report["training"]["records"]["sessions"] == 12
    assert report["training"]["records"]["replay"] == 2  # two records sampled from --replay-from
    probe_items = {t: sum(cut["n"] for name, cut in slices.items() if name in ("probe", "validation"))
                   for t, slices in report["tasks"].items() if t != "sessions"}
    assert probe_items == {"easy-vqa": 3, "pope-adversarial": 4}  # the per-task --limit, validation cut included
    assert "sessions" in report["training"]["labels"]["groups"]  # the yes/no answers were balanced too
    md_path = next((out / "loop").glob("round-*/loop_report.md"))
    md = md_path.read_text()
    assert "Sessions (rated answers): 12 SFT records" in md and "### Answer labels trained on" in md
    assert f"report: {md_path}" in run.stdout and "## Per task and slice" in run.stdout
    assert (md_path.parent / "loop_report.png").is_file()
    # --select-every 1: two one-step segments, each scored on the probe slices' validation cuts
    assert [seg["steps"] for seg in report["training"]["selection"]["segments"]] == [1, 2]
    assert "### Early stopping" in md


def test_feedback_round_refuses_a_bad_count_before_serving(tmp_path):
    run = subprocess.run([sys.executable, str(EXAMPLE), "--out", str(tmp_path / "out"), "--limit", "easy-vqa=lots"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert run.returncode != 0 and "--limit takes a number or task=n pairs" in run.stderr
    assert "serving" not in run.stdout and not (tmp_path / "out").exists()  # nothing started, nothing written
