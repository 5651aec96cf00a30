"""genaisys's MCP client against the reference test server, ``@modelcontextprotocol/server-everything``
(Node): every kind of tool result it makes — text, images, structured content, resource links and
embedded resources, errors — becomes what a genaisys graph and core can use.

``make test`` installs the server under ``.venv/node`` (``npm install``); without it the test uses
``npx``, and skips, saying so, only where Node.js itself is missing.
"""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from genaisys.tools.mcp_client import MCPConnection, load_mcp_tools
from tests.tools.conftest import build_scripted_graph, tool_call

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "@modelcontextprotocol/server-everything@2026.8.31"  # pinned with the Makefile's install
INSTALLED = ROOT / ".venv" / "node" / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"


def _connection() -> dict:
    if INSTALLED.is_file() and shutil.which("node"):
        return {"transport": "stdio", "command": shutil.which("node"), "args": [str(INSTALLED), "stdio"]}
    if shutil.which("npx"):
        return {"transport": "stdio", "command": shutil.which("npx"), "args": ["-y", PACKAGE, "stdio"]}
    pytest.skip("Node.js (node, npx) is not installed: apt-get install nodejs npm, then make test installs "
                "the MCP reference server")


@pytest.fixture(scope="module")
def everything():
    with MCPConnection("everything", _connection(), connect_timeout_s=120) as conn:
        yield {t.name: t for t in conn.tools(register=False)}


def test_the_reference_servers_tools_and_schemas(everything):
    assert {"echo", "get-sum", "get-tiny-image", "get-structured-content", "get-resource-links",
            "get-resource-reference"} <= set(everything)
    assert everything["get-sum"].args_schema["required"] == ["a", "b"]
    assert everything["echo"].invoke({"message": "héllo"}) == "Echo: héllo"
    assert "5" in everything["get-sum"].invoke({"a": 2, "b": 3})


def test_bad_arguments_come_back_to_the_model_as_text(everything):
    bad = everything["get-sum"].invoke(tool_call("get-sum", {"a": "two"}, "bad"))
    assert isinstance(bad, ToolMessage) and bad.status == "error"
    assert bad.content.startswith("Invalid arguments for tool 'get-sum':")


def test_an_image_result_is_an_image_block_and_an_unreadable_one_a_note(everything):
    from genaisys.core.chat import ChatCore
    from tests.standard_suites import tiny_vision_core

    result = everything["get-tiny-image"].invoke(tool_call("get-tiny-image", {}, "img"))
    images = [b for b in result.content if b["type"] == "image"]
    assert len(images) == 1 and images[0]["mime_type"] == "image/png"
    assert base64.b64decode(images[0]["base64"]).startswith(b"\x89PNG")
    # The server's logo carries a PNG chunk with a bad checksum that PIL refuses: the model reads
    # a note saying so, and the call goes on.
    history = [HumanMessage("Show me the logo."),
               AIMessage("", tool_calls=[tool_call("get-tiny-image", {}, "img")]), result]
    chat = ChatCore(core=tiny_vision_core(), max_new_tokens=2)
    prompt, seen = chat.render_prompt(history)
    assert seen == [] and "the tool returned an image that cannot be read" in prompt
    assert chat.invoke(history).usage_metadata["output_tokens"] <= 2


def test_structured_content_is_the_artifact(everything):
    result = everything["get-structured-content"].invoke(tool_call("get-structured-content",
                                                                   {"location": "New York"}, "w"))
    assert result.status == "success" and isinstance(result.artifact["structured_content"], dict)
    assert result.artifact["structured_content"]  # the weather report, as data


def test_resource_links_and_embedded_resources_become_text(everything):
    links = everything["get-resource-links"].invoke({"count": 2})
    assert links.count("[the tool points to the resource ") == 2
    embedded = everything["get-resource-reference"].invoke({"resourceType": "Text", "resourceId": 1})
    assert isinstance(embedded, str) and embedded.strip()


def test_in_a_graph_with_per_call_sessions():
    tools = load_mcp_tools("everything1", _connection(), register=False)
    echo = next(t for t in tools if t.name == "echo")
    script = [AIMessage("", tool_calls=[tool_call("echo", {"message": "ping"}, "e1")]), AIMessage("done")]
    out = build_scripted_graph([echo], script).invoke({"messages": [HumanMessage("go")]})
    (reply,) = [m for m in out["messages"] if isinstance(m, ToolMessage)]
    assert reply.status == "success" and reply.content == "Echo: ping"
