"""Decoder tools carry the core's signal tokens: ``generate_<kind>({"prompt", "signal"})`` reaches
``decoder.decode(prompt, signal=...)`` — through the tool, through the any-to-any graph, and end to
end from a tiny core emitting ``[IMG0]`` to a tiny diffusers pipeline conditioned on its embeddings."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from pydantic import ValidationError

from genaisys.errors import ConfigError
from genaisys.graphs import build_any_to_any_graph, run_turn
from genaisys.graphs.media import make_decoder_tools
from genaisys.memory.blobs import BlobStore
from tests.graphs.fakes import ScriptedChatModel, call

PNG = b"\x89PNG\r\n\x1a\n" + b"fake image payload"
SIGNAL = {"kind": "signal_embeddings", "ref": "sig_0123", "modality": "image", "shape": [5, 8]}


class SignalDecoder:
    """Records each call: what ``decode`` was given, positionally and by keyword."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def decode(self, prompt: str, *, signal: Any = None) -> bytes:
        self.calls.append((prompt, {"signal": signal}))
        return PNG + (signal["ref"].encode() if signal else prompt.encode())


def _tools(decoders: dict[str, Any], tmp_path) -> dict[str, Any]:
    return {t.name: t for t in make_decoder_tools(decoders, blobs=BlobStore(tmp_path / "blobs"))}


def test_the_tool_forwards_a_signal_and_keeps_plain_calls_plain(tmp_path) -> None:
    decoder = SignalDecoder()
    tool = _tools({"image": decoder}, tmp_path)["generate_image"]
    msg = tool.invoke(call("generate_image", {"prompt": "a cat", "signal": SIGNAL}, "c1"))
    assert decoder.calls[-1] == ("a cat", {"signal": SIGNAL})
    assert msg.artifact["kind"] == "image" and msg.artifact["description"] == "a cat"
    tool.invoke(call("generate_image", {"prompt": "a dog"}, "c2"))
    assert decoder.calls[-1] == ("a dog", {"signal": None})
    # the core's call may carry no text at all: the signal alone conditions the decoder
    msg = tool.invoke(call("generate_image", {"prompt": "", "signal": SIGNAL}, "c3"))
    assert decoder.calls[-1] == ("", {"signal": SIGNAL}) and "sig_0123" in msg.content


def test_plain_callables_work_without_a_signal_and_refuse_one_clearly(tmp_path) -> None:
    seen: list[str] = []
    tools = _tools({"image": lambda prompt: seen.append(prompt) or PNG, "video": lambda prompt, **kw: PNG}, tmp_path)
    tools["generate_image"].invoke({"prompt": "a cat"})  # no signal: called with the prompt only
    assert seen == ["a cat"]
    with pytest.raises(ConfigError, match="takes no signal=.*signals=core.signal_embeddings"):
        tools["generate_image"].invoke({"prompt": "a cat", "signal": SIGNAL})
    assert seen == ["a cat"]  # not silently drawn from the text alone
    tools["generate_video"].invoke({"prompt": "a cat", "signal": SIGNAL})  # **kwargs accepts it


def test_the_args_schema_still_validates(tmp_path) -> None:
    tools = _tools({"image": SignalDecoder(), "audio": SignalDecoder(), "speech": SignalDecoder()}, tmp_path)
    schema = tools["generate_image"].args_schema
    assert set(schema.model_json_schema()["properties"]) == {"prompt", "signal"}
    assert schema.model_json_schema()["required"] == ["prompt"]
    with pytest.raises(ValidationError, match="prompt is empty"):
        schema.model_validate({"prompt": "  "})
    with pytest.raises(ValidationError, match="extra"):
        schema.model_validate({"prompt": "a cat", "style": "oil"})
    with pytest.raises(ValidationError):
        schema.model_validate({"prompt": "a cat", "signal": "sig_0123"})  # a reference object, not a bare string
    assert "signal" in tools["generate_audio"].args_schema.model_json_schema()["properties"]
    speak = tools["speak"].args_schema  # text-to-speech has no signal path
    assert set(speak.model_json_schema()["properties"]) == {"prompt"}
    with pytest.raises(ValidationError):
        speak.model_validate({"prompt": "hi", "signal": SIGNAL})


