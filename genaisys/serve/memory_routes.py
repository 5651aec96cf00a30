"""The memory over HTTP: ``POST /v1/memory/ingest`` and ``POST /v1/memory/search``.

Any process that can reach the server can fill and query its memory, so several servers that
share one memory (``genaisys serve --memory http://chroma-host:8000``, docs/deploy.md) show each
other's documents: ingest through one, find through another.

* ``POST /v1/memory/ingest`` — ``{"documents": [{"text", "source"?, "metadata"?}, ...]}``.
  Each text is chunked like an ingested file (`genaisys.memory.chunking.chunk_text`; every
  chunk keeps ``source``, ``start``/``end`` offsets and its ``chunk`` index) and stored with
  content-hash ids, so sending the same document twice stores it once. Answers
  ``{"object": "memory.ingest", "data": [{"index", "source", "ids"}], "chunks": n}``.
* ``POST /v1/memory/search`` — ``{"query", "k"?, "where"?}`` (``where``: a Chroma metadata
  filter such as ``{"source": "notes.md"}``). Answers ``{"object": "list", "data": [{"id",
  "text", "score", "source", "citation", "metadata"}]}``, best first.

A server without a memory answers both with 404 and the code ``memory_not_configured``; a bad
filter, an empty text or metadata Chroma cannot store is a 400 saying so. Auth and the body-size
limit are the app's (`genaisys.serve.app`), like every ``/v1`` route.

Example:
    >>> import tempfile
    >>> from fastapi import FastAPI
    >>> from genaisys.memory import ChromaMemory, HashingEmbedding
    >>> app = FastAPI()
    >>> add_memory_routes(app, ChromaMemory(tempfile.mkdtemp(), embedding=HashingEmbedding(32),
    ...                                     image_embedding=False))
    >>> sorted(r.path for r in app.routes if r.path.startswith("/v1/memory"))
    ['/v1/memory/ingest', '/v1/memory/search']
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from genaisys.errors import GenaisysError
from genaisys.serve.errors import ApiError, client_error, internal_error
from genaisys.types import Memory

__all__ = ["CHUNK_OVERLAP", "CHUNK_SIZE", "MAX_DOCUMENTS", "MAX_K", "MemoryDocument", "MemoryIngestRequest",
           "MemorySearchRequest", "add_memory_routes"]

CHUNK_SIZE = 1000  # characters per chunk, as `genaisys.memory.ingest.ingest` cuts files
CHUNK_OVERLAP = 150
MAX_DOCUMENTS = 1000  # per request; the app's body limit bounds the bytes
MAX_K = 50


class MemoryDocument(BaseModel):
    """One document to store: its text, where it came from, and metadata kept on every chunk."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, description="the document's text; long texts are chunked")
    source: str = Field(default="api", min_length=1, max_length=2000,
                        description="where the text came from (a file name, a URL); shown in citations")
    metadata: dict[str, str | int | float | bool] | None = Field(
        default=None, description="extra metadata stored on every chunk (str, int, float or bool values)")


class MemoryIngestRequest(BaseModel):
    """The body of ``POST /v1/memory/ingest``."""

    model_config = ConfigDict(extra="forbid")

    documents: list[MemoryDocument] = Field(min_length=1, max_length=MAX_DOCUMENTS)


class MemorySearchRequest(BaseModel):
    """The body of ``POST /v1/memory/search``."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=10_000)
    k: int = Field(default=4, ge=1, le=MAX_K)
    where: dict[str, Any] | None = Field(default=None, description="a Chroma metadata filter")


def _chunks(doc: MemoryDocument) -> tuple[list[str], list[dict[str, Any]]]:
    from genaisys.memory.chunking import chunk_text

    texts, metadatas = [], []
    for index, chunk in enumerate(chunk_text(doc.text, size=CHUNK_SIZE, overlap=CHUNK_OVERLAP)):
        texts.append(chunk.text)
        metadatas.append({**(doc.metadata or {}), "source": doc.source, "start": chunk.start, "end": chunk.end,
                          "chunk": index, "kind": "text"})
    return texts, metadatas


def _hit(hit: Any) -> dict[str, Any]:
    return {"id": getattr(hit, "id", None), "text": hit.text, "score": hit.score, "source": hit.source,
            "citation": getattr(hit, "citation", hit.source), "metadata": dict(getattr(hit, "metadata", {}) or {})}


def add_memory_routes(app: FastAPI, memory: Memory | None) -> None:
    """Add ``POST /v1/memory/ingest`` and ``POST /v1/memory/search`` over ``memory`` to ``app``.

    Args:
        app: the FastAPI app (its ``ApiError`` handler answers the errors raised here).
        memory: anything with ``add_texts`` and ``search`` (`genaisys.memory.ChromaMemory`); None
            keeps the routes, answering 404 ``memory_not_configured``, so clients learn why.
    """

    def require() -> Memory:
        if memory is None:
            raise ApiError(404, "this server has no memory; start it with --memory <folder> or --memory "
                                "http://<chroma host>:<port> (genaisys serve --help)", code="memory_not_configured")
        return memory

    @app.post("/v1/memory/ingest")
    async def memory_ingest(req: MemoryIngestRequest) -> dict[str, Any]:
        store = require()
        texts: list[str] = []
        metadatas: list[dict[str, Any]] = []
        spans = []
        for i, doc in enumerate(req.documents):
            if not doc.text.strip():
                raise ApiError(400, f"documents[{i}].text has only whitespace; send text to store",
                               param=f"documents[{i}].text")
            more, metas = _chunks(doc)
            spans.append((len(texts), len(texts) + len(more)))
            texts += more
            metadatas += metas
        try:
            ids = await asyncio.to_thread(store.add_texts, texts, metadatas)
        except GenaisysError as exc:
            raise client_error(exc) from None
        except Exception:  # noqa: BLE001 - logged with its traceback, answered without it
            raise internal_error("storing documents in the memory") from None
        return {"object": "memory.ingest", "chunks": len(ids),
                "data": [{"index": i, "source": doc.source, "ids": list(ids[a:b])}
                         for i, (doc, (a, b)) in enumerate(zip(req.documents, spans))]}

    @app.post("/v1/memory/search")
    async def memory_search(req: MemorySearchRequest) -> dict[str, Any]:
        store = require()
        if not req.query.strip():
            raise ApiError(400, "query has only whitespace; send the words to look for", param="query")
        try:
            hits = await asyncio.to_thread(
                lambda: store.search(req.query, k=req.k, where=req.where) if req.where else store.search(req.query, k=req.k))
        except GenaisysError as exc:
            raise client_error(exc) from None
        except Exception:  # noqa: BLE001
            raise internal_error("searching the memory") from None
        return {"object": "list", "data": [_hit(h) for h in hits]}
