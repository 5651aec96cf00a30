"""The assistant graph end to end with a scripted fake model, tools and a fake memory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, SystemMessage, ToolMessage

from genaisys.errors import ConfigError, GraphError
from genaisys.graphs import build_assistant_graph, run_turn, sqlite_checkpointer
from tests.graphs.fakes import FakeMemory, ScriptedChatModel, call, tiny_png

REPO = Path(__file__).resolve().parents[2]
SNAPSHOTS = Path(__file__).parent / "snapshots"


def add(a: int, b: int) -> int:
    """Add two integers."""
    add.calls += 1  # type: ignore[attr-defined]
    return a + b


add.calls = 0  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _reset_add():
    add.calls = 0  # type: ignore[attr-defined]


def test_model_calls_tool_gets_result_and_answers():
    model = ScriptedChatModel(responses=[AIMessage("", tool_calls=[call("add", {"a": 2, "b": 3}, "c1")]), AIMessage("2 + 3 = 5")])
    graph = build_assistant_graph(model, tools=[add], checkpointer=False)
    events = []
    state = run_turn(graph, "What is 2 + 3?", thread_id="t", stream=lambda mode, chunk: events.append((mode, chunk)))

    assert model.bound_tools == ["add"]
    assert add.calls == 1
    tool_msgs = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert [(m.tool_call_id, m.content) for m in tool_msgs] == [("c1", "5")]
    assert state["messages"][-1].content == "2 + 3 = 5"
    # the model's second call saw the tool result
    assert isinstance(model.prompts[1][-1], ToolMessage) and model.prompts[1][-1].content == "5"
    nodes = [next(iter(chunk)) for mode, chunk in events if mode == "updates"]
    assert nodes == ["think", "act", "think"]
    kinds = [chunk["type"] for mode, chunk in events if mode == "custom"]
    assert "tool_start" in kinds and "tool_end" in kinds


def test_memory_context_reaches_prompt_with_citations():
    memory = FakeMemory(
        {"geo.md": "Paris is the capital of France.", "cook.md": "Boil pasta in salted water."}
    )
    model = ScriptedChatModel(responses=[AIMessage("Paris [1].")])
    graph = build_assistant_graph(memory=memory, core=model, checkpointer=False, system_prompt="Be brief.", k=2)
    state = run_turn(graph, "What is the capital of France?", thread_id="t")

    assert memory.queries == ["What is the capital of France?"]
    assert state["context"][0]["citation"] == "geo.md#chunk0"
    system = model.prompts[0][0]
    assert isinstance(system, SystemMessage)
    assert system.content.startswith("Be brief.")
    assert "[1] (source: geo.md#chunk0) Paris is the capital of France." in system.content
    assert "[2] (source: cook.md#chunk0)" in system.content
    # the system message is for the call only, not stored in the conversation
    assert not any(isinstance(m, SystemMessage) for m in state["messages"])


def test_recursion_limit_ends_with_helpful_graph_error():
    # A loop of *different* calls (a repeated call is cut short by the think node, see below).
    looping = ScriptedChatModel(responses=[AIMessage("", tool_calls=[call("add", {"a": 1, "b": n}, f"c{n}")])
                                           for n in range(8)], cycle=True)
    graph = build_assistant_graph(looping, tools=[add], checkpointer=False, recursion_limit=6)
    assert graph.config["recursion_limit"] == 6
    with pytest.raises(GraphError) as info:
        run_turn(graph, "loop forever", thread_id="t")
    message = str(info.value)
    assert "recursion limit (6 steps)" in message
    assert "think ×3" in message and "act ×3" in message
    assert "recursion_limit=N" in message
    assert add.calls == 3


def test_malformed_tool_call_becomes_tool_message_and_graph_continues():
    model = ScriptedChatModel(
        responses=[
            AIMessage("", tool_calls=[call("add", {"a": "not a number"}, "bad")]),
            AIMessage("", tool_calls=[call("add", {"a": 1, "b": 2}, "good")]),
            AIMessage("3"),
        ]
    )
    graph = build_assistant_graph(model, tools=[add], checkpointer=False)
    state = run_turn(graph, "1 + 2?", thread_id="t")

    errors = [m for m in state["messages"] if isinstance(m, ToolMessage) and m.tool_call_id == "bad"]
    assert len(errors) == 1
    # the model is told which arguments were wrong
    assert re.search(r"\ba\b", errors[0].content) and re.search(r"\bb\b", errors[0].content)
    assert errors[0].content != "3"
    assert add.calls == 1  # only the good call ran the function
    assert state["messages"][-1].content == "3"
    assert model.prompts[1][-1].tool_call_id == "bad"


def test_unknown_tool_call_is_reported_to_model():
    model = ScriptedChatModel(responses=[AIMessage("", tool_calls=[call("nope", {}, "x")]), AIMessage("sorry")])
    state = run_turn(build_assistant_graph(model, tools=[add], checkpointer=False), "hi", thread_id="t")
    error = next(m for m in state["messages"] if isinstance(m, ToolMessage))
    assert "nope" in error.content and "add" in error.content  # names the valid tools


def test_bad_arguments_raise_config_errors():
    model = ScriptedChatModel(responses=[AIMessage("x")])
    with pytest.raises(ConfigError, match="recursion_limit"):
        build_assistant_graph(model, checkpointer=False, recursion_limit=0)
    with pytest.raises(ConfigError, match="docstring"):
        build_assistant_graph(model, tools=[lambda x: x], checkpointer=False)
    with pytest.raises(ConfigError, match="checkpointer"):
        build_assistant_graph(model, checkpointer=42)
    with pytest.raises(ConfigError, match="search"):
        build_assistant_graph(model, memory=object(), checkpointer=False)
    with pytest.raises(ConfigError, match="share the name"):
        build_assistant_graph(model, tools=[add, add], checkpointer=False)


def test_conversation_persists_across_turns_on_a_thread(tmp_path):
    model = ScriptedChatModel(responses=[AIMessage("one"), AIMessage("two")])
    graph = build_assistant_graph(model, checkpointer=tmp_path / "c.sqlite")
    run_turn(graph, "first", thread_id="a")
    state = run_turn(graph, "second", thread_id="a")
    assert [m.content for m in state["messages"]] == ["first", "one", "second", "two"]
    assert [m.content for m in model.prompts[1]] == ["first", "one", "second"]


def test_finished_thread_is_read_by_a_second_process(tmp_path):
    db = tmp_path / "checkpoints.sqlite"
    model = ScriptedChatModel(responses=[AIMessage("", tool_calls=[call("add", {"a": 20, "b": 22}, "c1")]), AIMessage("42")])
    graph = build_assistant_graph(model, tools=[add], checkpointer=sqlite_checkpointer(db))
    run_turn(graph, "20 + 22?", thread_id="answer")

    reader = textwrap.dedent(
        f"""
        from genaisys.graphs import build_assistant_graph, sqlite_checkpointer
        from tests.graphs.fakes import ScriptedChatModel
        graph = build_assistant_graph(ScriptedChatModel(responses=[]), checkpointer=sqlite_checkpointer({str(db)!r}))
        state = graph.get_state({{"configurable": {{"thread_id": "answer"}}}})
        print("|".join(f"{{type(m).__name__}}:{{m.content}}" for m in state.values["messages"]))
        print("next:", state.next)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", reader], cwd=REPO, capture_output=True, text=True, timeout=60, env={**os.environ}
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "HumanMessage:20 + 22?|AIMessage:|ToolMessage:42|AIMessage:42"
    assert lines[1] == "next: ()"


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("assistant_plain", {}),
        ("assistant_tools_memory", {"tools": [add], "memory": FakeMemory({"a.md": "a"})}),
        ("assistant_approval", {"tools": [add], "approve": True, "checkpointer": ":memory:"}),
    ],
)
def test_topology_matches_mermaid_snapshot(name, kwargs):
    kwargs = {"checkpointer": False, **kwargs}
    graph = build_assistant_graph(ScriptedChatModel(responses=[]), **kwargs)
    mermaid = graph.get_graph().draw_mermaid()
    snapshot = SNAPSHOTS / f"{name}.mmd"
    if os.environ.get("GENAISYS_UPDATE_SNAPSHOTS") == "1":
        snapshot.parent.mkdir(exist_ok=True)
        snapshot.write_text(mermaid)
    assert mermaid == snapshot.read_text(), f"topology changed; if on purpose rerun with GENAISYS_UPDATE_SNAPSHOTS=1 ({snapshot})"


