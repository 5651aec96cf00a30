"""A separate process for the durability tests: start, crash or resume an assistant thread.

Usage: python -m tests.graphs.durable_worker SCENARIO DB LOG [RESUME_JSON]
It prints one JSON line describing what it saw. Scenarios:
  approve-start   the model calls write_note; the graph pauses for approval
  approve-resume  answers the pause with RESUME_JSON (from another process than the start)
  kill-next-step  write_note runs, then the process is SIGKILLed as the model is called again
  kill-in-step    write_note finishes, then a second tool in the same step SIGKILLs the process
  resume          continues the thread from its last checkpoint
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
import time
from pathlib import Path

from langchain_core.messages import AIMessage, ToolMessage
from langgraph.types import Command

from genaisys.graphs import build_assistant_graph, run_turn, sqlite_checkpointer
from tests.graphs.fakes import ScriptedChatModel, call

THREAD = "durable"


def tools(log: Path):
    def write_note(text: str) -> str:
        """Append a note to the notebook (a side effect that must not repeat)."""
        with log.open("a") as f:
            f.write(text + "\n")
        return f"saved {text!r}"

    def crash_once(text: str) -> str:
        """Crash the process the first time it runs, after write_note has finished."""
        marker = log.with_suffix(".crashed")
        if not marker.exists():
            deadline = time.time() + 30
            while time.time() < deadline and not _cached("write_note"):  # write_note has fully finished
                time.sleep(0.02)
            marker.write_text("1")
            os.kill(os.getpid(), signal.SIGKILL)
        return "ok"

    return [write_note, crash_once]


def _cached(tool: str) -> bool:
    """Whether the tools' idempotency cache (a SQLite file) holds a finished call of ``tool``."""
    try:
        with sqlite3.connect(os.environ["GENAISYS_TOOL_CACHE"], timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM tool_results WHERE tool = ?", (tool,)).fetchone()[0] > 0
    except sqlite3.OperationalError:  # table not created yet
        return False


def _die_on_call(number: int):
    def hook(n, messages):
        if n == number:
            os.kill(os.getpid(), signal.SIGKILL)

    return hook


def main(scenario: str, db: str, log_path: str, resume: str | None = None) -> None:
    log = Path(log_path)
    if scenario == "approve-start":
        responses = [AIMessage("", tool_calls=[call("write_note", {"text": "hello"}, "c1")])]
    elif scenario == "kill-next-step":
        responses = [AIMessage("", tool_calls=[call("write_note", {"text": "once"}, "c1")]), AIMessage("unused")]
    elif scenario == "kill-in-step":
        responses = [
            AIMessage("", tool_calls=[call("write_note", {"text": "first"}, "c1"), call("crash_once", {"text": "x"}, "c2")])
        ]
    else:
        responses = [AIMessage("done")]
    model = ScriptedChatModel(responses=responses, on_call=_die_on_call(1) if scenario == "kill-next-step" else None)
    graph = build_assistant_graph(
        model, tools=tools(log), checkpointer=sqlite_checkpointer(db), approve=scenario.startswith("approve")
    )
    if scenario == "approve-start":
        state = run_turn(graph, "note 'hello'", thread_id=THREAD)
        print(json.dumps({"interrupts": [i.value for i in state.get("__interrupt__", [])]}))
        return
    if scenario in ("kill-next-step", "kill-in-step"):
        run_turn(graph, "take a note", thread_id=THREAD)
        print(json.dumps({"error": "was not killed"}))
        return
    content = Command(resume=json.loads(resume)) if scenario == "approve-resume" else None
    state = run_turn(graph, content, thread_id=THREAD)
    print(
        json.dumps(
            {
                "answer": state["messages"][-1].content,
                "tools": {m.tool_call_id: m.content for m in state["messages"] if isinstance(m, ToolMessage)},
                "prompt_tail": [m.content for m in model.prompts[-1][-2:]] if model.prompts else [],
                "interrupts": [i.value for i in state.get("__interrupt__", [])],
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
