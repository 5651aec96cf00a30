"""The web page end to end in headless Chromium (Debian's, driven by Playwright's Python package).

Skips, saying why, where the playwright package or /usr/bin/chromium is absent. Screenshots of
each state are saved under the test's tmp dir (paths printed) as the artifacts.
"""

from __future__ import annotations

import io
import json
import shutil
import wave
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from PIL import Image

from tests.serve.conftest import API_KEY, MODEL_ID, LiveServer, ScriptedChat, build_studio_graph

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
PLAIN = "plain chat (no tools, no memory)"
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}


def _playwright() -> Any:
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no system Chromium at {CHROMIUM} (apt-get install chromium)")
    return sync_api


def _shot(page: Any, folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    with Image.open(path) as img:
        assert img.size == (900, 640) and img.getextrema() != ((255, 255),) * 3  # a real, non-blank picture
    assert path.stat().st_size > 5_000
    print(f"\nscreenshot: {path}")
    return path


def get_weather(city: str) -> str:
    """Weather in a city."""
    return f"sunny in {city}"


def _wav() -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x10" * 800)
    return buf.getvalue()


def build_media_graph(blobs: Any) -> Any:
    """A one-node graph that read an image natively, cites a source and answers with an image and a sound."""
    from langgraph.graph import END, START, StateGraph

    from genaisys.graphs import AssistantState

    def make(state: dict[str, Any]) -> dict[str, Any]:
        buf = io.BytesIO()
        Image.new("RGB", (16, 16), (20, 90, 230)).save(buf, "PNG")
        image_id, sound_id = blobs.put(buf.getvalue(), "image/png"), blobs.put(_wav(), "audio/wav")
        return {"messages": [AIMessage("A blue square and its sound [1].")],
                "perception": [{"index": 0, "kind": "image", "blob_id": image_id, "route": "native",
                                "reason": "a photo the vision tower reads"}],
                "context": [{"id": "d1", "text": "Blue is a colour.", "score": 0.9, "source": "colours.md",
                             "citation": "[1] colours.md#chars=0-17", "metadata": {}}],
                "artifacts": [{"blob_id": image_id, "kind": "image", "mime_type": "image/png", "producer": "draw"},
                              {"blob_id": sound_id, "kind": "audio", "mime_type": "audio/wav", "producer": "speak"}]}

    graph = StateGraph(AssistantState)
    graph.add_node("make", make)
    graph.add_edge(START, "make")
    graph.add_edge("make", END)
    return graph.compile()


def test_assistant_page_shows_steps_media_and_rates_answers(tmp_path: Path) -> None:
    sync_api = _playwright()
    from genaisys.graphs import build_assistant_graph
    from genaisys.memory.blobs import BlobStore
    from genaisys.serve import create_app
    from genaisys.train.engine.feedback import FeedbackStore

    blobs = BlobStore(tmp_path / "blobs")
    db = tmp_path / "threads" / "checkpoints.sqlite"
    assistant = build_assistant_graph(ScriptedChat(), tools=[get_weather], checkpointer=db)
    app = create_app(ScriptedChat(), api_key=API_KEY, model_id=MODEL_ID, blobs=blobs,
                     graphs={"assistant": assistant, "media": build_media_graph(blobs)})
    shots = tmp_path / "screenshots"
    with LiveServer(app) as live, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 900, "height": 640})
            page.goto(live.url + "/")
            assert page.input_value("#graph") == "assistant"  # opens on the assistant, before any key
            page.fill("#key", API_KEY)
            page.dispatch_event("#key", "change")
            page.wait_for_function("document.body.dataset.graphs === 'assistant,media'")
            options = page.eval_on_selector_all("#graph option", "els => els.map(e => e.value)")
            assert options == ["assistant", "media", ""] and page.input_value("#graph") == "assistant"
            _shot(page, shots, "1-opened-on-assistant")

            # a tool turn: the call with its arguments and the tool's result show inline as steps
            # (every text the answer shows on its way is kept: the run streams, token by token)
            page.evaluate("""() => { window.shown = []; new MutationObserver((records) => { for (const r of records)
                for (const n of r.addedNodes) if (n.nodeType === 3) window.shown.push(n.data); })
                .observe(document.getElementById('log'), {subtree: true, childList: true}); }""")
            page.fill("#text", "weather in Paris?")
            page.click("#send")
            page.wait_for_selector(".assistant[data-done='1']", timeout=15_000)
            first = page.locator(".msg.assistant").nth(0)
            assert first.locator(".text").text_content() == "The tool said: sunny in Paris"
            shown = page.evaluate("window.shown")
            assert "… get_weather" in shown and "The tool " in shown  # the tool starting, then the first tokens
            assert first.locator(".steps summary").text_content() == "2 steps"
            assert first.locator(".tool-call").text_content() == 'tool call: get_weather({"city": "Paris"})'
            assert first.locator(".tool-result").text_content() == "tool result (get_weather): sunny in Paris"
            first.locator("button.good").click()
            page.wait_for_function("document.querySelector('.msg.assistant').dataset.rating === 'good'")
            assert first.locator(".feedback-status").text_content() == "thanks: rated good"
            _shot(page, shots, "2-tool-steps-rated-good")

            # thumbs down, then the right answer through "edit"
            page.fill("#text", "hello there")
            page.click("#send")
            page.wait_for_selector(".msg.assistant:nth-of-type(4)[data-done='1']", timeout=15_000)
            second = page.locator(".msg.assistant").nth(1)
            assert second.locator(".text").text_content() == "You said: hello there"
            assert second.locator(".steps").count() == 0  # no step in a plain answer
            second.locator("button.bad").click()
            page.wait_for_function("document.querySelectorAll('.msg.assistant')[1].dataset.rating === 'bad'")
            second.locator("button.edit").click()
            assert second.locator(".edit-box textarea").input_value() == "You said: hello there"
            second.locator(".edit-box textarea").fill("Hello! How can I help?")
            _shot(page, shots, "3-editing-an-answer")
            second.locator("button.save").click()
            page.wait_for_function("document.querySelectorAll('.msg.assistant')[1].dataset.rating === 'bad+edited'")
            assert second.locator(".edited").text_content() == "your correction: Hello! How can I help?"
            assert second.locator(".edit-box").count() == 0

            # every rating reached the store beside the thread's checkpoints
            ids = page.eval_on_selector_all(".msg.assistant", "els => els.map(e => [e.dataset.threadId, "
                                                               "e.dataset.messageId])")
            (thread,) = {t for t, _ in ids}
            with FeedbackStore(db.with_name("checkpoints.feedback.sqlite")) as store:
                got = {m: (f.verdict, f.edited) for m, f in store.for_thread(thread).items()}
            assert got == {ids[0][1]: ("accept", None), ids[1][1]: ("reject", "Hello! How can I help?")}
            state = assistant.get_state({"configurable": {"thread_id": thread}}).values["messages"]
            assert [m.id for m in state if m.type == "ai" and not m.tool_calls] == [i for _, i in ids]

            # another graph: the perception decision, a cited source, an image and a sound inline
            page.select_option("#graph", "media")
            page.fill("#text", "make something blue")
            page.click("#send")
            page.wait_for_selector("img.artifact", timeout=15_000)
            page.wait_for_function("document.querySelector('img.artifact').naturalWidth === 16")
            media = page.locator(".msg.assistant").nth(2)
            assert media.locator(".perception").text_content() == \
                "perception: image #0 → native (a photo the vision tower reads)"
            assert media.locator(".sources li").text_content() == "[1] colours.md#chars=0-17"
            assert media.locator("audio.artifact").count() == 1
            assert media.locator("audio.artifact").get_attribute("src").startswith("blob:")
            # a graph without a checkpointer keeps no thread: the rating says so instead of failing silently
            media.locator("button.good").click()
            page.wait_for_function("document.querySelectorAll('.feedback-status')[2].textContent.includes('404')")
            _shot(page, shots, "4-media-perception-sources")

            # a long conversation scrolls above the composer, which stays pinned to the bottom
            for i in range(4):
                page.select_option("#graph", "assistant")
                page.fill("#text", f"message {i} " + "and more words " * 12)
                page.click("#send")
                page.wait_for_function(f"document.querySelectorAll('.msg.assistant[data-done]').length === {4 + i}")
            geometry = page.evaluate("""() => { const f = document.getElementById('form').getBoundingClientRect();
                const log = document.getElementById('log');
                return {bottom: f.bottom, height: window.innerHeight, scrolls: log.scrollHeight > log.clientHeight,
                        atEnd: Math.abs(log.scrollTop + log.clientHeight - log.scrollHeight) < 2,
                        pageScrolls: document.documentElement.scrollHeight > window.innerHeight}; }""")
            assert geometry == {"bottom": 640, "height": 640, "scrolls": True, "atEnd": True, "pageScrolls": False}
            _shot(page, shots, "5-composer-pinned")
        finally:
            browser.close()


