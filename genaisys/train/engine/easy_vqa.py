"""easy-VQA → training records: captions (stage 1), QA and POPE probes (stage 2), POPE pairs (DPO).

Everything comes from the packaged easy-VQA data (`genaisys.assets.resolve("easy-vqa")`) through
the readers the evaluation uses too (`genaisys.datasets.easy_vqa`), so a training question is built
exactly as the evaluation builds its prompt:

- `qa`: the dataset's question, ``q[0].upper() + q[1:] + "\\nAnswer with a single word."``, and
  the dataset's one-word answer (what `EasyVQATask` asks and scores);
- `pope_probes`: ``"Is there a <colour> <shape> in the image? Answer yes or no."`` → ``"Yes"`` /
  ``"No"``, one present and one absent object per image (balanced), absent objects sampled like
  `genaisys.datasets.pope.sample_absent` (random / popular / adversarial);
- `pope_pairs`: the same probes as DPO records (chosen = the right answer, rejected = the wrong one);
- `captions`: varied caption requests → ``"A red circle."``.

Only the **train** split is for training: the evaluation reads ``test``. Asking for ``test``
needs ``allow_test=True`` (for checking the generators, never for a training set).

Example:
    >>> recs = qa("train", n=1, seed=0)  # doctest: +SKIP
    >>> recs[0]["conversations"][0]["value"]  # doctest: +SKIP
    '<image>\\nWhat color is the shape?\\nAnswer with a single word.'
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

from genaisys.datasets.easy_vqa import QUESTION_SUFFIX as _QA_SUFFIX
from genaisys.datasets.easy_vqa import image_attributes, image_path, load_questions
from genaisys.datasets.pope import OBJECTS, SETTINGS, sample_absent
from genaisys.datasets.pope import PROMPT as _POPE
from genaisys.errors import ConfigError
from genaisys.train.data import IMAGE_MARK

__all__ = ["CAPTION_PROMPTS", "captions", "pope_pairs", "pope_probes", "qa"]

CAPTION_PROMPTS = (
    "Describe the image briefly.",
    "What is in this picture?",
    "Write a short caption for this image.",
    "What do you see?",
    "Give a one-line description of the image.",
    "Caption this image.",
    "What does the image show?",
    "Summarize the picture in a few words.",
    "Tell me what is shown here.",
    "Provide a brief caption.",
)


def _check_split(split: str, allow_test: bool) -> None:
    if split not in ("train", "test"):
        raise ConfigError(f"easy-VQA split must be 'train' or 'test', got {split!r}")
    if split == "test" and not allow_test:
        raise ConfigError("the easy-VQA test split is what the evaluation scores; train on split='train' "
                          "(pass allow_test=True only to inspect the generator)")


def _check_n(n: int) -> None:
    if not isinstance(n, int) or n < 1:
        raise ConfigError(f"n must be a positive integer, got {n!r}")


def _image_order(ids: list[int], n: int, rng: random.Random) -> list[int]:
    """``n`` image ids: a shuffle of all, repeated (reshuffled) when ``n`` exceeds their number."""
    out: list[int] = []
    while len(out) < n:
        batch = list(ids)
        rng.shuffle(batch)
        out.extend(batch)
    return out[:n]


def _human(text: str) -> dict[str, str]:
    return {"from": "human", "value": f"{IMAGE_MARK}\n{text}"}


def captions(split: str = "train", n: int = 1000, seed: int = 0, *, root: str | Path | None = None,
             allow_test: bool = False) -> list[dict[str, Any]]:
    """Stage-1 (pre-alignment) records: a caption request about one image → ``"A red circle."``.

    Example:
        >>> captions("train", n=1)[0]["conversations"][1]["value"]  # doctest: +SKIP
        'A blue rectangle.'
    """
    _check_split(split, allow_test)
    _check_n(n)
    rng = random.Random(seed)
    attrs = image_attributes(split, root)
    out = []
    for k, img in enumerate(_image_order(sorted(attrs), n, rng)):
        color, shape = attrs[img]
        out.append({"id": f"evqa-cap-{split}-{k}-{img}", "images": [str(image_path(img, split, root))],
                    "conversations": [_human(rng.choice(CAPTION_PROMPTS)),
                                      {"from": "gpt", "value": f"A {color} {shape}."}],
                    "meta": {"source": "easy-vqa", "split": split, "kind": "caption", "image_id": img}})
    return out


def qa(split: str = "train", n: int | None = 1000, seed: int = 0, *, root: str | Path | None = None,
       allow_test: bool = False) -> list[dict[str, Any]]:
    """easy-VQA questions as records, the human turn built exactly like the evaluation's prompt.

    Args:
        n: how many (a seeded sample without repetition); ``None`` = every question of the split.

    Example:
        >>> r = qa("train", n=1)[0]  # doctest: +SKIP
        >>> r["conversations"][1]["value"] in {"yes", "no", "circle", "red"}  # doctest: +SKIP
        True
    """
    _check_split(split, allow_test)
    rows = list(enumerate(load_questions(split, root)))
    if n is not None:
        _check_n(n)
        if n > len(rows):
            raise ConfigError(f"n={n} but the {split} split has {len(rows)} questions; pass n=None for all")
    random.Random(seed).shuffle(rows)
    rows = rows if n is None else rows[:n]
    return [{"id": f"evqa-qa-{split}-{i}", "images": [str(image_path(img, split, root))],
             "conversations": [_human(q[0].upper() + q[1:] + _QA_SUFFIX), {"from": "gpt", "value": a}],
             "meta": {"source": "easy-vqa", "split": split, "kind": "yes/no" if a in ("yes", "no") else "open"}}
            for i, (q, a, img) in rows]


def _probes(split: str, n: int, seed: int, setting: str, root: str | Path | None,
            allow_test: bool) -> list[tuple[str, int, str, str, str]]:
    """``(id, image_id, object, "Yes"|"No", setting)``: n probes, half present, half absent."""
    _check_split(split, allow_test)
    _check_n(n)
    settings = SETTINGS if setting == "mixed" else (setting,)
    if setting != "mixed" and setting not in SETTINGS:
        raise ConfigError(f"POPE setting must be one of {(*SETTINGS, 'mixed')}, got {setting!r}")
    attrs = image_attributes(split, root)
    objects = {img: f"{c} {s}" for img, (c, s) in attrs.items()}
    counts = Counter(objects.values())
    popularity = sorted(OBJECTS, key=lambda o: (-counts[o], o))
    rng = random.Random(seed)
    out: list[tuple[str, int, str, str, str]] = []
    for k, img in enumerate(_image_order(sorted(objects), (n + 1) // 2, rng)):
        present = objects[img]
        how = settings[k % len(settings)]
        absent = sample_absent(present, how, rng, popularity)
        pair = [(present, "Yes", "pos"), (absent, "No", "neg")]
        rng.shuffle(pair)
        for obj, ans, tag in pair:
            out.append((f"pope-{split}-{k}-{img}-{tag}", img, obj, ans, how))
    rng.shuffle(out)  # keep the yes/no balance but not the pairing order
    return out[:n]


def pope_probes(split: str = "train", n: int = 1000, seed: int = 0, *, setting: str = "mixed",
                root: str | Path | None = None, allow_test: bool = False) -> list[dict[str, Any]]:
    """Balanced yes/no object probes, ``"Is there a red circle in the image? Answer yes or no."``.

    Args:
        setting: how absent objects are drawn: ``"random"``, ``"popular"``, ``"adversarial"`` or
            ``"mixed"`` (the three in turn).

    Example:
        >>> sorted({r["conversations"][1]["value"] for r in pope_probes(n=4)})  # doctest: +SKIP
        ['No', 'Yes']
    """
    return [{"id": pid, "images": [str(image_path(img, split, root))],
             "conversations": [_human(_POPE.format(obj=obj)), {"from": "gpt", "value": ans}],
             "meta": {"source": "easy-vqa", "split": split, "kind": "pope", "setting": how}}
            for pid, img, obj, ans, how in _probes(split, n, seed, setting, root, allow_test)]


def pope_pairs(split: str = "train", n: int = 1000, seed: int = 0, *, setting: str = "mixed",
               root: str | Path | None = None, allow_test: bool = False) -> list[dict[str, Any]]:
    """POPE probes as DPO preference records: chosen = the right ``Yes``/``No``, rejected = the other.

    Example:
        >>> r = pope_pairs(n=1)[0]  # doctest: +SKIP
        >>> {r["chosen"], r["rejected"]} == {"Yes", "No"}  # doctest: +SKIP
        True
    """
    return [{"id": f"{pid}-pref", "images": [str(image_path(img, split, root))],
             "conversations": [_human(_POPE.format(obj=obj))],
             "chosen": ans, "rejected": "No" if ans == "Yes" else "Yes",
             "meta": {"source": "easy-vqa", "split": split, "kind": "pope-pair", "setting": how}}
            for pid, img, obj, ans, how in _probes(split, n, seed, setting, root, allow_test)]
