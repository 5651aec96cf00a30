"""The task contract: what an evaluation task is, and the base class a new task subclasses.

A task is one file under ``genaisys/eval/tasks/`` (or anywhere, registered with
`genaisys.eval.tasks.register_task`). It says four things:

1. **data** — `BaseTask.load` returns `EvalItem` objects (id, prompt, images, reference); the
   same seed gives the same items in the same order;
2. **prompt** — `BaseTask.build_messages` turns an item into LangChain messages (default: one
   human message with the images as base64 content blocks, then the prompt text);
3. **parser** — `BaseTask.score` reads the model's `Prediction` (text + tool calls) into one
   per-item *record*: a JSON-able dict with at least ``id`` and ``correct``;
4. **metrics** — `BaseTask.metrics` maps a list of records to ``{name: float}``. The runner
   bootstraps it over records, so every metric gets an interval for free.

Adding a task (one file)::

    # genaisys/eval/tasks/capitals.py  (or my_pkg/capitals.py)
    from genaisys.eval.task import BaseTask, EvalItem
    from genaisys.eval.metrics import accuracy
    from genaisys.eval.parsing import normalize

    class CapitalsTask(BaseTask):
        name = "capitals"
        def load(self, *, limit=None, seed=0):
            items = [EvalItem(id="fr", prompt="Capital of France? One word.", reference="Paris")]
            return items[:limit]
        def score(self, item, prediction):
            ok = normalize(item.reference) in normalize(prediction.text).split()
            return {"id": item.id, "correct": ok, "pred": prediction.text}
        def metrics(self, records):
            return {"accuracy": accuracy([r["correct"] for r in records])}

    # then: register_task("capitals", "my_pkg.capitals:CapitalsTask")  — or add one line to
    # _BUILTIN in genaisys/eval/tasks/__init__.py for a task shipped with genaisys.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from genaisys.core.media import image_block  # re-exported: the block every task sends its images as

__all__ = ["BaseTask", "EvalItem", "Prediction", "Task", "data_hash", "image_block"]


@dataclass(frozen=True)
class EvalItem:
    """One question of a task.

    Attributes:
        id: unique within the task (the cache key together with task and model).
        prompt: the text the system under test sees.
        images: image file paths shown with the prompt.
        reference: the expected answer (a label, a letter, a dict for tool routing …).
        group: items answered together for scoring (CircularEval rotations); default ``id``.
        meta: anything else the scorer needs (question type, options, gold sources).
    """

    id: str
    prompt: str
    images: tuple[str, ...] = ()
    reference: Any = None
    group: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> dict[str, Any]:
        """What the data hash covers: everything but image *paths* (their bytes are hashed instead)."""
        return {"id": self.id, "prompt": self.prompt, "reference": self.reference, "group": self.group,
                "meta": self.meta, "images": [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in self.images]}


@dataclass
class Prediction:
    """What the system under test answered: its text and any tool calls (``{"name", "args"}``)."""

    text: str
    tool_calls: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "tool_calls": self.tool_calls}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Prediction:
        return cls(text=str(data.get("text", "")), tool_calls=list(data.get("tool_calls") or []))


def data_hash(items: Sequence[EvalItem]) -> str:
    """sha256 over the items as evaluated (prompts, references, image bytes), in order."""
    h = hashlib.sha256()
    for item in items:
        h.update(json.dumps(item.fingerprint(), sort_keys=True, default=str).encode())
        h.update(b"\n")
    return h.hexdigest()


@runtime_checkable
class Task(Protocol):
    """The contract the runner relies on (`BaseTask` implements the optional parts)."""

    name: str
    labels: tuple[str, ...] | None

    def load(self, *, limit: int | None = None, seed: int = 0) -> list[EvalItem]: ...

    def build_messages(self, item: EvalItem) -> list[Any]: ...

    def prepare_model(self, model: Any) -> Any: ...

    def score_all(self, items: Sequence[EvalItem], predictions: Sequence[Prediction], *,
                  cache: Any = None, model_id: str = "") -> list[dict[str, Any]]: ...

    def metrics(self, records: Sequence[Mapping[str, Any]]) -> dict[str, float]: ...

    def options(self) -> dict[str, Any]: ...


class BaseTask:
    """Defaults for a task: one human message per item, the model as is, item-by-item scoring.

    Subclasses set ``name`` (and ``labels`` for closed-ended tasks: the answer set, which turns on
    the confusion matrix in reports) and implement `load`, `score` and `metrics`. A task sets
    ``failures_trainable = False`` when its failures must never become training data: its
    references are not answers to learn (answer patterns), or its material is kept for evaluation
    only (`genaisys.train.holdout`). The improvement loop then evaluates it as a guard but trains
    nothing from it. A task that runs whole graphs per item (the held-out suites) sets
    ``drives_graphs = True`` and offers ``run(chat, items=..., seed=..., model_id=..., folder=...)``
    returning an `EvalResult`; the loop calls it instead of `genaisys.eval.run_eval`.
    """

    name: str = "task"
    labels: tuple[str, ...] | None = None
    failures_trainable: bool = True
    drives_graphs: bool = False

    def load(self, *, limit: int | None = None, seed: int = 0) -> list[EvalItem]:
        raise NotImplementedError(f"{type(self).__name__} must implement load()")

    def build_messages(self, item: EvalItem) -> list[Any]:
        from langchain_core.messages import HumanMessage

        if not item.images:
            return [HumanMessage(content=item.prompt)]
        blocks = [image_block(p) for p in item.images]
        return [HumanMessage(content=[*blocks, {"type": "text", "text": item.prompt}])]

    def prepare_model(self, model: Any) -> Any:
        """Hook: e.g. bind tools. Default: the model unchanged."""
        return model

    def score(self, item: EvalItem, prediction: Prediction) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement score()")

    def score_all(self, items: Sequence[EvalItem], predictions: Sequence[Prediction], *,
                  cache: Any = None, model_id: str = "") -> list[dict[str, Any]]:
        """Records for all items (override to batch model calls while scoring, as the judge does)."""
        records = []
        for item, pred in zip(items, predictions):
            rec = self.score(item, pred)
            rec.setdefault("id", item.id)
            rec.setdefault("group", item.group or item.id)
            records.append(rec)
        return records

    def metrics(self, records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        raise NotImplementedError(f"{type(self).__name__} must implement metrics()")

    def options(self) -> dict[str, Any]:
        """The task's settings, recorded in every result (override when the task has some)."""
        return {}
