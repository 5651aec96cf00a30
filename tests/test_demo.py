"""`genaisys demo` end to end on the packaged models (the README's main job)."""

from __future__ import annotations

import json

import pytest

from genaisys.demo import DEMO_TURNS, DemoTurn, _describe_update, _markdown, TurnRecord


def test_updates_become_readable_steps():
    from langchain_core.messages import AIMessage, ToolMessage

    ai = AIMessage(content="", tool_calls=[{"name": "calculator", "args": {"expression": "2*3"}, "id": "c1"}])
    steps = _describe_update("think", {"messages": [ai]})
    assert steps == [{"node": "think", "kind": "tool_call", "tool": "calculator", "args": {"expression": "2*3"}}]
    steps = _describe_update("act", {"messages": [ToolMessage("6", tool_call_id="c1", name="calculator")]})
    assert steps[0]["kind"] == "tool_result" and steps[0]["text"] == "6"
    steps = _describe_update("recall", {"context": [{"citation": "pydoc:with#chars=0-10", "score": 0.5}]})
    assert steps[0]["citation"] == "pydoc:with#chars=0-10"


def test_markdown_reports_misses_plainly():
    rec = TurnRecord("arithmetic", "What is 2*3?", None, answer="7", expected_tool="calculator",
                     tool_ok=False, words_ok=False)
    md = _markdown([rec], {"core": "x", "store": "s", "chunks": 1, "photos": 0, "thread_id": "t"})
    assert "| arithmetic | calculator | — | **no** | **no** |" in md


@pytest.mark.packaged
def test_demo_runs_offline_and_writes_the_transcript(tmp_path):
    from genaisys.demo import run_demo

    turns = DEMO_TURNS[:1] + (DemoTurn("photo", "What is in this photo?", image="chelsea"),)
    records = run_demo(tmp_path / "demo", turns=turns, max_new_tokens=24)
    assert [r.name for r in records] == ["retrieval", "photo"]
    assert records[0].sources, "the recall node should cite retrieved chunks"
    data = json.loads((tmp_path / "demo" / "transcript.json").read_text())
    assert len(data["turns"]) == 2 and data["meta"]["chunks"] > 79
    assert "## retrieval" in (tmp_path / "demo" / "transcript.md").read_text()
