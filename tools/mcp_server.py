"""Expose genaisys tools as a Model Context Protocol server (stdio or streamable HTTP).

Each tool is taken from the registry (``"builtin:calculator"`` …) or given as a LangChain tool,
and runs behind the safety wrapper: the MCP client gets the tool's JSON schema, and a call
that fails validation, times out or raises comes back as an MCP error result (``isError``)
whose text says what went wrong. Built on the official `mcp` SDK (2.x) and its ``MCPServer``.
A client that hangs up on the streamable-HTTP transport is an ordinary event, logged in one line,
not a traceback.

Command line: ``genaisys mcp serve`` (`mcp_app`, which the main CLI mounts); ``python -m
genaisys.tools.mcp_server`` runs the same command::

    genaisys mcp serve builtin:calculator builtin:clock
    genaisys mcp serve builtin:calculator --transport streamable-http --port 8765

Example:
    >>> server = build_mcp_server(["builtin:calculator"])  # doctest: +SKIP
    >>> server.run("stdio")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import typer

from genaisys._optional import require
from genaisys.errors import ConfigError

__all__ = ["build_mcp_server", "main", "serve_mcp"]

_PIP = "mcp>=2.3,<3"
Transport = Literal["stdio", "streamable-http"]


def _resolve(tools: Sequence[Any], resources: Mapping[str, Mapping[str, Any]] | None) -> list[Any]:
    from genaisys.tools.registry import get_tool
    from genaisys.tools.safety import SafeTool, safe_tool

    out = []
    for spec in tools:
        if isinstance(spec, str):
            out.append(get_tool(spec, **dict((resources or {}).get(spec, {}))))
        elif isinstance(spec, SafeTool):
            out.append(spec)
        else:
            out.append(safe_tool(spec))
    names = [t.name for t in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"two tools share the name(s) {dupes}; MCP tool names must be unique")
    if not out:
        raise ConfigError("an MCP server needs at least one tool, e.g. ['builtin:calculator']")
    return out


def _to_mcp_tool(tool: Any) -> Any:
    """An MCP server tool whose arguments go to the safe tool as given (it validates them itself)."""
    from mcp.server.mcpserver.exceptions import ToolError as MCPToolError
    from mcp.server.mcpserver.tools import Tool
    from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
    from pydantic import ConfigDict

    class _RawArguments(ArgModelBase):
        # Validation is the safety wrapper's job: pass the client's arguments through untouched,
        # so a bad call gets genaisys's model-facing validation text.
        model_config = ConfigDict(extra="allow", arbitrary_types_allowed=True)

        def model_dump_one_level(self) -> dict[str, Any]:
            return dict(self.model_extra or {})

    async def call(**arguments: Any) -> Any:
        message = await tool.ainvoke(
            {"type": "tool_call", "id": f"mcp-{uuid.uuid4().hex}", "name": tool.name, "args": arguments}
        )
        if getattr(message, "status", "success") == "error":
            raise MCPToolError(str(message.content))
        return message.content

    schema = tool.tool_call_schema_json() or {"type": "object", "properties": {}}
    schema = {k: v for k, v in schema.items() if k != "title"} | {"type": "object"}
    return Tool(
        fn=call,
        name=tool.name,
        description=tool.description or tool.name,
        parameters=schema,
        fn_metadata=FuncMetadata(arg_model=_RawArguments),
        is_async=True,
    )


def build_mcp_server(
    tools: Sequence[Any],
    *,
    name: str = "genaisys",
    resources: Mapping[str, Mapping[str, Any]] | None = None,
) -> Any:
    """An ``mcp.server.mcpserver.MCPServer`` offering ``tools`` (run it with `serve_mcp`).

    Args:
        tools: Registry names (``"builtin:calculator"``), LangChain tools or typed functions.
        name: The server name announced to clients.
        resources: Per-tool resources for `get_tool`, e.g.
            ``{"builtin:file_reader": {"roots": ["./docs"]}}``.

    Raises:
        ConfigError: No tools, duplicate names, or a tool missing its resources.
        UnknownNameError: A registry name is unknown.
        MissingDependencyError: ``mcp`` is not installed.
    """
    require("mcp", _PIP, feature="the MCP server")
    from mcp.server.mcpserver import MCPServer

    safe = _resolve(tools, resources)
    return MCPServer(name, tools=[_to_mcp_tool(t) for t in safe], log_level="WARNING")


class _QuietDisconnects(logging.Filter):
    """Turns the SDK's traceback for a client that hung up mid-session into one plain line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and _is_disconnect(exc):
            record.msg, record.args, record.exc_info, record.exc_text = (
                "MCP client disconnected (%s)", (type(exc).__name__,), None, None)
            record.levelno, record.levelname = logging.INFO, "INFO"
        return record.levelno >= logging.getLogger(record.name).getEffectiveLevel()


