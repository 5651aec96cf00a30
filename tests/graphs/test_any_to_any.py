"""The any-to-any graph: perceive (native vs textualized, with reasons), decoders as tools,
artifacts attached to the answer by blob id, and nothing inline in the checkpoints."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from genaisys.errors import ConfigError
from genaisys.graphs import build_any_to_any_graph, run_turn
from genaisys.graphs.media import make_perceive_node
from genaisys.memory.blobs import BlobStore
from tests.graphs.fakes import ScriptedChatModel, call, tiny_png

SNAPSHOTS = Path(__file__).parent / "snapshots"
PNG = tiny_png()  # a real PNG: perceive decodes user images before it stores them


def speech_to_text(path: Path) -> str:
    """A stand-in audio textualizer: reports the file size as a timeline line."""
    return f"00:00-00:02 speech: 'draw me a cat' ({path.stat().st_size} bytes)"


class PngDecoder:
    def __init__(self) -> None:
        self.prompts: list[str] = []

    def decode(self, prompt: str) -> bytes:
        self.prompts.append(prompt)
        return PNG + prompt.encode()


def test_audio_is_textualized_image_read_natively_and_decoder_output_attached(tmp_path):
    blobs = BlobStore(tmp_path / "blobs")
    audio_id = blobs.put(b"RIFF....WAVEfmt fake audio", mime_type="audio/wav")
    decoder = PngDecoder()
    model = ScriptedChatModel(
        responses=[AIMessage("", tool_calls=[call("generate_image", {"prompt": "a cat"}, "d1")]), AIMessage("Here is your cat.")]
    )
    graph = build_any_to_any_graph(
        model, blobs=blobs, textualizers={"audio": speech_to_text}, decoders={"image": decoder},
        checkpointer=tmp_path / "c.sqlite",
    )
    question = HumanMessage(
        [
            {"type": "text", "text": "Do what the recording says, in the style of this photo."},
            {"type": "audio", "file_id": audio_id, "mime_type": "audio/wav"},
            {"type": "image", "base64": base64.b64encode(PNG).decode(), "mime_type": "image/png"},
        ]
    )
    state = run_turn(graph, question, thread_id="a2a")

    routes = {d["kind"]: (d["route"], d["reason"]) for d in state["perception"]}
    assert routes["audio"][0] == "textualize" and "no native audio encoder" in routes["audio"][1]
    assert routes["image"] == ("native", "the core encodes image natively")

    # what the model saw: the audio as text, the image as a blob reference (moved out of the message)
    seen = model.prompts[0][-1].content
    assert seen[1]["type"] == "text" and "draw me a cat" in seen[1]["text"] and "the attached audio" in seen[1]["text"]
    assert seen[2]["type"] == "image" and blobs.get(seen[2]["file_id"]) == PNG and "base64" not in seen[2]

    # the decoder ran as a tool; its output is in the blob store and attached to the answer
    assert decoder.prompts == ["a cat"]
    [artifact] = state["artifacts"]
    assert artifact["kind"] == "image" and artifact["producer"] == "generate_image"
    assert blobs.get(artifact["blob_id"]) == PNG + b"a cat"
    answer = state["messages"][-1]
    assert answer.content[0] == {"type": "text", "text": "Here is your cat."}
    assert answer.content[1] == {"type": "image", "file_id": artifact["blob_id"], "mime_type": "image/png"}
    tool_msg = next(m for m in state["messages"] if isinstance(m, ToolMessage))
    assert "Generated the image for: 'a cat'" in tool_msg.content  # the blob id stays out of the prompt

    # no base64 anywhere in the stored thread
    stored = graph.get_state({"configurable": {"thread_id": "a2a"}}).values
    assert "base64" not in repr(stored["messages"])


def test_unsupported_media_becomes_a_note_the_model_can_read(tmp_path):
    blobs = BlobStore(tmp_path)
    video_id = blobs.put(b"fake mp4", mime_type="video/mp4")
    model = ScriptedChatModel(responses=[AIMessage("I cannot watch videos yet.")])
    graph = build_any_to_any_graph(model, blobs=blobs, checkpointer=False)
    state = graph.invoke({"messages": [HumanMessage([{"type": "text", "text": "What happens?"}, {"type": "video", "file_id": video_id}])]})
    [decision] = state["perception"]
    assert decision["route"] == "unsupported" and "textualizers={'video': ...}" in decision["reason"]
    assert "not readable" in model.prompts[0][-1].content[1]["text"]
    assert "artifacts" not in state or state["artifacts"] == []
    assert state["messages"][-1].content == "I cannot watch videos yet."


def test_perception_policy_is_replaceable(tmp_path):
    blobs = BlobStore(tmp_path)
    image_id = blobs.put(PNG, mime_type="image/png")

    def text_only(block, *, native, textualizers):
        return "textualize", "this deployment reads every image as OCR text"

    model = ScriptedChatModel(responses=[AIMessage("It says STOP.")])
    graph = build_any_to_any_graph(
        model, blobs=blobs, textualizers={"image": lambda path: "OCR: STOP"}, policy=text_only, checkpointer=False
    )
    state = graph.invoke({"messages": [HumanMessage([{"type": "image", "file_id": image_id}])]})
    assert state["perception"][0]["reason"] == "this deployment reads every image as OCR text"
    assert "OCR: STOP" in model.prompts[0][-1].content[0]["text"]


def test_inline_media_without_a_blob_store_is_a_clear_error():
    perceive = make_perceive_node()
    msg = HumanMessage([{"type": "image", "base64": base64.b64encode(PNG).decode(), "mime_type": "image/png"}])
    with pytest.raises(ConfigError, match="no blob store"):
        perceive({"messages": [msg]})
    with pytest.raises(ConfigError, match="blob store"):
        build_any_to_any_graph(ScriptedChatModel(responses=[]), decoders={"image": PngDecoder()}, checkpointer=False)
    with pytest.raises(ConfigError, match="unknown decoder kind"):
        build_any_to_any_graph(ScriptedChatModel(responses=[]), blobs=object(), decoders={"smell": PngDecoder()}, checkpointer=False)


def test_topology_matches_mermaid_snapshot(tmp_path):
    graph = build_any_to_any_graph(
        ScriptedChatModel(responses=[]), blobs=BlobStore(tmp_path), textualizers={"audio": speech_to_text},
        decoders={"image": PngDecoder(), "speech": PngDecoder()}, checkpointer=False,
    )
    mermaid = graph.get_graph().draw_mermaid()
    snapshot = SNAPSHOTS / "any_to_any.mmd"
    if os.environ.get("GENAISYS_UPDATE_SNAPSHOTS") == "1":
        snapshot.write_text(mermaid)
    assert mermaid == snapshot.read_text()


def test_custom_graph_with_decode_and_respond_nodes(tmp_path):
    from langgraph.graph import END, START, StateGraph

    from genaisys.graphs import AssistantState, make_decode_node, make_respond_node, make_think_node, route_after_think
    from genaisys.graphs.media import make_decoder_tools

    blobs = BlobStore(tmp_path)
    voice = lambda text: b"RIFF" + text.encode()  # noqa: E731 - a stand-in text-to-speech decoder
    model = ScriptedChatModel(responses=[AIMessage("", tool_calls=[call("speak", {"prompt": "hello"}, "s1")]), AIMessage("Said it.")])
    g = StateGraph(AssistantState)
    g.add_node("think", make_think_node(model, make_decoder_tools({"speech": voice}, blobs=blobs)))
    g.add_node("decode", make_decode_node({"speech": voice}, blobs=blobs))
    g.add_node("respond", make_respond_node())
    g.add_edge(START, "think")
    g.add_conditional_edges("think", route_after_think, {"act": "decode", END: "respond"})
    g.add_edge("decode", "think")
    g.add_edge("respond", END)
    state = g.compile().invoke({"messages": [HumanMessage("say hello")]})
    [artifact] = state["artifacts"]
    assert artifact["kind"] == "speech" and blobs.get(artifact["blob_id"]) == b"RIFFhello"
    assert state["messages"][-1].content[1] == {"type": "audio", "file_id": artifact["blob_id"], "mime_type": "audio/wav"}
