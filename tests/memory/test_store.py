"""ChromaStore: the LangGraph BaseStore contract on genaisys memory, and use inside a compiled graph."""

from __future__ import annotations

import asyncio
from typing import TypedDict

import pytest
from langgraph.store.base import GetOp, PutOp, SearchOp

from genaisys.errors import MemoryStoreError
from genaisys.memory import ChromaMemory
from genaisys.memory.embeddings import HashingEmbedding
from genaisys.memory.store import ChromaStore


@pytest.fixture
def memory(tmp_path):
    return ChromaMemory(tmp_path / "m", embedding=HashingEmbedding(64), image_embedding=False)


@pytest.fixture
def store(memory):
    return ChromaStore(memory)


def test_put_get_replace_delete(store):
    store.put(("users", "ada"), "profile", {"name": "Ada", "likes": ["tea"]})
    first = store.get(("users", "ada"), "profile")
    assert first.value == {"name": "Ada", "likes": ["tea"]} and first.namespace == ("users", "ada")
    store.put(("users", "ada"), "profile", {"name": "Ada", "likes": ["tea", "maths"]})
    second = store.get(("users", "ada"), "profile")
    assert second.value["likes"] == ["tea", "maths"] and store.count() == 1
    assert second.created_at == first.created_at and second.updated_at >= first.updated_at
    assert store.get(("users", "bob"), "profile") is None
    store.delete(("users", "ada"), "profile")
    assert store.get(("users", "ada"), "profile") is None and store.count() == 0


def test_semantic_search_filters_and_prefixes(store):
    store.put(("notes", "ada"), "n1", {"text": "Ada drinks green tea every morning", "n": 1})
    store.put(("notes", "ada"), "n2", {"text": "Ada proves theorems about engines", "n": 2})
    store.put(("notes", "bob"), "n3", {"text": "Bob drinks coffee", "n": 3})
    store.put(("notes", "bob"), "secret", {"text": "tea tea tea"}, index=False)
    hits = store.search(("notes",), query="green tea morning", limit=2)
    assert hits[0].key == "n1" and hits[0].score >= hits[1].score
    assert all(h.key != "secret" for h in store.search(("notes",), query="tea", limit=10))  # not indexed
    assert [h.key for h in store.search(("notes", "bob"), query="drinks", limit=5)] == ["n3"]
    assert [h.key for h in store.search(("notes",), query="drinks", filter={"n": {"$gte": 2}}, limit=5)] == ["n3", "n2"]
    listed = store.search(("notes",), limit=10)  # no query: everything, newest first, unindexed too
    assert [h.key for h in listed][0] == "secret" and len(listed) == 4
    assert [h.key for h in store.search(("notes",), filter={"n": 2})] == ["n2"]
    assert len(store.search(("notes",), limit=2, offset=3)) == 1
    store.put(("notes", "ada"), "fields", {"title": "zebra", "body": "quantum"}, index=["title"])
    assert store.search(("notes",), query="zebra", limit=1)[0].key == "fields"
    with pytest.raises(MemoryStoreError, match="operator"):
        store.search(("notes",), filter={"n": {"$near": 1}})


def test_list_namespaces(store):
    for ns in [("a", "x", "1"), ("a", "y", "1"), ("b", "x", "2"), ("a", "x", "1")]:
        store.put(ns, "k", {"v": 1})
    assert store.list_namespaces() == [("a", "x", "1"), ("a", "y", "1"), ("b", "x", "2")]
    assert store.list_namespaces(prefix=("a",)) == [("a", "x", "1"), ("a", "y", "1")]
    assert store.list_namespaces(suffix=("1",), max_depth=2) == [("a", "x"), ("a", "y")]
    assert store.list_namespaces(prefix=("*", "x")) == [("a", "x", "1"), ("b", "x", "2")]
    assert store.list_namespaces(limit=1, offset=1) == [("a", "y", "1")]


def test_batch_and_async(store):
    results = store.batch([PutOp(("t",), "a", {"text": "alpha"}), PutOp(("t",), "a", {"text": "alpha 2"}),
                           PutOp(("t",), "b", {"text": "beta"}), GetOp(("t",), "a"),
                           SearchOp(("t",), query="beta", limit=1), PutOp(("t",), "b", None), GetOp(("t",), "b")])
    assert results[:3] == [None, None, None]
    assert results[3].value == {"text": "alpha 2"}  # the last put of a batch wins
    assert results[4][0].key == "b" and results[6] is None

    async def run():
        await store.aput(("t",), "c", {"text": "gamma"})
        item = await store.aget(("t",), "c")
        found = await store.asearch(("t",), query="gamma")
        spaces = await store.alist_namespaces()
        await store.adelete(("t",), "c")
        return item, found, spaces, await store.aget(("t",), "c")

    item, found, spaces, gone = asyncio.run(run())
    assert item.value == {"text": "gamma"} and found[0].key == "c" and spaces == [("t",)] and gone is None


def test_persists_next_to_the_memory_and_reopens(memory, tmp_path):
    ChromaStore(memory).put(("p",), "k", {"text": "kept"})
    again = ChromaStore(ChromaMemory(tmp_path / "m"))
    assert again.get(("p",), "k").value == {"text": "kept"}
    assert memory.count() == 0  # store items live in their own collection, apart from document chunks
    with pytest.raises(MemoryStoreError, match="JSON"):
        again.put(("p",), "bad", {"x": object()})


def test_inside_a_compiled_graph(store):
    from langgraph.graph import END, START, StateGraph
    from langgraph.runtime import Runtime

    class State(TypedDict):
        user: str
        fact: str
        recalled: list[str]

    def remember(state: State, runtime: Runtime) -> dict:
        runtime.store.put(("memories", state["user"]), f"fact-{len(state['fact'])}", {"text": state["fact"]})
        return {}

    def recall(state: State, runtime: Runtime) -> dict:
        hits = runtime.store.search(("memories", state["user"]), query=state["fact"], limit=3)
        return {"recalled": [h.value["text"] for h in hits]}

    builder = StateGraph(State)
    builder.add_node("remember", remember)
    builder.add_node("recall", recall)
    builder.add_edge(START, "remember")
    builder.add_edge("remember", "recall")
    builder.add_edge("recall", END)
    graph = builder.compile(store=store)
    out = graph.invoke({"user": "ada", "fact": "Ada likes green tea", "recalled": []})
    assert out["recalled"] == ["Ada likes green tea"]
    out = graph.invoke({"user": "ada", "fact": "Ada builds analytical engines", "recalled": []})
    assert out["recalled"][0] == "Ada builds analytical engines" and len(out["recalled"]) == 2
    assert store.list_namespaces(prefix=("memories",)) == [("memories", "ada")]
    out = asyncio.run(graph.ainvoke({"user": "bob", "fact": "Bob likes coffee", "recalled": []}))
    assert out["recalled"] == ["Bob likes coffee"]
