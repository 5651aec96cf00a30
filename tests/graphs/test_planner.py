"""The planner graph: validated HuggingGPT-style plans run as parallel Send branches."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from genaisys.errors import GraphError
from genaisys.graphs import build_planner_graph
from genaisys.graphs.planner import parse_plan, validate_plan
from genaisys.graphs.nodes import resolve_tools
from tests.graphs.fakes import ScriptedChatModel

SNAPSHOTS = Path(__file__).parent / "snapshots"
SLEEP_S = 0.4


class Recorder:
    def __init__(self) -> None:
        self.spans: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def tools(self):
        def slow(label: str) -> str:
            """Think hard about a label for a while and return it upper-cased."""
            start = time.perf_counter()
            time.sleep(SLEEP_S)
            with self.lock:
                self.spans[label] = (start, time.perf_counter())
            return label.upper()

        def concat(a: str, b: str) -> str:
            """Join two texts with a plus sign."""
            with self.lock:
                self.spans["concat"] = (time.perf_counter(), time.perf_counter())
            return f"{a}+{b}"

        def fail(reason: str) -> str:
            """Always fails."""
            raise RuntimeError(reason)

        return [slow, concat, fail]


def test_independent_tasks_run_concurrently_and_join_when_both_finish():
    rec = Recorder()
    graph = build_planner_graph(tools=rec.tools())
    plan = [
        {"task": "slow", "id": 1, "dep": [-1], "args": {"label": "a"}},
        {"task": "slow", "id": 2, "dep": [-1], "args": {"label": "b"}},
        {"task": "concat", "id": 3, "dep": [1, 2], "args": {"a": "<GENERATED>-1", "b": "<GENERATED>-2"}},
    ]
    started = time.perf_counter()
    state = graph.invoke({"plan": plan})
    wall = time.perf_counter() - started

    (a0, a1), (b0, b1) = rec.spans["a"], rec.spans["b"]
    overlap = min(a1, b1) - max(a0, b0)
    assert overlap > 0.5 * SLEEP_S, f"tasks 1 and 2 overlapped only {overlap:.3f}s"
    assert wall < 1.75 * SLEEP_S, f"two {SLEEP_S}s tasks took {wall:.2f}s in all: not parallel"
    assert rec.spans["concat"][0] >= max(a1, b1)  # the join waited for both dependencies
    assert state["results"]["3"] == {"task": "concat", "status": "success", "output": "A+B"}
    assert "task 3 (concat) success: A+B" in state["messages"][-1].content


def test_cyclic_plan_is_rejected_before_any_tool_runs():
    rec = Recorder()
    graph = build_planner_graph(tools=rec.tools())
    plan = [
        {"task": "slow", "id": 1, "dep": [3], "args": {"label": "a"}},
        {"task": "slow", "id": 2, "dep": [1], "args": {"label": "<GENERATED>-1"}},
        {"task": "slow", "id": 3, "dep": [2], "args": {"label": "c"}},
    ]
    with pytest.raises(GraphError, match=r"cycle in dep: 1 → 3 → 2 → 1"):
        graph.invoke({"plan": plan})
    assert rec.spans == {}


def test_validation_lists_every_problem():
    tools = resolve_tools(Recorder().tools(), safe=False)
    plan = [
        {"task": "paint", "id": 1, "dep": [-1], "args": {}},
        {"task": "slow", "id": 2, "dep": [-1], "args": {"label": 5, "colour": "red"}},
        {"task": "concat", "id": 3, "dep": [9], "args": {"a": "<GENERATED>-2"}},
        {"task": "slow", "id": 2, "args": {"label": "x"}},
    ]
    with pytest.raises(GraphError) as info:
        validate_plan(plan, tools)
    message = str(info.value)
    for expected in (
        "id 2 is used by 2 tasks",
        "task 1: unknown tool 'paint' (known: concat, fail, slow)",
        "task 2: unknown argument 'colour'",
        "task 2: argument label: Input should be a valid string",
        "task 3: argument b: Field required",
        "task 3: depends on unknown task 9",
        "task 3: uses <GENERATED>-2 but does not list 2 in dep",
    ):
        assert expected in message, expected


def test_failed_task_skips_its_dependents_and_others_finish():
    graph = build_planner_graph(tools=Recorder().tools())
    plan = [
        {"task": "fail", "id": "x", "args": {"reason": "disk on fire"}},
        {"task": "concat", "id": "y", "dep": ["x"], "args": {"a": "<GENERATED>-x", "b": "!"}},
        {"task": "concat", "id": "z", "args": {"a": "still", "b": "runs"}},
    ]
    results = graph.invoke({"plan": plan})["results"]
    assert results["x"]["status"] == "error" and "disk on fire" in results["x"]["output"]
    assert results["y"] == {"task": "concat", "status": "skipped", "output": "skipped: dependency x did not succeed"}
    assert results["z"]["output"] == "still+runs"


def test_model_writes_the_plan_and_the_answer():
    plan = [{"task": "concat", "id": 1, "dep": [-1], "args": {"a": "foo", "b": "bar"}}]
    model = ScriptedChatModel(
        responses=[AIMessage(f"Here is the plan:\n```json\n{json.dumps(plan)}\n```"), AIMessage("It is foo+bar.")]
    )
    graph = build_planner_graph(model, tools=Recorder().tools())
    events = []
    for mode, chunk in graph.stream(
        {"messages": [HumanMessage("join foo and bar")]}, stream_mode=["custom", "values"]
    ):
        if mode == "custom":
            events.append(chunk)
        else:
            state = chunk
    planner_prompt = model.prompts[0][0].content
    assert "concat: Join two texts with a plus sign." in planner_prompt and "<GENERATED>-N" in planner_prompt
    assert "task 1 (concat) success: foo+bar" in model.prompts[1][0].content
    assert state["messages"][-1].content == "It is foo+bar."
    assert [(e["type"], e["task_id"] if e["type"] == "tool_start" else e["status"]) for e in events] == [
        ("tool_start", "1"),
        ("tool_end", "success"),
    ]


def test_plan_parsing_and_missing_plan():
    with pytest.raises(GraphError, match="no JSON task list"):
        parse_plan("I would rather not.")
    assert parse_plan('x [1, 2] y [{"task": "a", "id": 1}]') == [1, 2]
    with pytest.raises(GraphError, match="no plan in the input"):
        build_planner_graph(tools=Recorder().tools()).invoke({"messages": [HumanMessage("hi")]})


def test_topology_matches_mermaid_snapshot():
    mermaid = build_planner_graph(tools=Recorder().tools()).get_graph().draw_mermaid()
    snapshot = SNAPSHOTS / "planner.mmd"
    if os.environ.get("GENAISYS_UPDATE_SNAPSHOTS") == "1":
        snapshot.write_text(mermaid)
    assert mermaid == snapshot.read_text()


def test_model_gets_its_invalid_plan_back_with_the_problems_and_fixes_it():
    cyclic = [
        {"task": "concat", "id": 1, "dep": [2], "args": {"a": "x", "b": "y"}},
        {"task": "concat", "id": 2, "dep": [1], "args": {"a": "x", "b": "y"}},
    ]
    fixed = [{"task": "concat", "id": 1, "dep": [-1], "args": {"a": "x", "b": "y"}}]
    model = ScriptedChatModel(responses=[AIMessage(json.dumps(cyclic)), AIMessage(json.dumps(fixed)), AIMessage("x+y")])
    state = build_planner_graph(model, tools=Recorder().tools()).invoke({"messages": [HumanMessage("join x and y")]})
    retry_prompt = model.prompts[1][-1].content
    assert "That plan cannot run" in retry_prompt and "cycle in dep: 1 → 2 → 1" in retry_prompt
    assert state["results"]["1"]["output"] == "x+y"


def test_model_that_never_writes_a_valid_plan_stops_with_a_graph_error():
    model = ScriptedChatModel(responses=[AIMessage("no idea"), AIMessage('[{"task": "paint", "id": 1}]')])
    with pytest.raises(GraphError, match=r"no valid plan in 2 tries; the last one: invalid plan: task 1: unknown tool 'paint'"):
        build_planner_graph(model, tools=Recorder().tools()).invoke({"messages": [HumanMessage("paint")]})
