"""Per-step overhead of genaisys's assistant graph against a bare LangGraph graph, and the cost
of SQLite checkpointing per step.

Baseline: a bare ``StateGraph(MessagesState)`` with the same two nodes (``think`` calls the
model, ``act`` is LangGraph's raw ``ToolNode``) and the same router. Both graphs run the same
scripted fake model (``ROUNDS`` tool rounds, then an answer: ``2·ROUNDS+1`` steps per turn) and
the same no-op tool, side by side in one process, interleaved, median of ``REPEATS`` turns.

Run: ``.venv/bin/python bench/graphs.py [--rounds 5] [--repeats 40]``. Goal: ≤ 1.10× the bare graph.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition

from genaisys.graphs import build_assistant_graph, sqlite_checkpointer


class LoopingFakeModel(BaseChatModel):
    """Calls the no-op tool until the turn has ``rounds`` tool results, then answers."""

    rounds: int = 5

    @property
    def _llm_type(self) -> str:
        return "bench-fake"

    def bind_tools(self, tools: Any, **kwargs: Any) -> LoopingFakeModel:
        return self

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        done = 0
        for m in reversed(messages):
            if isinstance(m, HumanMessage):
                break
            done += isinstance(m, ToolMessage)
        if done < self.rounds:
            msg = AIMessage("", tool_calls=[{"name": "noop", "args": {"x": done}, "id": f"c{done}", "type": "tool_call"}])
        else:
            msg = AIMessage("done")
        return ChatResult(generations=[ChatGeneration(message=msg)])


@tool
def noop(x: int) -> int:
    """Return x unchanged."""
    return x


def bare_graph(model: BaseChatModel):
    bound = model.bind_tools([noop])
    g = StateGraph(MessagesState)
    g.add_node("think", lambda s: {"messages": [bound.invoke(s["messages"])]})
    g.add_node("act", ToolNode([noop]))
    g.add_edge(START, "think")
    g.add_conditional_edges("think", tools_condition, {"tools": "act", END: END})
    g.add_edge("act", "think")
    return g.compile().with_config(recursion_limit=1000)


def _timer(graph, *, thread: bool, durability: str | None = None) -> Callable[[int], tuple[float, float]]:
    def run(i: int) -> tuple[float, float]:
        config = {"configurable": {"thread_id": f"t{i}-{time.perf_counter_ns()}"}} if thread else {}
        kwargs = {"durability": durability} if durability else {}
        start, cpu = time.perf_counter(), time.process_time()
        out = graph.invoke({"messages": [HumanMessage("go")]}, config, **kwargs)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        if out["messages"][-1].content != "done":
            raise RuntimeError("benchmark graph did not finish its turn")
        return elapsed, cpu

    return run


def measure(cases: dict[str, Callable[[int], tuple[float, float]]], repeats: int) -> dict[str, tuple[float, float]]:
    """Median wall time and median CPU time (all threads of this process) per turn, per case."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for name, run in cases.items():  # warm up
        run(-1)
    for i in range(repeats):  # interleaved, so background load hits every case alike
        for name, run in cases.items():
            times[name].append(run(i))
    return {
        name: (statistics.median(t[0] for t in ts), statistics.median(t[1] for t in ts)) for name, ts in times.items()
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=40)
    args = parser.parse_args(argv)
    steps = 2 * args.rounds + 1
    model = LoopingFakeModel(rounds=args.rounds)
    tmp = Path(tempfile.mkdtemp(prefix="genaisys-bench-"))
    no_cache = {"idempotent_cache": None}
    file_cache = {"idempotent_cache": str(tmp / "tool_calls.sqlite")}  # the default kind, in a temp file

    def assistant(**kw: Any):
        kw.setdefault("tool_safety", file_cache)
        return build_assistant_graph(model, tools=[noop], recursion_limit=1000, **kw)

    # every run carries a thread_id, as real turns do (the idempotency cache keys on it)
    overhead = {
        "bare LangGraph (raw ToolNode)": _timer(bare_graph(model), thread=True),
        "assistant, raw tools, no token stream": _timer(_assistant_raw(model), thread=True),
        "assistant, safe tools, no token stream": _timer(
            assistant(checkpointer=False, stream_tokens=False, tool_safety=no_cache), thread=True
        ),
        "assistant, safe tools, token stream": _timer(assistant(checkpointer=False, tool_safety=no_cache), thread=True),
        "assistant default (+idempotency cache)": _timer(
            assistant(checkpointer=False, tool_safety=file_cache), thread=True
        ),
    }
    medians = measure(overhead, args.repeats)
    base, base_cpu = medians["bare LangGraph (raw ToolNode)"]
    print(f"# per-step overhead: {args.rounds} tool rounds = {steps} steps per turn, median of {args.repeats} turns")
    print(f"{'graph':<42} {'ms/turn':>9} {'µs/step':>9} {'× bare':>7} {'CPU µs/step':>12} {'CPU × bare':>10}")
    for name, (t, c) in medians.items():
        print(f"{name:<42} {t * 1e3:>9.2f} {t / steps * 1e6:>9.1f} {t / base:>7.2f} {c / steps * 1e6:>12.1f} {c / base_cpu:>10.2f}")
    wall, cpu = medians["assistant, raw tools, no token stream"]
    verdict = "met" if wall / base <= 1.10 else "NOT met"
    print(f"goal ≤ 1.10× bare for the graph itself (same tools): {wall / base:.2f}× wall, {cpu / base_cpu:.2f}× CPU → {verdict}")

    ckpt = {
        "no checkpointer": _timer(assistant(checkpointer=False), thread=True),
        "SQLite file, durability=async": _timer(
            assistant(checkpointer=sqlite_checkpointer(tmp / "a.sqlite")), thread=True, durability="async"
        ),
        "SQLite file, durability=sync": _timer(
            assistant(checkpointer=sqlite_checkpointer(tmp / "s.sqlite")), thread=True, durability="sync"
        ),
        "SQLite :memory:, durability=sync": _timer(
            assistant(checkpointer=sqlite_checkpointer(":memory:")), thread=True, durability="sync"
        ),
    }
    medians = {name: wall for name, (wall, _cpu) in measure(ckpt, args.repeats).items()}
    base = medians["no checkpointer"]
    print()
    print(f"# SQLite checkpointing (assistant default tools), {steps} steps per turn, median of {args.repeats} turns")
    print(f"{'checkpointer':<42} {'ms/turn':>9} {'µs/step':>9} {'+µs/step':>9} {'× none':>7}")
    for name, t in medians.items():
        print(f"{name:<42} {t * 1e3:>9.2f} {t / steps * 1e6:>9.1f} {(t - base) / steps * 1e6:>9.1f} {t / base:>7.2f}")


def _assistant_raw(model: BaseChatModel):
    """The assistant graph's topology and nodes, with tools not safety-wrapped (isolates the wrapper)."""
    from genaisys.graphs.nodes import make_act_node, make_think_node, resolve_tools, route_after_think
    from genaisys.graphs.state import ACT, THINK, AssistantState

    tools = resolve_tools([noop], safe=False)
    g = StateGraph(AssistantState)
    g.add_node(THINK, make_think_node(model, tools, stream_tokens=False))
    g.add_node(ACT, make_act_node(tools))
    g.add_edge(START, THINK)
    g.add_conditional_edges(THINK, route_after_think, {ACT: ACT, END: END})
    g.add_edge(ACT, THINK)
    return g.compile().with_config(recursion_limit=1000)


if __name__ == "__main__":
    main()
