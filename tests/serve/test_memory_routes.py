"""``POST /v1/memory/ingest`` and ``/v1/memory/search``: stored, found, cited; refused with 4xx when wrong."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.serve.conftest import API_KEY, MODEL_ID, ScriptedChat

AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture()
def memory(tmp_path: Any) -> Any:
    from genaisys.memory import ChromaMemory, HashingEmbedding

    return ChromaMemory(tmp_path / "memory", embedding=HashingEmbedding(dim=64), image_embedding=False)


def _app(memory: Any, **kwargs: Any) -> Any:
    from genaisys.serve import create_app

    return create_app(ScriptedChat(), api_key=API_KEY, model_id=MODEL_ID, memory=memory, **kwargs)


def _post(app: Any, *calls: tuple[str, Any], headers: dict[str, str] | None = None) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     headers=AUTH if headers is None else headers) as client:
            return [await client.post(path, json=body) for path, body in calls]

    return asyncio.run(run())


def test_an_ingested_document_is_found_with_its_citation(memory: Any) -> None:
    long = "Filler sentence about nothing much. " * 40 + "The harbour lighthouse is painted red and white."
    docs = {"documents": [
        {"text": "The lighthouse keeper's cat is called Biscuit.", "source": "cats.md", "metadata": {"year": 2024}},
        {"text": long, "source": "harbour.md"}]}
    ingested, again, found, filtered = _post(
        _app(memory), ("/v1/memory/ingest", docs), ("/v1/memory/ingest", docs),
        ("/v1/memory/search", {"query": "what is the lighthouse keeper's cat called", "k": 2}),
        ("/v1/memory/search", {"query": "lighthouse", "k": 5, "where": {"source": "harbour.md"}}))
    assert ingested.status_code == 200, ingested.text
    body = ingested.json()
    assert body["object"] == "memory.ingest" and [d["source"] for d in body["data"]] == ["cats.md", "harbour.md"]
    assert len(body["data"][0]["ids"]) == 1 and len(body["data"][1]["ids"]) == 2  # the long text is chunked
    assert body["chunks"] == 3 and again.json()["data"] == body["data"] and memory.count() == 3  # stored once
    top = found.json()["data"][0]
    assert top["text"] == "The lighthouse keeper's cat is called Biscuit." and top["source"] == "cats.md"
    assert top["citation"] == "cats.md#chars=0-46" and top["metadata"]["year"] == 2024 and top["score"] > 0
    assert {h["source"] for h in filtered.json()["data"]} == {"harbour.md"}
    assert any("red and white" in h["text"] for h in filtered.json()["data"])


def test_bad_requests_get_a_400_that_says_what_is_wrong(memory: Any) -> None:
    app = _app(memory)
    cases = [
        ({"documents": []}, "documents"),
        ({"documents": [{"text": ""}]}, "documents.0.text"),
        ({"documents": [{"text": "   "}]}, "documents[0].text"),
        ({"documents": [{"text": "x", "metadata": {"tags": {"nested": 1}}}]}, "documents.0.metadata.tags"),
        ({"documents": [{"text": "x", "colour": "red"}]}, "documents.0.colour"),
    ]
    answers = _post(app, *[("/v1/memory/ingest", body) for body, _ in cases])
    for (body, param), answer in zip(cases, answers):
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["error"]["param"].startswith(param), (body, answer.json())
    searches = _post(app, ("/v1/memory/search", {"query": ""}), ("/v1/memory/search", {"query": "x", "k": 0}),
                     ("/v1/memory/search", {"query": "x", "where": {"$bogus": 1}}))
    assert [a.status_code for a in searches] == [400, 400, 400]
    assert searches[2].json()["error"]["code"] == "MemoryStoreError" and "filter" in searches[2].json()["error"]["message"]


def test_auth_size_limit_and_a_server_without_memory(memory: Any) -> None:
    (unauthorised,) = _post(_app(memory), ("/v1/memory/search", {"query": "x"}), headers={})
    assert unauthorised.status_code == 401
    (too_big,) = _post(_app(memory, max_body_bytes=2048),
                       ("/v1/memory/ingest", {"documents": [{"text": "word " * 1000}]}))
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "request_too_large"
    ingest, search = _post(_app(None), ("/v1/memory/ingest", {"documents": [{"text": "x"}]}),
                           ("/v1/memory/search", {"query": "x"}))
    for answer in (ingest, search):
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "memory_not_configured"
        assert "--memory" in answer.json()["error"]["message"]


def test_the_routes_are_in_the_published_schema(memory: Any) -> None:
    schema = _app(memory).openapi()
    for path in ("/v1/memory/ingest", "/v1/memory/search"):
        operation = schema["paths"][path]["post"]
        assert {"200", "400", "401", "404", "413"} <= set(operation["responses"]) and operation["security"]
    assert "MemoryIngestRequest" in schema["components"]["schemas"]
