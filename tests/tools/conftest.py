"""Shared helpers for the tool tests: a scripted "model" inside a real LangGraph graph."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest


def build_scripted_graph(tools: Sequence[Any], script: Sequence[Any], *, checkpointer: Any = None) -> Any:
    """model → tools → model … → END, where the model replays ``script`` (AIMessages) in order.

    The graph is real LangGraph: ``StateGraph(MessagesState)`` with the prebuilt ``ToolNode`` and
    ``tools_condition``; only the model is scripted.
    """
    from langchain_core.messages import AIMessage
    from langgraph.graph import START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode, tools_condition

    def model(state: MessagesState) -> dict:
        turn = sum(isinstance(m, AIMessage) for m in state["messages"])
        message = script[turn] if turn < len(script) else AIMessage("done")
        return {"messages": [message]}

    graph = StateGraph(MessagesState)
    graph.add_node("model", model)
    graph.add_node("tools", ToolNode(list(tools)))
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", tools_condition)
    graph.add_edge("tools", "model")
    return graph.compile(checkpointer=checkpointer)


def tool_call(name: str, args: Any, call_id: str) -> dict:
    """A ToolCall dict as a chat model emits it."""
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}


@pytest.fixture
def cache_path(tmp_path):
    """A fresh idempotency-cache file per test."""
    return tmp_path / "tool_calls.sqlite"
