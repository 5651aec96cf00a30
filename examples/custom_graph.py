"""A custom program from genaisys nodes, wired with LangGraph's own StateGraph.

recall (memory) → think (the CPU) ⇄ act (safety-wrapped tools) → a final "summarise" node of our own.

Run: python examples/custom_graph.py [--max-new-tokens 48]
"""

from __future__ import annotations

import argparse
import tempfile

from langgraph.graph import END, START, StateGraph

import genaisys
from genaisys.graphs import AssistantState, make_act_node, make_recall_node, make_think_node, resolve_tools
from genaisys.graphs.nodes import route_after_think
from genaisys.memory import ChromaMemory


def summarise(state: AssistantState) -> dict:
    """Our own node: count what happened in the turn (plain Python, no model)."""
    calls = [c["name"] for m in state["messages"] for c in getattr(m, "tool_calls", []) or []]
    print(f"summary: {len(state['messages'])} messages, tool calls: {calls or 'none'}, "
          f"sources: {[h.get('citation') for h in state.get('context', [])]}")
    return {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    args = parser.parse_args()

    memory = ChromaMemory(path=tempfile.mkdtemp())
    memory.add_texts(["The calculator tool evaluates arithmetic safely, without eval()."],
                     metadatas=[{"source": "notes/tools.md"}])
    core = genaisys.load_core("nano", max_new_tokens=args.max_new_tokens)
    tools = resolve_tools(["builtin:calculator"], memory=memory)

    builder = StateGraph(AssistantState)
    builder.add_node("recall", make_recall_node(memory, k=1))
    builder.add_node("think", make_think_node(core, tools))
    builder.add_node("act", make_act_node(tools))
    builder.add_node("summarise", summarise)
    builder.add_edge(START, "recall")
    builder.add_edge("recall", "think")
    builder.add_conditional_edges("think", route_after_think, {"act": "act", END: "summarise"})
    builder.add_edge("act", "think")
    builder.add_edge("summarise", END)
    graph = builder.compile().with_config(recursion_limit=12)

    print(graph.get_graph().draw_mermaid())
    state = graph.invoke({"messages": [{"role": "user", "content": "How does the calculator tool work?"}]})
    print("answer:", state["messages"][-1].text)


if __name__ == "__main__":
    main()