def test_registry_tools_by_name_with_memory():
    memory = FakeMemory({"geo.md": "Paris is the capital of France."})
    model = ScriptedChatModel(
        responses=[
            AIMessage(
                "",
                tool_calls=[
                    call("calculator", {"expression": "6*7"}, "c1"),
                    call("memory_search", {"query": "capital of France"}, "c2"),
                ],
            ),
            AIMessage("42, and Paris [geo.md#chunk0]"),
        ]
    )
    graph = build_assistant_graph(
        model, tools=["builtin:calculator", "builtin:memory_search"], memory=memory, checkpointer=False
    )
    state = run_turn(graph, "6*7, and the capital of France?", thread_id="t")
    results = {m.tool_call_id: m.content for m in state["messages"] if isinstance(m, ToolMessage)}
    assert results["c1"] == "42"
    assert "geo.md#chunk0" in results["c2"] and "Paris" in results["c2"]
    assert model.bound_tools == ["calculator", "memory_search"]
    # recall ran once for the turn, memory_search once more through the tool
    assert memory.queries == ["6*7, and the capital of France?", "capital of France"]


def test_resolve_tools_safe_false_leaves_registry_tools_unwrapped_too():
    from genaisys.graphs import resolve_tools
    from genaisys.tools.safety import SafeTool

    wrapped = resolve_tools(["builtin:calculator", add])
    assert all(isinstance(t, SafeTool) for t in wrapped)
    plain = resolve_tools(["builtin:calculator", add], safe=False)
    assert [t.name for t in plain] == ["calculator", "add"]
    assert not any(isinstance(t, SafeTool) for t in plain)
    assert plain[0].invoke({"expression": "6 * 7"}) == "42"
    with pytest.raises(ConfigError, match="need the safety wrapper"):
        resolve_tools([add], safe=False, safety={"timeout_s": 1.0})


