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
from genaisys.tools.mcp_client import MCPConnection, load_mcp_tools
from genaisys.tools.mcp_server import build_mcp_server, main
from tests.tools.conftest import build_scripted_graph, tool_call

ROOT = Path(__file__).resolve().parents[2]

THIRD_PARTY_SERVER = textwrap.dedent(
    '''
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("ext", log_level="WARNING")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    calls = []

    @server.tool()
    def count() -> str:
        """Count calls in this server process."""
        import os
        calls.append(1)
        return f"{len(calls)}@{os.getpid()}"

    @server.tool()
    def explode(reason: str) -> str:
        """Always fails, saying why (an anticipated failure: its text reaches the client)."""
        from mcp.server.mcpserver.exceptions import ToolError

        raise ToolError(f"exploded: {reason}")

    @server.tool(structured_output=False)
    def picture(broken: bool):
        """A 4x4 PNG, or bytes that only claim to be one."""
        import base64, io
        from mcp_types import ImageContent, TextContent
        from PIL import Image

        buf = io.BytesIO()
        Image.new("RGB", (4, 4), (255, 0, 0)).save(buf, "PNG")
        data = buf.getvalue()[:20] if broken else buf.getvalue()
        return [TextContent(type="text", text="snapshot:"),
                ImageContent(type="image", data=base64.b64encode(data).decode(), mime_type="image/png")]

    server.run("stdio")
    '''
)


@pytest.fixture
def third_party_tools(tmp_path):
    script = tmp_path / "ext_server.py"
    script.write_text(THIRD_PARTY_SERVER)
    tools = load_mcp_tools("ext", {"transport": "stdio", "command": sys.executable, "args": [str(script)]})
    yield tools
    for name in list_tools("mcp"):
        if name.startswith("mcp:ext/"):
            unregister_tool(name)


def test_third_party_stdio_server_tools_become_genaisys_tools(third_party_tools):
    assert sorted(t.name for t in third_party_tools) == ["add", "count", "explode", "picture"]
    assert {"mcp:ext/add", "mcp:ext/count", "mcp:ext/explode"} <= set(list_tools("mcp"))
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


def test_an_mcp_image_reaches_the_core_and_a_broken_one_becomes_a_note(third_party_tools):
    from genaisys.core.chat import ChatCore
    from tests.standard_suites import tiny_vision_core

    picture = get_tool("mcp:ext/picture")
    chat = ChatCore(core=tiny_vision_core(), max_new_tokens=2)
    seen = {}
    for broken in (False, True):
        result = picture.invoke(tool_call("picture", {"broken": broken}, f"p{broken}"))
        assert result.status == "success" and [b["type"] for b in result.content] == ["text", "image"]
        history = [HumanMessage("Show me."), AIMessage("", tool_calls=[tool_call("picture", {"broken": broken},
                                                                                f"p{broken}")]), result]
        prompt, images = chat.render_prompt(history)
        seen[broken] = (len(images), "cannot be read" in prompt)
        assert chat.invoke(history).usage_metadata["output_tokens"] <= 2  # the model call goes on
    assert seen == {False: (1, False), True: (0, True)}


def test_per_call_sessions_share_no_state(third_party_tools):
    count = get_tool("mcp:ext/count")
    first, second = count.invoke({}), count.invoke({})
    assert first.startswith("1@") and second.startswith("1@") and first != second  # a new process each call


def test_persistent_connection_keeps_one_server_process(tmp_path):
    import os

    script = tmp_path / "ext_server.py"
    script.write_text(THIRD_PARTY_SERVER)
    with MCPConnection("extp", {"transport": "stdio", "command": sys.executable, "args": [str(script)]}) as conn:
        tools = {t.name: t for t in conn.tools()}
        assert "mcp:extp/count" in list_tools("mcp")
        start = time.perf_counter()
        results = [tools["count"].invoke({}) for _ in range(3)]
        assert time.perf_counter() - start < 2.0  # no process start per call
        pids = {r.split("@")[1] for r in results}
        assert [r.split("@")[0] for r in results] == ["1", "2", "3"] and len(pids) == 1
        assert asyncio.run(tools["add"].ainvoke({"a": 1, "b": 1})) == "2"
        bad = tools["explode"].invoke(tool_call("explode", {"reason": "r"}, "c1"))
        assert bad.status == "error" and "exploded: r" in bad.content
    assert "mcp:extp/count" not in list_tools("mcp")
    pid = int(pids.pop())
    deadline = time.time() + 10
    while time.time() < deadline:  # the stdio server process ends with the session
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"MCP server process {pid} still runs after close()")
    after = tools["count"].invoke(tool_call("count", {}, "c2"))
    assert after.status == "error" and "is closed" in after.content


def test_persistent_connection_to_a_dead_server_is_a_clear_error():
    with pytest.raises(ToolError, match="cannot connect to MCP server 'dead'"):
        MCPConnection("dead", {"transport": "stdio", "command": sys.executable, "args": ["-c", "pass"]})


