"""Memory search and memory write tools over any memory object (duck-typed).

A memory is anything with ``search(query, k=..., where=None) -> hits`` — each hit having
``.text``, ``.source``, ``.score`` and ``.citation`` — and ``add_texts(texts, metadatas=None) ->
ids``; `genaisys.memory.ChromaMemory` is one, a dict-backed fake in a test is another. This
module never imports `genaisys.memory`.

Example:
    >>> class Hit:
    ...     def __init__(self, text): self.text, self.source, self.score, self.citation = text, "notes", 1.0, "notes#1"
    >>> class TinyMemory:
    ...     def __init__(self): self.texts = []
    ...     def search(self, query, k=4, where=None): return [Hit(t) for t in self.texts if query in t][:k]
    ...     def add_texts(self, texts, metadatas=None): self.texts += texts; return [str(len(self.texts))]
    >>> memory = TinyMemory()
    >>> build_memory_write_tool(memory).invoke({"text": "the cat is grey"})
    'Stored in memory (id 1).'
    >>> print(build_memory_search_tool(memory).invoke({"query": "cat"}))
    [1] notes#1 (score 1.00)
    the cat is grey
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from genaisys.errors import ConfigError
from genaisys.types import Memory

__all__ = [
    "MAX_HIT_CHARS",
    "MAX_WRITE_CHARS",
    "NO_HITS_TEXT",
    "MemorySearchArgs",
    "MemoryWriteArgs",
    "build_memory_search_tool",
    "build_memory_write_tool",
    "format_hits",
]

MAX_HIT_CHARS = 1_500  # per hit; the safety wrapper caps the whole output too
MAX_WRITE_CHARS = 20_000
NO_HITS_TEXT = "No matching memories for {query!r}. Answer from what you know, or say that you do not know."


class MemorySearchArgs(BaseModel):
    """Arguments of ``memory_search``."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=2_000, description="what to look for, in plain words")
    k: int = Field(default=4, ge=1, le=20, description="how many passages to return (1-20)")


class MemoryWriteArgs(BaseModel):
    """Arguments of ``memory_write``."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_WRITE_CHARS, description="the fact or note to remember")
    source: str | None = Field(default=None, max_length=500, description="where it came from (optional)")


def _check_memory(memory: Memory, *methods: str) -> None:
    missing = [m for m in methods if not callable(getattr(memory, m, None))]
    if memory is None or missing:
        raise ConfigError(
            f"memory tools need a memory object with {', '.join(methods)}() "
            f"(e.g. genaisys.memory.ChromaMemory); got {type(memory).__name__} missing {', '.join(missing) or 'all'}. "
            "Pass it as get_tool('builtin:memory_search', memory=mem)"
        )


def format_hits(hits: list[Any], query: str) -> str:
    """Format hits for the model: ``[n] <citation> (score s)`` then the passage text.

    Example:
        >>> format_hits([], "x")
        "No matching memories for 'x'. Answer from what you know, or say that you do not know."
    """
    if not hits:
        return NO_HITS_TEXT.format(query=query)
    blocks = []
    for i, hit in enumerate(hits, 1):
        citation = getattr(hit, "citation", None) or getattr(hit, "source", None) or "memory"
        score = getattr(hit, "score", None)
        head = f"[{i}] {citation}" + (f" (score {score:.2f})" if isinstance(score, (int, float)) else "")
        text = str(getattr(hit, "text", hit))
        if len(text) > MAX_HIT_CHARS:
            text = text[:MAX_HIT_CHARS] + " [...]"
        blocks.append(f"{head}\n{text}")
    return "\n\n".join(blocks)


def build_memory_search_tool(memory: Memory) -> Any:
    """A ``memory_search(query, k)`` tool over ``memory``; hits come back with their citations.

    Args:
        memory: Memory object with ``search(query, k=..., where=None)``.

    Raises:
        ConfigError: ``memory`` has no ``search`` method.
    """
    from langchain_core.tools import StructuredTool, ToolException

    _check_memory(memory, "search")

    def memory_search(query: str, k: int = 4) -> str:
        """Search the long-term memory (documents, notes, earlier conversations) for passages about a query.

        Returns numbered passages with their citations; cite them as [n] in the answer.
        """
        try:
            hits = list(memory.search(query, k=k))
        except Exception as exc:  # noqa: BLE001 — any backend error becomes text for the model
            raise ToolException(f"Memory search failed: {type(exc).__name__}: {exc}") from exc
        return format_hits(hits, query)

    return StructuredTool.from_function(
        func=memory_search, name="memory_search", args_schema=MemorySearchArgs, handle_tool_error=True
    )


def build_memory_write_tool(memory: Memory) -> Any:
    """A ``memory_write(text, source=None)`` tool that stores a note in ``memory``.

    Args:
        memory: Memory object with ``add_texts(texts, metadatas=None)``.

    Raises:
        ConfigError: ``memory`` has no ``add_texts`` method.
    """
    from langchain_core.tools import StructuredTool, ToolException

    _check_memory(memory, "add_texts")

    def memory_write(text: str, source: str | None = None) -> str:
        """Store a fact or note in long-term memory so it can be found later with memory_search."""
        try:
            ids = list(memory.add_texts([text], metadatas=[{"source": source or "memory_write"}]))
        except Exception as exc:  # noqa: BLE001 — any backend error becomes text for the model
            raise ToolException(f"Memory write failed: {type(exc).__name__}: {exc}") from exc
        if not ids:
            return "Already in memory (nothing new stored)."
        return f"Stored in memory (id {', '.join(map(str, ids))})."

    return StructuredTool.from_function(
        func=memory_write, name="memory_write", args_schema=MemoryWriteArgs, handle_tool_error=True
    )
