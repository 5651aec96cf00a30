"""Memory search/write tools over a duck-typed memory, and over the real ChromaMemory."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from genaisys.errors import ConfigError
from genaisys.tools import get_tool
from genaisys.tools.memory_tools import MAX_HIT_CHARS, format_hits



@dataclass
class FakeHit:
    text: str
    source: str
    score: float

    @property
    def citation(self) -> str:
        return f"{self.source}#1"


@dataclass
class FakeMemory:
    """Word-overlap search over a list: enough to check what the tools pass and return."""

    rows: list = field(default_factory=list)
    calls: list = field(default_factory=list)

    def search(self, query, k=4, where=None):
        self.calls.append(("search", query, k, where))
        words = set(query.lower().split())
        scored = [(len(words & set(t.lower().split())) / len(words), t, s) for t, s in self.rows]
        return [FakeHit(t, s, sc) for sc, t, s in sorted(scored, reverse=True) if sc > 0][:k]

    def add_texts(self, texts, metadatas=None):
        self.calls.append(("add_texts", list(texts), metadatas))
        self.rows += [(t, (m or {}).get("source", "?")) for t, m in zip(texts, metadatas or [None] * len(texts))]
        return [f"id{len(self.rows)}"]


def test_write_then_search_with_citations():
    memory = FakeMemory()
    write = get_tool("builtin:memory_write", memory=memory)
    search = get_tool("builtin:memory_search", memory=memory)
    assert write.invoke({"text": "the office cat is called Miso", "source": "chat"}) == "Stored in memory (id id1)."
    assert write.invoke({"text": "the server room is cold"}) == "Stored in memory (id id2)."
    assert memory.calls[1] == ("add_texts", ["the server room is cold"], [{"source": "memory_write"}])
    out = search.invoke({"query": "what is the cat called", "k": 2})
    assert out.startswith("[1] chat#1 (score ")
    assert "the office cat is called Miso" in out and "server room" not in out.split("\n\n")[0]
    assert memory.calls[-1] == ("search", "what is the cat called", 2, None)


def test_no_hits_and_bad_arguments():
    memory = FakeMemory()
    search = get_tool("builtin:memory_search", memory=memory)
    assert search.invoke({"query": "nothing"}).startswith("No matching memories for 'nothing'")
    message = search.invoke({"name": "memory_search", "args": {"query": "x", "k": 500}, "id": "c", "type": "tool_call"})
    assert message.status == "error" and "- k: Input should be less than or equal to 20" in message.content
    message = search.invoke({"name": "memory_search", "args": {"query": ""}, "id": "c", "type": "tool_call"})
    assert message.status == "error" and "- query:" in message.content
    assert len(memory.calls) == 1  # invalid calls never reached the memory


def test_backend_errors_become_text():
    class Broken(FakeMemory):
        def search(self, query, k=4, where=None):
            raise OSError("store offline")

    out = get_tool("builtin:memory_search", memory=Broken()).invoke({"query": "x"})
    assert out == "Memory search failed: OSError: store offline"


def test_long_hits_are_cut():
    text = format_hits([FakeHit("w " * 5000, "doc", 0.5)], "q")
    assert len(text) < MAX_HIT_CHARS + 100 and text.endswith("[...]")


def test_memory_without_methods_is_a_config_error():
    with pytest.raises(ConfigError, match="add_texts"):
        get_tool("builtin:memory_write", memory=object())


@pytest.mark.packaged
def test_with_a_real_chroma_memory(tmp_path):
    memory_mod = pytest.importorskip("genaisys.memory.chroma", reason="genaisys.memory.ChromaMemory not built yet")
    memory = memory_mod.ChromaMemory(tmp_path / "mem")
    write = get_tool("builtin:memory_write", memory=memory)
    search = get_tool("builtin:memory_search", memory=memory)
    write.invoke({"text": "The lighthouse keeper feeds the gulls every morning at six.", "source": "notes.md"})
    write.invoke({"text": "Quarterly revenue grew by four percent.", "source": "report.md"})
    out = search.invoke({"query": "who feeds the birds?", "k": 1})
    assert out.startswith("[1] notes.md") and "lighthouse keeper" in out
