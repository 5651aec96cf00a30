"""``heldout-text``: text-only questions, to check that training on images and tools kept the LM's knowledge.

64 short questions written for this suite (facts, simple reasoning, definitions), none of them
the nano recipe's own text check. Each has accepted answer phrases (`answer_holds`). They go to the
core directly, batched, and to a *base* model — by default the plain SmolLM2-135M-Instruct the
nano core is built on (``load_core("asset:smollm2")``) — so the record says, per question,
whether the core kept, lost or gained what the base knew.

Metrics: ``accuracy`` (the core), ``base_accuracy``, ``delta`` (core − base, paired, with its
interval: no regression means it is not below 0), and the counts ``kept``, ``lost``,
``gained``. ``run_eval(get_task("heldout-text"), core)`` works too: the base answers are asked
while scoring (and cached in the run's prediction cache), as the judge task asks its judge.

Example:
    >>> len(QUESTIONS)
    64
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from genaisys.datasets.heldout.text import QUESTIONS
from genaisys.eval.heldout._common import answer_holds
from genaisys.eval.metrics import accuracy
from genaisys.eval.task import BaseTask, EvalItem, Prediction

__all__ = ["QUESTIONS", "HeldoutTextTask"]



class HeldoutTextTask(BaseTask):
    """Text-only knowledge of the core against a base model (see the module docstring).

    Args:
        base: the base model: a `genaisys.load_core` spec (default ``"asset:smollm2"``) or a chat model.
        max_new_tokens: generation budget of the base's answers.
    """

    name = "heldout-text"
    failures_trainable = False  # references are accepted-answer patterns, not answers

    def __init__(self, base: Any = "asset:smollm2", max_new_tokens: int = 48) -> None:
        self.base, self.max_new_tokens = base, max_new_tokens
        self._base_chat: Any = None

    def options(self) -> dict[str, Any]:
        return {"base": self.base if isinstance(self.base, str) else type(self.base).__name__,
                "max_new_tokens": self.max_new_tokens}

    def load(self, *, limit: int | None = None, seed: int = 0) -> list[EvalItem]:
        items = [EvalItem(id=qid, prompt=q, reference=pattern) for qid, q, pattern in QUESTIONS]
        random.Random(seed).shuffle(items)
        return items[:limit] if limit is not None else items

    def base_chat(self) -> Any:
        if self._base_chat is None:
            if isinstance(self.base, str):
                from genaisys.core import load_core

                self._base_chat = load_core(self.base, max_new_tokens=self.max_new_tokens, temperature=0.0)
            else:
                self._base_chat = self.base
        return self._base_chat

    def base_answers(self, items: Sequence[EvalItem], *, cache: Any = None, batch_size: int = 8) -> list[str]:
        """The base model's answers (from ``cache`` when it has them)."""
        from genaisys.eval.runner import _text

        key = f"base:{self.options()['base']}:{self.max_new_tokens}"
        answers: dict[str, str] = {}
        if cache is not None:
            for item in items:
                hit = cache.get(self.name, item.id, key)
                if hit is not None and hit.get("prompt") == item.prompt:
                    answers[item.id] = str(hit.get("text", ""))
        todo = [i for i in items if i.id not in answers]
        for start in range(0, len(todo), batch_size):
            batch = todo[start:start + batch_size]
            replies = self.base_chat().batch([self.build_messages(i) for i in batch])
            for item, reply in zip(batch, replies):
                answers[item.id] = _text(reply)
            if cache is not None:
                cache.put_many([(self.name, i.id, key, {"text": answers[i.id], "prompt": i.prompt}) for i in batch])
        return [answers[i.id] for i in items]

    def score_all(self, items: Sequence[EvalItem], predictions: Sequence[Prediction], *,
                  cache: Any = None, model_id: str = "") -> list[dict[str, Any]]:
        base = self.base_answers(items, cache=cache)
        records = []
        for item, pred, base_text in zip(items, predictions, base):
            rec = self.score(item, pred)
            rec["base_prediction"] = base_text
            rec["base_correct"] = answer_holds(base_text, item.reference)
            rec["change"] = {(True, True): "kept", (True, False): "lost", (False, True): "gained",
                             (False, False): "neither"}[(rec["base_correct"], rec["correct"])]
            rec.setdefault("group", item.id)
            records.append(rec)
        return records

    def score(self, item: EvalItem, prediction: Prediction) -> dict[str, Any]:
        return {"id": item.id, "correct": answer_holds(prediction.text, item.reference), "ref": item.reference}

    def metrics(self, records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        core = accuracy([r["correct"] for r in records])
        base = accuracy([r["base_correct"] for r in records])
        return {"accuracy": core, "base_accuracy": base, "delta": core - base,
                "kept": float(sum(r["change"] == "kept" for r in records)),
                "lost": float(sum(r["change"] == "lost" for r in records)),
                "gained": float(sum(r["change"] == "gained" for r in records))}
