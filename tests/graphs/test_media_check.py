"""Bad input must not poison a thread: a medium the core cannot read is refused in ``perceive``,
before it is stored, and the thread stays as it was, so the next turn on it works."""

from __future__ import annotations

import base64

import pytest
from langchain_core.messages import HumanMessage

from genaisys.errors import MediaError
from genaisys.graphs import build_assistant_graph, run_turn
from genaisys.graphs.media_check import check_media
from tests.graphs.fakes import broken_media


def _block(data: bytes, mime: str) -> dict:
    return {"type": "image", "base64": base64.b64encode(data).decode(), "mime_type": mime}


@pytest.mark.parametrize("name", sorted(broken_media()))
def test_check_media_refuses_what_the_core_cannot_read(name):
    data, mime = broken_media()[name]
    message = HumanMessage(content=[{"type": "text", "text": "look"}, _block(_good_png(), "image/png"),
                                    _block(data, mime)])
    with pytest.raises(MediaError, match=r"attachment 2 \(image\) cannot be used: .*send the file again"):
        check_media(message)


def _good_png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "PNG")
    return buf.getvalue()


def test_check_media_passes_good_media_text_and_remote_urls():
    check_media(HumanMessage("just text"))
    check_media(HumanMessage(content=[_block(_good_png(), "image/png"),
                                      {"type": "image_url", "image_url": {"url": "https://example.org/cat.png"}},
                                      {"type": "audio", "base64": base64.b64encode(b"RIFF....").decode()}]))
    with pytest.raises(MediaError, match=r"attachment 1 \(audio\).*empty"):
        check_media(HumanMessage(content=[{"type": "audio", "base64": "", "mime_type": "audio/wav"}]))
    with pytest.raises(MediaError, match="not valid base64"):
        check_media(HumanMessage(content=[{"type": "video", "base64": "@@@", "mime_type": "video/mp4"}]))


@pytest.fixture
def assistant(tmp_path):
    from genaisys.core.chat import ChatCore
    from genaisys.memory.blobs import BlobStore
    from tests.standard_suites import tiny_vision_core

    blobs = BlobStore(tmp_path / "blobs")
    core = ChatCore(core=tiny_vision_core(), blobs=blobs, max_new_tokens=3)
    return build_assistant_graph(core, blobs=blobs, checkpointer=":memory:"), blobs


@pytest.mark.parametrize("name", sorted(broken_media()))
def test_a_refused_turn_leaves_the_thread_as_it_was(assistant, name):
    graph, blobs = assistant
    config = {"configurable": {"thread_id": "t1"}}
    run_turn(graph, "hello", thread_id="t1")
    before = graph.get_state(config).values["messages"]
    stored = sorted(p.name for p in blobs.root.rglob("*") if p.is_file())
    data, mime = broken_media()[name]
    with pytest.raises(MediaError, match=r"attachment 1 \(image\) cannot be used"):
        run_turn(graph, [{"type": "text", "text": "What is in this photo?"}, _block(data, mime)], thread_id="t1")
    assert graph.get_state(config).values["messages"] == before  # nothing of the refused turn is kept
    assert sorted(p.name for p in blobs.root.rglob("*") if p.is_file()) == stored  # nor stored
    # Later turns on the thread work: a plain one, and one with a good photo.
    after = run_turn(graph, "hello again", thread_id="t1")["messages"]
    assert [m.content for m in after[:len(before)]] == [m.content for m in before]
    assert after[-2].content == "hello again" and after[-1].type == "ai"
    run_turn(graph, [{"type": "text", "text": "And this?"}, _block(_good_png(), "image/png")], thread_id="t1")


def test_a_refused_first_turn_leaves_no_thread(assistant):
    graph, _ = assistant
    data, mime = broken_media()["truncated.png"]
    with pytest.raises(MediaError):
        run_turn(graph, [_block(data, mime)], thread_id="fresh")
    assert graph.get_state({"configurable": {"thread_id": "fresh"}}).values == {}
    assert run_turn(graph, "hello", thread_id="fresh")["messages"][-1].type == "ai"
