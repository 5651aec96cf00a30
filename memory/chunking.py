"""Split text into overlapping chunks at headings, paragraphs and sentences, keeping exact offsets.

Every chunk is an exact slice of the input: ``text[chunk.start:chunk.end] == chunk.text``, so a
citation ``file#chars=start-end`` points at the very characters that were embedded.

A chunk ends at the best boundary found in the second half of its window, in this order of
preference: before a Markdown heading, at a blank line (paragraph), at a line break, after a
sentence, at a space; only a text with none of these is cut mid-word. The next chunk starts at a
sentence (or else word) boundary inside the last ``overlap`` characters, so context carries over.

Example:
    >>> from genaisys.memory.chunking import chunk_text
    >>> text = "# A\\nOne. Two.\\n\\n# B\\nThree."
    >>> [c.text for c in chunk_text(text, size=20, overlap=0)]
    ['# A\\nOne. Two.', '# B\\nThree.']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from genaisys.errors import ConfigError

__all__ = ["Chunk", "chunk_text"]


@dataclass(frozen=True)
class Chunk:
    """One chunk: its text and its character range ``[start, end)`` in the source text."""

    text: str
    start: int
    end: int


# Break positions (index where the next piece starts), best first.
_BREAKS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\n(?=#{1,6}\s)"),         # before a Markdown heading
    re.compile(r"\n[ \t]*\n"),             # paragraph
    re.compile(r"\n"),                     # line
    re.compile(r"(?<=[.!?;:])[\"')\]]*\s"),  # sentence end
    re.compile(r"\s"),                     # word
)
_SENTENCE_START = re.compile(r"(?:(?<=[.!?])\s+|\n[ \t]*\n\s*)(?=\S)")
_WORD_START = re.compile(r"(?<=\s)(?=\S)")


def _best_break(text: str, lo: int, hi: int) -> int:
    """The end of a chunk in ``(lo, hi]``: the last break of the best kind found there, else ``hi``."""
    for pattern in _BREAKS:
        found = [m.end() for m in pattern.finditer(text, lo, hi + 1) if lo < m.end() <= hi]
        if found:
            return found[-1]
    return hi


def _overlap_start(text: str, lo: int, end: int) -> int:
    """Where the next chunk starts: the first sentence (else word) start in ``[lo, end)``, else ``end``."""
    for pattern in (_SENTENCE_START, _WORD_START):
        for m in pattern.finditer(text, lo, end):
            if lo <= m.end() < end:
                return m.end()
    return end


def chunk_text(text: str, *, size: int = 1000, overlap: int = 150) -> list[Chunk]:
    """Split ``text`` into chunks of at most ``size`` characters overlapping by at most ``overlap``.

    Leading and trailing whitespace is trimmed off each chunk (offsets follow); whitespace-only
    text gives no chunks.

    Args:
        text: the text to split.
        size: maximum characters per chunk.
        overlap: maximum characters shared by neighbouring chunks (``0 <= overlap < size / 2``).

    Raises:
        ConfigError: ``size`` or ``overlap`` out of range.
    """
    if size < 20:
        raise ConfigError(f"chunk size must be >= 20 characters, got {size}")
    if not 0 <= overlap < size // 2:
        raise ConfigError(f"chunk overlap must be in [0, size/2) = [0, {size // 2}), got {overlap}")
    chunks: list[Chunk] = []
    n = len(text)
    start = 0
    while start < n:
        while start < n and text[start].isspace():
            start += 1
        if start >= n:
            break
        end = n if n - start <= size else _best_break(text, start + size // 2, start + size)
        stop = end
        while stop > start and text[stop - 1].isspace():
            stop -= 1
        if stop > start:
            chunks.append(Chunk(text[start:stop], start, stop))
        if end >= n:
            break
        nxt = _overlap_start(text, max(end - overlap, start + 1), end) if overlap else end
        start = max(nxt, start + 1)
    return chunks
