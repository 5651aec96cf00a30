"""``heldout-followups``: multi-turn threads whose later turns need an earlier answer or tool result.

16 threads written for this suite, 48 turns in all, 32 of them follow-ups ("And what is that
divided by 4?", "What did I ask you first?", "What port did you say it uses?"). Each thread runs
turn by turn through ``build_assistant_graph(core, tools=["builtin:calculator",
"builtin:memory_search", "builtin:clock"], memory=memory, checkpointer=<SQLite file>)`` — the
memory holds six of the held-out documents (`genaisys.datasets.heldout.rag.DOCS_DIR`).

Every turn is scored by key content: the answer must hold the gold phrase (`answer_holds`; ``&``
joins phrases that must all appear). Turns that only set something up ("My name is Ottilie …")
have no gold and are not scored. Clock turns are checked against the real time when the turn ran
(``weekday:<tz>``, ``weekend:<tz>`` read as yes/no, ``year:<tz>``, ``years_until:<year>:<tz>``).

Metrics: ``followup_accuracy`` (the target), ``first_turn_accuracy`` (scored first turns),
``followup_given_first_right`` (follow-ups in threads whose first turn was right),
``followup_tool_use`` (follow-ups where the model called any tool). Intervals resample threads.

Example:
    >>> task = HeldoutFollowupsTask()
    >>> len(THREADS), sum(len(turns) - 1 for _, turns in THREADS)
    (16, 32)
"""

from __future__ import annotations

import datetime as _dt
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from genaisys.datasets.heldout.followups import MEMORY_DOCS, THREADS
from genaisys.eval.heldout._common import (
    ERROR,
    GraphPrediction,
    TurnClock,
    answer_holds,
    finish,
    graph_only_task,
    last_ai,
    tool_calls_since_user,
    turn_text,
    workdir,
)
from genaisys.eval.metrics import accuracy
from genaisys.eval.parsing import parse_yes_no
from genaisys.eval.runner import EvalResult
from genaisys.eval.task import BaseTask, EvalItem, Prediction

__all__ = ["MEMORY_DOCS", "THREADS", "HeldoutFollowupsTask", "gold_now"]



def gold_now(gold: str, at: _dt.datetime) -> str:
    """Resolve a clock gold (``weekday:<tz>``, ``year:<tz>``, ``years_until:<year>:<tz>``) at ``at``.

    Example:
        >>> gold_now("weekday:UTC", _dt.datetime(2026, 1, 5, tzinfo=_dt.timezone.utc))
        'monday'
        >>> gold_now("years_until:2100:UTC", _dt.datetime(2026, 1, 5, tzinfo=_dt.timezone.utc))
        '74'
    """
    from zoneinfo import ZoneInfo

    kind, _, rest = gold.partition(":")
    tz = rest.rsplit(":", 1)[-1]
    local = at.astimezone(_dt.timezone.utc if tz == "UTC" else ZoneInfo(tz))
    if kind == "weekday":
        return local.strftime("%A").lower()
    if kind == "weekend":
        return "yes" if local.weekday() >= 5 else "no"
    if kind == "year":
        return str(local.year)
    if kind == "years_until":
        return str(int(rest.split(":")[0]) - local.year)
    return gold


class HeldoutFollowupsTask(BaseTask):
    """Multi-turn follow-ups through the assistant graph with a checkpointer (see the module docstring)."""

    name = "heldout-followups"
    drives_graphs = True  # run with `run`, not `run_eval`

    def load(self, *, limit: int | None = None, seed: int = 0) -> list[EvalItem]:
        """One item per turn, threads in a seeded order; ``limit`` counts threads."""
        threads = list(THREADS)
        random.Random(seed).shuffle(threads)
        threads = threads[:limit] if limit is not None else threads
        return [EvalItem(id=f"{thread}-{n}", prompt=text, reference=gold, group=thread,
                         meta={"thread": thread, "turn": n, "kind": "setup" if gold is None else
                               ("first" if n == 0 else "followup")})
                for thread, turns in threads for n, (text, gold) in enumerate(turns)]

    def prepare_model(self, model: Any) -> Any:
        raise graph_only_task(self.name)

    def run(self, chat: Any, *, limit: int | None = None, seed: int = 0, folder: str | Path | None = None,
            items: Sequence[EvalItem] | None = None, clock: TurnClock | None = None, model_id: str | None = None,
            embedding: Any = None,
            log: Any = None) -> EvalResult:
        """Run every thread turn by turn on one checkpointed graph and score each turn."""
        from genaisys.graphs import build_assistant_graph

        from genaisys.eval.heldout.rag import build_docs_memory
        from genaisys.eval.runner import model_identity

        clock = clock or TurnClock()
        items = list(items) if items is not None else self.load(limit=limit, seed=seed)
        root = workdir(folder, "followups")
        memory = build_docs_memory(root, embedding=embedding, collection="heldout-followups", docs=MEMORY_DOCS)
        checkpoints = root / "checkpoints.sqlite"
        checkpoints.unlink(missing_ok=True)  # a rerun must not continue last run's threads
        graph = build_assistant_graph(chat, tools=["builtin:calculator", "builtin:memory_search", "builtin:clock"],
                                      memory=memory, checkpointer=str(checkpoints))
        predictions: list[Prediction] = []
        for item in items:
            at = _dt.datetime.now(_dt.timezone.utc)
            values, seconds = clock.run("followups", graph, item.prompt, thread_id=f"heldout-followups-{item.group}")
            predictions.append(GraphPrediction(text=turn_text(last_ai(values)), tool_calls=tool_calls_since_user(values),
                                               extra={"at": at.isoformat(), "seconds": seconds,
                                                      "error": values.get(ERROR)}))
            if log is not None:
                log(f"  followups {item.id}: {predictions[-1].text[:60]!r}")
        return finish(self, items, predictions, model_id=model_id or model_identity(chat)[0], model=chat,
                      limit=limit, seed=seed, extra_meta={"memory_docs": list(MEMORY_DOCS)})

    def score(self, item: EvalItem, prediction: Prediction) -> dict[str, Any]:
        extra = getattr(prediction, "extra", {}) or {}
        gold = item.reference
        rec: dict[str, Any] = {"id": item.id, "group": item.group, "thread": item.meta["thread"],
                               "turn": item.meta["turn"], "kind": item.meta["kind"], "gold": gold,
                               "tools_called": [c["name"] for c in prediction.tool_calls], "error": extra.get("error")}
        if gold is None:
            rec["correct"] = None
            return rec
        if ":" in gold and gold.split(":", 1)[0] in {"weekday", "weekend", "year", "years_until"}:
            at = _dt.datetime.fromisoformat(extra["at"]) if extra.get("at") else _dt.datetime.now(_dt.timezone.utc)
            gold = gold_now(gold, at)
            rec["gold"] = gold
            if item.reference.startswith("weekend:"):
                rec["correct"] = parse_yes_no(prediction.text) == gold
                return rec
        rec["correct"] = all(answer_holds(prediction.text, part) for part in gold.split("&"))
        return rec

    def metrics(self, records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        follow = [r for r in records if r["kind"] == "followup"]
        first = {r["thread"]: bool(r["correct"]) for r in records if r["kind"] == "first"}
        return {"followup_accuracy": accuracy([r["correct"] for r in follow]),
                "first_turn_accuracy": accuracy([r["correct"] for r in records if r["kind"] == "first"]),
                "followup_given_first_right": accuracy([r["correct"] for r in follow if first.get(r["thread"])]),
                "followup_tool_use": accuracy([bool(r["tools_called"]) for r in follow])}