def test_remember_writes_the_exchange_and_another_thread_recalls_it():
    memory = FakeMemory({"cook.md": "Boil pasta in salted water."})
    model = ScriptedChatModel(responses=[AIMessage("Noted: your cat is called Miso."), AIMessage("Miso [1].")])
    graph = build_assistant_graph(model, memory=memory, remember=True, checkpointer=False)
    run_turn(graph, "My cat is called Miso.", thread_id="first")
    assert memory.docs["conversation:first"] == "User: My cat is called Miso.\nAssistant: Noted: your cat is called Miso."

    state = run_turn(graph, "What is my cat called?", thread_id="second")
    assert state["context"][0]["source"] == "conversation:first"
    assert "[1] (source: conversation:first#chunk0) User: My cat is called Miso." in model.prompts[1][0].content
    with pytest.raises(ConfigError, match="pass memory"):
        build_assistant_graph(model, remember=True, checkpointer=False)


def test_independent_tool_calls_of_one_step_run_in_parallel():
    import threading
    import time

    spans = {}
    lock = threading.Lock()

    def wait(label: str) -> str:
        """Wait a moment and return the label."""
        start = time.perf_counter()
        time.sleep(0.4)
        with lock:
            spans[label] = (start, time.perf_counter())
        return label

    model = ScriptedChatModel(
        responses=[AIMessage("", tool_calls=[call("wait", {"label": "a"}, "1"), call("wait", {"label": "b"}, "2")]), AIMessage("ok")]
    )
    graph = build_assistant_graph(model, tools=[wait], checkpointer=False)
    started = time.perf_counter()
    run_turn(graph, "go", thread_id="p")
    assert time.perf_counter() - started < 0.7
    (a0, a1), (b0, b1) = spans["a"], spans["b"]
    assert min(a1, b1) - max(a0, b0) > 0.2  # the two calls overlapped


def test_inline_media_is_moved_to_the_blob_store_before_the_model_sees_it(tmp_path):
    import base64

    from genaisys.memory.blobs import BlobStore

    blobs = BlobStore(tmp_path / "blobs")
    png = tiny_png()
    model = ScriptedChatModel(responses=[AIMessage("A picture.")])
    graph = build_assistant_graph(model, blobs=blobs, checkpointer=tmp_path / "c.sqlite")
    content = [{"type": "text", "text": "What is this?"}, {"type": "image", "base64": base64.b64encode(png).decode(), "mime_type": "image/png"}]
    state = run_turn(graph, content, thread_id="img")
    block = model.prompts[0][-1].content[1]
    assert block["type"] == "image" and blobs.get(block["file_id"]) == png and "base64" not in block
    assert state["perception"][0]["route"] == "native"
    assert "base64" not in repr(graph.get_state({"configurable": {"thread_id": "img"}}).values)


