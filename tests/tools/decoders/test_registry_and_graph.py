"""Decoder names, and the decoders inside the any-to-any graph: a real tiny diffusion decoder and
espeak-ng run as the core's tools, their outputs attached to the answer from the blob store."""

from __future__ import annotations

import io

import pytest
from langchain_core.messages import AIMessage, ToolMessage

from genaisys.errors import ConfigError, UnknownNameError
from genaisys.graphs import build_any_to_any_graph, run_turn
from genaisys.graphs.media import make_decode_node
from genaisys.tools.decoders import (
    DiffusersImageDecoder,
    EspeakSpeechDecoder,
    build_decoder,
    list_decoders,
    read_params,
    register_decoder,
)
from genaisys.tools.decoders.registry import unregister_decoder
from tests.graphs.fakes import ScriptedChatModel, call
from tests.tools.decoders.conftest import espeak_or_skip


def test_registry_names_build_and_unknown_lists_known(tmp_path):
    assert list_decoders() == ["audio", "image", "image:shapes", "speech", "video"]
    assert isinstance(build_decoder("image", model="m", output_dir=tmp_path), DiffusersImageDecoder)
    with pytest.raises(UnknownNameError, match="unknown decoder 'smell'; known: audio, image, image:shapes, speech, video"):
        build_decoder("smell")
    with pytest.raises(ConfigError, match="speed"):
        build_decoder("speech", speed=1)
    register_decoder("speech:slow", lambda **kw: EspeakSpeechDecoder(speed=90, **kw))
    try:
        assert build_decoder("speech:slow", output_dir=tmp_path).config.speed == 90
        with pytest.raises(ConfigError, match="already registered"):
            register_decoder("speech:slow", EspeakSpeechDecoder)
    finally:
        unregister_decoder("speech:slow")
    with pytest.raises(ConfigError, match="look like"):
        register_decoder("Bad Name", EspeakSpeechDecoder)


def test_any_to_any_graph_draws_with_a_real_tiny_pipeline(image_pipeline_dir, tmp_path, blobs):
    from PIL import Image

    decoder = DiffusersImageDecoder(model=str(image_pipeline_dir), steps=1, width=16, height=16,
                                    output_dir=tmp_path / "out", blobs=blobs)
    model = ScriptedChatModel(responses=[
        AIMessage("", tool_calls=[call("generate_image", {"prompt": "a green square"}, "d1")]),
        AIMessage("Here is a green square."),
    ])
    graph = build_any_to_any_graph(model, blobs=blobs, decoders={"image": decoder}, checkpointer=False)
    state = run_turn(graph, "Draw a green square.", thread_id="t")

    [artifact] = state["artifacts"]
    assert artifact["kind"] == "image" and artifact["mime_type"] == "image/png"
    with Image.open(io.BytesIO(blobs.get(artifact["blob_id"]))) as img:
        assert img.size == (16, 16)
    [png] = (tmp_path / "out").glob("image-*.png")
    assert read_params(png)["blob_id"] == artifact["blob_id"]
    assert read_params(png)["params"]["prompt"] == "a green square"
    answer = state["messages"][-1]
    assert answer.content[-1] == {"type": "image", "file_id": artifact["blob_id"], "mime_type": "image/png"}


def test_bad_decoder_call_goes_back_to_the_model_as_text(image_pipeline_dir, tmp_path, blobs):
    decoder = DiffusersImageDecoder(model=str(image_pipeline_dir), steps=1, output_dir=tmp_path, blobs=blobs)
    model = ScriptedChatModel(responses=[
        AIMessage("", tool_calls=[call("generate_image", {"prompt": "   "}, "d1")]),
        AIMessage("Sorry, I could not draw that."),
    ])
    graph = build_any_to_any_graph(model, blobs=blobs, decoders={"image": decoder}, checkpointer=False)
    state = run_turn(graph, "Draw nothing.", thread_id="t")
    tool_msg = next(m for m in state["messages"] if isinstance(m, ToolMessage))
    assert "prompt is empty" in tool_msg.content and not state.get("artifacts")


