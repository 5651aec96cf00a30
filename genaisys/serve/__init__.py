"""genaisys.serve: the OpenAI-compatible HTTP server and its web chat page (docs/architecture.md: layer 4).

* ``app.py`` — `create_app(core, ...)`: FastAPI app with ``/v1/chat/completions`` (text,
  images, tools, SSE streaming), ``/v1/models``, ``/v1/embeddings``, ``/v1/graphs/{name}/runs``,
  ``/v1/feedback`` (ratings of graph answers) and the assistant's page at ``/``.
* ``memory_routes.py`` — ``/v1/memory/ingest`` and ``/v1/memory/search`` over the app's memory.
* ``errors.py`` — `ApiError`: every error answered in OpenAI's JSON shape.
* ``server.py`` — `serve(...)`: load a core and run the app under uvicorn; `serve_main` is the
  same as a typer command (``genaisys serve``).
* ``backends.py`` — what servers share to scale out (docs/deploy.md): a ``chroma run`` memory
  and a remote core (`RemoteCore`); threads share a ``postgresql://`` checkpointer.
* ``chat.html`` — the assistant's web page: served graphs, each answer's steps and media, ratings
  (one file, no build step, no CDN).

Nothing heavy loads at import: FastAPI, uvicorn and the core load on first use (PEP 562).

Example:
    >>> import genaisys.serve
    >>> "create_app" in genaisys.serve.__all__
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from genaisys._lazy import lazy_exports

_LAZY = {
    "ApiError": "genaisys.serve.app",
    "create_app": "genaisys.serve.app",
    "serve": "genaisys.serve.server",
    "serve_main": "genaisys.serve.server",
    "serve_app": "genaisys.serve.server",
}

__all__ = sorted(_LAZY)

if TYPE_CHECKING:
    from genaisys.serve.app import ApiError, create_app
    from genaisys.serve.server import serve, serve_app, serve_main


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