def test_unusable_tool_call_is_shown_to_the_model_which_tries_again():
    broken = AIMessage(
        "",
        invalid_tool_calls=[
            {"name": "add", "args": "{a: 1, b: 2", "id": "x", "error": "unterminated JSON object", "type": "invalid_tool_call"}
        ],
    )
    model = ScriptedChatModel(
        responses=[broken, AIMessage("", tool_calls=[call("add", {"a": 1, "b": 2}, "ok")]), AIMessage("3")]
    )
    graph = build_assistant_graph(model, tools=[add], checkpointer=False)
    events = []
    state = run_turn(graph, "1 + 2?", thread_id="r", stream=lambda m, c: events.append(c) if m == "custom" else None)

    feedback = model.prompts[1][-1]
    assert feedback.type == "human" and "unterminated JSON object" in feedback.content
    assert [e for e in events if e["type"] == "repair"][0]["node"] == "think"
    # only the repaired reply is stored; the call ran and the model answered
    assert [type(m).__name__ for m in state["messages"]] == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    assert state["messages"][1].tool_calls[0]["id"] == "ok" and add.calls == 1


def test_repair_gives_up_after_its_attempts_and_the_turn_still_ends_in_words():
    from genaisys.graphs.nodes import NO_ANSWER_TEXT

    broken = AIMessage("", invalid_tool_calls=[{"name": "add", "args": "??", "id": "x", "error": "bad", "type": "invalid_tool_call"}])
    model = ScriptedChatModel(responses=[broken], cycle=True)
    add.calls = 0
    events = []
    state = run_turn(build_assistant_graph(model, tools=[add], checkpointer=False), "1 + 2?", thread_id="r",
                     stream=lambda m, c: events.append(c) if m == "custom" else None)
    assert len(model.prompts) == 3  # one try, one repair, then once more without tools
    assert model.prompts[2] == model.prompts[0]  # the clean conversation, not the repair turns
    last = state["messages"][-1]
    assert last.content == NO_ANSWER_TEXT and not last.invalid_tool_calls and add.calls == 0
    assert [e["calls"] for e in events if e["type"] == "tool_loop"] == [["add"]]  # the call asked without tools


def test_a_call_to_a_tool_that_is_not_bound_ends_in_the_models_own_words():
    # the needed tool is absent: the model calls it anyway, twice, then answers when asked without tools
    unbound = AIMessage("", invalid_tool_calls=[{"name": "calculator", "args": '{"expression": "3**11"}', "id": "c",
                                                 "error": "there is no tool named 'calculator'",
                                                 "type": "invalid_tool_call"}])
    model = ScriptedChatModel(responses=[unbound, unbound, AIMessage('3 to the 11th is 177147. <tool_call>{"name"')])
    state = run_turn(build_assistant_graph(model, tools=[add], checkpointer=False), "3 to the 11th?", thread_id="u")
    assert state["messages"][-1].content == "3 to the 11th is 177147."  # the half-written call markup dropped
    # the unusable call stays on record (the held-out tool suite scores the choice, not the recovery)
    assert [c["name"] for c in state["messages"][-1].response_metadata["unusable_calls"]] == ["calculator"]
    assert [type(m).__name__ for m in state["messages"]] == ["HumanMessage", "AIMessage"]
    # the same through an async run (`genaisys serve` awaits the graph)
    import asyncio

    model = ScriptedChatModel(responses=[unbound, unbound, AIMessage("177147.")])
    graph = build_assistant_graph(model, tools=[add], checkpointer=False)
    values = asyncio.run(graph.ainvoke({"messages": [("user", "3 to the 11th?")]}, {"configurable": {"thread_id": "a"}}))
    assert values["messages"][-1].content == "177147." and len(model.prompts) == 3


def test_a_repeated_call_is_answered_without_tools_and_the_turn_ends():
    # A small model can call the same tool again and again after getting its result.
    repeat = AIMessage("", tool_calls=[call("add", {"a": 2, "b": 3}, "c1")])
    model = ScriptedChatModel(responses=[repeat, repeat.model_copy(update={"tool_calls": [call("add", {"a": 2, "b": 3}, "c2")]}),
                                         AIMessage("2 + 3 = 5")])
    add.calls = 0
    graph = build_assistant_graph(model, tools=[add], checkpointer=False)
    state = run_turn(graph, "what is 2 + 3?", thread_id="t")
    assert state["messages"][-1].content == "2 + 3 = 5" and add.calls == 1
    assert len(model.prompts) == 3  # call, repeated call (refused), answer asked without tools


def test_a_model_that_keeps_calling_is_stopped_after_the_tool_budget():
    from genaisys.graphs.nodes import LOOP_TEXT

    calls = [AIMessage("", tool_calls=[call("add", {"a": 1, "b": n}, f"c{n}")]) for n in range(10)]
    model = ScriptedChatModel(responses=calls, cycle=True)  # ignores bind_tools: it would call forever
    add.calls = 0
    graph = build_assistant_graph(model, tools=[add], checkpointer=False, recursion_limit=40)
    state = run_turn(graph, "count", thread_id="t")
    assert add.calls == 4  # the default budget: 4 tool rounds, then an answer without tools
    last = state["messages"][-1]
    assert last.content == LOOP_TEXT.format(name="add", result="4") and not last.tool_calls


