from __future__ import annotations

import json

import pytest

from genaisys.errors import ConfigError
from genaisys.eval.adversarial import gather_adversarial
from genaisys.eval.runner import run_eval
from genaisys.eval.tasks import get_task


def test_gather_failures_and_rejected_session_answers(scripted, tiny_vqa, tmp_path) -> None:
    result = run_eval(get_task("pope-random", root=tiny_vqa), scripted(answer=lambda t, i: "yes"), n_resamples=10)
    n_wrong = sum(not r["correct"] for r in result.records)
    assert n_wrong == 6
    sessions = tmp_path / "sessions.jsonl"
    sessions.write_text("\n".join(json.dumps(s) for s in [
        {"session_id": "s1", "messages": [{"role": "user", "content": "What is 2+2?"},
                                          {"role": "assistant", "content": "5"},
                                          {"role": "user", "content": "Thanks"},
                                          {"role": "assistant", "content": "You're welcome"}],
         "feedback": [{"index": 1, "rating": "down", "correction": "4"}, {"index": 3, "rating": "up"}]},
        {"prompt": "Capital of Italy?", "answer": "Paris", "rating": -1},
        {"prompt": "Capital of Spain?", "answer": "Madrid", "rating": 1},
    ]) + "\n")
    out = tmp_path / "adv.jsonl"
    counts = gather_adversarial(out, results=[result], sessions=[sessions])
    assert counts == {"added": n_wrong + 2, "already_there": 0, "total": n_wrong + 2}
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    evals = [r for r in rows if r["source"] == "eval"]
    assert all(r["rejected"] == "yes" and r["reference"] == "no" and r["images"] for r in evals)
    assert evals[0]["origin"].startswith("pope-random/") and evals[0]["model_id"] == result.model_id
    sess = {r["prompt"]: r for r in rows if r["source"] == "session"}
    assert sess["What is 2+2?"]["rejected"] == "5" and sess["What is 2+2?"]["reference"] == "4"
    assert sess["What is 2+2?"]["origin"] == "s1#1"
    assert sess["Capital of Italy?"]["reference"] is None
    # Gathering again adds nothing.
    assert gather_adversarial(out, results=[result], sessions=[sessions])["added"] == 0


def test_bad_session_files_say_what_is_wrong(tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}],
                               "feedback": [{"index": 0, "rating": "down"}]}) + "\n")
    with pytest.raises(ConfigError, match="does not point at an assistant"):
        gather_adversarial(tmp_path / "o.jsonl", sessions=[bad])
    bad.write_text("not json\n")
    with pytest.raises(ConfigError, match="not JSON"):
        gather_adversarial(tmp_path / "o.jsonl", sessions=[bad])
    with pytest.raises(ConfigError, match="no sessions file"):
        gather_adversarial(tmp_path / "o.jsonl", sessions=[tmp_path / "nope.jsonl"])
