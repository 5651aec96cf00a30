"""`genaisys.serve.backends`: memory URLs, the remote core's model list, and their errors."""

from __future__ import annotations

import httpx
import pytest

from genaisys.errors import ConfigError, MemoryStoreError
from genaisys.serve.backends import build_remote_core, build_served_memory, parse_memory_url


def test_memory_specs() -> None:
    assert parse_memory_url("http://chroma:8001") == ("chroma", 8001, False)
    assert parse_memory_url("https://chroma.internal/") == ("chroma.internal", 443, True)
    assert parse_memory_url("HTTP://10.0.0.5") == ("10.0.0.5", 8000, False)
    assert parse_memory_url("/srv/memory") is None and parse_memory_url("memory") is None
    for bad in ("http://chroma:8000/api/v2", "http://:8000", "http://chroma:port", "http://chroma:8000?x=1"):
        with pytest.raises(ConfigError, match="memory URL"):
            parse_memory_url(bad)


def test_a_chroma_server_that_is_not_running_is_named() -> None:
    with pytest.raises(MemoryStoreError, match=r"cannot reach the Chroma server at http://127\.0\.0\.1:1 .*chroma run"):
        build_served_memory("http://127.0.0.1:1", embedding="hashing:32")


def test_the_remote_model_defaults_to_the_first_the_server_lists() -> None:
    seen = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), request.headers.get("authorization")))
        return httpx.Response(200, json={"object": "list", "data": [{"id": "tiny-served"}, {"id": "genaisys-embed"}]})

    core = build_remote_core("http://backend:9000/v1/", api_key="sk-b", transport=httpx.MockTransport(answer))
    assert core.model == "tiny-served" and core.base_url == "http://backend:9000/v1"
    assert seen == [("http://backend:9000/v1/models", "Bearer sk-b")]
    named = build_remote_core("http://backend:9000/v1", model="m", transport=httpx.MockTransport(answer))
    assert named.model == "m" and len(seen) == 1  # a named model needs no look-up


@pytest.mark.parametrize("status, body", [(401, {"error": {"message": "incorrect API key"}}), (200, {"data": []}),
                                          (200, {"nothing": 1})])
def test_an_unreadable_model_list_says_how_to_fix_it(status: int, body: dict) -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(status, json=body))
    with pytest.raises(ConfigError, match=r"cannot read the model list at http://b/v1/models .*--remote-model"):
        build_remote_core("http://b/v1", transport=transport)
    with pytest.raises(ConfigError, match="not an http"):
        build_remote_core("backend:9000/v1")


def test_a_front_forwards_each_request_s_sampling_settings_to_its_remote_core() -> None:
    """A front serving a RemoteCore passes the client's max_tokens (capped by its own), temperature
    and top_p on to the backend, as a local core takes them."""
    import json

    from genaisys.core.remote import RemoteCore
    from genaisys.serve import create_app
    from tests.serve.conftest import LiveServer

    bodies = []

    def backend(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json={"id": "c", "object": "chat.completion", "created": 0, "model": "m",
                                         "choices": [{"index": 0, "finish_reason": "stop",
                                                      "message": {"role": "assistant", "content": "hi"}}]})

    core = RemoteCore(base_url="http://backend/v1", model="m", max_tokens=64, transport=httpx.MockTransport(backend))
    with LiveServer(create_app(core, api_key="k", model_id="m")) as front:
        ask = {"model": "m", "messages": [{"role": "user", "content": "Hello"}]}
        for extra in ({"max_tokens": 5, "temperature": 0.7, "top_p": 0.9}, {"max_tokens": 500}, {}):
            response = httpx.post(f"{front.url}/v1/chat/completions", json={**ask, **extra},
                                  headers={"Authorization": "Bearer k"}, timeout=30)
            assert response.status_code == 200 and response.json()["choices"][0]["message"]["content"] == "hi"
    assert [(b["max_tokens"], b.get("temperature"), b.get("top_p")) for b in bodies] == [
        (5, 0.7, 0.9), (64, None, None), (64, None, None)]
