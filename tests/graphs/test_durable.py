"""Durability: approval resumed from another process, and resuming after a SIGKILL without
running a finished tool again. Every run of the graph here is a real separate process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from langgraph.types import Command

from genaisys.errors import GraphError
from genaisys.graphs import build_assistant_graph, run_turn
from tests.graphs.fakes import ScriptedChatModel, call

REPO = Path(__file__).resolve().parents[2]


def worker(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tests.graphs.durable_worker", *args],
        cwd=REPO, capture_output=True, text=True, timeout=120, env={**os.environ},
    )


def last_json(out: subprocess.CompletedProcess) -> dict:
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_approval_pauses_in_one_process_and_resumes_in_another(tmp_path):
    db, log = str(tmp_path / "c.sqlite"), tmp_path / "notes.txt"
    started = last_json(worker("approve-start", db, str(log)))
    assert started["interrupts"] == [
        {"type": "tool_approval", "tool_calls": [{"name": "write_note", "args": {"text": "hello"}, "id": "c1"}]}
    ]
    assert not log.exists()  # nothing ran before the human answered

    resumed = last_json(worker("approve-resume", db, str(log), json.dumps("approve")))
    assert log.read_text() == "hello\n"
    assert resumed["tools"] == {"c1": "saved 'hello'"}
    assert resumed["answer"] == "done"
    assert resumed["interrupts"] == []


def test_rejection_from_another_process_reaches_the_model(tmp_path):
    db, log = str(tmp_path / "c.sqlite"), tmp_path / "notes.txt"
    last_json(worker("approve-start", db, str(log)))
    decision = json.dumps({"action": "reject", "reason": "not today"})
    resumed = last_json(worker("approve-resume", db, str(log), decision))
    assert not log.exists()
    assert "did not approve" in resumed["tools"]["c1"] and "not today" in resumed["tools"]["c1"]
    assert "not today" in resumed["prompt_tail"][-1]  # the model read the rejection


def test_edit_decision_runs_the_edited_call():
    ran = []

    def write_note(text: str) -> str:
        """Append a note."""
        ran.append(text)
        return "ok"

    model = ScriptedChatModel(responses=[AIMessage("", tool_calls=[call("write_note", {"text": "typo"}, "c1")]), AIMessage("done")])
    graph = build_assistant_graph(model, tools=[write_note], checkpointer=":memory:", approve=["write_note"])
    paused = run_turn(graph, "note", thread_id="e")
    assert paused["__interrupt__"][0].value["tool_calls"][0]["args"] == {"text": "typo"}
    state = run_turn(graph, Command(resume={"action": "edit", "args": {"text": "fixed"}}), thread_id="e")
    assert ran == ["fixed"]
    assert state["messages"][1].tool_calls[0]["args"] == {"text": "fixed"}  # replaced, not appended
    assert state["messages"][-1].content == "done"
    with pytest.raises(GraphError, match="answer a tool approval"):
        model.responses.append(AIMessage("", tool_calls=[call("write_note", {"text": "again"}, "c2")]))
        run_turn(graph, "again", thread_id="e2")  # fresh thread: pauses
        run_turn(graph, Command(resume="maybe"), thread_id="e2")


def test_only_listed_tools_need_approval():
    def harmless(x: int) -> int:
        """Return x."""
        return x

    model = ScriptedChatModel(responses=[AIMessage("", tool_calls=[call("harmless", {"x": 1}, "c1")]), AIMessage("1")])
    graph = build_assistant_graph(model, tools=[harmless], checkpointer=":memory:", approve=["write_note"])
    state = run_turn(graph, "x", thread_id="h")
    assert "__interrupt__" not in state and state["messages"][-1].content == "1"


def test_sigkill_after_a_tool_step_resumes_without_rerunning_the_tool(tmp_path):
    db, log = str(tmp_path / "c.sqlite"), tmp_path / "notes.txt"
    killed = worker("kill-next-step", db, str(log))
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert log.read_text() == "once\n"

    resumed = last_json(worker("resume", db, str(log)))
    assert log.read_text() == "once\n"  # the tool did not run again
    assert resumed["tools"] == {"c1": "saved 'once'"}
    assert resumed["prompt_tail"][-1] == "saved 'once'"  # the resumed model saw the earlier result
    assert resumed["answer"] == "done"


def test_sigkill_inside_a_tool_step_does_not_repeat_the_finished_call(tmp_path):
    db, log = str(tmp_path / "c.sqlite"), tmp_path / "notes.txt"
    killed = worker("kill-in-step", db, str(log))
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert log.read_text() == "first\n"

    resumed = last_json(worker("resume", db, str(log)))
    # the act step ran again from its start; write_note's result came from the idempotency cache
    assert log.read_text() == "first\n"
    assert resumed["tools"] == {"c1": "saved 'first'", "c2": "ok"}
    assert resumed["answer"] == "done"
