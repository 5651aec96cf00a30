"""Streaming: model tokens and tool events through the `custom` stream mode, node updates in order."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage

from genaisys.graphs import build_assistant_graph, run_turn
from tests.graphs.fakes import ScriptedChatModel, call


def lookup(city: str) -> str:
    """Look up the weather of a city."""
    if city == "Atlantis":
        raise LookupError("no such city")
    return f"sunny in {city}"


def chart(city: str) -> list:
    """Draw a weather chart (returns an image)."""
    return [{"type": "text", "text": f"chart for {city}"}, {"type": "image", "base64": "iVBORw0KGgo" * 50, "mime_type": "image/png"}]


def test_tokens_and_tool_events_stream_in_order():
    model = ScriptedChatModel(
        responses=[
            AIMessage("Let me check.", tool_calls=[call("lookup", {"city": "Oslo"}, "c1"), call("lookup", {"city": "Atlantis"}, "c2")]),
            AIMessage("It is sunny in Oslo; Atlantis is unknown."),
        ],
        stream_chunks=True,
    )
    graph = build_assistant_graph(model, tools=[lookup], checkpointer=False)
    seen: list[tuple[str, dict]] = []
    state = run_turn(graph, "Weather in Oslo and Atlantis?", thread_id="s", stream=lambda m, c: seen.append((m, c)))

    tokens = [c for m, c in seen if m == "custom" and c["type"] == "token"]
    assert len(tokens) > 5  # word by word, not one blob
    assert "".join(t["text"] for t in tokens) == "Let me check.It is sunny in Oslo; Atlantis is unknown."
    assert {t["node"] for t in tokens} == {"think"}
    # the streamed chunks were merged back into a message with parsed tool calls
    first_ai = state["messages"][1]
    assert [c["args"] for c in first_ai.tool_calls] == [{"city": "Oslo"}, {"city": "Atlantis"}]

    tool_events = {(c["type"], c["id"]): c for m, c in seen if m == "custom" and c["type"].startswith("tool_")}
    assert tool_events[("tool_start", "c1")]["args"] == {"city": "Oslo"}
    assert tool_events[("tool_end", "c1")] == {
        "type": "tool_end", "name": "lookup", "id": "c1", "status": "success", "content": "sunny in Oslo"
    }
    assert tool_events[("tool_end", "c2")]["status"] == "error"
    assert "no such city" in tool_events[("tool_end", "c2")]["content"]

    # order: tokens of call 1 → tool events → node update for act → tokens of call 2
    order = [(m, c["type"] if m == "custom" else next(iter(c))) for m, c in seen]
    first_tool = order.index(("custom", "tool_start"))
    act_update = order.index(("updates", "act"))
    last_token_1 = max(i for i, o in enumerate(order[:first_tool]) if o == ("custom", "token"))
    assert last_token_1 < first_tool < act_update
    assert ("custom", "token") in order[act_update:]
    assert [o[1] for o in order if o[0] == "updates"] == ["think", "act", "think"]


def test_tool_events_carry_text_not_inline_images():
    model = ScriptedChatModel(responses=[AIMessage("", tool_calls=[call("chart", {"city": "Oslo"}, "c1")]), AIMessage("done")])
    graph = build_assistant_graph(model, tools=[chart], checkpointer=False)
    seen: list = []
    run_turn(graph, "chart please", thread_id="s", stream=lambda m, c: seen.append((m, c)))
    end = next(c for m, c in seen if m == "custom" and c["type"] == "tool_end")
    assert end["content"] == "chart for Oslo"
    assert all("iVBORw0KGgo" not in t["text"] for m, t in seen if m == "custom" and t["type"] == "token")


def test_messages_stream_mode_also_carries_tokens():
    model = ScriptedChatModel(responses=[AIMessage("one two three")], stream_chunks=True)
    graph = build_assistant_graph(model, checkpointer=False)
    chunks = [msg.content for msg, meta in graph.stream({"messages": [HumanMessage("count")]}, stream_mode="messages")]
    assert "".join(chunks) == "one two three"


def test_token_streaming_can_be_switched_off():
    model = ScriptedChatModel(responses=[AIMessage("quiet answer")], stream_chunks=True)
    graph = build_assistant_graph(model, checkpointer=False, stream_tokens=False)
    seen: list = []
    state = run_turn(graph, "hi", thread_id="s", stream=lambda m, c: seen.append((m, c)))
    assert [m for m, _ in seen] == ["updates"]
    assert state["messages"][-1].content == "quiet answer"


def test_async_runs_await_the_model_and_stream_tokens():
    import asyncio

    from langchain_core.messages import AIMessageChunk
    from langchain_core.outputs import ChatGenerationChunk

    class AsyncOnly(ScriptedChatModel):
        def _stream(self, *args, **kwargs):
            raise AssertionError("the async graph must not call the sync stream")

        async def _astream(self, messages, stop=None, run_manager=None, **kwargs):
            for word in ("async ", "tokens"):
                yield ChatGenerationChunk(message=AIMessageChunk(content=word))

    graph = build_assistant_graph(AsyncOnly(responses=[]), checkpointer=False)

    async def run():
        seen = []
        async for mode, chunk in graph.astream({"messages": [HumanMessage("hi")]}, stream_mode=["custom", "values"]):
            seen.append((mode, chunk))
        return seen

    seen = asyncio.run(run())
    assert [c["text"] for m, c in seen if m == "custom"] == ["async ", "tokens"]
    assert seen[-1][1]["messages"][-1].content == "async tokens"


def test_media_returned_by_a_tool_goes_to_the_blob_store_not_the_checkpoint(tmp_path):
    import base64

    from genaisys.memory.blobs import BlobStore

    blobs = BlobStore(tmp_path / "blobs")
    png = b"\x89PNG\r\n\x1a\nchart"

    def plot(city: str) -> list:
        """Draw a weather chart (returns an image)."""
        return [{"type": "text", "text": f"chart for {city}"},
                {"type": "image", "base64": base64.b64encode(png).decode(), "mime_type": "image/png"}]

    model = ScriptedChatModel(responses=[AIMessage("", tool_calls=[call("plot", {"city": "Oslo"}, "c1")]), AIMessage("done")])
    graph = build_assistant_graph(model, tools=[plot], blobs=blobs, checkpointer=tmp_path / "c.sqlite")
    seen: list = []
    run_turn(graph, "chart please", thread_id="m", stream=lambda m, c: seen.append((m, c)))
    stored = graph.get_state({"configurable": {"thread_id": "m"}}).values["messages"][2]
    assert stored.content[0] == {"type": "text", "text": "chart for Oslo"}
    assert stored.content[1]["type"] == "image" and blobs.get(stored.content[1]["file_id"]) == png
    assert "base64" not in repr(stored)
    assert next(c for m, c in seen if m == "custom" and c["type"] == "tool_end")["content"] == "chart for Oslo"


def test_the_think_node_is_a_public_runnable_that_hands_the_graph_config_to_the_model():
    """Sync and async, the model call inside ``think`` gets the graph run's config (its tags here)."""
    import asyncio

    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.runnables import Runnable
    from langgraph.graph import END, START, StateGraph

    from genaisys.graphs import AssistantState
    from genaisys.graphs.nodes import make_think_node

    class Tags(BaseCallbackHandler):
        def __init__(self):
            self.seen = []

        def on_chat_model_start(self, serialized, messages, *, tags=None, **kwargs):
            self.seen.append(sorted(tags or []))

    node = make_think_node(ScriptedChatModel(responses=[AIMessage("one"), AIMessage("two")]), stream_tokens=False)
    assert isinstance(node, Runnable) and type(node).__module__ == "genaisys.graphs.nodes"
    graph = StateGraph(AssistantState)
    graph.add_node("think", node)
    graph.add_edge(START, "think")
    graph.add_edge("think", END)
    app = graph.compile()
    tags = Tags()
    config = {"tags": ["run-tag"], "callbacks": [tags]}
    assert app.invoke({"messages": [HumanMessage("hi")]}, config)["messages"][-1].content == "one"
    out = asyncio.run(app.ainvoke({"messages": [HumanMessage("hi")]}, config))
    assert out["messages"][-1].content == "two"
    assert len(tags.seen) == 2 and all("run-tag" in t for t in tags.seen)
