"""Real clients against a real uvicorn server on 127.0.0.1: the openai SDK and LangChain's ChatOpenAI."""

from __future__ import annotations

import base64
import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import openai
import pytest
from PIL import Image

from tests.serve.conftest import API_KEY, MODEL_ID, LiveServer, ScriptedChat

WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                           "required": ["city"]}}}


def png(w: int = 7, h: int = 5) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture()
def client(live: LiveServer) -> openai.OpenAI:
    with openai.OpenAI(base_url=live.url + "/v1", api_key=API_KEY, max_retries=0, timeout=20) as c:
        yield c


def test_plain_completion(client: openai.OpenAI) -> None:
    out = client.chat.completions.create(model=MODEL_ID, messages=[
        {"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}])
    assert out.choices[0].message.content == "You said: hello there"
    assert out.choices[0].finish_reason == "stop"
    assert out.object == "chat.completion" and out.model == MODEL_ID
    assert out.usage.completion_tokens == 4 and out.usage.prompt_tokens == 2 and out.usage.total_tokens == 6


def test_max_tokens_is_honoured(client: openai.OpenAI) -> None:
    out = client.chat.completions.create(model=MODEL_ID, max_tokens=2,
                                         messages=[{"role": "user", "content": "one two three four"}])
    assert out.choices[0].message.content == "You said: "


def test_streaming(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(model=MODEL_ID, stream=True, stream_options={"include_usage": True},
                                            messages=[{"role": "user", "content": "stream me please"}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "You said: stream me please"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 5
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) == 5  # really token by token


def test_tools_round_trip(client: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    out = client.chat.completions.create(model=MODEL_ID, messages=messages, tools=[WEATHER])
    choice = out.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather" and call.function.arguments == '{"city": "Paris"}'
    messages += [choice.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"}]
    again = client.chat.completions.create(model=MODEL_ID, messages=messages, tools=[WEATHER])
    assert again.choices[0].message.content == "The tool said: sunny, 21 C"


def test_tool_choice_none_hides_tools(client: openai.OpenAI) -> None:
    out = client.chat.completions.create(model=MODEL_ID, tools=[WEATHER], tool_choice="none",
                                         messages=[{"role": "user", "content": "weather?"}])
    assert out.choices[0].message.tool_calls is None and out.choices[0].message.content == "You said: weather?"


def test_streamed_tool_call(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(
        model=MODEL_ID, stream=True, tools=[WEATHER], messages=[{"role": "user", "content": "weather in Paris"}]))
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert len(calls) == 1 and calls[0].function.name == "get_weather" and calls[0].id == "call_1"
    assert calls[0].function.arguments == '{"city": "Paris"}' and calls[0].index == 0
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_image_data_url(client: openai.OpenAI) -> None:
    url = "data:image/png;base64," + base64.b64encode(png(7, 5)).decode()
    out = client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": [
        {"type": "text", "text": "what is this"}, {"type": "image_url", "image_url": {"url": url}}]}])
    assert out.choices[0].message.content == "I see a 7x5 image. You said: what is this"


def test_corrupt_image_is_400(client: openai.OpenAI) -> None:
    url = "data:image/png;base64," + base64.b64encode(b"not a png at all").decode()
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": url}}]}])
    assert err.value.body["code"] == "invalid_image"


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x.png", "http://169.254.169.254/latest", "http://10.1.2.3/a.png",
                                 "file:///etc/passwd", "/etc/passwd"])
def test_image_urls_to_internal_places_are_refused(client: openai.OpenAI, url: str) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": [
            {"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": url}}]}])
    assert err.value.body["code"] in ("image_url_refused", "invalid_image_url")


def test_http_image_through_allow_listed_fetcher() -> None:
    """An http image URL is fetched by the hardened fetcher (loopback opened by its allow-list only)."""
    from genaisys.serve import create_app
    from genaisys.tools.http_fetch import HttpFetcher, HttpFetcherConfig

    body = png(3, 4)

    class Images(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "http://10.0.0.1/cat.png")  # a redirect inside the network
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/png" if self.path == "/cat.png" else "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    images = ThreadingHTTPServer(("127.0.0.1", 0), Images)
    threading.Thread(target=images.serve_forever, daemon=True).start()
    port = images.server_address[1]
    fetcher = HttpFetcher(HttpFetcherConfig(allow_hosts=[f"127.0.0.1:{port}"], timeout_s=5))
    app = create_app(ScriptedChat(), api_key=API_KEY, model_id=MODEL_ID, fetcher=fetcher)
    try:
        with LiveServer(app) as live, openai.OpenAI(base_url=live.url + "/v1", api_key=API_KEY, max_retries=0) as c:
            def ask(path: str) -> str:
                return c.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": [
                    {"type": "text", "text": "hi"},
                    {"type": "image_url", "image_url": {"url": f"http://127.0.0.1:{port}{path}"}}]}]
                ).choices[0].message.content

            assert ask("/cat.png") == "I see a 3x4 image. You said: hi"
            with pytest.raises(openai.BadRequestError, match="not an image"):
                ask("/page.txt")
            with pytest.raises(openai.BadRequestError, match="10.0.0.1"):
                ask("/redirect")
    finally:
        images.shutdown()
        images.server_close()


