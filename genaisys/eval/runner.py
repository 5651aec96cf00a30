"""The runner: one task × one system under test → an `EvalResult` you can trust and reproduce.

The system under test is any LangChain chat model (a `ChatCore`, a `RemoteCore`, any third-party
model; ``.batch`` is used, so ChatCore decodes a batch in one padded loop) or a compiled LangGraph
graph (invoked with ``{"messages": [...]}``; its answer is the last AI message).

Predictions are appended to a JSONL cache keyed by (task, item id, model id) after every batch,
so a run that is interrupted — a crash, Ctrl-C, a lost machine — resumes where it stopped and,
with the same seed, gives the same result. Every result records the model id, the sha256 of the
data as evaluated, the genaisys version and git commit, the seed and the task's settings.

Example:
    >>> from genaisys.eval import run_eval, get_task
    >>> result = run_eval(get_task("easy-vqa"), chat_model, limit=20, cache="runs/preds.jsonl")  # doctest: +SKIP
    >>> result.metrics["accuracy"]  # doctest: +SKIP
    {'value': 0.55, 'ci_low': 0.35, 'ci_high': 0.75}
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genaisys.errors import ConfigError
from genaisys.eval.metrics import DEFAULT_RESAMPLES, bootstrap_metrics
from genaisys.eval.task import EvalItem, Prediction, data_hash

__all__ = ["EvalResult", "PredictionCache", "code_version", "model_identity", "run_eval"]


class PredictionCache:
    """Predictions (and judge verdicts) in an append-only JSONL file, keyed by (task, item, model).

    A torn last line (the process died mid-write) is ignored; later lines win over earlier ones.

    Example:
        >>> import tempfile, os
        >>> cache = PredictionCache(os.path.join(tempfile.mkdtemp(), "p.jsonl"))
        >>> cache.put("t", "1", "m", {"text": "yes"}); cache.get("t", "1", "m")
        {'text': 'yes'}
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._rows: dict[tuple[str, str, str], dict[str, Any]] = {}
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                    self._rows[(row["task"], row["item_id"], row["model_id"])] = row["value"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue  # a torn or foreign line: that item is simply asked again

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, task: str, item_id: str, model_id: str) -> dict[str, Any] | None:
        return self._rows.get((task, item_id, model_id))

    def put(self, task: str, item_id: str, model_id: str, value: Mapping[str, Any]) -> None:
        self.put_many([(task, item_id, model_id, value)])

    def put_many(self, rows: Sequence[tuple[str, str, str, Mapping[str, Any]]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            for task, item_id, model_id, value in rows:
                fh.write(json.dumps({"task": task, "item_id": item_id, "model_id": model_id, "value": dict(value)},
                                    default=str) + "\n")
                self._rows[(task, item_id, model_id)] = dict(value)
            fh.flush()
            os.fsync(fh.fileno())


@dataclass
class EvalResult:
    """Metrics with intervals, per-item records, and the provenance needed to reproduce them."""

    task: str
    model_id: str
    metrics: dict[str, dict[str, float]]
    records: list[dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "model_id": self.model_id, "metrics": self.metrics, "meta": self.meta,
                "records": self.records}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvalResult:
        missing = {"task", "model_id", "metrics", "records"} - set(data)
        if missing:
            raise ConfigError(f"not an eval result (missing {sorted(missing)}); pass a file written by save()")
        return cls(task=data["task"], model_id=data["model_id"], metrics=dict(data["metrics"]),
                   records=list(data["records"]), meta=dict(data.get("meta", {})))

    def save(self, path: str | Path) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(self.to_dict(), indent=2, default=str), encoding="utf-8")
        return p

    @classmethod
    def load(cls, path: str | Path) -> EvalResult:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"no eval result at {p}; pass the result.json a run wrote")
        return cls.from_dict(json.loads(p.read_text(encoding="utf-8")))


def code_version() -> dict[str, Any]:
    """genaisys's version and, in a git checkout, the commit and whether the tree had changes."""
    import genaisys

    out: dict[str, Any] = {"genaisys_version": genaisys.__version__, "git_commit": None, "git_dirty": None,
                           "python": platform.python_version()}
    root = Path(genaisys.__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        if commit.returncode == 0:
            out["git_commit"] = commit.stdout.strip()
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                   capture_output=True, text=True, timeout=5)
            out["git_dirty"] = bool(dirty.stdout.strip()) if dirty.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        pass  # no git here: the version string is all we have
    return out


def _input_sha(item: EvalItem) -> str:
    import hashlib

    return hashlib.sha256(json.dumps([item.prompt, list(item.images)]).encode()).hexdigest()


def _unwrap(model: Any) -> Any:
    from langchain_core.runnables import RunnableBinding

    while isinstance(model, RunnableBinding):  # bind_tools wraps the model; it forwards attributes too
        model = model.bound
    return model


def model_identity(model: Any) -> tuple[str, dict[str, Any]]:
    """``(model_id, params)`` for a chat model or graph: ``_llm_type`` + model name + a hash of its settings."""
    import hashlib

    base = _unwrap(model)
    llm_type = getattr(base, "_llm_type", None)
    if llm_type is None:  # a graph
        name = getattr(base, "name", None) or type(base).__name__
        return f"graph:{name}", {"class": f"{type(base).__module__}.{type(base).__qualname__}"}
    try:
        params = dict(base._identifying_params)
    except (AttributeError, TypeError, ValueError):
        params = {}
    name = params.get("model_name") or params.get("model") or getattr(base, "model_name", None) or type(base).__name__
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return f"{llm_type}:{name}:{digest}", params


