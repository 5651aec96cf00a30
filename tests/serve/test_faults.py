"""Failure modes on purpose: bad JSON, wrong types, keys, sizes, crashes, and a client that hangs up."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from genaisys.errors import ConfigError
from tests.serve.conftest import API_KEY, MODEL_ID, LiveServer, ScriptedChat

AUTH = {"Authorization": f"Bearer {API_KEY}"}
CHAT = "/v1/chat/completions"


def error_of(resp: httpx.Response, status: int) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


def test_malformed_json(live: LiveServer) -> None:
    resp = httpx.post(live.url + CHAT, headers={**AUTH, "Content-Type": "application/json"},
                      content=b'{"model": "scripted", "messages": [')
    err = error_of(resp, 400)
    assert err["code"] == "invalid_json" and err["type"] == "invalid_request_error"


@pytest.mark.parametrize(("body", "param"), [
    ({"model": MODEL_ID, "messages": "hello"}, "messages"),
    ({"model": MODEL_ID, "messages": []}, "messages"),
    ({"model": MODEL_ID, "messages": [{"role": "wizard", "content": "hi"}]}, "messages.0.role"),
    ({"model": MODEL_ID, "messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}, "temperature"),
    ({"model": MODEL_ID, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}, "max_tokens"),
    ({"model": MODEL_ID, "messages": [{"role": "user", "content": "hi"}], "stream": {"yes": 1}}, "stream"),
    ({"model": MODEL_ID, "messages": [{"role": "user", "content": [{"type": "audio", "x": 1}]}]},
     "messages.0.content"),
    ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
    ([1, 2, 3], None),
])
def test_wrong_types_are_400(live: LiveServer, body: object, param: str | None) -> None:
    err = error_of(httpx.post(live.url + CHAT, headers=AUTH, json=body), 400)
    assert err["code"] == "invalid_request"
    if param is not None:
        assert err["param"].startswith(param)


def test_bad_tool_message_and_arguments(live: LiveServer) -> None:
    no_id = {"model": MODEL_ID, "messages": [{"role": "tool", "content": "x"}]}
    assert error_of(httpx.post(live.url + CHAT, headers=AUTH, json=no_id), 400)["param"] == "messages[0].tool_call_id"
    bad_args = {"model": MODEL_ID, "messages": [{"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{not json"}}]}]}
    assert "not valid JSON" in error_of(httpx.post(live.url + CHAT, headers=AUTH, json=bad_args), 400)["message"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer sk-wrong"}, {"Authorization": API_KEY},
                                     {"Authorization": f"Basic {API_KEY}"}])
def test_missing_or_wrong_key_is_401(live: LiveServer, headers: dict[str, str]) -> None:
    for method, path in (("POST", CHAT), ("GET", "/v1/models"), ("POST", "/v1/embeddings"),
                         ("POST", "/v1/graphs/echo/runs")):
        resp = httpx.request(method, live.url + path, headers=headers, json={"model": MODEL_ID, "messages": []})
        err = error_of(resp, 401)
        assert err["type"] == "authentication_error" and resp.headers["www-authenticate"] == "Bearer"
    assert httpx.get(live.url + "/").status_code == 200  # the page itself holds no secret


def test_oversized_body_is_413(live: LiveServer) -> None:
    big = {"model": MODEL_ID, "messages": [{"role": "user", "content": "x" * 300_000}]}
    err = error_of(httpx.post(live.url + CHAT, headers=AUTH, json=big), 413)
    assert err["code"] == "request_too_large"

    def chunked():  # no Content-Length: the limit is enforced while reading
        yield b'{"model": "scripted", "messages": [{"role": "user", "content": "'
        for _ in range(40):
            yield b"y" * 10_000
        yield b'"}]}'

    err = error_of(httpx.post(live.url + CHAT, headers={**AUTH, "Content-Type": "application/json"},
                              content=chunked()), 413)
    assert err["code"] == "request_too_large"


def test_unknown_route_is_404_in_openai_shape(live: LiveServer) -> None:
    assert error_of(httpx.get(live.url + "/v1/nothing", headers=AUTH), 404)["code"] == "not_found"


def test_wrong_method_is_405_with_its_allow_header(live: LiveServer) -> None:
    resp = httpx.get(live.url + CHAT, headers=AUTH)
    assert error_of(resp, 405)["code"] == "method_not_allowed" and resp.headers["allow"] == "POST"


@pytest.mark.parametrize(("extra", "param"), [({"logprobs": True}, "logprobs"), ({"top_logprobs": 2}, "top_logprobs"),
                                              ({"n": 2}, "n")])
def test_what_cannot_be_honoured_is_refused_with_400(live: LiveServer, extra: dict, param: str) -> None:
    body = {"model": MODEL_ID, "messages": [{"role": "user", "content": "hi"}], **extra}
    assert error_of(httpx.post(live.url + CHAT, headers=AUTH, json=body), 400)["param"] == param
    ok = {"model": MODEL_ID, "messages": [{"role": "user", "content": "hi"}], "logprobs": False}
    assert httpx.post(live.url + CHAT, headers=AUTH, json=ok).status_code == 200


def test_a_response_format_the_model_cannot_honour_is_400(live: LiveServer) -> None:
    # The scripted model is a third-party LangChain model: it cannot be constrained.
    body = {"model": MODEL_ID, "messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "json_object"}}
    err = error_of(httpx.post(live.url + CHAT, headers=AUTH, json=body), 400)
    assert err["param"] == "response_format" and err["code"] == "unsupported_parameter"
    text = {**body, "response_format": {"type": "text"}}
    assert httpx.post(live.url + CHAT, headers=AUTH, json=text).status_code == 200
    no_schema = {**body, "response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}
    assert error_of(httpx.post(live.url + CHAT, headers=AUTH, json=no_schema), 400)["param"].startswith(
        "response_format")


@pytest.mark.parametrize(("dimensions", "status"), [(16, 200), (8, 400), (False, 400), (0, 400), ("16", 400)])
def test_embedding_dimensions_are_the_models_own_or_refused(live: LiveServer, dimensions: object, status: int) -> None:
    resp = httpx.post(live.url + "/v1/embeddings", headers=AUTH,
                      json={"model": "genaisys-embed", "input": "hi", "dimensions": dimensions})
    if status == 200:
        assert resp.status_code == 200 and len(resp.json()["data"][0]["embedding"]) == 16
    else:
        assert error_of(resp, 400)["param"].startswith("dimensions")


def test_openapi_schema_documents_the_statuses_really_answered(live: LiveServer) -> None:
    schema = httpx.get(live.url + "/openapi.json").json()
    chat = schema["paths"]["/v1/chat/completions"]["post"]
    assert "422" not in chat["responses"] and {"400", "401", "404", "413", "500"} <= set(chat["responses"])
    assert "422" not in json.dumps(schema) and schema["components"]["schemas"]["Error"]["required"] == ["error"]
    assert {"/v1/models", "/v1/embeddings", "/v1/graphs/{name}/runs"} <= set(schema["paths"])


def test_model_crash_is_500_without_leaking(live: LiveServer) -> None:
    for stream in (False, True):
        resp = httpx.post(live.url + CHAT, headers=AUTH, json={
            "model": MODEL_ID, "stream": stream, "messages": [{"role": "user", "content": "please explode"}]})
        err = error_of(resp, 500)
        assert err["type"] == "server_error" and "request id" in err["message"]
        assert "secret" not in resp.text and "Traceback" not in resp.text and "RuntimeError" not in resp.text


def test_client_disconnect_mid_stream_stops_generation() -> None:
    model = ScriptedChat(delay_s=0.01, long_tokens=2000)  # 20 s if nobody stopped it
    from genaisys.serve import create_app

    app = create_app(model, api_key=API_KEY, model_id=MODEL_ID)
    with LiveServer(app) as live:
        async def read_a_little() -> int:
            async with httpx.AsyncClient(timeout=10) as client, client.stream(
                    "POST", live.url + CHAT, headers=AUTH,
                    json={"model": MODEL_ID, "stream": True, "messages": [{"role": "user", "content": "long story"}]}
            ) as resp:
                assert resp.status_code == 200
                seen = 0
                async for line in resp.aiter_lines():
                    if line.startswith("data: {") and '"content": "tok' in line:
                        seen += 1
                        if seen == 5:
                            return seen  # leaving the block closes the connection mid-stream
            return seen

        assert asyncio.run(read_a_little()) == 5
        deadline = time.monotonic() + 5
        while not model.stream_closed and time.monotonic() < deadline:
            time.sleep(0.02)
        assert model.stream_closed, "the model's stream was not closed after the client left"
        stopped_at = model.generated
        time.sleep(0.3)  # ~30 more tokens would appear if decoding had leaked on
        assert model.generated == stopped_at
        assert stopped_at < 100


def test_no_auth_only_for_loopback_clients() -> None:
    from genaisys.serve import create_app, serve

    with pytest.raises(ConfigError, match="api_key"):
        create_app(ScriptedChat(), model_id=MODEL_ID)
    with pytest.raises(ConfigError, match="loopback"):
        serve("nano", host="0.0.0.0", no_auth=True)
    with pytest.raises(ConfigError, match="max_body_bytes"):
        create_app(ScriptedChat(), api_key="k", max_body_bytes=10)
    app = create_app(ScriptedChat(), allow_no_auth_on_loopback=True, model_id=MODEL_ID)
    body = {"model": MODEL_ID, "messages": [{"role": "user", "content": "hi"}]}
    with LiveServer(app) as live:  # a real loopback client, no key
        assert httpx.post(live.url + CHAT, json=body).json()["choices"][0]["message"]["content"] == "You said: hi"

    async def from_elsewhere() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.7", 5555))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post(CHAT, json=body)

    err = error_of(asyncio.run(from_elsewhere()), 401)
    assert "loopback" in err["message"]


def test_sse_wire_format(live: LiveServer) -> None:
    with httpx.stream("POST", live.url + CHAT, headers=AUTH, json={
            "model": MODEL_ID, "stream": True, "messages": [{"role": "user", "content": "a b"}]}) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in resp.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines) and lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"} and len({c["id"] for c in chunks}) == 1


def test_unexpected_error_outside_the_model_call_is_500_in_openai_shape() -> None:
    from genaisys.serve import create_app

    class BrokenTools(ScriptedChat):
        def bind_tools(self, tools: object, **kwargs: object) -> object:
            raise RuntimeError("secret-bind-detail")

    app = create_app(BrokenTools(), api_key=API_KEY, model_id=MODEL_ID)
    with LiveServer(app) as live:
        resp = httpx.post(live.url + CHAT, headers=AUTH, json={
            "model": MODEL_ID, "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]})
    err = error_of(resp, 500)
    assert err["type"] == "server_error" and "secret" not in resp.text


@pytest.mark.parametrize("name", ["truncated.png", "empty.png", "broken.gif"])
def test_a_broken_image_in_a_graph_run_is_400_and_the_thread_still_works(tmp_path, name: str) -> None:
    import base64

    from genaisys.core.chat import ChatCore
    from genaisys.graphs import build_assistant_graph
    from genaisys.memory import HashingEmbedding
    from genaisys.memory.blobs import BlobStore
    from genaisys.serve import create_app
    from tests.graphs.fakes import broken_media
    from tests.standard_suites import tiny_vision_core

    blobs = BlobStore(tmp_path / "blobs")
    core = ChatCore(core=tiny_vision_core(), blobs=blobs, max_new_tokens=3)
    graph = build_assistant_graph(core, blobs=blobs, checkpointer=":memory:")
    app = create_app(core, api_key=API_KEY, model_id=MODEL_ID, embedder=HashingEmbedding(dim=16),
                     graphs={"assistant": graph})
    data, mime = broken_media()[name]
    url = "/v1/graphs/assistant/runs"
    with LiveServer(app) as live:
        first = httpx.post(live.url + url, headers=AUTH, json={"input": "hello", "thread_id": "t"}, timeout=60)
        assert first.status_code == 200, first.text
        bad = {"thread_id": "t", "input": [{"type": "text", "text": "What is in this photo?"}, {
            "type": "image_url", "image_url": {"url": f"data:{mime};base64,{base64.b64encode(data).decode()}"}}]}
        err = error_of(httpx.post(live.url + url, headers=AUTH, json=bad, timeout=60), 400)
        assert "cannot be" in err["message"]
        later = httpx.post(live.url + url, headers=AUTH, json={"input": "hello again", "thread_id": "t"}, timeout=60)
        assert later.status_code == 200, later.text
        roles = [m["role"] for m in later.json()["messages"]]
        assert roles == ["user", "assistant", "user", "assistant"]  # nothing of the refused turn
