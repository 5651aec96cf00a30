"""Run the OpenAI-compatible server: `serve` (Python) and `serve_main` / `serve_app` (typer).

One server is one process with its own core, threads and memory. Several servers act as one
(behind a load balancer, docs/deploy.md) when they share the three backends that hold state:
threads (``checkpointer="postgresql://..."``), memory (``memory="http://chroma-host:8000"``)
and decoding (``remote_core="http://backend:8000/v1"``, a `RemoteCore` instead of a local model).

Auth is on by default. The key comes from ``api_key=``, else the ``GENAISYS_API_KEY``
environment variable, else a random one is made and printed once at start-up. ``no_auth=True``
is accepted only for a loopback host (127.0.0.1, ::1, localhost), and the app then still refuses
non-loopback clients.

Example:
    >>> serve("nano", host="0.0.0.0", no_auth=True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    genaisys.errors.ConfigError: no_auth=True is allowed only on a loopback host ..., not '0.0.0.0'; ...
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import sys
from collections.abc import Sequence
from typing import Any

import typer

from genaisys.errors import ConfigError

__all__ = ["KEEP_ALIVE_S", "serve", "serve_app", "serve_main"]

# How long an idle keep-alive connection stays open. uvicorn's default (5 s) equals httpx's client
# idle expiry (5 s), so a client could reuse a connection in the instant the server closes it and
# get a ReadError on a request the server never saw; a longer server side closes that window.
KEEP_ALIVE_S = 65


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(core_spec: str | None = None, host: str = "127.0.0.1", port: int = 8000, api_key: str | None = None,
          no_auth: bool = False, *, max_new_tokens: int = 256, batch_window_ms: float = 20.0,
          max_body_bytes: int | None = None, log_level: str = "info",
          tools: Sequence[str] = ("builtin:calculator", "builtin:clock"),
          checkpointer: str | None = None, constrain_tool_calls: bool = False,
          timeout_keep_alive: float = KEEP_ALIVE_S, dtype: str = "auto",
          remote_core: str | None = None, remote_model: str | None = None, remote_api_key: str | None = None,
          memory: str | None = None, memory_embedding: str | None = None,
          memory_collection: str = "genaisys") -> None:
    """Load a core (or connect to a remote one) and serve it over HTTP with uvicorn until interrupted.

    Args:
        core_spec: what `genaisys.core.load_core` loads (``"nano"``, a folder, ``"asset:smollm2"``);
            default ``"nano"``. Not with ``remote_core``.
        host / port: where to listen (default loopback only).
        api_key: the Bearer key clients must send (default: ``$GENAISYS_API_KEY`` or a random one,
            printed at start-up).
        no_auth: serve without a key; allowed on a loopback host only.
        max_new_tokens: the core's cap on generated tokens (requests may ask for fewer); with
            ``remote_core``, the ``max_tokens`` sent with every call.
        batch_window_ms: a local core decodes concurrent requests as one running batch (continuous
            batching); when it is idle, the first request waits this long for others to start with
            it (a remote server batches by its own rules).
        max_body_bytes: request size limit (default `genaisys.serve.app.DEFAULT_MAX_BODY_BYTES`).
        log_level: uvicorn's log level.
        tools: registry names of the tools the served ``assistant`` graph may call.
        checkpointer: where the ``assistant`` graph keeps its threads (a SQLite path,
            ``":memory:"``, a ``postgresql://`` DSN; default SQLite under ``$GENAISYS_HOME``).
            Servers that share one ``postgresql://`` DSN continue each other's threads. Ratings
            sent to ``POST /v1/feedback`` are kept beside it (docs/feedback.md).
        constrain_tool_calls: decode every tool call under the tools' grammar, also the calls the
            model chooses freely (forced calls and ``response_format`` always are). Local cores only.
        timeout_keep_alive: seconds an idle client connection is kept open (default
            `KEEP_ALIVE_S`, longer than clients' usual 5 s idle expiry).
        dtype: what the language model decodes in: ``"auto"`` (float32 until bf16 is measured to
            pay, see `genaisys.core.precision`), ``"float32"`` or ``"bfloat16"`` (faster on a CPU
            with native bf16, some answers differ). Local cores only.
        remote_core: the API root of an OpenAI-compatible server that decodes for this one
            (``http://backend:8000/v1``: vLLM, TGI, another ``genaisys serve``); a `RemoteCore`
            then answers chat completions and thinks in the ``assistant`` graph.
        remote_model: the model name ``remote_core`` expects (default: the first its
            ``/models`` lists).
        remote_api_key: ``remote_core``'s Bearer key (default ``$GENAISYS_REMOTE_API_KEY``).
        memory: the memory of the ``assistant`` graph (recalled every turn, handed to memory
            tools) and of ``/v1/memory/ingest`` and ``/v1/memory/search``: an
            ``http://host:port`` ``chroma run`` server, which servers share, or a folder, which
            one process owns. Default: none (the memory routes answer 404).
        memory_embedding: the memory's embedding spec (``"hashing:64"``, ``"sentence-transformer"``);
            default the collection's recorded one, else the packaged MiniLM.
        memory_collection: the Chroma collection of the memory.

    Raises:
        ConfigError: ``no_auth`` on a non-loopback host; an unknown core or ``dtype``; a local
            core's setting (``core_spec``, ``dtype``, ``constrain_tool_calls``) with ``remote_core``;
            a bad memory URL; the remote model list cannot be read.
        MemoryStoreError: the memory cannot be opened (its Chroma server is down, say).
        GraphError: the ``postgresql://`` checkpointer cannot be reached.

    Example:
        >>> serve("nano", port=8000)  # doctest: +SKIP
        >>> serve(remote_core="http://backend:8000/v1", checkpointer="postgresql://genaisys@db/genaisys",
        ...       memory="http://chroma:8000", host="0.0.0.0", port=8080)  # doctest: +SKIP
    """
    if no_auth and not _is_loopback(host):
        raise ConfigError(f"no_auth=True is allowed only on a loopback host (127.0.0.1, ::1 or localhost), not "
                          f"{host!r}; set an API key to serve on other interfaces")
    if remote_core is not None:
        local = [name for name, given in (("core", core_spec is not None), ("dtype", dtype != "auto"),
                                          ("constrain_tool_calls", constrain_tool_calls)) if given]
        if local:
            raise ConfigError(f"{', '.join(local)} set a local core, but remote_core={remote_core!r} decodes "
                              "elsewhere; give one or the other")
    elif remote_model is not None:
        raise ConfigError("remote_model names the model of a remote core; give remote_core=<its URL> too")
    import uvicorn

    from genaisys.graphs import build_assistant_graph
    from genaisys.serve.app import DEFAULT_MAX_BODY_BYTES, create_app

    key = None if no_auth else (api_key or os.environ.get("GENAISYS_API_KEY"))
    if key is None and not no_auth:
        key = "sk-genaisys-" + secrets.token_urlsafe(24)
        print(f"genaisys serve: API key for this run (send 'Authorization: Bearer <key>'): {key}", file=sys.stderr)
    if remote_core is not None:
        from genaisys.serve.backends import build_remote_core

        core: Any = build_remote_core(remote_core, model=remote_model, max_tokens=max_new_tokens,
                                      api_key=remote_api_key or os.environ.get("GENAISYS_REMOTE_API_KEY"))
        model_id = core.model
    else:
        from genaisys.core import load_core

        core = load_core(core_spec or "nano", max_new_tokens=max_new_tokens, batch_window_ms=batch_window_ms,
                         constrain_tool_calls=constrain_tool_calls, dtype=dtype)
        model_id = getattr(core, "model_name", None) or core_spec or "nano"
    store = None
    if memory is not None:
        from genaisys.serve.backends import build_served_memory

        store = build_served_memory(memory, embedding=memory_embedding, collection=memory_collection)
    # The tool-augmented assistant, served at /v1/graphs/assistant/runs (threads persist).
    assistant = build_assistant_graph(core, tools=list(tools), checkpointer=checkpointer, memory=store)
    app = create_app(core, api_key=key, allow_no_auth_on_loopback=no_auth, model_id=model_id, memory=store,
                     max_body_bytes=max_body_bytes or DEFAULT_MAX_BODY_BYTES, graphs={"assistant": assistant})
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_keep_alive=timeout_keep_alive)


serve_app = typer.Typer(help="Serve a core over an OpenAI-compatible HTTP API, with a web chat page at /.")


@serve_app.command("serve")
def serve_main(core: str | None = typer.Option(None, help="core to load: nano (default), a folder, asset:smollm2"),
               host: str = typer.Option("127.0.0.1", help="interface to bind (loopback by default)"),
               port: int = typer.Option(8000, help="TCP port"),
               api_key: str | None = typer.Option(None, envvar="GENAISYS_API_KEY",
                                                  help="Bearer key clients must send (default: a random one)"),
               no_auth: bool = typer.Option(False, "--no-auth", help="no key; only with a loopback --host"),
               max_new_tokens: int = typer.Option(256, help="cap on generated tokens per request"),
               batch_window_ms: float = typer.Option(20.0, help="when idle, how long a first request waits for others to start a batch together"),
               tool: list[str] = typer.Option(["builtin:calculator", "builtin:clock"], "--tool",
                                              help="a tool the assistant graph may call (repeat the option)"),
               checkpointer: str | None = typer.Option(
                   None, help="SQLite path or postgresql:// DSN for threads (servers on one DSN share them)"),
               constrain_tool_calls: bool = typer.Option(
                   False, "--constrain-tool-calls",
                   help="grammar-constrained tool calls also when the model chooses freely"),
               dtype: str = typer.Option("auto", help="decoding precision: auto, float32 or bfloat16"),
               remote_core: str | None = typer.Option(
                   None, help="decode on an OpenAI-compatible server instead of a local core: its API root, "
                              "e.g. http://backend:8000/v1 (vLLM, TGI, another genaisys serve)"),
               remote_model: str | None = typer.Option(
                   None, help="the model name --remote-core expects (default: the first of its /models)"),
               remote_api_key: str | None = typer.Option(None, envvar="GENAISYS_REMOTE_API_KEY",
                                                         help="Bearer key of --remote-core"),
               memory: str | None = typer.Option(
                   None, help="memory of the assistant graph and /v1/memory: http://host:port of a 'chroma run' "
                              "server (shared by many servers) or a folder (one process)"),
               memory_embedding: str | None = typer.Option(
                   None, help="the memory's embedding, e.g. sentence-transformer or hashing:64 "
                              "(default: the collection's recorded one, else the packaged MiniLM)"),
               memory_collection: str = typer.Option("genaisys", help="the memory's Chroma collection"),
               ) -> None:
    """Serve a core (``genaisys serve``): /v1/chat/completions, /v1/models, /v1/embeddings, graphs, memory, /.

    To run several servers as one (docs/deploy.md), give each the same ``--checkpointer
    postgresql://...``, ``--memory http://chroma-host:port`` and ``--remote-core http://backend/v1``.
    """
    from genaisys.errors import GraphError, MemoryStoreError

    try:
        serve(core, host=host, port=port, api_key=api_key, no_auth=no_auth, max_new_tokens=max_new_tokens,
              batch_window_ms=batch_window_ms, tools=tool, checkpointer=checkpointer,
              constrain_tool_calls=constrain_tool_calls, dtype=dtype, remote_core=remote_core,
              remote_model=remote_model, remote_api_key=remote_api_key, memory=memory,
              memory_embedding=memory_embedding, memory_collection=memory_collection)
    except (ConfigError, GraphError, MemoryStoreError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _main(argv: Any = None) -> None:  # pragma: no cover - python -m genaisys.serve.server
    serve_app(argv)


if __name__ == "__main__":  # pragma: no cover
    _main()
