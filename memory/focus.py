"""Focused context: keep only the sentences of retrieved chunks that bear on the question.

A retrieved chunk is about a thousand characters; four of them are a page of text in which a
small CPU must find one sentence. `focus_hits` splits each chunk into sentences (Markdown-aware:
hard-wrapped lines are joined as Markdown joins them, while headings, list items, table rows and
code lines stand alone), carries each heading onto the sentences under it ("Web dashboard: The
dashboard listens on port 9181."), scores every sentence against the question with the memory's
own embedding (cosine similarity, with the document's file name in front, so "How many workers
does Orchard run?" prefers Orchard's sentences; word overlap when no embedding is at hand),
keeps the best ``sentences`` across all chunks and rewrites each chunk as its kept sentences, in
document order, joined by " … ". Chunks left with no sentence are dropped, so the context stays
numbered ``[1..n]`` with unchanged citations. With ``order="best"`` each kept sentence is an entry
of its own instead, best-scoring first, under its chunk's citation: on held-out RAG questions
MiniLM's best sentence was the gold one 67 % of the time, but the gold sentence came first in
document order only 28 % of the time (docs/heldout-evals.md), and a small CPU reads ``[1]`` first.
With ``min_score``, sentences scoring below it are never kept, so a question that nothing in memory bears on gets no context at all (a follow-up on
an earlier answer, small talk) instead of six unrelated sentences.

This is extractive context compression, the same idea as LangChain's ``EmbeddingsFilter``
applied within chunks instead of across them. It costs one embedding call per turn (the
sentences of four chunks, cached by `SentenceTransformerEmbedding`'s own cache when one is set).

Example:
    >>> hits = [{"id": "a", "text": "Intro line here.\\nThe port is 9181. Logs go to stderr.", "score": 0.8,
    ...          "source": "guide.md", "citation": "guide.md#0", "metadata": {}}]
    >>> focus_hits("Which port?", hits, sentences=1)[0]["text"]
    'The port is 9181.'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, get_args

from genaisys.types import ContextOrder

__all__ = ["DEFAULT_SENTENCES", "ORDERS", "focus_hits", "sentences_of"]

#: sentences kept across all chunks when focusing is on (about 350 characters of context).
DEFAULT_SENTENCES = 6
#: the layouts of kept sentences (`genaisys.types.ContextOrder`).
ORDERS: tuple[str, ...] = get_args(ContextOrder)

# a line that starts a block of its own (heading, list item, table row, quote, fence, FAQ mark)
_BLOCK = re.compile(r"^\s*(#{1,6}\s|[-*+]\s|\||>|```|~~~|\d+[.)]\s|\*\*Q|Q:|A:)")
_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z`*\[(\"'])|\n+")
_WORD = re.compile(r"[a-z0-9]+")
_JOIN = " … "
_HEADING = re.compile(r"^#{1,6}\s+(.*)$")


def sentences_of(text: str) -> list[str]:
    """Split a chunk into sentences and Markdown lines, dropping those with fewer than 3 letters or digits.

    Example:
        >>> sentences_of("# Title\\nFirst sentence, wrapped\\nover two lines. Second one!\\n- item")
        ['# Title', 'First sentence, wrapped over two lines.', 'Second one!', '- item']
    """
    joined = _soft_breaks_joined(text)
    return [part.strip() for part in _BREAK.split(joined) if len(re.sub(r"[\W_]+", "", part)) >= 3]


def _soft_breaks_joined(text: str) -> str:
    """Join hard-wrapped lines as Markdown does (a single line break inside a paragraph is a space);
    headings, table rows and code lines stay lines of their own."""
    lines: list[str] = []
    code = joinable = False
    for raw in text.split("\n"):
        line = raw.strip()
        fence = line.startswith(("```", "~~~"))
        if fence:
            code = not code
        if line and joinable and not code and not fence and not _BLOCK.match(raw):
            lines[-1] += " " + line
            continue
        lines.append(line)
        joinable = bool(line) and not code and not fence and not line.startswith(("#", "|"))
    return "\n".join(lines)


def _units(text: str) -> list[str]:
    """The chunk's sentences, each under a heading carrying it ("Web dashboard: The port is 9181.");
    headings themselves are no units (a heading alone answers nothing)."""
    units, heading = [], ""
    for sentence in sentences_of(text):
        match = _HEADING.match(sentence)
        if match:
            heading = match.group(1).strip()
            continue
        units.append(f"{heading}: {sentence}" if heading else sentence)
    return units


def _title(hit: Mapping[str, Any]) -> str:
    """``/docs/orchard-config-guide.md`` → ``orchard config guide``."""
    name = str(hit.get("source") or "").replace("\\", "/").rsplit("/", 1)[-1].split("#", 1)[0]
    return re.sub(r"[-_.]+", " ", name.rsplit(".", 1)[0] if "." in name else name).strip()


def _lexical(query: str, texts: Sequence[str]) -> list[float]:
    words = set(_WORD.findall(query.lower()))
    return [len(words & set(_WORD.findall(t.lower()))) / (1 + len(words)) for t in texts]


def _cosine(embed: Callable[[list[str]], Any], query: str, texts: Sequence[str]) -> list[float]:
    import numpy as np

    vectors = np.asarray(embed([query, *texts]), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-9
    return (vectors[1:] @ vectors[0]).tolist()


def focus_hits(query: str, hits: Sequence[Mapping[str, Any]], *, sentences: int = DEFAULT_SENTENCES,
               embedding: Callable[[list[str]], Any] | None = None,
               min_score: float | None = None, order: ContextOrder = "document") -> list[dict[str, Any]]:
    """The hits rewritten to their ``sentences`` most query-like sentences (see the module docstring).

    Args:
        query: The question the context is for.
        hits: Retrieved chunks as dicts with ``text`` (`genaisys.graphs.state.ContextHit`).
        sentences: Sentences kept across all hits.
        embedding: A Chroma-style embedding function (texts → vectors); word overlap without one.
        min_score: Keep only sentences scoring at least this (cosine similarity with an embedding,
            the share of the question's words without one); ``None`` keeps the best ``sentences``
            whatever they score. With MiniLM, 0.55 kept the gold sentence of 90 % of answerable
            questions and no sentence for 56 % of unanswerable ones (docs/heldout-evals.md).
        order: ``"document"``: one entry per hit that keeps a sentence, its kept sentences in the
            hit's order; ``"best"``: one entry per kept sentence, best-scoring first (see `ORDERS`).

    Returns:
        New dicts (the inputs are not changed), each with ``text`` replaced and
        ``metadata["focused"] = True``; hits with no kept sentence are left out, so the list is
        empty when no sentence reaches ``min_score``.

    Example:
        >>> hits = [{"id": "a", "text": "The port is 9181. Logs go to stderr.", "source": "guide.md"}]
        >>> focus_hits("Which port?", hits, min_score=0.3)[0]["text"], focus_hits("Lunch?", hits, min_score=0.3)
        ('The port is 9181.', [])
        >>> [h["text"] for h in focus_hits("Which port?", hits, sentences=2, order="best")]
        ['The port is 9181.', 'Logs go to stderr.']
    """
    if sentences < 1:
        raise ValueError(f"sentences must be at least 1, got {sentences}")
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    units = [(i, j, s) for i, hit in enumerate(hits) for j, s in enumerate(_units(str(hit.get("text", ""))))]
    if not units:
        return [dict(h) for h in hits]
    # each sentence is scored with the name of its document in front (what a reader knows when reading it)
    texts = [f"{_title(hits[i])}: {s}" for i, _, s in units]
    scores = _cosine(embedding, query, texts) if embedding is not None else _lexical(query, texts)
    floor = float("-inf") if min_score is None else min_score
    best = [u for u in sorted(range(len(units)), key=lambda u: -scores[u]) if scores[u] >= floor][:sentences]
    if order == "best":
        return [_focused(hits[units[u][0]], units[u][2]) for u in best]
    kept: dict[int, list[tuple[int, str]]] = {}
    for u in best:
        i, j, text = units[u]
        kept.setdefault(i, []).append((j, text))
    focused = []
    for i, hit in enumerate(hits):
        if i in kept:
            focused.append(_focused(hit, _JOIN.join(s for _, s in sorted(kept[i]))))
    return focused


def _focused(hit: Mapping[str, Any], text: str) -> dict[str, Any]:
    return {**hit, "text": text, "metadata": {**dict(hit.get("metadata") or {}), "focused": True}}