def test_any_to_any_graph_runs_a_signal_call(tmp_path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    decoder = SignalDecoder()
    model = ScriptedChatModel(responses=[
        AIMessage("", tool_calls=[call("generate_image", {"prompt": "a cat", "signal": SIGNAL}, "d1")]),
        AIMessage("Here it is."),
    ])
    graph = build_any_to_any_graph(model, blobs=blobs, decoders={"image": decoder}, checkpointer=False)
    state = run_turn(graph, "Draw a cat.", thread_id="sig")
    assert decoder.calls == [("a cat", {"signal": SIGNAL})]
    [artifact] = state["artifacts"]
    assert blobs.get(artifact["blob_id"]) == PNG + b"sig_0123"
    tool_msg = next(m for m in state["messages"] if isinstance(m, ToolMessage))
    assert tool_msg.status != "error" and tool_msg.content.startswith("Generated the image for")
    assert state["messages"][-1].content[1]["file_id"] == artifact["blob_id"]


def test_end_to_end_core_signal_tokens_condition_a_diffusers_decoder(tmp_path) -> None:
    """A tiny core emits "cat" + [IMG0] (its LM head scripted); the graph calls generate_image with the
    signal reference; a tiny StableDiffusion pipeline draws from the projected embeddings."""
    import torch

    from genaisys.core.chat import ChatCore
    from genaisys.core.multimodal import MultimodalCore, MultimodalCoreConfig
    from genaisys.tools.decoders import DiffusersImageDecoder
    from tests.core.conftest import TINY_CLIP, TINY_LLAMA, make_tokenizer
    from tests.core.test_signals import _ScriptedHead
    from tests.tools.decoders.conftest import CROSS_DIM, build_tiny_image_pipeline

    tok = make_tokenizer()
    torch.manual_seed(0)
    core = MultimodalCore(MultimodalCoreConfig(
        vision={"name": "hf", "config": TINY_CLIP}, connector="linear",
        language_model_config={**TINY_LLAMA, "vocab_size": len(tok), "max_position_embeddings": 8192},
        signal_tokens={"image": 2},
        output_projectors={"image": {"out_tokens": 4, "out_dim": CROSS_DIM, "n_layers": 1, "n_heads": 2}},
    ), tokenizer=tok)
    img0, _ = core.signal_token_ids["image"]
    word = tok("cat", add_special_tokens=False)["input_ids"]
    core.language_model.lm_head = _ScriptedHead(len(tok), [*word, img0, tok.eos_token_id, tok.eos_token_id])
    chat = ChatCore(core=core, max_new_tokens=10)
    blobs = BlobStore(tmp_path / "blobs")
    decoder = DiffusersImageDecoder(model="tiny-random-sd", pipeline=build_tiny_image_pipeline(), steps=1, seed=3,
                                    output_dir=tmp_path / "out", blobs=blobs, signals=chat.signal_embeddings)
    graph = build_any_to_any_graph(chat, blobs=blobs, decoders={"image": decoder}, checkpointer=False)
    state = run_turn(graph, HumanMessage("Draw a cat."), thread_id="e2e")

    [request] = [m for m in state["messages"] if isinstance(m, AIMessage) and m.tool_calls]
    [tool_call] = request.tool_calls
    assert tool_call["name"] == "generate_image" and tool_call["args"]["prompt"] == "cat"
    signal = tool_call["args"]["signal"]
    assert signal["kind"] == "signal_embeddings" and signal["shape"] == [4, CROSS_DIM]
    tool_msg = next(m for m in state["messages"] if isinstance(m, ToolMessage))
    assert tool_msg.status != "error", tool_msg.content
    [artifact] = state["artifacts"]
    assert artifact["kind"] == "image" and blobs.get(artifact["blob_id"]).startswith(b"\x89PNG")
    # the image was conditioned on the core's embeddings, not on the text: the same embeddings drawn
    # directly give the same PNG, the prompt "cat" alone a different one
    embeds = chat.signal_embeddings(signal["ref"])  # (1, 4, CROSS_DIM)
    assert decoder.decode("", prompt_embeds=embeds).blob_id == artifact["blob_id"]
    assert decoder.decode("cat").blob_id != artifact["blob_id"]


def test_with_see_outputs_the_core_reads_what_it_drew_on_later_turns(tmp_path) -> None:
    """Round trip: the drawn image goes into the generate_image result as an image block; asked
    "what did you draw?", the core's prompt holds that very picture (an <image> through its encoder)."""
    import io

    from PIL import Image

    from genaisys.core.chat import ChatCore
    from tests.core.test_signals import _core

    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (255, 0, 0)).save(buf, format="PNG")
    red = buf.getvalue()
    blobs = BlobStore(tmp_path / "blobs")
    model = ScriptedChatModel(responses=[
        AIMessage("", tool_calls=[call("generate_image", {"prompt": "a red square"}, "d1")]),
        AIMessage("Here it is."), AIMessage("A red square."),
    ])
    graph = build_any_to_any_graph(model, blobs=blobs, decoders={"image": lambda prompt: red}, checkpointer=":memory:",
                                   see_outputs=True)
    run_turn(graph, "Draw a red square.", thread_id="rt")
    run_turn(graph, "What did you draw?", thread_id="rt")
    later = model.prompts[-1]
    [result] = [m for m in later if isinstance(m, ToolMessage)]
    assert result.content[0]["text"].startswith("Generated the image for") and result.content[1]["type"] == "image"
    chat = ChatCore(core=_core(), blobs=blobs)
    text, images = chat.render_prompt(later)
    assert text.count("<image>") == 1 and images[0].tobytes() == Image.open(io.BytesIO(red)).convert("RGB").tobytes()
    plain = ScriptedChatModel(responses=[AIMessage("", tool_calls=[call("generate_image", {"prompt": "x"}, "d2")]),
                                         AIMessage("Done.")])
    graph = build_any_to_any_graph(plain, blobs=blobs, decoders={"image": lambda prompt: red}, checkpointer=False)
    state = run_turn(graph, "Draw x.", thread_id="off")
    assert isinstance(next(m for m in state["messages"] if isinstance(m, ToolMessage)).content, str)  # off by default