def test_decode_node_speaks(tmp_path, blobs):
    espeak_or_skip()
    from langgraph.graph import END, START, MessagesState, StateGraph

    graph = StateGraph(MessagesState)  # a custom graph: just the decode node
    graph.add_node("decode", make_decode_node({"speech": EspeakSpeechDecoder(output_dir=tmp_path, blobs=blobs)}, blobs=blobs))
    graph.add_edge(START, "decode")
    graph.add_edge("decode", END)
    out = graph.compile().invoke({"messages": [AIMessage("", tool_calls=[call("speak", {"prompt": "good morning"}, "s1")])]})
    msg = out["messages"][-1]
    assert msg.artifact["kind"] == "speech" and blobs.get(msg.artifact["blob_id"])[:4] == b"RIFF"


def test_recorded_decoder_gives_any_bytes_decoder_blob_file_and_sidecar(tmp_path, blobs):
    from genaisys.errors import AssetError
    from genaisys.tools.decoders import RecordedDecoder

    def fake_png(prompt: str, *, seed: int = 0) -> bytes:
        return b"\x89PNG" + f"{prompt}/{seed}".encode()

    rec = RecordedDecoder(fake_png, kind="image", output_dir=tmp_path / "out", blobs=blobs)
    art = rec.decode("a red circle", seed=3)
    assert blobs.get(art.blob_id) == art.path.read_bytes() == b"\x89PNGa red circle/3"
    assert read_params(art.path)["params"] == {"prompt": "a red circle", "seed": 3}
    with pytest.raises(ConfigError, match="needs bytes or a file path"):
        RecordedDecoder(lambda p: None, kind="image", output_dir=tmp_path).decode("x")
    with pytest.raises(ConfigError, match="kind must be one of"):
        RecordedDecoder(fake_png, kind="smell")
    with pytest.raises(AssetError, match="not a shape decoder folder"):
        build_decoder("image:shapes", folder=str(tmp_path / "nope"))


def test_one_turn_answers_in_every_modality(image_pipeline_dir, audio_pipeline_dir, video_pipeline_dir, tmp_path, blobs):
    """The core calls all four decoders in one message (LangGraph runs them in parallel threads,
    so the three pipelines also load in parallel); each output is attached to the answer."""
    espeak_or_skip()
    from genaisys.tools.decoders import DiffusersAudioDecoder, DiffusersVideoDecoder

    out = tmp_path / "out"
    decoders = {
        "image": DiffusersImageDecoder(model=str(image_pipeline_dir), steps=1, output_dir=out, blobs=blobs),
        "audio": DiffusersAudioDecoder(model=str(audio_pipeline_dir), steps=1, audio_length_s=0.5, output_dir=out,
                                       blobs=blobs),
        "video": DiffusersVideoDecoder(model=str(video_pipeline_dir), steps=1, num_frames=2, output_dir=out,
                                       blobs=blobs),
        "speech": EspeakSpeechDecoder(output_dir=out, blobs=blobs),
    }
    calls = [call("generate_image", {"prompt": "a cat"}, "c1"), call("generate_audio", {"prompt": "a purr"}, "c2"),
             call("generate_video", {"prompt": "a cat walking"}, "c3"), call("speak", {"prompt": "meow"}, "c4")]
    model = ScriptedChatModel(responses=[AIMessage("", tool_calls=calls), AIMessage("A cat, four ways.")])
    graph = build_any_to_any_graph(model, blobs=blobs, decoders=decoders, checkpointer=False)
    state = run_turn(graph, "Show me a cat in every way you can.", thread_id="t")

    made = {a["producer"]: a for a in state["artifacts"]}
    assert set(made) == {"generate_image", "generate_audio", "generate_video", "speak"}
    heads = {name: blobs.get(a["blob_id"])[:12] for name, a in made.items()}
    assert heads["generate_image"][:4] == b"\x89PNG" and heads["generate_video"][4:8] == b"ftyp"
    assert heads["generate_audio"][:4] == heads["speak"][:4] == b"RIFF"
    kinds = [(b["type"], b.get("mime_type")) for b in state["messages"][-1].content[1:]]
    assert sorted(kinds) == [("audio", "audio/wav"), ("audio", "audio/wav"), ("image", "image/png"),
                             ("video", "video/mp4")]
    assert len(list(out.glob("*.json"))) == 4  # every output has its parameters beside it
