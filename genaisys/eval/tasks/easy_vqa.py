"""``easy-vqa``: closed-ended questions on easy-VQA's 64×64 shape images, normalised exact match.

The data is the packaged easy-VQA set (`genaisys.assets.resolve("easy-vqa")`): ``<split>/
questions.json`` (``[question, answer, image_id]`` rows) and ``<split>/images/<id>.png``; 13
answers (3 shapes, 8 colours, yes, no). Yes/no questions are read with `parse_yes_no` (a statement
must name the asked colour/shape; for negated questions only a leading yes/no counts), the others
with `extract_answer` over the non-yes/no answers, ignoring words echoed from the question, so
"The circle is blue." answers "What color is the circle?" with "blue".

This file also reads each image's shape and colour from the questions (`image_attributes`),
which the POPE, multiple-choice and judge tasks build on.

Example:
    >>> task = EasyVQATask()
    >>> items = task.load(limit=2)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from genaisys.errors import AssetError, ConfigError
from genaisys.eval.metrics import accuracy, yes_ratio
from genaisys.eval.parsing import extract_answer, parse_yes_no
from genaisys.eval.task import BaseTask, EvalItem, Prediction

__all__ = ["COLORS", "SHAPES", "EasyVQATask", "image_attributes", "image_path", "load_questions"]

SHAPES = ("circle", "rectangle", "triangle")
COLORS = ("black", "blue", "brown", "gray", "green", "red", "teal", "yellow")
_ANSWERS = (*SHAPES, *COLORS, "yes", "no")
_SUFFIX = "\nAnswer with a single word."


def _root(root: str | Path | None) -> Path:
    if root is not None:
        return Path(root)
    from genaisys import assets

    return Path(assets.resolve("easy-vqa"))


@lru_cache(maxsize=8)
def _questions(root: str, split: str) -> tuple[tuple[str, str, int], ...]:
    file = Path(root) / split / "questions.json"
    if not file.is_file():
        raise AssetError(f"easy-VQA questions not found at {file}; run `genaisys doctor --fetch easy-vqa` "
                         "or pass root= a folder holding <split>/questions.json and <split>/images/")
    return tuple((str(q), str(a), int(i)) for q, a, i in json.loads(file.read_text()))


def load_questions(split: str = "test", root: str | Path | None = None) -> tuple[tuple[str, str, int], ...]:
    """``(question, answer, image_id)`` rows of an easy-VQA split (``"train"`` or ``"test"``)."""
    if split not in {"train", "test"}:
        raise ConfigError(f"easy-VQA split must be 'train' or 'test', got {split!r}")
    return _questions(str(_root(root)), split)


def image_path(image_id: int, split: str = "test", root: str | Path | None = None) -> Path:
    """The PNG file of an easy-VQA image."""
    return _root(root) / split / "images" / f"{image_id}.png"


def image_attributes(split: str = "test", root: str | Path | None = None) -> dict[int, tuple[str, str]]:
    """``{image_id: (colour, shape)}`` read from the questions ("what is the red shape?" → triangle).

    Images whose questions name only one of the two are left out.
    """
    shape: dict[int, str] = {}
    color: dict[int, str] = {}
    for q, a, img in load_questions(split, root):
        if a in SHAPES and q.startswith(("what is the", "what shape")):
            shape[img] = a
            words = q.replace("?", "").split()
            for c in COLORS:  # "what is the red shape?" names the colour too
                if c in words:
                    color.setdefault(img, c)
        elif a in {"yes", "no"}:
            words = q.replace("?", "").split()
            present = (a == "yes") != ("not" in words or "no" in words)  # "is there not a …?" flips it
            if present:
                for s in SHAPES:
                    if s in words:
                        shape.setdefault(img, s)
                for c in COLORS:
                    if c in words:
                        color.setdefault(img, c)
        elif a in COLORS:
            color[img] = a
            for s in SHAPES:  # "what color is the circle?" names the shape too
                if s in q:
                    shape.setdefault(img, s)
    return {i: (color[i], shape[i]) for i in sorted(shape) if i in color}


class EasyVQATask(BaseTask):
    """easy-VQA questions; ``accuracy`` overall and split by yes/no vs. open (shape/colour) questions.

    Args:
        split: ``"test"`` (default) or ``"train"``.
        root: the easy-VQA data folder (default: the packaged asset).
    """

    name = "easy-vqa"
    labels = _ANSWERS

    def __init__(self, split: str = "test", root: str | Path | None = None) -> None:
        self.split, self.root = split, root

    def options(self) -> dict[str, Any]:
        return {"split": self.split}

    def load(self, *, limit: int | None = None, seed: int = 0) -> list[EvalItem]:
        rows = list(enumerate(load_questions(self.split, self.root)))
        random.Random(seed).shuffle(rows)  # a seeded sample: the first N of a shuffle, not of the file
        rows = rows[:limit] if limit is not None else rows
        return [EvalItem(id=f"{self.split}-{i}", prompt=q[0].upper() + q[1:] + _SUFFIX,
                         images=(str(image_path(img, self.split, self.root)),), reference=a,
                         meta={"kind": "yes/no" if a in {"yes", "no"} else "open", "question": q})
                for i, (q, a, img) in rows]

    def score(self, item: EvalItem, prediction: Prediction) -> dict[str, Any]:
        question = str(item.meta.get("question", item.prompt))
        words = question.replace("?", "").split()
        if item.reference in {"yes", "no"}:
            # "Is there not a circle?": only a leading yes/no is safe to read; a statement is ambiguous.
            negated = "not" in words or "no" in words
            subject = " ".join(w for w in words if w in _ANSWERS[:-2]) or None
            parsed = parse_yes_no(prediction.text, subject, strict=negated)
        else:
            parsed = extract_answer(prediction.text, _ANSWERS[:-2], question=question)
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
