"""Load the tools of any Model Context Protocol server as genaisys tools.

Built on `langchain-mcp-adapters` (which speaks MCP through the official `mcp` SDK). Each tool
of server ``<server>`` is registered as ``"mcp:<server>/<tool>"`` in the tool registry and runs
inside the safety wrapper like every genaisys tool; its JSON argument schema is checked before
the call and errors come back to the model as text.

Connections are the adapters' dicts:

- stdio: ``{"transport": "stdio", "command": "python", "args": ["server.py"], "env": {...}}``;
- streamable HTTP: ``{"transport": "streamable_http", "url": "http://127.0.0.1:8000/mcp"}``.

Two ways to connect:

- `load_mcp_tools` opens a new session for every call (for stdio: a new server process each
  time, ~1-2 s, no state shared between calls) — simple and robust;
- `MCPConnection` keeps one session open on a background event loop, shared by the server's
  tools (one server process for stdio; calls take milliseconds and the server keeps its state)
  until `MCPConnection.close`.

Example:
    >>> import sys
    >>> tools = load_mcp_tools("genaisys", {"transport": "stdio", "command": sys.executable,
    ...     "args": ["-m", "genaisys.tools.mcp_server", "builtin:calculator"]})  # doctest: +SKIP
    >>> get_tool("mcp:genaisys/calculator").invoke({"expression": "2 + 2"})  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import threading
from collections.abc import Coroutine, Mapping
from typing import Any

from genaisys._optional import require
from genaisys.errors import ConfigError, ToolError

__all__ = ["MCPConnection", "aload_mcp_tools", "load_mcp_tools"]

_PIP = "langchain-mcp-adapters==0.3.2"
_TRANSPORTS = ("stdio", "streamable_http", "streamable-http", "http", "sse", "websocket")
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
            register_tool(f"mcp:{server}/{t.name}", _constant(t), safety=None, replace=True)
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


def _constant(tool: Any) -> Any:
    """A registry factory that takes no resources and returns this already-built tool."""

    def factory() -> Any:
        return tool

    return factory


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


class MCPConnection:
    """One long-lived session to an MCP server, shared by all of its tools.

    The session lives on a private event loop in a daemon thread, so sync and async callers
    (and LangGraph's ``ToolNode`` thread pool) can all use the tools.

    Args:
        server: A short name; tools register as ``"mcp:<server>/<tool>"``.
        connection: How to reach the server (see the module docstring).
        connect_timeout_s: How long to wait for the server to start and answer ``initialize``.

    Raises:
        ConfigError: A malformed server name or connection.
        ToolError: The server cannot be started or reached in time.

    Example:
        >>> import sys
        >>> with MCPConnection("calc", {"transport": "stdio", "command": sys.executable,
        ...         "args": ["-m", "genaisys.tools.mcp_server", "builtin:calculator"]}) as conn:  # doctest: +SKIP
        ...     (calc,) = conn.tools()
        ...     calc.invoke({"expression": "2 + 2"})
        '4'
    """

    def __init__(self, server: str, connection: Mapping[str, Any], *, connect_timeout_s: float = 60.0) -> None:
        self.server = server
        self._connection = _check(server, connection)
        require("langchain_mcp_adapters", _PIP, feature="MCP tools")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"genaisys-mcp-{server}", daemon=True)
        self._thread.start()
        self._session: Any = None
        self._closing: asyncio.Event | None = None
        self._holder: Any = None
        self._registered: list[str] = []
        ready: Any = asyncio.run_coroutine_threadsafe(self._open(), self._loop)
        try:
            ready.result(timeout=connect_timeout_s)
        except Exception as exc:  # noqa: BLE001 — any start-up failure of any transport
            self._stop_loop()
            if isinstance(exc, (TimeoutError, concurrent.futures.TimeoutError)):  # distinct classes on 3.10
                raise ToolError(f"MCP server {server!r} did not answer within {connect_timeout_s:g} s") from exc
            raise ToolError(f"cannot connect to MCP server {server!r}: {type(exc).__name__}: {exc}") from exc

    async def _open(self) -> None:
        started: asyncio.Future[None] = self._loop.create_future()
        self._closing = asyncio.Event()

        async def hold() -> None:
            # The session's context manager must be entered and left in one task: this one.
            from langchain_mcp_adapters.sessions import create_session

            try:
                async with create_session(self._connection) as session:  # type: ignore[arg-type]
                    await session.initialize()
                    self._session = session
                    started.set_result(None)
                    assert self._closing is not None
                    await self._closing.wait()
            except BaseException as exc:  # noqa: BLE001 — reported to the constructor
                if not started.done():
                    started.set_exception(exc if isinstance(exc, Exception) else RuntimeError(repr(exc)))
                if not isinstance(exc, Exception):
                    raise
            finally:
                self._session = None

        self._holder = self._loop.create_task(hold())
        await started

    def _submit(self, coro: Coroutine[Any, Any, Any]) -> Any:
        if self._session is None:
            coro.close()
            raise ToolError(f"the connection to MCP server {self.server!r} is closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def tools(self, *, register: bool = True, safety: dict[str, Any] | None = None) -> list[Any]:
        """The server's tools as safe genaisys tools (and registered, unless ``register=False``)."""
        from langchain_core.tools import StructuredTool
        from langchain_mcp_adapters.tools import load_mcp_tools as _adapter_load

        from genaisys.tools.registry import register_tool
        from genaisys.tools.safety import safe_tool

        try:
            raw = self._submit(_adapter_load(self._session, server_name=self.server)).result(timeout=60)
        except ToolError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise ToolError(
                f"cannot list the tools of MCP server {self.server!r}: {type(exc).__name__}: {exc}"
            ) from exc
        settings = {"timeout_s": 60.0, **(safety or {})}
        out = []
        for tool in raw:
            remote = tool.coroutine  # runs on our loop, where the session lives

            def call_sync(_remote: Any = remote, **kwargs: Any) -> Any:
                return self._submit(_remote(**kwargs)).result()

            async def call_async(_remote: Any = remote, **kwargs: Any) -> Any:
                return await asyncio.wrap_future(self._submit(_remote(**kwargs)))

            bridged = StructuredTool(
                name=tool.name, description=tool.description, args_schema=tool.args_schema,
                func=call_sync, coroutine=call_async, response_format=tool.response_format,
                handle_tool_error=tool.handle_tool_error, metadata=tool.metadata,
            )
            safe = safe_tool(bridged, **settings)
            out.append(safe)
            if register:
                name = f"mcp:{self.server}/{safe.name}"
                register_tool(name, _constant(safe), replace=True)
                self._registered.append(name)
        return out

    def close(self) -> None:
        """End the session (stops a stdio server process) and unregister the tools."""
        from genaisys.tools.registry import list_tools, unregister_tool

        if self._closing is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._closing.set)
            if self._holder is not None:
                try:
                    asyncio.run_coroutine_threadsafe(asyncio.wait([self._holder], timeout=10), self._loop).result(15)
                except Exception:  # noqa: BLE001 — closing is best effort
                    pass
        self._stop_loop()
        known = set(list_tools("mcp"))
        for name in self._registered:
            if name in known:
                unregister_tool(name)
        self._registered.clear()

    def _stop_loop(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        if not self._loop.is_running() and not self._loop.is_closed():
            self._loop.close()

    def __enter__(self) -> MCPConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
