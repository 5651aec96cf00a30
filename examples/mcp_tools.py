"""Tool-augmented chat with tools from an MCP server.

Starts `genaisys mcp serve builtin:calculator builtin:clock` as a real stdio MCP server process,
loads its tools as genaisys tools (``mcp:local/<tool>``), and runs the assistant graph with them.

Run: python examples/mcp_tools.py [--max-new-tokens 48]
"""

from __future__ import annotations

import argparse
import sys

import genaisys
from genaisys.graphs import build_assistant_graph
from genaisys.tools.mcp_client import MCPConnection


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    args = parser.parse_args()

    server = {"transport": "stdio", "command": sys.executable,
              "args": ["-m", "genaisys.cli", "mcp", "serve", "builtin:calculator", "builtin:clock"]}
    with MCPConnection("local", server) as conn:
        tools = conn.tools()
        print("MCP tools:", [t.name for t in tools])
        calc = next(t for t in tools if t.name.endswith("calculator"))
        print("direct call:", calc.invoke({"expression": "1234 * 5678"}))
        graph = build_assistant_graph(genaisys.load_core("nano", max_new_tokens=args.max_new_tokens),
                                      tools=tools, checkpointer=False)
        state = graph.invoke({"messages": [{"role": "user", "content": "What is 1234 * 5678?"}]})
        for msg in state["messages"]:
            calls = [f"{c['name']}({c['args']})" for c in getattr(msg, "tool_calls", []) or []]
            print(f"{msg.type:>6}: {msg.text[:160]!r}" + (f" tool calls: {calls}" if calls else ""))


if __name__ == "__main__":
    main()
