"""``pope``: POPE-style object-hallucination probes on easy-VQA shape images.

Each image holds one object, a *coloured shape* ("red circle"; 8 colours × 3 shapes = 24
objects, read from the easy-VQA questions by `image_attributes`). Per image two questions are
asked, "Is there a <object> in the image?": one about its object (answer yes) and one about an
absent object (answer no), sampled as POPE does, three ways:

- ``random``: any absent object, uniformly;
- ``popular``: the most frequent objects of the split, the first one absent from the image;
- ``adversarial``: POPE picks objects that co-occur with the present one; with one object per
  image the analogue is the closest confuser — an absent object that shares the colour *or* the
  shape ("red triangle" for a red circle, "blue circle" for a red circle), chosen uniformly.

Metrics (POPE; docs/architecture.md, "References"): accuracy, precision, recall, F1 with "yes"
positive, and the yes-ratio of the *predictions* (not of the labels), plus the share of
unreadable answers.

Example:
    >>> task = PopeTask(setting="popular")
    >>> task.load(limit=2)[0].prompt  # doctest: +SKIP
    'Is there a red triangle in the image? Answer yes or no.'
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from genaisys.datasets.easy_vqa import image_attributes, image_path
from genaisys.datasets.pope import OBJECTS, PROMPT, SETTINGS, sample_absent
from genaisys.errors import ConfigError
from genaisys.eval.metrics import binary_scores
from genaisys.eval.parsing import parse_yes_no
from genaisys.eval.task import BaseTask, EvalItem, Prediction

# The objects and their sampling live in genaisys.datasets.pope (training samples them too).
__all__ = ["OBJECTS", "SETTINGS", "PopeTask", "sample_absent"]


class PopeTask(BaseTask):
    """POPE on easy-VQA shapes.

    Args:
        setting: ``"random"``, ``"popular"`` or ``"adversarial"`` — how absent objects are sampled.
        split: easy-VQA split.
        root: easy-VQA data folder (default: the packaged asset).
    """

    name = "pope"
    labels = ("yes", "no")

    def __init__(self, setting: str = "random", split: str = "test", root: str | Path | None = None) -> None:
        if setting not in SETTINGS:
            raise ConfigError(f"POPE setting must be one of {SETTINGS}, got {setting!r}")
        self.setting, self.split, self.root = setting, split, root
        self.name = f"pope-{setting}"  # one cache namespace and one report row per setting

    def options(self) -> dict[str, Any]:
        return {"setting": self.setting, "split": self.split}

    def load(self, *, limit: int | None = None, seed: int = 0) -> list[EvalItem]:
        attrs = image_attributes(self.split, self.root)
        objects = {img: f"{c} {s}" for img, (c, s) in attrs.items()}
        counts = Counter(objects.values())
        popularity = sorted(OBJECTS, key=lambda o: (-counts[o], o))
        images = sorted(objects)
        rng = random.Random(seed)
        rng.shuffle(images)
        items: list[EvalItem] = []
        for img in images:
            if limit is not None and len(items) >= limit:
                break
            path = (str(image_path(img, self.split, self.root)),)
            present = objects[img]
            absent = sample_absent(present, self.setting, rng, popularity)
            pair = [(present, "yes", "pos"), (absent, "no", "neg")]
            rng.shuffle(pair)  # the yes is not always asked first
            for obj, ref, tag in pair:
                items.append(EvalItem(id=f"{self.split}-{img}-{tag}", prompt=PROMPT.format(obj=obj), images=path,
                                      reference=ref, meta={"object": obj}))
        return items[:limit] if limit is not None else items

    def score(self, item: EvalItem, prediction: Prediction) -> dict[str, Any]:
        parsed = parse_yes_no(prediction.text, item.meta["object"])  # a statement must name the object
        return {"id": item.id, "pred": parsed, "ref": item.reference, "correct": parsed == item.reference}

    def metrics(self, records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        out = binary_scores([r["pred"] for r in records], [r["ref"] for r in records])
        out["unparsed"] = sum(1 for r in records if r["pred"] is None) / len(records) if records else 0.0
        return out
