"""Load the tools of any Model Context Protocol server as genaisys tools.

Built on the official `mcp` SDK (2.x): its ``Client`` speaks to the server, and each server tool
becomes a LangChain ``StructuredTool`` here. Each tool of server ``<server>`` is registered as
``"mcp:<server>/<tool>"`` in the tool registry and runs inside the safety wrapper like every
genaisys tool; its JSON argument schema is checked before the call and errors come back to the
model as text. A result's content blocks become LangChain content blocks: text, images and audio
(``base64`` + ``mime_type``), embedded resources as their text or a note, resource links as a
note; the server's ``structured_content`` is the tool message's ``artifact``.

Connections are dicts:

- stdio: ``{"transport": "stdio", "command": "python", "args": ["server.py"], "env": {...}, "cwd": ...}``;
- streamable HTTP: ``{"transport": "streamable_http", "url": "http://127.0.0.1:8000/mcp", "headers": {...}}``;
- SSE (older servers): ``{"transport": "sse", "url": "http://127.0.0.1:8000/sse", "headers": {...}}``.

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
import contextlib
import os
import re
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from typing import Any

from genaisys._optional import require
from genaisys.errors import ConfigError, ToolError

__all__ = ["MCPConnection", "aload_mcp_tools", "load_mcp_tools"]

_PIP = "mcp>=2.3,<3"
_TRANSPORTS = ("stdio", "streamable_http", "streamable-http", "http", "sse")
_SERVER_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
_MAX_PAGES = 100  # tools/list pages read before giving up on a server that never ends its listing

# Text meant for the model (templates, not exceptions).
_RESOURCE_NOTE = "[the tool returned the resource {uri} ({mime}), which is not text]"
_LINK_NOTE = "[the tool points to the resource {uri}: {name}]"
_TOOL_FAILED = "the MCP tool {name!r} reported an error: {text}"


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


def _errlog() -> Any:
    """Where a stdio server's stderr goes: ours, or the null device when ours is no real file.

    Under a test runner's capture or in a notebook ``sys.stderr`` has no file descriptor, and a
    subprocess cannot write to it.
    """
    try:
        sys.stderr.fileno()
        return sys.stderr
    except (AttributeError, OSError, ValueError):
        return open(os.devnull, "w")  # noqa: SIM115 - lives as long as the server process


@contextlib.asynccontextmanager
async def _client(connection: Mapping[str, Any]) -> AsyncIterator[Any]:
    """An initialised ``mcp.Client`` for ``connection`` (a checked dict)."""
    require("mcp", _PIP, feature="MCP tools")
    from mcp import Client

    transport = connection["transport"]
    if transport == "stdio":
        from mcp.client.stdio import StdioServerParameters, stdio_client

        params = StdioServerParameters(command=connection["command"], args=list(connection.get("args") or []),
                                       env=connection.get("env"), cwd=connection.get("cwd"))
        target: Any = stdio_client(params, errlog=_errlog())
    elif transport == "sse":
        from mcp.client.sse import sse_client

        target = sse_client(connection["url"], headers=connection.get("headers"))
    else:
        from mcp.client.streamable_http import streamable_http_client

        if connection.get("headers"):
            import httpx2  # the HTTP client the mcp SDK is built on

            # The SDK's own timeouts: a server may hold a response stream open for minutes.
            async with httpx2.AsyncClient(headers=dict(connection["headers"]),
                                          timeout=httpx2.Timeout(30.0, read=300.0)) as http:
                async with Client(streamable_http_client(connection["url"], http_client=http),
                                  mode="legacy") as client:
                    yield client
            return
        target = streamable_http_client(connection["url"])
    # "legacy": the initialize handshake every MCP server answers, new or old.
    async with Client(target, mode="legacy") as client:
        yield client


async def _list_tools(client: Any) -> list[Any]:
    tools, cursor = [], None
    for _ in range(_MAX_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            return tools
    raise ToolError(f"the MCP server's tool list did not end after {_MAX_PAGES} pages")


def _blocks(result: Any, name: str) -> tuple[str | list[dict[str, Any]], Any]:
    """An MCP ``CallToolResult`` → (LangChain content, artifact); an error result raises for the model."""
    from langchain_core.tools import ToolException

    blocks: list[dict[str, Any]] = []
    for item in result.content:
        kind = getattr(item, "type", None)
        if kind == "text":
            blocks.append({"type": "text", "text": item.text})
        elif kind in ("image", "audio"):
            blocks.append({"type": kind, "base64": item.data, "mime_type": item.mime_type})
        elif kind == "resource":
            res = item.resource
            text = getattr(res, "text", None)
            blocks.append({"type": "text", "text": text if isinstance(text, str) else _RESOURCE_NOTE.format(
                uri=res.uri, mime=getattr(res, "mime_type", None) or "binary")})
        elif kind == "resource_link":
            blocks.append({"type": "text", "text": _LINK_NOTE.format(uri=item.uri, name=item.name)})
    if result.is_error:
        text = "\n".join(b["text"] for b in blocks if b["type"] == "text") or "no details given"
        raise ToolException(_TOOL_FAILED.format(name=name, text=text))
    artifact = {"structured_content": result.structured_content} if result.structured_content is not None else None
    if all(b["type"] == "text" for b in blocks):
        return "\n".join(b["text"] for b in blocks), artifact
    return blocks, artifact


def _langchain_tool(spec: Any, call: Callable[[str, dict[str, Any]], Awaitable[Any]],
                    sync_call: Callable[[str, dict[str, Any]], Any] | None = None) -> Any:
    """A ``StructuredTool`` for one MCP tool; ``call`` runs it on the server and returns its result."""
    from langchain_core.tools import StructuredTool

    name = spec.name

    async def arun(**arguments: Any) -> tuple[Any, Any]:
        return _blocks(await call(name, arguments), name)

    def run(**arguments: Any) -> tuple[Any, Any]:
        if sync_call is not None:
            return _blocks(sync_call(name, arguments), name)
        return _run_sync(arun(**arguments))

    schema = spec.input_schema or {"type": "object", "properties": {}}
    return StructuredTool(name=name, description=spec.description or name, args_schema=schema, func=run,
                          coroutine=arun, response_format="content_and_artifact",
                          metadata={"mcp_annotations": spec.annotations.model_dump() if spec.annotations else None})


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
    require("mcp", _PIP, feature="MCP tools")
    try:
        async with _client(conn) as client:
            specs = await _list_tools(client)
    except Exception as exc:  # noqa: BLE001 — connection problems of any transport
        raise ToolError(f"cannot list the tools of MCP server {server!r}: {_describe(exc)}") from exc

    async def call(name: str, arguments: dict[str, Any]) -> Any:
        async with _client(conn) as client:  # a fresh session (and stdio process) per call
            return await client.call_tool(name, arguments)

    settings = {"timeout_s": 60.0, **(safety or {})}
    tools = [safe_tool(_langchain_tool(spec, call), **settings) for spec in specs]
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
        MissingDependencyError: ``mcp`` is not installed.

    Example:
        >>> load_mcp_tools("x", {"transport": "carrier-pigeon"})
        Traceback (most recent call last):
        ...
        genaisys.errors.ConfigError: MCP connection for 'x' needs 'transport' in ...
    """
    return _run_sync(aload_mcp_tools(server, connection, register=register, safety=safety))