def test_call_markup_written_as_text_after_a_repeat_becomes_the_tool_result():
    from genaisys.graphs.nodes import LOOP_TEXT

    first = AIMessage("", tool_calls=[call("add", {"a": 2, "b": 3}, "c1")])
    again = AIMessage("", tool_calls=[call("add", {"a": 2, "b": 3}, "c2")])
    markup = AIMessage('<tool_call>{"name": "add", "arguments": {"a": 2, "b": 3}}</tool_call>')
    model = ScriptedChatModel(responses=[first, again, markup])
    add.calls = 0
    state = run_turn(build_assistant_graph(model, tools=[add], checkpointer=False), "2 + 3?", thread_id="t")
    assert state["messages"][-1].content == LOOP_TEXT.format(name="add", result="5") and add.calls == 1


def test_a_tools_error_is_never_handed_back_as_the_answer():
    from genaisys.graphs.nodes import NO_ANSWER_TEXT

    bad = AIMessage("", tool_calls=[call("add", {"a": "x"}, "c1")])  # invalid arguments: an error ToolMessage
    markup = AIMessage('<tool_call>{"name": "add", "arguments": {"a": "x"}}</tool_call>')
    model = ScriptedChatModel(responses=[bad, bad.model_copy(update={"tool_calls": [call("add", {"a": "x"}, "c2")]}),
                                         markup])
    state = run_turn(build_assistant_graph(model, tools=[add], checkpointer=False), "add x", thread_id="t")
    errors = [m for m in state["messages"] if isinstance(m, ToolMessage) and m.status == "error"]
    assert errors and state["messages"][-1].content == NO_ANSWER_TEXT


def test_recall_focuses_the_context_when_asked():
    memory = FakeMemory({"guide.md": "Orchard runs eight workers. The dashboard listens on port 9181.",
                         "cook.md": "Boil pasta in salted water."})
    model = ScriptedChatModel(responses=[AIMessage("9181 [1].")], cycle=True)
    graph = build_assistant_graph(model, memory=memory, checkpointer=False, context_sentences=1)
    state = run_turn(graph, "Which port does the dashboard listen on?", thread_id="f")
    assert [h["text"] for h in state["context"]] == ["The dashboard listens on port 9181."]
    assert "eight workers" not in model.prompts[0][0].content
    run_turn(build_assistant_graph(model, memory=memory, checkpointer=False), "Which port?", thread_id="g")
    assert "eight workers" in model.prompts[1][0].content  # "auto" on a core without context_sentences: whole chunks


class FlooredModel(ScriptedChatModel):
    """A scripted core that reads focused context with a relevance floor, as a trained nano may."""

    context_sentences: int | None = 2
    context_min_score: float | None = 0.3


def test_a_floored_recall_that_finds_nothing_says_so_in_the_prompt():
    from genaisys.graphs.nodes import CONTEXT_INSTRUCTION, NO_CONTEXT_TEXT

    docs = {"orchard.md": "The Orchard dashboard listens on port 9181. Restart it with orchard restart."}
    model = FlooredModel(responses=[AIMessage("Port 9181 [1]."), AIMessage("I don't know.")])
    graph = build_assistant_graph(model, memory=FakeMemory(dict(docs)), checkpointer=False)
    graph.invoke({"messages": [("user", "Which port does the Orchard dashboard listen on?")]})
    graph.invoke({"messages": [("user", "Who won the cup final in 1966?")]})
    relevant, nothing = (p[0].text for p in model.prompts)
    assert CONTEXT_INSTRUCTION in relevant and "9181" in relevant and NO_CONTEXT_TEXT not in relevant
    assert nothing == NO_CONTEXT_TEXT  # the memory thread still differs from one without memory

    # without memory, or with a core that reads whole chunks, the prompt is as before: no note
    bare = FlooredModel(responses=[AIMessage("No idea.")])
    build_assistant_graph(bare, checkpointer=False).invoke({"messages": [("user", "Who won the cup final in 1966?")]})
    assert not isinstance(bare.prompts[0][0], SystemMessage)
    whole = ScriptedChatModel(responses=[AIMessage("No idea.")])
    build_assistant_graph(whole, memory=FakeMemory({}), checkpointer=False).invoke(
        {"messages": [("user", "Who won the cup final in 1966?")]})
    assert not isinstance(whole.prompts[0][0], SystemMessage)
