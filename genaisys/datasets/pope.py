"""POPE-style object probes on easy-VQA shapes: the objects, the three sampling settings, the prompt.

Each easy-VQA image holds one object, a *coloured shape* ("red circle"; 8 colours × 3 shapes =
24 objects). A probe asks whether an object is in the image; absent objects are sampled the way
POPE samples them (``random``, ``popular``, ``adversarial``, see `sample_absent`). The evaluation
(`genaisys.eval.tasks.pope`) and the data engine (`genaisys.train.engine.easy_vqa.pope_probes`)
both sample from here, so a training probe is asked as the evaluation asks it.

Example:
    >>> PROMPT.format(obj="red circle")
    'Is there a red circle in the image? Answer yes or no.'
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from genaisys.datasets.easy_vqa import COLORS, SHAPES
from genaisys.errors import ConfigError

__all__ = ["OBJECTS", "PROMPT", "SETTINGS", "sample_absent"]

SETTINGS = ("random", "popular", "adversarial")
OBJECTS = tuple(f"{c} {s}" for c in COLORS for s in SHAPES)
#: the probe question, ``{obj}`` = "red circle".
PROMPT = "Is there a {obj} in the image? Answer yes or no."


def sample_absent(present: str, setting: str, rng: random.Random, popularity: Sequence[str]) -> str:
    """One absent object for an image showing ``present``, drawn the way ``setting`` says.

    - ``random``: any absent object, uniformly;
    - ``popular``: the most frequent objects of the split, the first one absent from the image;
    - ``adversarial``: POPE picks objects that co-occur with the present one; with one object per
      image the analogue is the closest confuser — an absent object that shares the colour *or* the
      shape ("red triangle" for a red circle, "blue circle" for a red circle), chosen uniformly.

    Example:
        >>> sample_absent("red circle", "popular", random.Random(0), ["red circle", "blue triangle"])
        'blue triangle'
        >>> a = sample_absent("red circle", "adversarial", random.Random(0), OBJECTS)
        >>> a != "red circle" and (a.startswith("red ") or a.endswith(" circle"))
        True
    """
    absent = [o for o in OBJECTS if o != present]
    if setting == "random":
        return rng.choice(absent)
    if setting == "popular":
        return next(o for o in popularity if o != present)
    if setting == "adversarial":
        color, shape = present.split()
        confusers = [o for o in absent if o.split()[0] == color or o.split()[1] == shape]
        return rng.choice(confusers)
    raise ConfigError(f"POPE setting must be one of {SETTINGS}, got {setting!r}")