def _is_disconnect(exc: BaseException) -> bool:
    import anyio

    if isinstance(exc, (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream,
                        ConnectionResetError, BrokenPipeError)):
        return True
    group = getattr(exc, "exceptions", None)  # an ExceptionGroup of disconnects
    return bool(group) and all(_is_disconnect(e) for e in group)


def _quiet_disconnects() -> None:
    """Install `_QuietDisconnects` on the loggers the MCP SDK reports transport errors through."""
    for name in ("mcp", "mcp.server", "mcp.server.streamable_http", "mcp.server.streamable_http_manager",
                 "mcp.server.lowlevel.server", "mcp.shared"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _QuietDisconnects) for f in logger.filters):
            logger.addFilter(_QuietDisconnects())


def serve_mcp(
    tool_names: Sequence[Any],
    *,
    transport: Transport = "stdio",
    host: str = "127.0.0.1",
    port: int = 8000,
    name: str = "genaisys",
    resources: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Run an MCP server for ``tool_names`` until it is stopped (blocks).

    Args:
        tool_names: Registry names or tools (see `build_mcp_server`).
        transport: ``"stdio"`` (for a client that starts this process) or ``"streamable-http"``
            (served at ``http://<host>:<port>/mcp``).
        host: Interface for streamable HTTP; keep the default loopback unless the tools are meant
            for other machines.
        port: Port for streamable HTTP.
        name: Server name.
        resources: Per-tool resources (see `build_mcp_server`).

    Raises:
        ConfigError: An unknown transport (and everything `build_mcp_server` raises).
    """
    if transport not in ("stdio", "streamable-http"):
        raise ConfigError(f"transport must be 'stdio' or 'streamable-http', got {transport!r}")
    server = build_mcp_server(tool_names, name=name, resources=resources)
    _quiet_disconnects()
    if transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=host, port=port)


mcp_app = typer.Typer(help="Model Context Protocol: serve genaisys tools to any MCP client.", no_args_is_help=True,
                      pretty_exceptions_enable=False)


@mcp_app.callback()
def _mcp() -> None:
    """Model Context Protocol: serve genaisys tools to any MCP client."""  # keeps `serve` a subcommand


@mcp_app.command("serve")
def mcp_serve(tools: list[str] = typer.Argument(..., help="registry names, e.g. builtin:calculator builtin:clock"),
              transport: Literal["stdio", "streamable-http"] = typer.Option("stdio", help="stdio or streamable-http"),
              host: str = typer.Option("127.0.0.1", help="bind address for streamable-http"),
              port: int = typer.Option(8000, help="port for streamable-http"),
              name: str = typer.Option("genaisys", help="server name shown to clients"),
              root: list[str] = typer.Option([], help="a folder builtin:file_reader may read (repeatable)"),
              allow_host: list[str] = typer.Option([], help="a host builtin:http_fetch may reach (repeatable)"),
              ) -> None:
    """Serve genaisys tools over MCP (stdio by default)."""
    resources: dict[str, dict[str, Any]] = {}
    if root:
        resources["builtin:file_reader"] = {"roots": root}
    if allow_host:
        resources["builtin:http_fetch"] = {"allow_hosts": allow_host}
    serve_mcp(tools, transport=transport, host=host, port=port, name=name, resources=resources)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m genaisys.tools.mcp_server TOOL... [--transport T] ...``: the same as ``genaisys mcp serve``."""
    import sys

    typer.main.get_command(mcp_app)(["serve", *(sys.argv[1:] if argv is None else argv)], prog_name="genaisys mcp")


if __name__ == "__main__":
    main()
