"""MCP both ways, with real server processes: a third-party stdio server's tools as genaisys
tools, and genaisys's own tools served over stdio and streamable HTTP (loopback)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from genaisys.errors import ConfigError, ToolError
from genaisys.tools import get_tool, list_tools, unregister_tool
from genaisys.tools.mcp_client import load_mcp_tools
from genaisys.tools.mcp_server import build_mcp_server, main
from tests.tools.conftest import build_scripted_graph, tool_call

ROOT = Path(__file__).resolve().parents[2]
NO_CACHE = {"idempotent_cache": None}

THIRD_PARTY_SERVER = textwrap.dedent(
    '''
    from mcp.server.fastmcp import FastMCP

    server = FastMCP("ext", log_level="WARNING")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def explode(reason: str) -> str:
        """Always fails."""
        raise RuntimeError(f"exploded: {reason}")

    server.run("stdio")
    '''
)


@pytest.fixture
def third_party_tools(tmp_path):
    script = tmp_path / "ext_server.py"
    script.write_text(THIRD_PARTY_SERVER)
    tools = load_mcp_tools("ext", {"transport": "stdio", "command": sys.executable, "args": [str(script)]},
                           safety=NO_CACHE)
    yield tools
    for name in list_tools("mcp"):
        if name.startswith("mcp:ext/"):
            unregister_tool(name)


def test_third_party_stdio_server_tools_become_genaisys_tools(third_party_tools):
    assert sorted(t.name for t in third_party_tools) == ["add", "explode"]
    assert {"mcp:ext/add", "mcp:ext/explode"} <= set(list_tools("mcp"))
    add = get_tool("mcp:ext/add")
    assert add.args_schema["required"] == ["a", "b"]
    assert add.invoke({"a": 2, "b": 40}) == "42"


def test_mcp_tools_in_a_real_graph_with_bad_calls(third_party_tools):
    script = [
        AIMessage("", tool_calls=[
            tool_call("add", {"a": 1, "b": 2}, "ok"),
            tool_call("add", {"a": "one"}, "bad-args"),
            tool_call("explode", {"reason": "test"}, "raises"),
        ]),
        AIMessage("finished"),
    ]
    out = build_scripted_graph(third_party_tools, script).invoke({"messages": [HumanMessage("go")]})
    by_id = {m.tool_call_id: m for m in out["messages"] if isinstance(m, ToolMessage)}
    assert by_id["ok"].status == "success" and by_id["ok"].content == "3"
    assert by_id["bad-args"].status == "error"
    assert by_id["bad-args"].content.startswith("Invalid arguments for tool 'add':")
    assert "'b' is a required property" in by_id["bad-args"].content
    assert by_id["raises"].status == "error" and "exploded: test" in by_id["raises"].content
    assert out["messages"][-1].content == "finished"


def test_genaisys_tools_served_over_stdio():
    tools = load_mcp_tools(
        "self",
        {"transport": "stdio", "command": sys.executable,
         "args": ["-m", "genaisys.tools.mcp_server", "builtin:calculator", "builtin:clock"], "cwd": str(ROOT)},
        register=False, safety=NO_CACHE,
    )
    by_name = {t.name: t for t in tools}
    assert set(by_name) == {"calculator", "current_time"}
    assert "mcp:self/calculator" not in list_tools()
    assert by_name["calculator"].invoke({"expression": "6 * 7"}) == "42"
    refused = by_name["calculator"].invoke(tool_call("calculator", {"expression": "9**9**9"}, "c1"))
    assert refused.status == "error" and "exponents are limited" in refused.content


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_genaisys_tools_served_over_streamable_http(tmp_path):
    port = _free_port()
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "genaisys.tools.mcp_server", "builtin:calculator",
         "--transport", "streamable-http", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, stdout=log, stderr=log,
    )
    try:
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.time() > deadline or process.poll() is not None:
                    raise AssertionError(f"MCP server did not start: {(tmp_path / 'server.log').read_text()}") from None
                time.sleep(0.1)
        tools = load_mcp_tools("web", {"transport": "streamable_http", "url": f"http://127.0.0.1:{port}/mcp"},
                               register=False, safety=NO_CACHE)
        (calc,) = tools
        assert calc.invoke({"expression": "2 ** 10"}) == "1024"
        bad = calc.invoke(tool_call("calculator", {"expression": 5}, "c1"))
        assert bad.status == "error" and "Invalid arguments" in bad.content
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def test_server_in_process_lists_schemas_and_reports_errors():
    from mcp.server.fastmcp.exceptions import ToolError as MCPToolError

    server = build_mcp_server(["builtin:calculator"])

    async def run():
        listed = await server.list_tools()
        ok = await server.call_tool("calculator", {"expression": "1 + 1"})
        with pytest.raises(MCPToolError, match="Invalid arguments for tool 'calculator'"):
            await server.call_tool("calculator", {"expr": "1"})
        with pytest.raises(MCPToolError, match="exponents are limited"):
            await server.call_tool("calculator", {"expression": "9**9**9"})
        return listed, ok

    listed, ok = asyncio.run(run())
    (spec,) = listed
    assert spec.name == "calculator" and spec.inputSchema["required"] == ["expression"]
    blocks = ok[0] if isinstance(ok, tuple) else ok
    assert blocks[0].text == "2"


def test_server_config_errors():
    with pytest.raises(ConfigError, match="at least one tool"):
        build_mcp_server([])
    with pytest.raises(ConfigError, match="share the name"):
        build_mcp_server(["builtin:calculator", "builtin:calculator"])
    with pytest.raises(ConfigError, match="needs memory"):
        build_mcp_server(["builtin:memory_search"])
    with pytest.raises(SystemExit):
        main(["builtin:calculator", "--transport", "carrier-pigeon"])


def test_client_config_errors_and_unreachable_server():
    with pytest.raises(ConfigError, match="needs 'transport'"):
        load_mcp_tools("x", {"command": "python"})
    with pytest.raises(ConfigError, match="needs 'command'"):
        load_mcp_tools("x", {"transport": "stdio"})
    with pytest.raises(ConfigError, match="server names"):
        load_mcp_tools("a/b", {"transport": "stdio", "command": "python"})
    with pytest.raises(ToolError, match="cannot list the tools of MCP server 'dead'"):
        load_mcp_tools("dead", {"transport": "stdio", "command": sys.executable, "args": ["-c", "pass"]})
