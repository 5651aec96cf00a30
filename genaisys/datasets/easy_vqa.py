"""easy-VQA, the packaged shape-question set: its questions, images and per-image attributes.

Both sides read it: the evaluation asks its *test* split (`genaisys.eval.tasks.easy_vqa`), the data
engine turns its *train* split into records (`genaisys.train.engine.easy_vqa`). One definition here
keeps a training question built exactly as the evaluation builds its prompt.

The data is the packaged asset (`genaisys.assets.resolve("easy-vqa")`): ``<split>/questions.json``
(``[question, answer, image_id]`` rows) and ``<split>/images/<id>.png``; 13 answers (3 shapes,
8 colours, yes, no).

Example:
    >>> COLORS[:3], SHAPES
    (('black', 'blue', 'brown'), ('circle', 'rectangle', 'triangle'))
    >>> "What color is the shape?" + QUESTION_SUFFIX
    'What color is the shape?\\nAnswer with a single word.'
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from genaisys.datasets.shapes import COLORS as _COLOR_RGB
from genaisys.datasets.shapes import SHAPES
from genaisys.errors import AssetError, ConfigError

__all__ = ["ANSWERS", "COLORS", "QUESTION_SUFFIX", "SHAPES", "image_attributes", "image_path", "load_questions"]

#: easy-VQA's colour names, in its answer order (alphabetical); `genaisys.datasets.shapes.COLORS` maps them to RGB.
COLORS: tuple[str, ...] = tuple(sorted(_COLOR_RGB))
#: every answer easy-VQA gives: the shapes, the colours, yes and no.
ANSWERS: tuple[str, ...] = (*SHAPES, *COLORS, "yes", "no")
#: what follows every easy-VQA question in a prompt, in training and in evaluation alike.
QUESTION_SUFFIX = "\nAnswer with a single word."


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