def test_models_and_unknown_model(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert ids == [MODEL_ID, "genaisys-embed"]
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert err.value.body["code"] == "model_not_found" and err.value.status_code == 404


def test_embeddings_float_and_base64(client: openai.OpenAI, live: LiveServer) -> None:
    from genaisys.memory import HashingEmbedding

    expected = [list(map(float, v)) for v in HashingEmbedding(dim=16)(["the cat sat", "a dog ran"])]
    got = client.embeddings.create(model="genaisys-embed", input=["the cat sat", "a dog ran"])  # SDK asks base64
    assert [d.index for d in got.data] == [0, 1]
    for d, e in zip(got.data, expected, strict=True):
        assert d.embedding == pytest.approx(e, abs=1e-6)
    raw = httpx.post(live.url + "/v1/embeddings", headers={"Authorization": f"Bearer {API_KEY}"},
                     json={"model": "genaisys-embed", "input": "the cat sat", "encoding_format": "float"}).json()
    assert raw["data"][0]["embedding"] == pytest.approx(expected[0], abs=1e-6)
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="text-embedding-3-small", input="x")


def test_graph_runs_share_a_thread(live: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    first = httpx.post(live.url + "/v1/graphs/assistant/runs", headers=headers,
                       json={"input": "hello graph", "thread_id": "t-1"}).json()
    assert first["thread_id"] == "t-1" and first["output"] == "You said: hello graph"
    second = httpx.post(live.url + "/v1/graphs/assistant/runs", headers=headers,
                        json={"input": "again", "thread_id": "t-1"}).json()
    assert [m["role"] for m in second["messages"]][-4:] == ["user", "assistant", "user", "assistant"]
    assert second["output"] == "You said: again"
    other = httpx.post(live.url + "/v1/graphs/echo/runs", headers=headers, json={"input": "x"}).json()
    assert other["output"] == "graph says hi" and len(other["thread_id"]) == 32
    assert httpx.get(live.url + "/v1/graphs", headers=headers).json()["data"] == [
        {"id": "assistant", "object": "graph"}, {"id": "echo", "object": "graph"}, {"id": "studio", "object": "graph"}]
    missing = httpx.post(live.url + "/v1/graphs/nope/runs", headers=headers, json={"input": "x"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "graph_not_found"
    empty = httpx.post(live.url + "/v1/graphs/echo/runs", headers=headers, json={})
    assert empty.status_code == 400 and empty.json()["error"]["param"] == "input"


def _events(response: httpx.Response) -> list:
    import json

    return [line[6:] if line == "data: [DONE]" else json.loads(line[6:])
            for line in response.iter_lines() if line.startswith("data: ")]


def test_a_graph_run_streams_nodes_tool_calls_and_tokens_as_it_goes() -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    from genaisys.graphs import build_assistant_graph
    from genaisys.serve import create_app

    def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    graph = build_assistant_graph(ScriptedChat(), tools=[get_weather], checkpointer=InMemorySaver())
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with LiveServer(create_app(ScriptedChat(), api_key=API_KEY, graphs={"assistant": graph})) as live:
        url = live.url + "/v1/graphs/assistant/runs"
        with httpx.stream("POST", url, headers=headers, timeout=30,
                          json={"input": "weather in Paris?", "thread_id": "s", "stream": True}) as response:
            assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
            events = _events(response)
        assert events[-1] == "[DONE]" and events[-2]["type"] == "done"
        steps = [(e["type"], e.get("node") or e.get("name")) for e in events[:-2] if e["type"] != "token"]
        assert steps == [("node", "think"), ("tool_start", "get_weather"), ("tool_end", "get_weather"),
                         ("node", "act"), ("node", "think")]
        run = events[-2]["run"]
        assert run["output"] == "The tool said: sunny in Paris" and run["thread_id"] == "s"
        assert "".join(e["text"] for e in events[:-1] if e["type"] == "token") == run["output"]
        # the streamed turn is the thread's like any other
        later = httpx.post(url, headers=headers, json={"input": "thanks", "thread_id": "s"}, timeout=30).json()
        assert [m["role"] for m in later["messages"]] == ["user", "assistant", "tool", "assistant", "user", "assistant"]
        # a turn that fails before its first event gets its status code, with nothing streamed
        failed = httpx.post(url, headers=headers, json={"input": "explode", "stream": True}, timeout=30)
        assert failed.status_code == 500 and failed.json()["error"]["code"] == "internal_error"
        assert "secret-internal-detail" not in failed.text


def test_langchain_chat_openai(live: LiveServer) -> None:
    from langchain_core.messages import HumanMessage
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(model=MODEL_ID, base_url=live.url + "/v1", api_key=API_KEY, max_retries=0, timeout=20)
    assert llm.invoke("hi from langchain").content == "You said: hi from langchain"
    assert "".join(str(c.content) for c in llm.stream("stream it")) == "You said: stream it"
    called = llm.bind_tools([WEATHER]).invoke("weather in Paris?")
    assert called.tool_calls == [{"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1",
                                  "type": "tool_call"}]
    url = "data:image/png;base64," + base64.b64encode(png(2, 9)).decode()
    seen = llm.invoke([HumanMessage(content=[{"type": "text", "text": "see"},
                                             {"type": "image_url", "image_url": {"url": url}}])])
    assert seen.content == "I see a 2x9 image. You said: see"


def test_graph_run_carries_citations_and_artifacts(live: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    run = httpx.post(live.url + "/v1/graphs/studio/runs", headers=headers, json={"input": "draw red"}).json()
    assert run["output"] == "Here is a red square [1]."
    assert run["context"][0]["citation"] == "[1] colours.md"
    art = run["artifacts"][0]
    assert art["kind"] == "image" and art["url"] == f"/v1/blobs/{art['blob_id']}"
    blob = httpx.get(live.url + art["url"], headers=headers)
    assert blob.status_code == 200 and blob.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(blob.content)).size == (16, 16)
    assert httpx.get(live.url + art["url"]).status_code == 401
    missing = httpx.get(live.url + "/v1/blobs/sha256:" + "0" * 64, headers=headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "blob_not_found"
    assert httpx.get(live.url + "/v1/blobs/..%2F..%2Fetc%2Fpasswd", headers=headers).status_code == 404


def test_openai_sdk_parse_json_mode_and_forced_tools_on_a_served_core(served_cli) -> None:
    """The openai SDK against ``genaisys serve`` of a real (tiny, random) core: what the protocol
    promises holds by construction — parsed answers, JSON objects, forced calls."""
    import json

    from pydantic import BaseModel

    class Alarm(BaseModel):
        hour: int
        label: str

    ask = [{"role": "user", "content": "Set an alarm."}]
    with openai.OpenAI(base_url=served_cli.url + "/v1", api_key=served_cli.api_key, max_retries=0,
                       timeout=60) as sdk:
        parsed = sdk.chat.completions.parse(model=served_cli.model, messages=ask, response_format=Alarm,
                                            max_tokens=64)
        assert isinstance(parsed.choices[0].message.parsed, Alarm)
        anything = sdk.chat.completions.create(model=served_cli.model, messages=ask, max_tokens=64,
                                               response_format={"type": "json_object"})
        assert isinstance(json.loads(anything.choices[0].message.content), dict)
        for choice in ("required", {"type": "function", "function": {"name": "get_weather"}}):
            forced = sdk.chat.completions.create(model=served_cli.model, messages=ask, tools=[WEATHER],
                                                 tool_choice=choice, max_tokens=64)
            (call,) = forced.choices[0].message.tool_calls
            assert forced.choices[0].finish_reason == "tool_calls" and call.function.name == "get_weather"
            assert isinstance(json.loads(call.function.arguments)["city"], str)
        with pytest.raises(openai.BadRequestError, match="logprobs"):
            sdk.chat.completions.create(model=served_cli.model, messages=ask, logprobs=True)
        with pytest.raises(openai.BadRequestError, match="dimensions"):
            sdk.embeddings.create(model="genaisys-embed", input="hi", dimensions=8)
