"""Run the OpenAI-compatible server: `serve` (Python) and `serve_main` / `serve_app` (typer).

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


def serve(core_spec: str = "nano", host: str = "127.0.0.1", port: int = 8000, api_key: str | None = None,
          no_auth: bool = False, *, max_new_tokens: int = 256, batch_window_ms: float = 20.0,
          max_body_bytes: int | None = None, log_level: str = "info",
          tools: Sequence[str] = ("builtin:calculator", "builtin:clock"),
          checkpointer: str | None = None, constrain_tool_calls: bool = False,
          timeout_keep_alive: float = KEEP_ALIVE_S, dtype: str = "auto") -> None:
    """Load a core and serve it over HTTP with uvicorn until interrupted.

    Args:
        core_spec: what `genaisys.core.load_core` loads (``"nano"``, a folder, ``"asset:smollm2"``).
        host / port: where to listen (default loopback only).
        api_key: the Bearer key clients must send (default: ``$GENAISYS_API_KEY`` or a random one,
            printed at start-up).
        no_auth: serve without a key; allowed on a loopback host only.
        max_new_tokens: the core's cap on generated tokens (requests may ask for fewer).
        batch_window_ms: concurrent requests always decode as one running batch (continuous
            batching); when the core is idle, the first request waits this long for others to
            start with it.
        max_body_bytes: request size limit (default `genaisys.serve.app.DEFAULT_MAX_BODY_BYTES`).
        log_level: uvicorn's log level.
        tools: registry names of the tools the served ``assistant`` graph may call.
        checkpointer: where the ``assistant`` graph keeps its threads (a SQLite path,
            ``":memory:"``, a ``postgresql://`` DSN; default SQLite under ``$GENAISYS_HOME``). Ratings
            sent to ``POST /v1/feedback`` are kept beside it (docs/feedback.md).
        constrain_tool_calls: decode every tool call under the tools' grammar, also the calls the
            model chooses freely (forced calls and ``response_format`` always are).
        timeout_keep_alive: seconds an idle client connection is kept open (default
            `KEEP_ALIVE_S`, longer than clients' usual 5 s idle expiry).
        dtype: what the language model decodes in: ``"auto"`` (float32 until bf16 is measured to
            pay, see `genaisys.core.precision`), ``"float32"`` or ``"bfloat16"`` (faster on a CPU
            with native bf16, some answers differ).

    Raises:
        ConfigError: ``no_auth`` on a non-loopback host; an unknown core or ``dtype``.

    Example:
        >>> serve("nano", port=8000)  # doctest: +SKIP
    """
    if no_auth and not _is_loopback(host):
        raise ConfigError(f"no_auth=True is allowed only on a loopback host (127.0.0.1, ::1 or localhost), not "
                          f"{host!r}; set an API key to serve on other interfaces")
    import uvicorn

    from genaisys.core import load_core
    from genaisys.graphs import build_assistant_graph
    from genaisys.serve.app import DEFAULT_MAX_BODY_BYTES, create_app

    key = None if no_auth else (api_key or os.environ.get("GENAISYS_API_KEY"))
    if key is None and not no_auth:
        key = "sk-genaisys-" + secrets.token_urlsafe(24)
        print(f"genaisys serve: API key for this run (send 'Authorization: Bearer <key>'): {key}", file=sys.stderr)
    core = load_core(core_spec, max_new_tokens=max_new_tokens, batch_window_ms=batch_window_ms,
                     constrain_tool_calls=constrain_tool_calls, dtype=dtype)
    # The tool-augmented assistant, served at /v1/graphs/assistant/runs (threads persist).
    assistant = build_assistant_graph(core, tools=list(tools), checkpointer=checkpointer)
    app = create_app(core, api_key=key, allow_no_auth_on_loopback=no_auth,
                     model_id=getattr(core, "model_name", None) or core_spec,
                     max_body_bytes=max_body_bytes or DEFAULT_MAX_BODY_BYTES, graphs={"assistant": assistant})
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_keep_alive=timeout_keep_alive)


serve_app = typer.Typer(help="Serve a core over an OpenAI-compatible HTTP API, with a web chat page at /.")


@serve_app.command("serve")
def serve_main(core: str = typer.Option("nano", help="core to load: nano, a folder, asset:smollm2"),
               host: str = typer.Option("127.0.0.1", help="interface to bind (loopback by default)"),
               port: int = typer.Option(8000, help="TCP port"),
               api_key: str | None = typer.Option(None, envvar="GENAISYS_API_KEY",
                                                  help="Bearer key clients must send (default: a random one)"),
               no_auth: bool = typer.Option(False, "--no-auth", help="no key; only with a loopback --host"),
               max_new_tokens: int = typer.Option(256, help="cap on generated tokens per request"),
               batch_window_ms: float = typer.Option(20.0, help="when idle, how long a first request waits for others to start a batch together"),
               tool: list[str] = typer.Option(["builtin:calculator", "builtin:clock"], "--tool",
                                              help="a tool the assistant graph may call (repeat the option)"),
               checkpointer: str | None = typer.Option(None, help="SQLite path or postgresql:// DSN for threads"),
               constrain_tool_calls: bool = typer.Option(
                   False, "--constrain-tool-calls",
                   help="grammar-constrained tool calls also when the model chooses freely"),
               dtype: str = typer.Option("auto", help="decoding precision: auto, float32 or bfloat16"),
               ) -> None:
    """Serve a core (``genaisys serve``): /v1/chat/completions, /v1/models, /v1/embeddings, graphs, /."""
    try:
        serve(core, host=host, port=port, api_key=api_key, no_auth=no_auth, max_new_tokens=max_new_tokens,
              batch_window_ms=batch_window_ms, tools=tool, checkpointer=checkpointer,
              constrain_tool_calls=constrain_tool_calls, dtype=dtype)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _main(argv: Any = None) -> None:  # pragma: no cover - python -m genaisys.serve.server
    serve_app(argv)


if __name__ == "__main__":  # pragma: no cover
    _main()
