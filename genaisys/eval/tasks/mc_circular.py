"""``mc-circular``: multiple choice scored with MMBench's CircularEval.

A question with N options is asked N times, the options rotated by one each time (the right
answer visits every letter). The item counts only if *every* rotation is answered right, which
defeats a model that always picks "A" or guesses by position. ``vanilla_accuracy`` (the first
rotation only) is reported beside it: the gap between the two is the model's position bias.

Data: generated from easy-VQA (colour questions with 4 options — the right colour and 3 seeded
distractors — and shape questions with the 3 shapes), or your own JSONL, one line per question:
``{"id": "q1", "question": "...", "options": ["...", ...], "answer": "<option text>",
"images": ["path.png"]}``.

Example:
    >>> task = CircularMCTask()
    >>> rotations = task.load(limit=4)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import random
import string
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from genaisys.errors import ConfigError
from genaisys.eval.metrics import accuracy
from genaisys.eval.parsing import parse_choice
from genaisys.eval.task import BaseTask, EvalItem, Prediction
from genaisys.datasets.easy_vqa import COLORS, SHAPES, image_attributes, image_path

__all__ = ["CircularMCTask", "rotations"]


def rotations(options: Sequence[str]) -> list[list[str]]:
    """The N circular rotations of N options (rotation k starts at option k).

    Example:
        >>> rotations(["a", "b", "c"])
        [['a', 'b', 'c'], ['b', 'c', 'a'], ['c', 'a', 'b']]
    """
    return [list(options[k:]) + list(options[:k]) for k in range(len(options))]


class CircularMCTask(BaseTask):
    """Multiple choice under CircularEval.

    Args:
        data: a JSONL file of questions (see the module doc); default: generated from easy-VQA.
        split: easy-VQA split for generated questions.
        root: easy-VQA data folder.
    """

    name = "mc-circular"

    def __init__(self, data: str | Path | None = None, split: str = "test", root: str | Path | None = None) -> None:
        self.data, self.split, self.root = data, split, root

    def options(self) -> dict[str, Any]:
        return {"data": str(self.data) if self.data else None, "split": self.split}

    def _questions(self, seed: int) -> list[dict[str, Any]]:
        if self.data is not None:
            rows = []
            for n, line in enumerate(Path(self.data).read_text().splitlines(), 1):
                if not line.strip():
                    continue
                row = json.loads(line)
                missing = {"id", "question", "options", "answer"} - set(row)
                if missing or row["answer"] not in row["options"] or not 2 <= len(row["options"]) <= 26:
                    raise ConfigError(f"{self.data}:{n}: a question needs id, question, 2-26 options and an "
                                      f"answer that is one of the options (missing: {sorted(missing)})")
                rows.append(row)
            return rows
        rng = random.Random(seed)
        rows = []
        for img, (color, shape) in image_attributes(self.split, self.root).items():
            path = [str(image_path(img, self.split, self.root))]
            distractors = rng.sample([c for c in COLORS if c != color], 3)
            colors = [color, *distractors]
            rng.shuffle(colors)
            shapes = list(SHAPES)
            rng.shuffle(shapes)
            rows.append({"id": f"{self.split}-{img}-color", "question": "What colour is the shape?",
                         "options": colors, "answer": color, "images": path})
            rows.append({"id": f"{self.split}-{img}-shape", "question": "Which shape is in the image?",
                         "options": shapes, "answer": shape, "images": path})
        return rows

    def load(self, *, limit: int | None = None, seed: int = 0) -> list[EvalItem]:
        """One item per (question, rotation); ``limit`` counts questions, so rotations stay whole."""
        rows = self._questions(seed)
        random.Random(seed).shuffle(rows)
        items = []
        for row in rows[:limit] if limit is not None else rows:
            for k, opts in enumerate(rotations(row["options"])):
                letters = string.ascii_uppercase[:len(opts)]
                listing = "\n".join(f"{letter}. {o}" for letter, o in zip(letters, opts))
                prompt = f"{row['question']}\n{listing}\nAnswer with the option's letter from the given choices."
                items.append(EvalItem(id=f"{row['id']}@r{k}", prompt=prompt, images=tuple(row.get("images", ())),
                                      reference=letters[opts.index(row["answer"])], group=str(row["id"]),
                                      meta={"options": opts, "rotation": k}))
        return items

    def score(self, item: EvalItem, prediction: Prediction) -> dict[str, Any]:
        opts = list(item.meta["options"])
        parsed = parse_choice(prediction.text, len(opts), opts)
        return {"id": item.id, "group": item.group, "rotation": item.meta["rotation"], "pred": parsed,
                "ref": item.reference, "correct": parsed == item.reference}

    def metrics(self, records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        groups: dict[str, list[bool]] = defaultdict(list)
        first = []
        for r in records:
            groups[r["group"]].append(bool(r["correct"]))
            if r["rotation"] == 0:
                first.append(r["correct"])
        return {"circular_accuracy": accuracy([all(v) for v in groups.values()]),
                "vanilla_accuracy": accuracy(first),
                "rotation_accuracy": accuracy([r["correct"] for r in records])}