def _is_chat(model: Any) -> bool:
    from langchain_core.language_models import BaseLanguageModel

    return isinstance(_unwrap(model), BaseLanguageModel)


def _text(message: Any) -> str:
    """A reply's text: a message's ``.text``; a plain string (a graph may answer with one) as it is."""
    from langchain_core.messages import BaseMessage

    if isinstance(message, BaseMessage):
        return message.text
    content = getattr(message, "content", message)
    return content if isinstance(content, str) else str(content)


def _calls(messages: Sequence[Any]) -> list[dict[str, Any]]:
    return [{"name": c["name"], "args": c.get("args") or {}}
            for m in messages for c in getattr(m, "tool_calls", None) or []]


def _ask(sut: Any, chat: bool, task: str, batch: Sequence[EvalItem], conversations: list[list[Any]],
         recursion_limit: int) -> list[Prediction]:
    if chat:
        replies = sut.batch(conversations)
        return [Prediction(text=_text(r), tool_calls=_calls([r])) for r in replies]
    from langchain_core.messages import AIMessage

    configs = [{"configurable": {"thread_id": f"eval-{task}-{item.id}"}, "recursion_limit": recursion_limit}
               for item in batch]
    states = sut.batch([{"messages": conv} for conv in conversations], configs)
    out = []
    for conv, state in zip(conversations, states):
        messages = state.get("messages", []) if isinstance(state, Mapping) else []
        new = [m for m in messages[len(conv):] if isinstance(m, AIMessage)] or \
              [m for m in messages if isinstance(m, AIMessage)]
        if not new:
            raise ConfigError("the graph returned no AI message; it must keep a 'messages' list in its state")
        out.append(Prediction(text=_text(new[-1]), tool_calls=_calls(new)))
    return out


def run_eval(
    task: Any,
    model: Any,
    *,
    limit: int | None = None,
    seed: int = 0,
    batch_size: int = 8,
    cache: str | Path | PredictionCache | None = None,
    model_id: str | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    recursion_limit: int = 25,
    progress: Any = None,
) -> EvalResult:
    """Evaluate ``model`` on ``task`` and return metrics with bootstrap intervals.

    Args:
        task: a task (`genaisys.eval.tasks.get_task`).
        model: a LangChain chat model or a compiled graph.
        limit: evaluate only the first ``limit`` items of the seeded order.
        seed: data sampling and bootstrap seed.
        batch_size: items per ``.batch`` call (and per cache flush).
        cache: JSONL prediction cache (path or `PredictionCache`); a rerun resumes from it.
        model_id: the id predictions are cached under; default `model_identity`. Give a new id when
            the weights change under the same name.
        n_resamples, confidence: bootstrap settings.
        recursion_limit: for graphs.
        progress: optional callable ``(done, total)`` after each batch.

    Raises:
        ConfigError: a bad argument; whatever the model raises propagates after the finished
        batches are cached, so the next run resumes.
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be ≥ 1, got {batch_size}")
    if limit is not None and limit < 1:
        raise ConfigError(f"limit must be ≥ 1, got {limit}")
    items = task.load(limit=limit, seed=seed)
    if not items:
        raise ConfigError(f"task {task.name!r} produced no items")
    ids = [i.id for i in items]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"task {task.name!r} has duplicate item ids; ids must be unique")
    auto_id, params = model_identity(model)
    mid = model_id or auto_id
    store = cache if isinstance(cache, PredictionCache) or cache is None else PredictionCache(cache)
    sut = task.prepare_model(model)
    chat = _is_chat(sut)
    preds: dict[str, Prediction] = {}
    if store is not None:
        for item in items:
            hit = store.get(task.name, item.id, mid)
            # Same id but another question (other data or settings): ask again.
            if hit is not None and hit.get("input_sha256") == _input_sha(item):
                preds[item.id] = Prediction.from_json(hit)
    todo = [i for i in items if i.id not in preds]
    n_cached = len(items) - len(todo)
    for start in range(0, len(todo), batch_size):
        batch = todo[start:start + batch_size]
        answers = _ask(sut, chat, task.name, batch, [task.build_messages(i) for i in batch], recursion_limit)
        for item, pred in zip(batch, answers):
            preds[item.id] = pred
        if store is not None:
            store.put_many([(task.name, i.id, mid, {**p.to_json(), "input_sha256": _input_sha(i)})
                            for i, p in zip(batch, answers)])
        if progress is not None:
            progress(n_cached + start + len(batch), len(items))
    ordered = [preds[i.id] for i in items]
    records = task.score_all(items, ordered, cache=store, model_id=mid)
    for rec, item, pred in zip(records, items, ordered):
        rec.setdefault("prediction", pred.text)
        # What was asked, so failures can become training data without reloading the task.
        rec.setdefault("input", {"prompt": item.prompt, "images": list(item.images), "reference": item.reference})
        if pred.tool_calls:
            rec.setdefault("tool_calls", pred.tool_calls)
    intervals = bootstrap_metrics(task.metrics, records, n_resamples=n_resamples, confidence=confidence, seed=seed)
    meta = {"task_options": task.options(), "model_params": params, "data_sha256": data_hash(items),
            "n_items": len(items), "n_cached": n_cached, "limit": limit, "seed": seed,
            "bootstrap": {"n_resamples": n_resamples, "confidence": confidence, "unit": "group"},
            "labels": list(task.labels) if getattr(task, "labels", None) else None,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), **code_version()}
    return EvalResult(task=task.name, model_id=mid, metrics={k: v.as_dict() for k, v in intervals.items()},
                      records=records, meta=meta)
