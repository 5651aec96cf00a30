"""Perception by content in the assistant graph: shapes go to the encoder, photos to a textualizer."""

from __future__ import annotations

import base64
import io

import skimage.data
from langchain_core.messages import AIMessage
from langchain_core.language_models import FakeListChatModel
from PIL import Image, ImageDraw

from genaisys.core.perception import looks_like_shapes
from genaisys.graphs import build_assistant_graph, run_turn
from genaisys.graphs.media import ByContent, default_perception
from genaisys.memory import BlobStore
from tests.graphs.fakes import ScriptedChatModel


def _png(image: Image.Image) -> dict:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return {"type": "image", "base64": base64.b64encode(buf.getvalue()).decode(), "mime_type": "image/png"}


def _circle() -> Image.Image:
    image = Image.new("RGB", (64, 64), "white")
    ImageDraw.Draw(image).ellipse((12, 12, 52, 52), fill="red")
    return image


def describe(path) -> str:
    """A stand-in textualizer: the image's size, read from the file."""
    with Image.open(path) as image:
        return f"An image of {image.width}×{image.height} pixels."


def test_photo_is_textualized_and_shape_read_natively(tmp_path):
    model = ScriptedChatModel(responses=[AIMessage("A cat."), AIMessage("A red circle.")])
    graph = build_assistant_graph(model, blobs=BlobStore(tmp_path / "blobs"), checkpointer=":memory:",
                                  textualizers={"image": describe}, policy=ByContent(looks_like_shapes))
    photo = Image.fromarray(skimage.data.chelsea())
    state = run_turn(graph, [{"type": "text", "text": "What is this?"}, _png(photo)], thread_id="t")
    (decision,) = state["perception"]
    assert decision["route"] == "textualize" and "photo" in decision["reason"]
    seen = model.prompts[0][-1].content
    assert [b["type"] for b in seen] == ["text", "text"]
    assert seen[1]["text"].startswith("\n[the attached image, as described by describe]\nAn image of 451×300")

    state = run_turn(graph, [{"type": "text", "text": "And this?"}, _png(_circle())], thread_id="t")
    (decision,) = state["perception"]
    assert decision["route"] == "native" and "convex figure" in decision["reason"]
    assert [b["type"] for b in model.prompts[1][-1].content] == ["text", "image"]


def test_a_description_before_the_question_ends_its_line(tmp_path):
    model = ScriptedChatModel(responses=[AIMessage("Yes.")])
    graph = build_assistant_graph(model, blobs=BlobStore(tmp_path / "blobs"), checkpointer=":memory:",
                                  textualizers={"image": describe}, policy=ByContent(looks_like_shapes))
    photo = Image.fromarray(skimage.data.chelsea())
    run_turn(graph, [_png(photo), {"type": "text", "text": "Is there a cat?"}], thread_id="t")
    described, question = model.prompts[0][-1].content
    assert described["text"].startswith("[the attached image") and described["text"].endswith("pixels.\n")
    assert question["text"] == "Is there a cat?"


def test_without_a_textualizer_the_core_reads_photos_itself(tmp_path):
    graph = build_assistant_graph(FakeListChatModel(responses=["ok"]), blobs=BlobStore(tmp_path / "b"),
                                  checkpointer=False, textualizers={}, policy=ByContent(looks_like_shapes))
    state = run_turn(graph, [_png(Image.fromarray(skimage.data.coffee()))], thread_id="t")
    assert state["perception"][0]["route"] == "native"
    assert "no image textualizer" in state["perception"][0]["reason"]


def test_default_perception_follows_the_core():
    import torch

    from genaisys.core.chat import ChatCore
    from genaisys.core.multimodal import MultimodalCore, MultimodalCoreConfig
    from tests.core.conftest import TINY_CLIP, TINY_LLAMA, make_tokenizer

    assert default_perception(FakeListChatModel(responses=["x"]))[2].__name__ == "decide_route"
    tok = make_tokenizer()
    torch.manual_seed(0)
    config = {"vision": {"name": "hf", "config": TINY_CLIP}, "language_model_config": {**TINY_LLAMA,
                                                                                       "vocab_size": len(tok)}}
    shapes = ChatCore(core=MultimodalCore(MultimodalCoreConfig(**config, native_domain="shapes"), tokenizer=tok))
    native, textualizers, policy = default_perception(shapes)
    assert native == ("image",) and set(textualizers) == {"image"} and isinstance(policy, ByContent)
    anything = ChatCore(core=MultimodalCore(MultimodalCoreConfig(**config), tokenizer=make_tokenizer()))
    assert default_perception(anything) == (("image",), {}, default_perception(FakeListChatModel(responses=["x"]))[2])
    text_only = ChatCore(language_model=anything.core.language_model, tokenizer=anything.tokenizer)
    assert default_perception(text_only)[0] == ()
