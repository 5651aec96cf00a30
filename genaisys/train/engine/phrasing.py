"""Compositional phrasing: many distinct ways to say one thing, and a measure of how many.

A *pattern* is text with alternatives in square brackets and slots in braces::

    "[Could you|Can you|Please] [work out|compute] {x}[ for me|][?|.]"

`expand` picks one alternative per bracket (nested brackets allowed; an empty alternative drops
the part) and fills the slots. `variants` draws many distinct phrasings of several patterns.
`diversity` measures a set of texts — distinct n-gram ratios, the share of unique texts and the
mean ROUGE-L similarity between sampled pairs — so a generator's variety is reported, not
assumed; `dedup` drops near-duplicates (ROUGE-L above a threshold).

Example:
    >>> import random
    >>> expand("[Hi|Hello][ there|]!", random.Random(1))
    'Hi there!'
    >>> expand("What is {x}?", random.Random(0), x="2 + 2")
    'What is 2 + 2?'
    >>> sorted(all_expansions("[a|b] [c|d]"))
    ['a c', 'a d', 'b c', 'b d']
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from genaisys.errors import ConfigError

__all__ = ["all_expansions", "dedup", "diversity", "expand", "surface", "variants"]

_SLOT = re.compile(r"\{(\w+)\}")


@lru_cache(maxsize=4096)
def _parse(pattern: str) -> tuple[Any, ...]:
    """Pattern → a tuple of parts: ``str`` or ``("alt", (option, ...))`` where option is a part tuple."""
    def parse(i: int, depth: int) -> tuple[list[Any], int, bool]:
        parts: list[Any] = []
        options: list[tuple[Any, ...]] = []
        buf = ""
        while i < len(pattern):
            ch = pattern[i]
            if ch == "[":
                if buf:
                    parts.append(buf)
                    buf = ""
                inner, i, _ = parse(i + 1, depth + 1)
                parts.append(("alt", tuple(tuple(o) for o in inner)))
                continue
            if ch == "|" and depth > 0:
                parts.append(buf)
                options.append(tuple(p for p in parts if p != ""))
                parts, buf = [], ""
                i += 1
                continue
            if ch == "]" and depth > 0:
                parts.append(buf)
                options.append(tuple(p for p in parts if p != ""))
                return options, i + 1, True
            if ch == "]":
                raise ConfigError(f"pattern {pattern!r}: ']' at {i} closes no '['")
            buf += ch
            i += 1
        if depth > 0:
            raise ConfigError(f"pattern {pattern!r}: a '[' is never closed")
        if buf:
            parts.append(buf)
        return parts, i, False

    parts, _, _ = parse(0, 0)
    return tuple(parts)


def _render(parts: Sequence[Any], rng: random.Random) -> str:
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        else:
            out.append(_render(rng.choice(part[1]), rng))
    return "".join(out)


def _all(parts: Sequence[Any]) -> list[str]:
    results = [""]
    for part in parts:
        if isinstance(part, str):
            results = [r + part for r in results]
        else:
            results = [r + s for r in results for option in part[1] for s in _all(option)]
    return results


def _fill(text: str, slots: Mapping[str, Any]) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(1) not in slots:
            raise ConfigError(f"slot {{{m.group(1)}}} has no value (given: {sorted(slots)})")
        return str(slots[m.group(1)])

    return _SLOT.sub(sub, text)


def surface(text: str, rng: random.Random, *, casual: float = 0.0, capitalize: bool = True) -> str:
    """Tidy spacing and the first letter; with probability ``casual`` write it the way people type
    in a hurry (lower case, no final full stop)."""
    text = re.sub(r"[ \t]+", " ", text).strip()
    text = re.sub(r" +([?.!,;:])", r"\1", text)
    if text and rng.random() < casual:
        return text[0].lower() + text[1:].rstrip(".")
    return text[:1].upper() + text[1:] if capitalize else text


def expand(pattern: str, rng: random.Random, *, capitalize: bool = True, **slots: Any) -> str:
    """One phrasing of ``pattern``: an alternative per bracket, slots filled, spacing tidied
    (``capitalize=False`` keeps the first letter as written: an answer starting with a file name)."""
    return surface(_fill(_render(_parse(pattern), rng), slots), rng, capitalize=capitalize)


def all_expansions(pattern: str) -> list[str]:
    """Every phrasing of ``pattern`` (slots left as ``{name}``), for counting and leak checks."""
    return sorted({re.sub(r"\s+([?.!,;:])", r"\1", re.sub(r"\s+", " ", t).strip()) for t in _all(_parse(pattern))})


def variants(patterns: Sequence[str], n: int, rng: random.Random, *, tries: int = 20, casual: float = 0.1,
             **slots: Any) -> list[str]:
    """Up to ``n`` distinct phrasings drawn from ``patterns`` with the same slots."""
    seen: list[str] = []
    for _ in range(n * tries):
        text = surface(_fill(_render(_parse(rng.choice(patterns)), rng), slots), rng, casual=casual)
        if text not in seen:
            seen.append(text)
            if len(seen) == n:
                break
    return seen


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def diversity(texts: Iterable[str], *, pairs: int = 2000, seed: int = 0) -> dict[str, float]:
    """How varied ``texts`` are.

    Returns ``n``, ``unique`` (share of distinct texts), ``distinct_1/2/3`` (distinct n-grams over
    all n-grams), and ``mean_rouge_l`` (mean ROUGE-L F between random pairs: lower is more varied).

    Example:
        >>> d = diversity(["what is two plus two", "what is two plus three", "tell me a joke"])
        >>> d["n"], d["unique"]
        (3, 1.0)
    """
    from genaisys.train.engine.self_instruct import rouge_l

    items = list(texts)
    out: dict[str, float] = {"n": len(items), "unique": len(set(items)) / max(1, len(items))}
    tokens = [_words(t) for t in items]
    for k in (1, 2, 3):
        grams = [tuple(w[i:i + k]) for w in tokens for i in range(len(w) - k + 1)]
        out[f"distinct_{k}"] = round(len(set(grams)) / max(1, len(grams)), 4)
    rng = random.Random(seed)
    scores = [rouge_l(*rng.sample(items, 2)) for _ in range(pairs if len(items) > 1 else 0)]
    out["mean_rouge_l"] = round(sum(scores) / len(scores), 4) if scores else 0.0
    out["unique"] = round(out["unique"], 4)
    return out


def dedup(texts: Iterable[str], *, threshold: float = 0.9) -> list[str]:
    """Keep texts whose ROUGE-L F with every kept one is below ``threshold`` (first ones win).

    Example:
        >>> dedup(["what is 2 + 2", "what is 2 + 2 ?", "tell me a joke"])
        ['what is 2 + 2', 'tell me a joke']
    """
    from genaisys.train.engine.self_instruct import rouge_l

    kept: list[str] = []
    for text in texts:
        if all(rouge_l(text, k) < threshold for k in kept):
            kept.append(text)
    return kept
