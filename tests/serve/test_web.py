"""The web chat page end to end in headless Chromium (Debian's, driven by Playwright's Python package).

Skips, saying why, where the playwright package or /usr/bin/chromium is absent. A screenshot is
saved under the test's tmp dir (path printed) as the artifact.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from tests.serve.conftest import API_KEY, MODEL_ID, LiveServer, ScriptedChat, build_studio_graph

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}


def test_chat_page_streams_images_and_tool_calls(tmp_path: Path) -> None:
    from genaisys.memory.blobs import BlobStore

    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no system Chromium at {CHROMIUM} (apt-get install chromium)")
    from genaisys.serve import create_app

    image = tmp_path / "red.png"
    Image.new("RGB", (7, 5), (220, 20, 20)).save(image)
    blobs = BlobStore(tmp_path / "blobs")
    app = create_app(ScriptedChat(delay_s=0.02), api_key=API_KEY, model_id=MODEL_ID, blobs=blobs,
                     graphs={"studio": build_studio_graph(blobs)})
    with LiveServer(app) as live, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 900, "height": 700})
            page.goto(live.url + "/")
            assert page.input_value("#model") == MODEL_ID
            page.fill("#key", API_KEY)
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

            page.fill("#graph", "studio")  # a graph run: citations and a generated image inline
            page.fill("#text", "draw something red")
            page.click("#send")
            page.wait_for_selector("img.artifact", timeout=15_000)
            page.wait_for_function("document.querySelector('img.artifact').naturalWidth === 16")
            assert page.text_content(".sources li") == "[1] colours.md"
            page.fill("#graph", "")

            page.fill("#key", "sk-wrong")
            page.dispatch_event("#key", "change")
            page.fill("#text", "anyone?")
            page.click("#send")
            page.wait_for_selector(".msg.error", timeout=15_000)
            assert "401" in page.text_content(".msg.error")
            shot = tmp_path / "chat_page.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 5_000
            print(f"\nscreenshot: {shot}")
        finally:
            browser.close()
