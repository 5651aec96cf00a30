"""Scale out, end to end on loopback: two ``genaisys serve`` fronts act as one assistant.

What docs/deploy.md describes, started for real: PostgreSQL (threads), ``chroma run`` (memory),
one backend ``genaisys serve`` of a tiny random core standing in for vLLM (decoding), and two
front ``genaisys serve`` processes with no model of their own, each given the same
``--checkpointer postgresql://…``, ``--memory http://…`` and ``--remote-core http://…/v1``.
A thread begun on one front goes on on the other; a document ingested through one is found
through the other, also by the assistant's recall. Every process is stopped by its PID.

Skips (saying why) only where the PostgreSQL binaries or the chroma CLI are missing.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.loopback_servers import chroma_cli, chroma_server, postgres_server
from tests.serve.conftest import ServeProcess

pytestmark = pytest.mark.processes  # ~35 s, most of it starting the five servers; in the default run

pytest.importorskip(
    "langgraph.checkpoint.postgres",
    reason="pip install 'langgraph-checkpoint-postgres>=3.2' 'psycopg[binary]>=3.3' 'psycopg-pool>=3.3'",
)

BACKEND_KEY = "sk-backend"
FRONT_KEY = "sk-fronts"
CAT = "The lighthouse keeper's cat is called Biscuit and sleeps on the lamp room stairs."


def _client(server: ServeProcess) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.api_key}"}, timeout=120)


def _ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, f"{response.request.url}: {response.status_code} {response.text[:500]}"
    return response.json()


@pytest.fixture()
def deployment(tiny_core_folder: Path, tmp_path: Path) -> Any:
    """PostgreSQL, chroma run, a backend and fronts A and B; all stopped at the end."""
    if chroma_cli() is None:
        pytest.skip("no chroma CLI beside the interpreter (pip install chromadb)")
    with contextlib.ExitStack() as stack:
        dsn = stack.enter_context(postgres_server())  # skips where PostgreSQL cannot be had
        chroma_port = stack.enter_context(chroma_server(tmp_path / "chroma"))
        backend = ServeProcess(tiny_core_folder, api_key=BACKEND_KEY, log=tmp_path / "backend.log")
        stack.callback(backend.__exit__)
        shared = ("--remote-core", f"{backend.url}/v1", "--remote-model", tiny_core_folder.name,
                  "--remote-api-key", BACKEND_KEY, "--memory", f"http://127.0.0.1:{chroma_port}",
                  "--memory-embedding", "hashing:64")
        fronts = []
        for name in ("a", "b"):
            front = ServeProcess(api_key=FRONT_KEY, checkpointer=dsn, extra=shared, max_new_tokens=8,
                                 log=tmp_path / f"front-{name}.log")
            stack.callback(front.__exit__)
            fronts.append(front)
        for server in (backend, *fronts):  # all three start at once; wait for each to answer
            server.__enter__()
        yield backend, *fronts


def test_two_fronts_share_threads_memory_and_one_decoding_backend(deployment: Any, tiny_core_folder: Path) -> None:
    backend, a, b = deployment
    with _client(backend) as to_backend, _client(a) as to_a, _client(b) as to_b:
        # Both fronts serve the backend's model, and decode there: B answers as the backend does.
        assert [m["id"] for m in _ok(to_b.get("/v1/models"))["data"]][0] == tiny_core_folder.name
        ask = {"model": tiny_core_folder.name, "messages": [{"role": "user", "content": "Say something."}],
               "max_tokens": 8}
        direct = _ok(to_backend.post("/v1/chat/completions", json=ask))["choices"][0]["message"]["content"]
        via_b = _ok(to_b.post("/v1/chat/completions", json=ask))["choices"][0]["message"]["content"]
        assert via_b == direct

        # A document ingested through A is found through B.
        ingested = _ok(to_a.post("/v1/memory/ingest", json={"documents": [
            {"text": CAT, "source": "cats.md"},
            {"text": "The harbour dog is called Anchor and guards the fish market.", "source": "dogs.md"}]}))
        assert ingested["chunks"] == 2
        hits = _ok(to_b.post("/v1/memory/search", json={"query": "what is the lighthouse keeper's cat called",
                                                         "k": 2}))["data"]
        assert hits[0]["source"] == "cats.md" and hits[0]["text"] == CAT
        assert hits[0]["id"] == ingested["data"][0]["ids"][0]

        # A thread begun on A goes on on B: B's graph sees A's turn, and recalls what A ingested.
        first = _ok(to_a.post("/v1/graphs/assistant/runs", json={"input": "Hello, I am Ada.", "thread_id": "t-1"}))
        assert [m["role"] for m in first["messages"]] == ["user", "assistant"]
        second = _ok(to_b.post("/v1/graphs/assistant/runs",
                               json={"input": "What is the lighthouse keeper's cat called?", "thread_id": "t-1"}))
        assert [m["role"] for m in second["messages"]] == ["user", "assistant", "user", "assistant"]
        assert second["messages"][0]["content"] == "Hello, I am Ada."
        assert second["messages"][1]["content"] == first["output"]  # A's answer, read back from PostgreSQL
        assert second["messages"][2]["content"] == "What is the lighthouse keeper's cat called?"
        assert second["messages"][3]["content"] == second["output"]
        assert second["context"][0]["source"] == "cats.md" and "Biscuit" in second["context"][0]["text"]
        # ...and A sees B's turn in turn.
        third = _ok(to_a.post("/v1/graphs/assistant/runs", json={"input": "Thanks.", "thread_id": "t-1"}))
        assert len(third["messages"]) == 6 and third["messages"][3]["content"] == second["output"]
