"""Plans, recorded: `build_planner_graph` turning compound requests into HuggingGPT task lists.

The oracle writes the plan — a JSON list of tasks with their dependencies, an earlier task's
output passed on as ``"<GENERATED>-<id>"`` — the graph validates and runs it with the real tools,
and the oracle then answers from the results the ``respond`` node shows it.

Example:
    >>> records = record_planner(world, 4, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from typing import Any

from genaisys.train.engine.phrasing import expand
from genaisys.train.engine.programs import content
from genaisys.train.engine.programs.oracle import OracleCore, View

__all__ = ["record_planner"]


def _compound(rng: random.Random) -> tuple[str, list[dict[str, Any]]]:
    """A request needing two or three tool calls, and its plan."""
    kind = rng.choice(["independent", "independent", "chain"])
    if kind == "chain":
        a, b, c = rng.randint(12, 999), rng.randint(2, 99), rng.randint(2, 20)
        op = rng.choice(["*", "+", "-"])
        word = {"*": "times", "+": "plus", "-": "minus"}[op]
        text = expand(rng.choice(["Compute {a} {w} {b}, then multiply the result by {c}.",
                                  "First work out {a} {w} {b}; then take that times {c}.",
                                  "What is ({a} {w} {b}) multiplied by {c}? Do it in two steps."]), rng,
                      a=a, w=word, b=b, c=c)
        return text, [{"task": "calculator", "id": 1, "dep": [-1], "args": {"expression": f"{a} {op} {b}"}},
                      {"task": "calculator", "id": 2, "dep": [1], "args": {"expression": f"<GENERATED>-1 * {c}"}}]
    parts = rng.sample(["time", "weather", "calc", "file", "currency"], rng.choice([2, 2, 3]))
    tasks, asks = [], []
    for n, part in enumerate(parts, start=1):
        if part == "time":
            place, tz = rng.choice(content.PLACES)
            tasks.append({"task": "current_time", "id": n, "dep": [-1], "args": {"timezone": tz}})
            asks.append(f"the time in {place}")
        elif part == "weather":
            city = rng.choice(content.PLACES)[0]
            tasks.append({"task": "get_weather", "id": n, "dep": [-1], "args": {"city": city}})
            asks.append(f"the weather in {city}")
        elif part == "calc":
            a, b = rng.randint(10, 9999), rng.randint(2, 999)
            tasks.append({"task": "calculator", "id": n, "dep": [-1], "args": {"expression": f"{a} * {b}"}})
            asks.append(f"{a} times {b}")
        elif part == "file":
            name = rng.choice(content.FILES)[0]
            tasks.append({"task": "read_file", "id": n, "dep": [-1], "args": {"path": name}})
            asks.append(f"what is in {name}")
        else:
            amount = rng.choice([10, 50, 100, 250])
            tasks.append({"task": "convert_currency", "id": n, "dep": [-1],
                          "args": {"amount": amount, "from_currency": "EUR", "to_currency": "USD"}})
            asks.append(f"{amount} EUR in USD")
    joined = ", ".join(asks[:-1]) + " and " + asks[-1]
    text = expand(rng.choice(["Tell me {j}.", "I need {j}.", "Can you get me {j}?", "Please find out {j}."]), rng, j=joined)
    return text, tasks


def _summary(view: View) -> str:
    lines = re.findall(r"^task (\S+) \((\w+)\) (\w+): (.*)$", view.system, re.M)
    parts = []
    for _, tool, status, output in lines:
        if status != "success":
            parts.append(f"{tool} failed ({output[:120]})")
        else:
            parts.append(f"{tool}: {output.strip()[:200]}")
    return "Here is what I found — " + "; ".join(parts) + "."


def record_planner(world: Any, n_requests: int, *, seed: int = 0,
                   progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Record ``n_requests`` compound requests through the planner graph (plan + answer calls)."""
    from genaisys.graphs import run_turn
    from genaisys.graphs.planner import build_planner_graph

    rng = random.Random(seed)
    oracle = OracleCore.for_world("planner", world)
    tools = world.toolset(["calculator", "current_time", "get_weather", "read_file", "convert_currency"])
    graph = build_planner_graph(oracle, tools=tools)
    records: list[dict[str, Any]] = []
    for i in range(n_requests):
        text, tasks = _compound(rng)

        def policy(view: View, tasks: list[dict[str, Any]] = tasks) -> str:
            if view.node == "respond" or "Their results follow" in view.system:
                return _summary(view)
            return json.dumps(tasks)

        oracle.policy = policy
        oracle.meta = {"kind": "plan", "tasks": len(tasks)}
        start = len(oracle.calls)
        run_turn(graph, text, thread_id=f"plan-{seed}-{i}")
        for k, recorded in enumerate(oracle.calls[start:]):
            records.append(recorded.to_record(f"plan-{seed}-{i}-{k}"))
        if progress:
            progress(i + 1)
    return records
