"""Quickstart: ask the embedded default core about a photo, then let the assistant graph use a tool.

Run: python examples/quickstart.py [--max-new-tokens 48]
"""

from __future__ import annotations

import argparse
import base64
import io
import tempfile

import skimage.data
from langchain_core.messages import HumanMessage
from PIL import Image

import genaisys
from genaisys.graphs import build_assistant_graph, sqlite_checkpointer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    args = parser.parse_args()

    core = genaisys.load_core("nano", max_new_tokens=args.max_new_tokens)
    buf = io.BytesIO()
    Image.fromarray(skimage.data.chelsea()).save(buf, format="PNG")
    message = HumanMessage(content=[
        {"type": "text", "text": "What animal is in this photo?"},
        {"type": "image", "base64": base64.b64encode(buf.getvalue()).decode(), "mime_type": "image/png"},
    ])
    print("core:", core.invoke([message]).text)

    graph = build_assistant_graph(core, tools=["builtin:calculator"],
                                  checkpointer=sqlite_checkpointer(tempfile.mktemp(suffix=".sqlite")))
    config = {"configurable": {"thread_id": "quickstart"}}
    state = graph.invoke({"messages": [{"role": "user", "content": "What is 12 * 7?"}]}, config)
    for msg in state["messages"]:
        calls = [f"{c['name']}({c['args']})" for c in getattr(msg, "tool_calls", []) or []]
        print(f"{msg.type:>6}: {msg.text[:200]!r}" + (f" tool calls: {calls}" if calls else ""))


if __name__ == "__main__":
    main()
