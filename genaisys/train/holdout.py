"""Evaluation material never trains: find it in training records, and keep it out.

What the core is measured on must not be what it learned from. This module knows the
evaluation's material — Python's help topics (``pydoc_data``), the demo's turns, the text-only
regression questions, the held-out suites' strings (`genaisys.datasets.heldout.material`) and the
scikit-image / scikit-learn photos — and checks records against it:

- text: a record whose human turn *is* an evaluation question (compared case- and
  space-insensitively), or whose text shares a run of 12 words with a help topic or a held-out
  document;
- images: a record image that is one of the photos (compared by an 8×8 average hash).

`evaluation_overlap` reports what it finds; `drop_evaluation_overlap` removes those records (a
training generator can compose a phrasing that an evaluator also wrote; such records are dropped,
and counted, so the evaluation keeps its phrasings to itself).

Example:
    >>> rec = {"id": "x", "conversations": [{"from": "human", "value": "What is 1234 * 5678?"},
    ...                                      {"from": "gpt", "value": "7006652"}]}
    >>> [hit["why"] for hit in evaluation_overlap([rec])]
    ['the demo turn "What is 1234 * 5678?"']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["drop_evaluation_overlap", "evaluation_overlap", "evaluation_questions"]

_SHINGLE = 12
_MARK = "<image>"


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.replace(_MARK, " ").lower()).split())


def _shingles(text: str) -> set[int]:
    words = _norm(text).split()
    return {hash(" ".join(words[i:i + _SHINGLE])) for i in range(len(words) - _SHINGLE + 1)}


def _heldout() -> dict[str, list[str]]:
    from genaisys.datasets.heldout import material

    return material()


@lru_cache(maxsize=1)
def evaluation_questions() -> dict[str, str]:
    """Normalised evaluation question → where it comes from."""
    from genaisys.demo import DEMO_TURNS
    from genaisys.train.nano import TEXT_QUESTIONS

    out = {_norm(t.text): f'the demo turn "{t.text}"' for t in DEMO_TURNS}
    out.update({_norm(q): f'the text-only question "{q}"' for q, _ in TEXT_QUESTIONS})
    for suite, strings in _heldout().items():
        if suite in ("rag_documents",):
            continue
        out.update({_norm(s): f"the held-out {suite} item {s!r}" for s in strings if _norm(s)})
    return out


@lru_cache(maxsize=1)
def _passages() -> dict[int, str]:
    import pydoc_data.topics

    found: dict[int, str] = {}
    for topic, body in pydoc_data.topics.topics.items():
        for h in _shingles(body):
            found.setdefault(h, f"the help topic {topic!r}")
    for sentence in _heldout().get("rag_documents", []):
        for h in _shingles(sentence):
            found.setdefault(h, "a held-out document")
    return found


@lru_cache(maxsize=1)
def _photo_hashes() -> dict[int, str]:
    import numpy as np
    import skimage.data

    photos: dict[str, Any] = {}
    for name in ("astronaut", "camera", "cat", "chelsea", "clock", "coffee", "coins", "horse", "moon", "page",
                 "rocket", "text", "hubble_deep_field", "immunohistochemistry", "logo", "retina"):
        try:
            photos[name] = getattr(skimage.data, name)()
        except Exception:  # noqa: BLE001 - a photo this scikit-image lacks cannot leak either
            continue
    left, right, _ = skimage.data.stereo_motorcycle()
    photos["stereo_motorcycle"] = left
    try:
        from sklearn.datasets import load_sample_image

        for name in ("china.jpg", "flower.jpg"):
            photos[name] = load_sample_image(name)
    except ImportError:
        pass
    return {_ahash(np.asarray(p)): name for name, p in photos.items()}


def _ahash(pixels: Any) -> int:
    import numpy as np
    from PIL import Image

    image = Image.fromarray(pixels).convert("L").resize((8, 8), Image.Resampling.BOX)
    a = np.asarray(image, dtype=float)
    bits = (a > a.mean()).ravel()
    return int("".join("1" if b else "0" for b in bits), 2)


def _image_hit(path: str) -> str | None:
    import numpy as np
    from PIL import Image

    try:
        with Image.open(path) as image:
            h = _ahash(np.asarray(image.convert("RGB")))
    except (OSError, ValueError):
        return None
    for known, name in _photo_hashes().items():
        if bin(known ^ h).count("1") <= 3:
            return f"the evaluation photo {name!r}"
    return None


def evaluation_overlap(records: Iterable[Mapping[str, Any]], *, check_images: bool = True) -> list[dict[str, Any]]:
    """``[{"id", "why"}]`` for every record that holds evaluation material (see the module doc)."""
    questions, passages = evaluation_questions(), _passages()
    hits: list[dict[str, Any]] = []
    for rec in records:
        turns = rec.get("conversations") or []
        why = None
        for turn in turns:
            value = str(turn.get("value", ""))
            if turn.get("from") in ("human", "user") and _norm(value) in questions:
                why = questions[_norm(value)]
                break
            shared = next((passages[h] for h in _shingles(value) if h in passages), None)
            if shared:
                why = f"text from {shared}"
                break
        if why is None and check_images:
            why = next((w for w in (_image_hit(p) for p in rec.get("images") or []) if w), None)
        if why is not None:
            hits.append({"id": rec.get("id"), "why": why})
    return hits


def drop_evaluation_overlap(records: Sequence[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], list[dict[str, Any]]]:
    """``(records without evaluation material, what was dropped and why)``."""
    hits = evaluation_overlap(records)
    bad = {h["id"] for h in hits}
    return [r for r in records if r.get("id") not in bad], hits


def _image_paths(records: Iterable[Mapping[str, Any]]) -> list[Path]:
    return [Path(p) for r in records for p in r.get("images") or []]
