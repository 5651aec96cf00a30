"""The prebuilt graphs with the packaged real models: the nano core and the MiniLM memory."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage

pytestmark = pytest.mark.packaged

TOPICS = ["with", "try", "for", "while", "if", "import", "lambda", "assert"]


@pytest.fixture(scope="module")
def core():
    from genaisys.core import load_core

    return load_core("nano", max_new_tokens=24)


@pytest.fixture(scope="module")
def memory(tmp_path_factory):
    import runpy

    from genaisys import assets
    from genaisys.memory.chroma import ChromaMemory

    topics = runpy.run_path(str(assets.resolve("pydoc-topics")))["topics"]
    mem = ChromaMemory(tmp_path_factory.mktemp("pydoc-memory"), image_embedding=False)
    mem.add_texts([topics[t][:600] for t in TOPICS], [{"source": f"pydoc:{t}"} for t in TOPICS])
    return mem


def test_assistant_with_the_nano_core_streams_and_keeps_history(core):
    from genaisys.graphs import build_assistant_graph, run_turn

    graph = build_assistant_graph(core, tools=["builtin:calculator"], checkpointer=":memory:", recursion_limit=8)
    tokens: list[str] = []
    state = run_turn(
        graph, "Say hello.", thread_id="real",
        stream=lambda mode, chunk: tokens.append(chunk["text"]) if mode == "custom" and chunk["type"] == "token" else None,
    )
    answer = state["messages"][-1]
    assert answer.type == "ai" and answer.text.strip()
    if not answer.tool_calls:
        assert "".join(tokens) == answer.text  # what streamed is what was stored
    state = run_turn(graph, "Thanks!", thread_id="real")
    assert [m.content for m in state["messages"] if isinstance(m, HumanMessage)] == ["Say hello.", "Thanks!"]


def test_rag_retrieves_real_sources_and_abstains_off_topic(core, memory):
    from genaisys.graphs import build_rag_graph
    from genaisys.graphs.rag import ABSTAIN_TEMPLATE, cited_hits

    graph = build_rag_graph(core, memory, k=2, min_score=0.3, context_sentences=None)  # whole chunks
    state = graph.invoke({"messages": [HumanMessage("What does the with statement do?")]})
    assert state["context"][0]["source"] == "pydoc:with" and state["context"][0]["score"] >= 0.3
    answer = state["messages"][-1]
    assert answer.text.strip() and answer.text != ABSTAIN_TEMPLATE
    assert state["citations"] == cited_hits(answer.text, state["context"])  # only chunks it really cited

    off_topic = graph.invoke({"messages": [HumanMessage("What is the capital of Mongolia?")]})
    assert off_topic["messages"][-1].content == ABSTAIN_TEMPLATE
    assert max(h["score"] for h in off_topic["context"]) < 0.3


def test_rag_shows_the_core_only_focused_sentences_above_its_floor(core, memory):
    """The default graph reads as the core was trained: its ``context_sentences`` closest sentences,
    none below its ``context_min_score``; with none left it abstains without the model."""
    from genaisys.graphs import build_rag_graph
    from genaisys.graphs.rag import ABSTAIN_TEMPLATE

    graph = build_rag_graph(core, memory, k=2, min_score=0.3)
    floor = core.context_min_score if core.context_min_score is not None else float("-inf")
    shown = {}
    for question in ("How do I catch an exception and run clean-up code with try?", "What is the capital of Mongolia?"):
        state = graph.invoke({"messages": [HumanMessage(question)]})
        context, answer = state["context"], state["messages"][-1].text
        assert all(h["score"] >= floor and h["source"].startswith("pydoc:") for h in context)
        if core.context_sentences:  # sentences of one chunk are joined by " … " under its number
            assert sum(len(h["text"].split(" … ")) for h in context) <= core.context_sentences
        assert (answer == ABSTAIN_TEMPLATE) == (not context) and answer.strip()
        shown[question] = [h["source"] for h in context]
    # an on-topic question reaches the core (a floor calibrated too high abstained on it), an off-topic one does not
    assert "pydoc:try" in shown["How do I catch an exception and run clean-up code with try?"]
    assert shown["What is the capital of Mongolia?"] == []


def test_rag_over_an_image_hands_the_core_the_image_by_blob_id(core, tmp_path):
    import skimage
    from PIL import Image

    from genaisys.graphs import build_rag_graph
    from genaisys.memory.chroma import ChromaMemory

    photo = tmp_path / "chelsea.png"
    Image.fromarray(skimage.data.chelsea()).save(photo)
    mem = ChromaMemory(tmp_path / "memory", image_embedding=False)
    mem.add_image(photo, description="Photo of Chelsea the cat lying down.", metadata={"source": "photos/chelsea.png"})
    mem.add_texts(["Python's with statement manages a context."], [{"source": "pydoc:with"}])
    seeing = core.model_copy(update={"blobs": mem.blobs})  # the core reads file_id blocks from the store

    state = build_rag_graph(seeing, mem, k=2).invoke({"messages": [HumanMessage("What animal is in the photo of Chelsea?")]})
    top = state["context"][0]
    assert top["metadata"]["mime_type"] == "image/png" and mem.blobs.get(top["metadata"]["blob_id"])
    assert top["citation"] == "chelsea.png"
    answer = state["messages"][-1]
    assert answer.text.strip() and not answer.response_metadata.get("abstained")
    assert all(c["score"] >= 0.3 for c in state["citations"])  # the weak text chunk was never citable


def test_any_to_any_reads_an_inline_photo_through_the_blob_store(core, tmp_path):
    import base64
    import io

    import skimage
    from PIL import Image

    from genaisys.graphs import build_any_to_any_graph, run_turn
    from genaisys.memory.blobs import BlobStore

    blobs = BlobStore(tmp_path / "blobs")
    buf = io.BytesIO()
    Image.fromarray(skimage.data.chelsea()).resize((112, 75)).save(buf, format="PNG")
    graph = build_any_to_any_graph(
        core.model_copy(update={"blobs": blobs}), blobs=blobs, checkpointer=tmp_path / "c.sqlite"
    )
    question = [
        {"type": "text", "text": "What is in this photo?"},
        {"type": "image", "base64": base64.b64encode(buf.getvalue()).decode(), "mime_type": "image/png"},
    ]
    state = run_turn(graph, question, thread_id="photo")
    [decision] = state["perception"]
    # a photo is not what the connector was trained on: it reaches the core through the textualizer
    assert decision["route"] == "textualize" and blobs.get(decision["blob_id"]) == buf.getvalue()
    assert state["messages"][-1].text.strip()
    assert "base64" not in repr(graph.get_state({"configurable": {"thread_id": "photo"}}).values)


def test_planner_runs_a_given_plan_and_the_nano_core_writes_the_answer(core):
    from genaisys.graphs import build_planner_graph

    plan = [
        {"task": "calculator", "id": 1, "dep": [-1], "args": {"expression": "6 * 7"}},
        {"task": "calculator", "id": 2, "dep": [-1], "args": {"expression": "2 ** 10"}},
        {"task": "calculator", "id": 3, "dep": [1, 2], "args": {"expression": "<GENERATED>-1 + <GENERATED>-2"}},
    ]
    graph = build_planner_graph(core, tools=["builtin:calculator"])
    state = graph.invoke({"messages": [HumanMessage("What is 6*7 + 2**10?")], "plan": plan})
    assert state["results"]["3"] == {"task": "calculator", "status": "success", "output": "1066"}
    assert state["messages"][-1].type == "ai" and state["messages"][-1].text.strip()