def test_plain_chat_streams_images_and_tool_calls(tmp_path: Path) -> None:
    sync_api = _playwright()
    from genaisys.memory.blobs import BlobStore
    from genaisys.serve import create_app

    image = tmp_path / "red.png"
    Image.new("RGB", (7, 5), (220, 20, 20)).save(image)
    blobs = BlobStore(tmp_path / "blobs")
    app = create_app(ScriptedChat(delay_s=0.02), api_key=API_KEY, model_id=MODEL_ID, blobs=blobs,
                     graphs={"studio": build_studio_graph(blobs)})
    with LiveServer(app) as live, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 900, "height": 640})
            page.goto(live.url + "/")
            assert page.input_value("#model") == MODEL_ID
            assert page.input_value("#graph") == "studio"  # no assistant served: the first graph
            page.fill("#key", API_KEY)
            page.dispatch_event("#key", "change")
            page.wait_for_function("document.body.dataset.graphs === 'studio'")
            page.select_option("#graph", label=PLAIN)
            # Watch the answer grow: record the assistant text as chunks arrive.
            page.evaluate("""() => { window.seen = []; new MutationObserver(() => {
                const t = document.querySelector('.assistant .text'); if (t) window.seen.push(t.textContent);
            }).observe(document.getElementById('log'), {subtree: true, childList: true, characterData: true}); }""")
            page.fill("#text", "hello from the browser")
            page.click("#send")
            page.wait_for_selector(".assistant[data-done='1']", timeout=15_000)
            assert page.text_content(".assistant .text") == "You said: hello from the browser"
            seen = page.evaluate("window.seen")
            assert len({s for s in seen if s}) >= 3, seen  # it streamed, not one final paint
            # plain chat keeps no thread: its answers cannot be rated, and the buttons say why
            assert page.locator(".assistant button.good").is_disabled()
            assert "pick a graph" in page.get_attribute(".assistant button.good", "title")

            page.set_input_files("#image", str(image))
            page.wait_for_function("document.getElementById('attached').textContent.includes('red.png')")
            page.fill("#text", "what is it")
            page.click("#send")
            page.wait_for_selector(".msg.assistant:nth-of-type(4)[data-done='1']", timeout=15_000)
            assert page.text_content(".msg.assistant:nth-of-type(4) .text") == "I see a 7x5 image. You said: what is it"
            assert page.locator(".user img").count() == 1

            page.click("summary")
            page.fill("#tools", json.dumps([WEATHER]))
            page.click("summary")
            page.fill("#text", "weather in Paris?")
            page.click("#send")
            page.wait_for_selector(".tool", timeout=15_000)
            assert page.text_content(".tool") == 'tool call: get_weather({"city": "Paris"})'

            page.select_option("#graph", "studio")  # a graph run: citations and a generated image inline
            page.fill("#text", "draw something red")
            page.click("#send")
            page.wait_for_selector("img.artifact", timeout=15_000)
            page.wait_for_function("document.querySelector('img.artifact').naturalWidth === 16")
            assert page.text_content(".sources li") == "[1] colours.md"

            page.select_option("#graph", label=PLAIN)
            page.fill("#key", "sk-wrong")
            page.dispatch_event("#key", "change")
            page.wait_for_function("document.getElementById('status').textContent.includes('API key')")
            page.fill("#text", "anyone?")
            page.click("#send")
            page.wait_for_selector(".msg.error", timeout=15_000)
            assert "401" in page.text_content(".msg.error")
            _shot(page, tmp_path / "screenshots", "plain-chat")
        finally:
            browser.close()