def test_genaisys_tools_served_over_stdio():
    connection = {"transport": "stdio", "command": sys.executable,
                  "args": ["-m", "genaisys.tools.mcp_server", "builtin:calculator", "builtin:clock"], "cwd": str(ROOT)}
    with MCPConnection("self", connection) as conn:
        by_name = {t.name: t for t in conn.tools(register=False)}
        assert set(by_name) == {"calculator", "current_time"}
        assert "mcp:self/calculator" not in list_tools()
        assert by_name["calculator"].invoke({"expression": "6 * 7"}) == "42"
        refused = by_name["calculator"].invoke(tool_call("calculator", {"expression": "9**9**9"}, "c1"))
        assert refused.status == "error" and "exponents are limited" in refused.content
        assert "UTC offset +00:00" in by_name["current_time"].invoke({"timezone": "UTC"})


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
        connection = {"transport": "streamable_http", "url": f"http://127.0.0.1:{port}/mcp"}
        (calc,) = load_mcp_tools("web", connection, register=False)  # a session per call
        assert calc.invoke({"expression": "2 ** 10"}) == "1024"
        bad = calc.invoke(tool_call("calculator", {"expression": 5}, "c1"))
        assert bad.status == "error" and "Invalid arguments" in bad.content
        with MCPConnection("web", connection) as conn:  # one session for many calls
            (calc,) = conn.tools(register=False)
            assert [calc.invoke({"expression": f"{i} * 3"}) for i in range(3)] == ["0", "3", "6"]
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def test_server_in_process_lists_schemas_and_reports_errors():
    from mcp.server.mcpserver.exceptions import ToolError as MCPToolError

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
    assert spec.name == "calculator" and spec.input_schema["required"] == ["expression"]
    assert ok.content[0].text == "2" and not ok.is_error


def test_a_client_hanging_up_is_one_line_not_a_traceback(caplog):
    import logging

    import anyio

    from genaisys.tools.mcp_server import _quiet_disconnects

    _quiet_disconnects()
    logger = logging.getLogger("mcp.server.streamable_http")
    logger.setLevel(logging.INFO)
    try:
        with caplog.at_level(logging.INFO, logger="mcp.server.streamable_http"):
            try:
                raise anyio.ClosedResourceError
            except anyio.ClosedResourceError:
                logger.exception("Unexpected closure of read stream in message router")
            try:
                raise ValueError("a real bug")
            except ValueError:
                logger.exception("Error in message router")
    finally:
        logger.setLevel(logging.NOTSET)
    quiet, real = caplog.records
    assert quiet.getMessage() == "MCP client disconnected (ClosedResourceError)" and quiet.exc_info is None
    assert quiet.levelname == "INFO"
    assert real.exc_info is not None and real.levelname == "ERROR"  # other errors keep their traceback


def test_streamable_http_server_logs_no_traceback_when_clients_leave(tmp_path):
    port = _free_port()
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "genaisys.tools.mcp_server", "builtin:calculator",
             "--transport", "streamable-http", "--port", str(port)], cwd=ROOT, stdout=log, stderr=log)
        try:
            _wait_for_port(port, process, log_path)
            connection = {"transport": "streamable_http", "url": f"http://127.0.0.1:{port}/mcp"}
            with MCPConnection("leaving", connection) as conn:  # a clean goodbye
                (calc,) = conn.tools(register=False)
                assert calc.invoke({"expression": "1 + 1"}) == "2"
            client = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
                from genaisys.tools.mcp_client import MCPConnection
                conn = MCPConnection("gone", {connection!r})
                conn.tools(register=False)
                print("up", flush=True)
                import time; time.sleep(60)
            """)], cwd=ROOT, stdout=subprocess.PIPE)
            assert client.stdout.readline().strip() == b"up"
            client.kill()  # a client that vanishes mid-session
            client.wait(10)
            client.stdout.close()
            time.sleep(1.0)
        finally:
            process.terminate()
            process.wait(10)
    text = log_path.read_text()
    assert "Traceback" not in text and "ClosedResourceError" not in text, text


def _wait_for_port(port: int, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.time() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            if time.time() > deadline or process.poll() is not None:
                raise AssertionError(f"MCP server did not start: {log_path.read_text()}") from None
            time.sleep(0.1)


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


def test_server_passes_resources_to_tools_that_need_them(tmp_path):
    (tmp_path / "hello.txt").write_text("hello from a root")
    server = build_mcp_server(["builtin:file_reader"], resources={"builtin:file_reader": {"roots": [str(tmp_path)]}})

    async def run():
        ok = await server.call_tool("read_file", {"path": "hello.txt"})
        from mcp.server.mcpserver.exceptions import ToolError as MCPToolError

        with pytest.raises(MCPToolError, match="outside the allowed folders"):
            await server.call_tool("read_file", {"path": "../../etc/passwd"})
        return ok

    ok = asyncio.run(run())
    assert ok.content[0].text == "hello from a root"
