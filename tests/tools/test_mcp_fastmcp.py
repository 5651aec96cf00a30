"""genaisys's MCP server and client beside fastmcp 4 (on mcp 2.x), in one environment, both ways."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

from genaisys.tools.mcp_client import MCPConnection

ROOT = Path(__file__).resolve().parents[2]


def test_fastmcp_client_calls_genaisys_tools_over_stdio():
    from fastmcp import Client
    from fastmcp.client.transports import StdioTransport

    async def run():
        transport = StdioTransport(sys.executable, ["-m", "genaisys.tools.mcp_server", "builtin:calculator"],
                                   cwd=str(ROOT))
        async with Client(transport) as client:
            names = [t.name for t in await client.list_tools()]
            ok = await client.call_tool("calculator", {"expression": "6 * 7"})
            bad = await client.call_tool("calculator", {"expression": "9**9**9"}, raise_on_error=False)
            return names, ok, bad

    names, ok, bad = asyncio.run(run())
    assert names == ["calculator"] and ok.content[0].text == "42"
    assert bad.is_error and "exponents are limited" in bad.content[0].text


def test_genaisys_client_loads_a_fastmcp_servers_tools(tmp_path):
    script = tmp_path / "fast_server.py"
    script.write_text(textwrap.dedent('''
        from fastmcp import FastMCP

        server = FastMCP("fast")

        @server.tool
        def shout(word: str) -> str:
            """Upper-case a word."""
            return word.upper()

        server.run("stdio", show_banner=False)
    '''))
    with MCPConnection("fast", {"transport": "stdio", "command": sys.executable, "args": [str(script)]}) as conn:
        (shout,) = conn.tools(register=False)
        assert shout.invoke({"word": "owl"}) == "OWL"
        assert shout.args_schema["required"] == ["word"]
