"""``easy-vqa``: closed-ended questions on easy-VQA's 64×64 shape images, normalised exact match.

The data is the packaged easy-VQA set (`genaisys.assets.resolve("easy-vqa")`): ``<split>/
questions.json`` (``[question, answer, image_id]`` rows) and ``<split>/images/<id>.png``; 13
answers (3 shapes, 8 colours, yes, no). Yes/no questions are read with `parse_yes_no` (a statement
must name the asked colour/shape; for negated questions only a leading yes/no counts), the others
with `extract_answer` over the non-yes/no answers, ignoring words echoed from the question, so
"The circle is blue." answers "What color is the circle?" with "blue".

The readers (`load_questions`, `image_path`, and `image_attributes`, each image's shape and colour
read from its questions) live in `genaisys.datasets.easy_vqa`, below training and evaluation.

Example:
    >>> task = EasyVQATask()
    >>> items = task.load(limit=2)  # doctest: +SKIP
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from genaisys.datasets.easy_vqa import (
    ANSWERS,
    COLORS,
    QUESTION_SUFFIX,
    SHAPES,
    image_attributes,
    image_path,
    load_questions,
)
from genaisys.eval.metrics import accuracy, yes_ratio
from genaisys.eval.parsing import extract_answer, parse_yes_no
from genaisys.eval.task import BaseTask, EvalItem, Prediction

# The data readers live in genaisys.datasets.easy_vqa (training reads them too); they stay importable here.
__all__ = ["COLORS", "SHAPES", "EasyVQATask", "image_attributes", "image_path", "load_questions"]


class EasyVQATask(BaseTask):
    """easy-VQA questions; ``accuracy`` overall and split by yes/no vs. open (shape/colour) questions.

    Args:
        split: ``"test"`` (default) or ``"train"``.
        root: the easy-VQA data folder (default: the packaged asset).
    """

    name = "easy-vqa"
    labels = ANSWERS

    def __init__(self, split: str = "test", root: str | Path | None = None) -> None:
        self.split, self.root = split, root

    def options(self) -> dict[str, Any]:
        return {"split": self.split}

    def load(self, *, limit: int | None = None, seed: int = 0) -> list[EvalItem]:
        rows = list(enumerate(load_questions(self.split, self.root)))
        random.Random(seed).shuffle(rows)  # a seeded sample: the first N of a shuffle, not of the file
        rows = rows[:limit] if limit is not None else rows
        return [EvalItem(id=f"{self.split}-{i}", prompt=q[0].upper() + q[1:] + QUESTION_SUFFIX,
                         images=(str(image_path(img, self.split, self.root)),), reference=a,
                         meta={"kind": "yes/no" if a in {"yes", "no"} else "open", "question": q})
                for i, (q, a, img) in rows]

    def score(self, item: EvalItem, prediction: Prediction) -> dict[str, Any]:
        question = str(item.meta.get("question", item.prompt))
        words = question.replace("?", "").split()
        if item.reference in {"yes", "no"}:
            # "Is there not a circle?": only a leading yes/no is safe to read; a statement is ambiguous.
            negated = "not" in words or "no" in words
            subject = " ".join(w for w in words if w in ANSWERS[:-2]) or None
            parsed = parse_yes_no(prediction.text, subject, strict=negated)
        else:
            parsed = extract_answer(prediction.text, ANSWERS[:-2], question=question)
        return {"id": item.id, "pred": parsed, "ref": item.reference, "correct": parsed == item.reference,
                "kind": item.meta.get("kind")}

    def metrics(self, records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        yn = [r for r in records if r.get("kind") == "yes/no"]
        op = [r for r in records if r.get("kind") == "open"]
        return {"accuracy": accuracy([r["correct"] for r in records]),
                "accuracy_yes_no": accuracy([r["correct"] for r in yn]),
                "accuracy_open": accuracy([r["correct"] for r in op]),
                "yes_ratio": yes_ratio([r["pred"] for r in yn]),
                "unparsed": sum(1 for r in records if r["pred"] is None) / len(records) if records else 0.0}
