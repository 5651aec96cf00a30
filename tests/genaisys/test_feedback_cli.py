"""``genaisys chat`` rates answers with /good, /bad, /edit; ``genaisys feedback export`` makes SFT and DPO data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.language_models import FakeListChatModel
from typer.testing import CliRunner

import genaisys.cli as cli
from genaisys.graphs import build_assistant_graph
from genaisys.train.engine.feedback import FeedbackStore


@pytest.fixture()
def scripted_chat(monkeypatch: pytest.MonkeyPatch) -> None:
    """`genaisys chat` on a scripted model, with the real SQLite checkpoints under ``--store``."""
    answers = ["Paris.", "It is 41.", "Berlin is in Spain.", "Hi."]

    def assistant(core: str, store: Path, max_new_tokens: int, dtype: str = "auto"):
        return build_assistant_graph(FakeListChatModel(responses=answers), checkpointer=cli._checkpoints(store))

    monkeypatch.setattr(cli, "_assistant", assistant)


def _chat(store: Path, lines: list[str]) -> str:
    res = CliRunner().invoke(cli.app, ["chat", "--store", str(store), "--thread", "t1"], input="\n".join(lines) + "\n")
    assert res.exit_code == 0, res.output
    return res.output


def test_chat_commands_rate_the_last_answer_and_export_makes_sft_and_dpo(tmp_path: Path, scripted_chat: None) -> None:
    store = tmp_path / "store"
    out = _chat(store, ["/good", "Capital of France?", "/good", "What is 6 times 7?", "/bad", "/edit It is 42.",
                        "Where is Berlin?", "/bad", "/edit", "/good twice", "Hello", "/quit"])
    assert "no answer to rate yet" in out and "/edit needs the corrected answer" in out and "takes no text" in out
    assert out.count("rated good") == 1 and out.count("rated bad") == 2 and "bad answer, corrected" in out
    # a resumed thread: /edit rates its last answer, which this session did not make
    out = _chat(store, ["/edit Hello! How can I help?", "/quit"])
    assert "correction saved (edited)" in out

    path = store / "checkpoints.feedback.sqlite"  # beside the thread's checkpoints
    with FeedbackStore(path) as fb:
        verdicts = [(f.verdict, f.edited) for f in fb.all()]
        fb.record("ghost", "m1", "accept")  # a thread the checkpointer never had: skipped on export
    assert verdicts == [("accept", None), ("reject", "It is 42."), ("reject", None), ("edit", "Hello! How can I help?")]

    res = CliRunner().invoke(cli.app, ["feedback", "export", "--store", str(store), "--out", str(tmp_path / "data")])
    assert res.exit_code == 0, res.output
    assert "SFT records: 3  DPO pairs: 2  failures (bad, no correction): 1  skipped: 1  (of 5 ratings on 2 threads)" \
        in " ".join(res.output.split("\n")[0:2])
    sft = [json.loads(x) for x in (tmp_path / "data" / "sft.jsonl").read_text().splitlines()]
    dpo = [json.loads(x) for x in (tmp_path / "data" / "dpo.jsonl").read_text().splitlines()]
    failures = [json.loads(x) for x in (tmp_path / "data" / "failures.jsonl").read_text().splitlines()]
    # /good: the answer as it was, in its conversation, learnt on the last turn only
    good = next(r for r in sft if r["meta"]["verdict"] == "accept")
    assert [t["value"] for t in good["conversations"]] == ["Capital of France?", "Paris."]
    assert good["train_on"] == "last"
    # /bad + /edit: a DPO pair, chosen = the edited text, rejected = the original answer
    pair = next(r for r in dpo if r["meta"]["verdict"] == "reject")
    assert pair["chosen"]["value"] == "It is 42." and pair["rejected"]["value"] == "It is 41."
    assert [t["value"] for t in pair["conversations"]] == ["Capital of France?", "Paris.", "What is 6 times 7?"]
    # the correction is also an SFT record, and later prompts carry it instead of the bad answer
    assert {r["conversations"][-1]["value"] for r in sft} == {"Paris.", "It is 42.", "Hello! How can I help?"}
    edit = next(r for r in dpo if r["meta"]["verdict"] == "edit")
    assert edit["chosen"]["value"] == "Hello! How can I help?" and edit["rejected"]["value"] == "Hi."
    assert [t["value"] for t in edit["conversations"]][3] == "It is 42."
    # /bad alone: a failure row for a teacher or a person to answer
    (failure,) = failures
    assert failure["prompt"] == "Where is Berlin?" and failure["rejected"] == "Berlin is in Spain."

    res = CliRunner().invoke(cli.app, ["feedback", "export", "--store", str(store), "--out", str(tmp_path / "d2"),
                                       "--json"])
    counts = json.loads(res.stdout)
    assert {k: counts[k] for k in ("sft", "dpo", "failures", "skipped")} == {"sft": 3, "dpo": 2, "failures": 1,
                                                                            "skipped": 1}


def test_export_says_what_is_missing(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli.app, ["feedback", "export", "--store", str(tmp_path / "none")])
    assert res.exit_code == 1 and "no threads at" in str(res.exception)
    (tmp_path / "threads.sqlite").write_bytes(b"")
    res = CliRunner().invoke(cli.app, ["feedback", "export", "--checkpointer", str(tmp_path / "threads.sqlite")])
    assert res.exit_code == 1 and "threads.feedback.sqlite" in str(res.exception)