def _describe(exc: BaseException) -> str:
    """One line for an error, looking inside the exception groups anyio raises."""
    while len(getattr(exc, "exceptions", ())) == 1:  # an ExceptionGroup of one
        exc = exc.exceptions[0]  # type: ignore[attr-defined]
    return f"{type(exc).__name__}: {exc}"


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
        require("mcp", _PIP, feature="MCP tools")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"genaisys-mcp-{server}", daemon=True)
        self._thread.start()
        self._client: Any = None
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
            raise ToolError(f"cannot connect to MCP server {server!r}: {_describe(exc)}") from exc

    async def _open(self) -> None:
        started: asyncio.Future[None] = self._loop.create_future()
        self._closing = asyncio.Event()

        async def hold() -> None:
            # The session's context manager must be entered and left in one task: this one.
            try:
                async with _client(self._connection) as client:
                    self._client = client
                    started.set_result(None)
                    assert self._closing is not None
                    await self._closing.wait()
            except BaseException as exc:  # noqa: BLE001 — reported to the constructor
                if not started.done():
                    started.set_exception(exc if isinstance(exc, Exception) else RuntimeError(repr(exc)))
                if not isinstance(exc, Exception):
                    raise
            finally:
                self._client = None

        self._holder = self._loop.create_task(hold())
        await started

    def _submit(self, coro: Coroutine[Any, Any, Any]) -> Any:
        if self._client is None:
            coro.close()
            raise ToolError(f"the connection to MCP server {self.server!r} is closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def _call(self, name: str, arguments: dict[str, Any]) -> Any:
        return await asyncio.wrap_future(self._submit(self._call_here(name, arguments)))

    async def _call_here(self, name: str, arguments: dict[str, Any]) -> Any:
        if self._client is None:
            raise ToolError(f"the connection to MCP server {self.server!r} is closed")
        return await self._client.call_tool(name, arguments)

    def _call_sync(self, name: str, arguments: dict[str, Any]) -> Any:
        return self._submit(self._call_here(name, arguments)).result()

    def tools(self, *, register: bool = True, safety: dict[str, Any] | None = None) -> list[Any]:
        """The server's tools as safe genaisys tools (and registered, unless ``register=False``)."""
        from genaisys.tools.registry import register_tool
        from genaisys.tools.safety import safe_tool

        try:
            specs = self._submit(_list_tools(self._client)).result(timeout=60)
        except ToolError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise ToolError(f"cannot list the tools of MCP server {self.server!r}: {_describe(exc)}") from exc
        settings = {"timeout_s": 60.0, **(safety or {})}
        out = []
        for spec in specs:
            safe = safe_tool(_langchain_tool(spec, self._call, self._call_sync), **settings)
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
