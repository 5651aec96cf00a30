"""Load the tools of any Model Context Protocol server as genaisys tools.

Built on `langchain-mcp-adapters` (which speaks MCP through the official `mcp` SDK). Each tool
of server ``<server>`` is registered as ``"mcp:<server>/<tool>"`` in the tool registry and runs
inside the safety wrapper like every genaisys tool; its JSON argument schema is checked before
the call and errors come back to the model as text.

Connections are the adapters' dicts:

- stdio: ``{"transport": "stdio", "command": "python", "args": ["server.py"], "env": {...}}``
  (the server process is started for each call, so calls do not share server state);
- streamable HTTP: ``{"transport": "streamable_http", "url": "http://127.0.0.1:8000/mcp"}``.

Example:
    >>> import sys
    >>> tools = load_mcp_tools("genaisys", {"transport": "stdio", "command": sys.executable,
    ...     "args": ["-m", "genaisys.tools.mcp_server", "builtin:calculator"]})  # doctest: +SKIP
    >>> get_tool("mcp:genaisys/calculator").invoke({"expression": "2 + 2"})  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Coroutine, Mapping
from typing import Any

from genaisys._optional import require
from genaisys.errors import ConfigError, ToolError

__all__ = ["aload_mcp_tools", "load_mcp_tools"]

_PIP = "langchain-mcp-adapters==0.3.2"
_TRANSPORTS = ("stdio", "streamable_http", "http", "sse", "websocket")
_SERVER_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


def _check(server: str, connection: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(server, str) or not _SERVER_NAME.match(server):
        raise ConfigError(f"MCP server names use letters, digits, '_', '.', '-' (got {server!r})")
    if not isinstance(connection, Mapping):
        raise ConfigError(f"the MCP connection must be a dict, got {type(connection).__name__}")
    transport = connection.get("transport")
    if transport not in _TRANSPORTS:
        raise ConfigError(
            f"MCP connection for {server!r} needs 'transport' in {_TRANSPORTS}, got {transport!r}: "
            "e.g. {'transport': 'stdio', 'command': 'python', 'args': ['server.py']} or "
            "{'transport': 'streamable_http', 'url': 'http://127.0.0.1:8000/mcp'}"
        )
    if transport == "stdio" and not connection.get("command"):
        raise ConfigError(f"stdio MCP connection for {server!r} needs 'command'")
    if transport != "stdio" and not connection.get("url"):
        raise ConfigError(f"{transport} MCP connection for {server!r} needs 'url'")
    return dict(connection)


async def aload_mcp_tools(
    server: str,
    connection: Mapping[str, Any],
    *,
    register: bool = True,
    safety: dict[str, Any] | None = None,
) -> list[Any]:
    """Async `load_mcp_tools`."""
    from genaisys.tools.registry import register_tool
    from genaisys.tools.safety import safe_tool

    conn = _check(server, connection)
    require("langchain_mcp_adapters", _PIP, feature="MCP tools")
    from langchain_mcp_adapters.tools import load_mcp_tools as _adapter_load

    try:
        raw = await _adapter_load(None, connection=conn, server_name=server)  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 — connection problems of any transport
        raise ToolError(f"cannot list the tools of MCP server {server!r}: {type(exc).__name__}: {exc}") from exc
    settings = {"timeout_s": 60.0, **(safety or {})}
    tools = [safe_tool(t, **settings) for t in raw]
    if register:
        for t in tools:
            register_tool(f"mcp:{server}/{t.name}", (lambda tool=t: tool), safety=None, replace=True)
    return tools


def load_mcp_tools(
    server: str,
    connection: Mapping[str, Any],
    *,
    register: bool = True,
    safety: dict[str, Any] | None = None,
) -> list[Any]:
    """Connect to an MCP server, list its tools, and return them as safe genaisys tools.

    Args:
        server: A short name for the server; tools register as ``"mcp:<server>/<tool>"``.
        connection: How to reach it (see the module docstring).
        register: Add the tools to the registry (replacing earlier ones of the same name).
        safety: `safe_tool` settings for these tools (default timeout 60 s).

    Returns:
        `genaisys.tools.safety.SafeTool` objects, one per server tool.

    Raises:
        ConfigError: A malformed server name or connection.
        ToolError: The server cannot be reached or does not answer ``tools/list``.
        MissingDependencyError: ``langchain-mcp-adapters`` is not installed.
    """
    return _run_sync(aload_mcp_tools(server, connection, register=register, safety=safety))


def _run_sync(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine from sync code, also when this thread already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 — re-raised in the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=work, name="genaisys-mcp", daemon=True)
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
