"""The RAG graph: cites the chunks it used, abstains when the memory does not support an answer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from genaisys.errors import ConfigError
from genaisys.graphs import build_rag_graph
from genaisys.graphs.rag import ABSTAIN_TEMPLATE, RAG_INSTRUCTION, cited_hits
from tests.graphs.fakes import FakeHit, FakeMemory, ScriptedChatModel

SNAPSHOTS = Path(__file__).parent / "snapshots"
DOCS = {
    "geo.md": "Paris is the capital of France.",
    "rivers.md": "The Seine flows through Paris.",
    "cook.md": "Boil pasta in salted water for ten minutes.",
}


def ask(graph, question: str) -> dict:
    return graph.invoke({"messages": [HumanMessage(question)]})


def test_answer_cites_the_chunks_it_used():
    memory = FakeMemory(DOCS)
    model = ScriptedChatModel(responses=[AIMessage("Paris [1]; the Seine flows through it [2].")])
    state = ask(build_rag_graph(model, memory, k=3, min_score=0.1), "What is the capital of France?")

    system = model.prompts[0][0]
    assert isinstance(system, SystemMessage) and RAG_INSTRUCTION in system.content
    assert "[1] (source: geo.md#chunk0) Paris is the capital of France." in system.content
    assert [c["citation"] for c in state["citations"]] == [
        state["context"][0]["citation"],
        state["context"][1]["citation"],
    ]
    assert state["citations"][0]["source"] == "geo.md"
    answer = state["messages"][-1]
    assert answer.content.startswith("Paris [1]")
    assert answer.response_metadata["citations"] == [c["citation"] for c in state["citations"]]


def test_chunks_below_the_threshold_are_not_shown_or_citable():
    model = ScriptedChatModel(responses=[AIMessage("Paris [1], and pasta [2].")])
    state = ask(build_rag_graph(model, FakeMemory(DOCS), k=3, min_score=0.5), "What is the capital of France?")
    system = model.prompts[0][0].content
    assert "[1] (source: geo.md#chunk0)" in system and "[2]" not in system
    assert [c["source"] for c in state["citations"]] == ["geo.md"]  # the invented [2] cites nothing
    assert len(state["context"]) == 3  # everything retrieved stays inspectable


def test_abstains_without_calling_the_model_when_memory_has_nothing_close():
    memory = FakeMemory(DOCS)
    model = ScriptedChatModel(responses=[AIMessage("a made-up answer [1]")])
    state = ask(build_rag_graph(model, memory, min_score=0.5), "Who won the 1966 football world cup?")

    assert model.prompts == []  # the model never saw the question
    answer = state["messages"][-1]
    assert answer.content == ABSTAIN_TEMPLATE
    assert answer.response_metadata["abstained"] is True
    assert "min_score 0.5" in answer.response_metadata["abstain_reason"]
    assert state["citations"] == []
    assert len(state["context"]) == 3  # what was retrieved stays inspectable


def test_threshold_decides_between_answer_and_abstention():
    # 4 of the 5 question words (the, capital, of, france) are in geo.md → score 0.8
    question = "the capital of France please"
    for min_score, abstained in ((0.8, False), (0.81, True)):
        model = ScriptedChatModel(responses=[AIMessage("Paris [1].")])
        state = ask(build_rag_graph(model, FakeMemory(DOCS), min_score=min_score), question)
        assert (state["messages"][-1].content == ABSTAIN_TEMPLATE) is abstained, min_score


def test_require_citation_turns_an_uncited_answer_into_an_abstention():
    model = ScriptedChatModel(responses=[AIMessage("Probably Lyon.")])
    graph = build_rag_graph(model, FakeMemory(DOCS), require_citation=True)
    state = ask(graph, "What is the capital of France?")
    assert len(model.prompts) == 1
    assert state["messages"][-1].content == ABSTAIN_TEMPLATE
    assert "cited none" in state["messages"][-1].response_metadata["abstain_reason"]


def test_invented_citation_numbers_cite_nothing():
    ctx = [{"citation": "a.md"}, {"citation": "b.md"}]
    assert cited_hits("see [3] and [0]", ctx) == []
    assert [h["citation"] for h in cited_hits("[2][1][2]", ctx)] == ["b.md", "a.md"]


def test_retrieved_images_reach_the_model_as_blob_references():
    class ImageMemory:
        def search(self, query, k=4, where=None):
            return [
                FakeHit("t", "A red circle on white.", 0.9, "shapes/1.png", "shapes/1.png",
                        {"mime_type": "image/png", "blob_id": "sha256-abc"}),
                FakeHit("u", "Circles are round.", 0.8, "notes.md", "notes.md#chars=0-18"),
            ]

    model = ScriptedChatModel(responses=[AIMessage("A red circle [1].")])
    state = ask(build_rag_graph(model, ImageMemory()), "What shape is red?")
    media = model.prompts[0][-1]
    assert isinstance(media, HumanMessage)
    assert {"type": "image", "file_id": "sha256-abc", "mime_type": "image/png"} in media.content
    assert "[1]" in media.content[0]["text"]
    # the image is shown for the call only, not stored in the conversation
    assert [type(m).__name__ for m in state["messages"]] == ["HumanMessage", "AIMessage"]


def test_bad_arguments():
    with pytest.raises(ConfigError, match="min_score"):
        build_rag_graph(ScriptedChatModel(responses=[]), FakeMemory(DOCS), min_score=3)
    with pytest.raises(ConfigError, match="search"):
        build_rag_graph(ScriptedChatModel(responses=[]), object())


def test_topology_matches_mermaid_snapshot():
    mermaid = build_rag_graph(ScriptedChatModel(responses=[]), FakeMemory(DOCS)).get_graph().draw_mermaid()
    snapshot = SNAPSHOTS / "rag.mmd"
    if os.environ.get("GENAISYS_UPDATE_SNAPSHOTS") == "1":
        snapshot.write_text(mermaid)
    assert mermaid == snapshot.read_text()


def test_focused_context_shows_only_the_sentences_closest_to_the_question():
    docs = {"guide.md": "Orchard runs eight workers. The dashboard listens on port 9181. Logs go to stderr.",
            "cook.md": "Boil pasta in salted water for ten minutes."}

    class Focusing(ScriptedChatModel):
        context_sentences: int | None = None

    model = Focusing(responses=[AIMessage("Port 9181 [1].")], cycle=True, context_sentences=1)
    state = ask(build_rag_graph(model, FakeMemory(docs), min_score=0.0), "Which port does the dashboard listen on?")
    system = model.prompts[0][0].content
    assert "[1] (source: guide.md#chunk0) The dashboard listens on port 9181.\n" in system + "\n"
    assert "eight workers" not in system and "pasta" not in system and "[2]" not in system
    assert [c["citation"] for c in state["citations"]] == ["guide.md#chunk0"]
    assert state["context"][0]["metadata"]["focused"] is True

    # an explicit value wins over the core's; None shows whole chunks
    build_rag_graph(model, FakeMemory(docs), min_score=0.0, context_sentences=None).invoke(
        {"messages": [HumanMessage("Which port does the dashboard listen on?")]})
    assert "eight workers" in model.prompts[1][0].content and "pasta" in model.prompts[1][0].content
    with pytest.raises(ConfigError, match="context_sentences"):
        build_rag_graph(model, FakeMemory(docs), context_sentences=0)
