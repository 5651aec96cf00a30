"""``heldout-tools``: the assistant graph's first decision over varied tool sets.

96 plainly worded requests, written for this suite: 74 need one of eight tools (``calculator``,
``current_time``, ``http_fetch``, ``read_file``, ``memory_search``, ``memory_write``,
``generate_image``, ``speak``) and 22 need none (chit-chat, general knowledge, writing). Each item
binds its own tool set of 0 to 7 tools, drawn with the seed: the needed tool plus distractors,
or — for 10 requests — distractors only, where the right behaviour is to answer without a tool
(or say it cannot).

Each request runs through ``build_assistant_graph(core, tools=..., approve=True,
checkpointer=":memory:")`` with the builders' defaults; the graph pauses before any tool runs and
the pending calls are read from the interrupt. Tools are the real ones (`genaisys.tools.get_tool`
and `genaisys.graphs.media.make_decoder_tools` over stand-in decoders); the memory tools get a
real `ChromaMemory` but the graph gets no ``memory=``, so no recalled context steers the choice.

A record is right when the first call names the right tool, its arguments validate against the
tool's ``args_schema`` and the key argument holds what was asked (loosely normalised: the
calculator's expression must evaluate to the asked value, a timezone must be the place's IANA
name, a URL or path must be the one given, a prompt or note must hold its key words) — or,
when no tool fits, when no tool is called.

Metrics: ``accuracy``, ``routing_accuracy`` (tool choice only), ``args_valid`` (over calls),
``args_match`` (over right-tool calls), ``tool_recall``, ``recall_<tool>`` for each tool,
``no_tool_accuracy`` (requests needing none), ``absent_tool_accuracy`` (the needed tool not
offered). ``labels`` (tool names + ``"(none)"``) drive the confusion matrix; an unusable call
is ``"(invalid)"``.

Example:
    >>> task = HeldoutToolsTask()
    >>> len(task.load()), sorted({i.meta["kind"] for i in task.load()})
    (96, ['absent', 'none', 'tool'])
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from genaisys.datasets.heldout.tools import ABSENT, INVALID, NONE, REQUESTS, TOOL_NAMES
from genaisys.eval.heldout._common import (
    ERROR,
    GraphPrediction,
    TurnClock,
    answer_holds,
    finish,
    graph_only_task,
    last_ai,
    tiny_png,
    tiny_wav,
    turn_text,
    workdir,
)
from genaisys.eval.metrics import accuracy
from genaisys.eval.runner import EvalResult
from genaisys.eval.task import BaseTask, EvalItem, Prediction

__all__ = ["ABSENT", "REQUESTS", "TOOL_NAMES", "HeldoutToolsTask", "key_argument_ok"]



def _tool_set(item_id: str, needed: str | None, absent: bool, seed: int) -> list[str]:
    rng = random.Random(f"heldout-tools:{seed}:{item_id}")
    if needed is None:
        chosen = rng.sample(TOOL_NAMES, rng.randint(0, 7))
    elif absent:
        chosen = rng.sample([t for t in TOOL_NAMES if t != needed], rng.randint(1, 6))
    else:
        chosen = [needed, *rng.sample([t for t in TOOL_NAMES if t != needed], rng.randint(0, 6))]
        rng.shuffle(chosen)
    return chosen


def _url_key(url: str) -> str:
    text = str(url).strip().lower()
    for prefix in ("https://", "http://"):
        text = text.removeprefix(prefix)
    return text.removeprefix("www.").rstrip("/")


def key_argument_ok(check: tuple[str, str, Any] | None, args: Mapping[str, Any]) -> bool:
    """Whether the key argument of a call holds what the request asked (``None`` check: any).

    Example:
        >>> key_argument_ok(("expression", "number", 42), {"expression": "6 * 7"})
        True
        >>> key_argument_ok(("url", "url", "https://example.com/a"), {"url": "http://www.example.com/a/"})
        True
    """
    if check is None:
        return True
    arg, kind, want = check
    got = args.get(arg)
    if kind == "oneof":  # current_time: a missing timezone means its default, UTC
        value = str(got if got is not None else "UTC").strip().lower()
        return value in {w.lower() for w in want}
    if got is None:
        return False
    if kind == "number":
        from genaisys.tools.calculator import CalculatorError, evaluate

        try:
            value = float(evaluate(str(got)))
        except (CalculatorError, ValueError, TypeError, OverflowError, ZeroDivisionError):
            return False
        return abs(value - float(want)) <= 1e-6 * max(1.0, abs(float(want)))
    if kind == "url":
        return _url_key(str(got)) == _url_key(want)
    if kind == "path":
        path = str(got).strip().replace("\\", "/").removeprefix("./")
        return path == want or path.endswith("/" + want)
    if kind == "holds":
        return answer_holds(str(got), want)
    if kind == "holds_all":
        return all(answer_holds(str(got), part) for part in want)
    raise ValueError(f"unknown key-argument check {kind!r}")


class HeldoutToolsTask(BaseTask):
    """Tool choice of the assistant graph's first decision (see the module docstring)."""

    name = "heldout-tools"
    drives_graphs = True  # run with `run`, not `run_eval`
    failures_trainable = False  # a reference names the tool and checks one argument: not a whole call to learn
    labels = (*TOOL_NAMES, NONE)

    def __init__(self) -> None:
        self._schemas: dict[str, Any] = {}

    def load(self, *, limit: int | None = None, seed: int = 0) -> list[EvalItem]:
        items = []
        for item_id, request, tool, check in REQUESTS:
            absent = item_id in ABSENT
            kind = "none" if tool is None else ("absent" if absent else "tool")
            tools = _tool_set(item_id, tool, absent, seed)
            items.append(EvalItem(id=item_id, prompt=request,
                                  reference={"tool": None if absent else tool, "needed": tool,
                                             "check": list(check) if check else None},
                                  meta={"kind": kind, "tools": tools}))
        random.Random(seed).shuffle(items)  # a seeded sample: the first N of a shuffle
        return items[:limit] if limit is not None else items

    def prepare_model(self, model: Any) -> Any:
        raise graph_only_task(self.name)

    # ------------------------------------------------------------------------------ tools
    def build_tools(self, folder: Path, *, embedding: Any = None) -> dict[str, Any]:
        """The eight real tools by name (nothing runs: the graph pauses before every call)."""
        from genaisys.graphs.media import make_decoder_tools
        from genaisys.memory import BlobStore, ChromaMemory
        from genaisys.tools import get_tool

        files = folder / "files"
        files.mkdir(parents=True, exist_ok=True)
        blobs = BlobStore(folder / "blobs")
        memory = ChromaMemory(folder / "memory", collection="heldout-tools", embedding=embedding,
                              image_embedding=False, blobs=blobs)
        tools = [get_tool("builtin:calculator"), get_tool("builtin:clock"), get_tool("builtin:http_fetch"),
                 get_tool("builtin:file_reader", roots=[files]), get_tool("builtin:memory_search", memory=memory),
                 get_tool("builtin:memory_write", memory=memory),
                 *make_decoder_tools({"image": tiny_png, "speech": tiny_wav}, blobs=blobs)]
        by_name = {t.name: t for t in tools}
        self._schemas = {name: getattr(t, "args_schema", None) for name, t in by_name.items()}
        return by_name

    def run(self, chat: Any, *, limit: int | None = None, seed: int = 0, folder: str | Path | None = None,
            items: Sequence[EvalItem] | None = None, clock: TurnClock | None = None, model_id: str | None = None,
            embedding: Any = None,
            log: Any = None) -> EvalResult:
        """Ask every request through its own assistant graph and score the first decision."""
        from genaisys.graphs import build_assistant_graph

        from genaisys.eval.runner import model_identity

        clock = clock or TurnClock()
        items = list(items) if items is not None else self.load(limit=limit, seed=seed)
        tools = self.build_tools(workdir(folder, "tools"), embedding=embedding)
        predictions: list[Prediction] = []
        for n, item in enumerate(items, 1):
            graph = build_assistant_graph(chat, tools=[tools[name] for name in item.meta["tools"]], approve=True,
                                          checkpointer=":memory:")
            values, seconds = clock.run("tools", graph, item.prompt, thread_id=f"heldout-tools-{item.id}")
            pending = [c for i in values.get("__interrupt__") or [] for c in (i.value or {}).get("tool_calls") or []]
            message = last_ai(values)
            # unusable calls: on the last reply, or kept in its metadata when the graph had the model answer in words
            invalid = [dict(c) for c in (getattr(message, "invalid_tool_calls", None)
                                         or (getattr(message, "response_metadata", None) or {}).get("unusable_calls")
                                         or [])] if not pending else []
            predictions.append(GraphPrediction(
                text=turn_text(message), tool_calls=[{"name": c["name"], "args": dict(c.get("args") or {})}
                                                     for c in pending],
                extra={"interrupted": bool(pending), "invalid_tool_calls": invalid, "seconds": seconds,
                       "error": values.get(ERROR)}))
            if log is not None:
                log(f"  tools {n}/{len(items)} {item.id}: {predictions[-1].tool_calls[:1] or 'no call'}")
        return finish(self, items, predictions, model_id=model_id or model_identity(chat)[0], model=chat,
                      limit=limit, seed=seed)

    # ---------------------------------------------------------------------------- scoring
    def _valid(self, name: str, args: Mapping[str, Any]) -> bool:
        if not self._schemas:
            import tempfile

            self.build_tools(Path(tempfile.mkdtemp(prefix="genaisys-heldout-tools-")))
        schema = self._schemas.get(name)
        if schema is None or not hasattr(schema, "model_validate"):
            return False
        try:
            schema.model_validate(dict(args))
        except ValueError:  # pydantic.ValidationError is a ValueError
            return False
        return True

    def score(self, item: EvalItem, prediction: Prediction) -> dict[str, Any]:
        want = item.reference["tool"]
        check = item.reference.get("check")
        extra = getattr(prediction, "extra", {}) or {}
        call = prediction.tool_calls[0] if prediction.tool_calls else None
        if call is not None:
            pred = call["name"]
        elif extra.get("invalid_tool_calls"):
            pred = INVALID
        else:
            pred = NONE
        valid = self._valid(call["name"], call.get("args") or {}) if call is not None else None
        right_tool = pred == (want or NONE)
        match = key_argument_ok(tuple(check) if check else None, call.get("args") or {}) \
            if right_tool and call is not None else None
        correct = right_tool and (want is None or (bool(valid) and bool(match)))
        return {"id": item.id, "kind": item.meta["kind"], "needed": item.reference["needed"],
                "ref": want or NONE, "pred": pred, "tools": list(item.meta["tools"]),
                "n_tools": len(item.meta["tools"]), "n_calls": len(prediction.tool_calls),
                "right_tool": right_tool, "args_valid": valid, "args_match": match, "correct": correct,
                "seconds": extra.get("seconds"), "error": extra.get("error")}

    def metrics(self, records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        called = [r for r in records if r["args_valid"] is not None]
        matched = [r for r in records if r["args_match"] is not None]
        need = [r for r in records if r["kind"] == "tool"]
        out = {"accuracy": accuracy([r["correct"] for r in records]),
               "routing_accuracy": accuracy([r["right_tool"] for r in records]),
               "args_valid": accuracy([r["args_valid"] for r in called]),
               "args_match": accuracy([r["args_match"] for r in matched]),
               "tool_recall": accuracy([r["right_tool"] for r in need]),
               "no_tool_accuracy": accuracy([r["correct"] for r in records if r["kind"] == "none"]),
               "absent_tool_accuracy": accuracy([r["correct"] for r in records if r["kind"] == "absent"])}
        for tool in TOOL_NAMES:
            out[f"recall_{tool}"] = accuracy([r["right_tool"] for r in need if r["ref"] == tool])
        return out
