"""What a server may share with other servers: the core it decodes with and the memory it keeps.

Several ``genaisys serve`` processes behind one load balancer act as one assistant when they share
three backends (docs/deploy.md):

* threads — the ``assistant`` graph's checkpointer, a ``postgresql://`` DSN
  (`genaisys.graphs.checkpoint.postgres_checkpointer`);
* memory — `build_served_memory`: a ``chroma run`` server by its ``http://host:port`` URL
  (or, for one process alone, an embedded Chroma folder);
* decoding — `build_remote_core`: an OpenAI-compatible server (vLLM, TGI, another
  ``genaisys serve``) as a `RemoteCore`, so no process holds a model of its own.

Example:
    >>> parse_memory_url("http://10.0.0.5:8000")
    ('10.0.0.5', 8000, False)
    >>> parse_memory_url("./memory") is None
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from genaisys.errors import ConfigError

if TYPE_CHECKING:
    from genaisys.core.remote import RemoteCore
    from genaisys.memory import ChromaMemory

__all__ = ["build_remote_core", "build_served_memory", "parse_memory_url"]


def parse_memory_url(spec: str) -> tuple[str, int, bool] | None:
    """``(host, port, ssl)`` of a ``chroma run`` server URL, or None when ``spec`` is a folder.

    Raises:
        ConfigError: an ``http(s)://`` URL without a host, with a path, or with a bad port.
    """
    if not spec.lower().startswith(("http://", "https://")):
        return None
    parts = urlsplit(spec)
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"memory URL {spec!r} has a bad port; write http://<host>:<port>") from None
    if not parts.hostname or parts.path.strip("/") or parts.query or parts.fragment:
        raise ConfigError(f"memory URL {spec!r} should be just http://<host>:<port> of a 'chroma run' server "
                          "(no path, query or user name)")
    ssl = parts.scheme.lower() == "https"
    return parts.hostname, port or (443 if ssl else 8000), ssl


def build_served_memory(spec: str, *, embedding: str | None = None, collection: str = "genaisys",
                        blobs: str | Path | None = None) -> ChromaMemory:
    """The memory a server reads and writes: a ``chroma run`` server (shared) or a folder (one process).

    Args:
        spec: ``http://host:port`` (or ``https://``) of a ``chroma run`` server, which any number
            of servers share; or a folder for an embedded store, which only one process may open
            at a time (Chroma's rule).
        embedding: an embedding spec (`genaisys.memory.chroma.EMBEDDINGS`: ``"hashing:64"``,
            ``"sentence-transformer"`` …); default the collection's recorded one, else the
            packaged MiniLM. Every server sharing a collection must embed alike: a mismatch is
            refused when the memory opens.
        collection: the Chroma collection (images go to ``<collection>-images``).
        blobs: where this process keeps raw media (images added to the memory); default
            ``<folder>/blobs`` for a folder, ``$GENAISYS_HOME/blobs`` for a server URL. The blob
            store is a local folder: servers share it only if they mount the same one.

    Raises:
        ConfigError: a malformed URL or embedding spec.
        MemoryStoreError: the store cannot be opened (the Chroma server is not running, say).

    Example:
        >>> import tempfile
        >>> memory = build_served_memory(tempfile.mkdtemp(), embedding="hashing:64")
        >>> memory.embedding
        HashingEmbedding(dim=64)
    """
    from genaisys.errors import MemoryStoreError
    from genaisys.memory import ChromaMemory
    from genaisys.memory.chroma import build_embedding

    server = parse_memory_url(spec)
    text_embedding = build_embedding(embedding) if embedding else None
    if server is None:
        return ChromaMemory(spec, collection=collection, embedding=text_embedding, blobs=blobs)
    import chromadb

    from genaisys.assets import cache_dir

    host, port, ssl = server
    try:
        client = chromadb.HttpClient(host=host, port=port, ssl=ssl,
                                     settings=chromadb.Settings(anonymized_telemetry=False))
    except (ValueError, ConnectionError) as exc:  # chromadb's "Could not connect to a Chroma server"
        raise MemoryStoreError(f"cannot reach the Chroma server at {spec} ({exc}); start it with "
                               f"'chroma run --host <interface> --port {port} --path <folder>' first") from exc
    return ChromaMemory(collection=collection, embedding=text_embedding, client=client,
                        blobs=blobs if blobs is not None else cache_dir() / "blobs")


def build_remote_core(base_url: str, *, model: str | None = None, api_key: str | None = None,
                      max_tokens: int | None = None, transport: Any = None) -> RemoteCore:
    """A `RemoteCore` on an OpenAI-compatible server (vLLM, TGI, another ``genaisys serve``).

    Args:
        base_url: the API root, e.g. ``http://backend:8000/v1``.
        model: the model name the server expects; default the first one its ``GET /models`` lists.
        api_key: the server's Bearer key, if it wants one.
        max_tokens: the cap on generated tokens per call (None: the server's default).
        transport: an ``httpx`` transport (tests use ``httpx.MockTransport``).

    Raises:
        ConfigError: ``base_url`` is not an http(s) URL; ``model`` is None and the server's model
            list cannot be read.

    Example:
        >>> import httpx
        >>> models = httpx.MockTransport(lambda r: httpx.Response(200, json={"data": [{"id": "tiny"}]}))
        >>> build_remote_core("http://backend:8000/v1", transport=models).model
        'tiny'
    """
    from genaisys.core.remote import RemoteCore

    if not base_url.lower().startswith(("http://", "https://")):
        raise ConfigError(f"remote core URL {base_url!r} is not an http(s) URL; write e.g. http://backend:8000/v1")
    base_url = base_url.rstrip("/")
    if model is None:
        model = _first_model(base_url, api_key, transport)
    return RemoteCore(base_url=base_url, model=model, api_key=api_key, max_tokens=max_tokens, transport=transport)


def _first_model(base_url: str, api_key: str | None, transport: Any) -> str:
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    url = f"{base_url}/models"
    try:
        with httpx.Client(transport=transport, timeout=10) as client:
            response = client.get(url, headers=headers)
        if response.status_code != 200:
            problem = f"it answered {response.status_code}: {response.text[:200]}"
        else:
            return str(response.json()["data"][0]["id"])
    except httpx.HTTPError as exc:
        problem = f"{type(exc).__name__}: {exc}"
    except (ValueError, KeyError, IndexError, TypeError):
        problem = f"no model in its answer {response.text[:200]!r}"
    raise ConfigError(f"cannot read the model list at {url} ({problem}); start the backend first, check its key "
                      "(--remote-api-key), or name the model (--remote-model)")
