"""The safety wrapper: time limit, size cap, validation text, tool errors, approval, idempotency."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Annotated

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool, InjectedToolCallId, tool
from langgraph.prebuilt import ToolRuntime
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from pydantic import BaseModel, ValidationError

from genaisys.errors import ConfigError, ToolError
from genaisys.tools import IdempotencyCache, SafeTool, safe_tool
from genaisys.tools.safety import TIMEOUT_TEMPLATE, ApprovalDecision
from tests.tools.conftest import build_scripted_graph, tool_call


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def test_plain_function_becomes_a_structured_langchain_tool():
    wrapped = safe_tool(add)
    assert isinstance(wrapped, BaseTool) and isinstance(wrapped, SafeTool)
    assert wrapped.name == "add" and wrapped.description == "Add two integers."
    assert set(wrapped.tool_call_schema.model_json_schema()["properties"]) == {"a", "b"}
    assert wrapped.invoke({"a": 2, "b": 3}) == "5"
    message = wrapped.invoke(tool_call("add", {"a": 2, "b": 40}, "c1"))
    assert isinstance(message, ToolMessage) and message.content == "42" and message.tool_call_id == "c1"


def test_langchain_tool_keeps_its_name_schema_and_artifact():
    @tool(response_format="content_and_artifact")
    def lookup(key: str) -> tuple[str, dict]:
        """Look a key up."""
        return f"value of {key}", {"raw": key}

    wrapped = safe_tool(lookup)
    assert wrapped.name == "lookup" and wrapped.args_schema is lookup.args_schema
    message = wrapped.invoke(tool_call("lookup", {"key": "k"}, "c1"))
    assert message.content == "value of k" and message.artifact == {"raw": "k"}


def test_safe_tool_refuses_bad_settings():
    with pytest.raises(ConfigError, match="must be > 0"):
        safe_tool(add, timeout_s=0)
    with pytest.raises(ConfigError, match="BaseTool or a typed function"):
        safe_tool(42)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="idempotent_cache"):
        safe_tool(add, idempotent_cache=3.5)  # type: ignore[arg-type]


def test_timeout_returns_text_quickly():
    release = threading.Event()

    def stuck(x: int) -> str:
        """Never finishes on its own."""
        release.wait(30)
        return "late"

    wrapped = safe_tool(stuck, timeout_s=0.3)
    start = time.perf_counter()
    message = wrapped.invoke(tool_call("stuck", {"x": 1}, "c1"))
    elapsed = time.perf_counter() - start
    release.set()
    assert message.status == "error"
    assert message.content == TIMEOUT_TEMPLATE.format(tool="stuck", timeout_s=0.3)
    assert elapsed < 2.0


def test_async_timeout_and_async_function():
    async def slow(x: int) -> str:
        """Sleeps."""
        await asyncio.sleep(5)
        return "late"

    async def fast(x: int) -> int:
        """Doubles."""
        return 2 * x

    assert asyncio.run(safe_tool(fast).ainvoke({"x": 21})) == "42"
    start = time.perf_counter()
    out = asyncio.run(safe_tool(slow, timeout_s=0.2).ainvoke({"x": 1}))
    assert "did not finish within 0.2 s" in out and time.perf_counter() - start < 2.0


def test_output_is_capped_with_a_marker():
    def big(n: int) -> str:
        """A long text."""
        return "x" * n

    wrapped = safe_tool(big, max_output_chars=100)
    out = wrapped.invoke({"n": 10_000})
    assert out.startswith("x" * 100) and "x" * 101 not in out
    assert "[... output truncated: 100 of 10000 characters shown ...]" in out
    assert wrapped.invoke({"n": 50}) == "x" * 50


def test_content_blocks_are_capped_too():
    image = {"type": "image", "url": "https://example.org/cat.png"}

    @tool
    def blocks(n: int) -> list:
        """Text blocks and an image."""
        return [{"type": "text", "text": "a" * n}, image, {"type": "text", "text": "b" * n}]

    out = safe_tool(blocks, max_output_chars=150).invoke(tool_call("blocks", {"n": 100}, "c"))
    assert out.content[1] == image
    texts = [b["text"] for b in out.content if b["type"] == "text"]
    assert texts[0] == "a" * 100 and texts[1] == "b" * 50 and "150 of 200" in texts[2]


def test_text_only_blocks_become_one_string():
    @tool
    def blocks() -> list:
        """Two text blocks (what MCP tools return)."""
        return [{"type": "text", "text": "one", "id": "x"}, {"type": "text", "text": "two"}]

    assert safe_tool(blocks).invoke(tool_call("blocks", {}, "c")).content == "one\ntwo"


def test_validation_error_is_text_for_the_model_not_an_exception():
    wrapped = safe_tool(add)
    message = wrapped.invoke(tool_call("add", {"a": "two"}, "c1"))
    assert message.status == "error"
    assert message.content.startswith("Invalid arguments for tool 'add':")
    assert "- a: Input should be a valid integer" in message.content
    assert "- b: Field required" in message.content
    assert '"b": {"title": "B", "type": "integer"}' in message.content
    assert message.content.endswith("Fix the arguments and call the tool again.")


def test_tool_exception_becomes_text():
    def broken(x: int) -> str:
        """Always fails."""
        raise RuntimeError(f"disk on fire ({x})")

    message = safe_tool(broken).invoke(tool_call("broken", {"x": 7}, "c1"))
    assert message.status == "error" and message.content == "Tool 'broken' failed: RuntimeError: disk on fire (7)"


def test_bad_arguments_and_failures_do_not_stop_a_real_graph():
    def broken(x: int) -> str:
        """Always fails."""
        raise RuntimeError("boom")

    script = [
        AIMessage("", tool_calls=[tool_call("add", {"a": [1], "b": {"x": 1}}, "c1"), tool_call("broken", {"x": 1}, "c2")]),
        AIMessage("", tool_calls=[tool_call("add", {"a": 1, "b": 2}, "c3")]),
        AIMessage("the answer is 3"),
    ]
    graph = build_scripted_graph([safe_tool(add), safe_tool(broken)], script)
    out = graph.invoke({"messages": [HumanMessage("hi")]})
    tool_messages = [m for m in out["messages"] if isinstance(m, ToolMessage)]
    assert [m.status for m in tool_messages] == ["error", "error", "success"]
    assert tool_messages[0].content.startswith("Invalid arguments for tool 'add'")
    assert tool_messages[1].content == "Tool 'broken' failed: RuntimeError: boom"
    assert tool_messages[2].content == "3"
    assert out["messages"][-1].content == "the answer is 3"


# ---- approval -------------------------------------------------------------------------------


def _approval_graph(calls: list, *, cache=None):
    def send_email(to: str, body: str) -> str:
        """Send an e-mail."""
        calls.append((to, body))
        return f"sent to {to}"

    wrapped = safe_tool(send_email, require_approval=True, idempotent_cache=cache)
    script = [AIMessage("", tool_calls=[tool_call("send_email", {"to": "a@example.org", "body": "hi"}, "c1")])]
    return build_scripted_graph([wrapped], script, checkpointer=InMemorySaver())


def test_approval_interrupts_then_approve_runs_the_call():
    calls: list = []
    graph = _approval_graph(calls)
    config = {"configurable": {"thread_id": "approve"}}
    first = graph.invoke({"messages": [HumanMessage("mail a")]}, config)
    (pending,) = first["__interrupt__"]
    assert pending.value["type"] == "tool_approval" and pending.value["tool"] == "send_email"
    assert pending.value["args"] == {"to": "a@example.org", "body": "hi"} and pending.value["tool_call_id"] == "c1"
    assert calls == []  # nothing ran before the human said yes
    out = graph.invoke(Command(resume="approve"), config)
    assert calls == [("a@example.org", "hi")]
    assert [m.content for m in out["messages"] if isinstance(m, ToolMessage)] == ["sent to a@example.org"]


def test_approval_edit_runs_with_the_edited_arguments():
    calls: list = []
    graph = _approval_graph(calls)
    config = {"configurable": {"thread_id": "edit"}}
    graph.invoke({"messages": [HumanMessage("mail a")]}, config)
    out = graph.invoke(Command(resume={"action": "edit", "args": {"to": "b@example.org", "body": "hello"}}), config)
    assert calls == [("b@example.org", "hello")]
    assert [m.content for m in out["messages"] if isinstance(m, ToolMessage)] == ["sent to b@example.org"]


def test_approval_edit_with_invalid_arguments_is_text():
    calls: list = []
    graph = _approval_graph(calls)
    config = {"configurable": {"thread_id": "edit-bad"}}
    graph.invoke({"messages": [HumanMessage("mail a")]}, config)
    out = graph.invoke(Command(resume={"action": "edit", "args": {"to": "b@example.org"}}), config)
    (message,) = [m for m in out["messages"] if isinstance(m, ToolMessage)]
    assert calls == [] and message.status == "error" and "- body: Field required" in message.content


def test_approval_reject_never_runs_the_call():
    calls: list = []
    graph = _approval_graph(calls)
    config = {"configurable": {"thread_id": "reject"}}
    graph.invoke({"messages": [HumanMessage("mail a")]}, config)
    out = graph.invoke(Command(resume={"action": "reject", "reason": "not now"}), config)
    (message,) = [m for m in out["messages"] if isinstance(m, ToolMessage)]
    assert calls == []
    assert message.status == "error" and message.content.endswith("rejected this call to tool 'send_email'. Reason: not now")
    assert out["messages"][-1].content == "done"  # the graph went on to the model


def test_approval_bad_resume_value_can_be_answered_again():
    calls: list = []
    graph = _approval_graph(calls)
    config = {"configurable": {"thread_id": "bad-resume"}}
    graph.invoke({"messages": [HumanMessage("mail a")]}, config)
    with pytest.raises(ValidationError, match="action"):
        graph.invoke(Command(resume={"action": "maybe"}), config)
    graph.invoke(Command(resume=True), config)
    assert calls == [("a@example.org", "hi")]


def test_approval_for_another_call_is_never_used():
    calls: list = []
    graph = _approval_graph(calls)
    config = {"configurable": {"thread_id": "mismatch"}}
    graph.invoke({"messages": [HumanMessage("mail a")]}, config)
    out = graph.invoke(Command(resume={"action": "approve", "tool_call_id": "some-other-call"}), config)
    assert calls == []  # not run on another call's approval ...
    (pending,) = out["__interrupt__"]
    assert pending.value["tool_call_id"] == "c1"  # ... but asked again
    out = graph.invoke(Command(resume={pending.id: {"action": "approve", "tool_call_id": "c1"}}), config)
    assert calls == [("a@example.org", "hi")]


class Point(BaseModel):
    x: int


def test_results_of_any_type_become_text():
    def point() -> Point:
        """A model."""
        return Point(x=1)

    def nothing() -> None:
        """Nothing."""

    def mapping() -> dict:
        """A dict."""
        return {"a": [1, 2]}

    assert safe_tool(point).invoke({}) == '{"x":1}'
    assert safe_tool(nothing).invoke({}) == "null"
    assert safe_tool(mapping).invoke({}) == '{"a": [1, 2]}'


def test_approval_outside_a_graph_says_how_to_fix_it():
    wrapped = safe_tool(add, require_approval=True)
    with pytest.raises(ToolError, match="requires human approval"):
        wrapped.invoke({"a": 1, "b": 2})


def test_approval_decision_shorthands():
    assert ApprovalDecision.model_validate("Reject").action == "reject"
    assert ApprovalDecision.model_validate(False).action == "reject"
    with pytest.raises(ValueError, match="needs 'args'"):
        ApprovalDecision.model_validate({"action": "edit"})


# ---- idempotency ----------------------------------------------------------------------------


def _two_call_graph(counter: list, cache):
    """One model turn with two calls: a side effect (runs at once) and one that needs approval.

    LangGraph re-runs the whole tools node on resume, so without the cache the side effect
    would run a second time.
    """

    def charge_card(amount: int) -> str:
        """Charge the card."""
        counter.append(amount)
        return f"charged {amount}"

    def send_receipt(to: str) -> str:
        """Send a receipt."""
        return f"receipt to {to}"

    tools = [
        safe_tool(charge_card, idempotent_cache=cache),
        safe_tool(send_receipt, require_approval=True, idempotent_cache=cache),
    ]
    script = [
        AIMessage("", tool_calls=[tool_call("charge_card", {"amount": 5}, "pay-1"), tool_call("send_receipt", {"to": "me"}, "rcpt-1")])
    ]
    return build_scripted_graph(tools, script, checkpointer=InMemorySaver())


def test_side_effect_runs_once_across_an_interrupt_resume(cache_path):
    counter: list = []
    graph = _two_call_graph(counter, IdempotencyCache(cache_path))
    config = {"configurable": {"thread_id": "t-idem"}}
    assert "__interrupt__" in graph.invoke({"messages": [HumanMessage("pay")]}, config)
    assert counter == [5]
    out = graph.invoke(Command(resume="approve"), config)
    assert counter == [5]  # not charged twice
    contents = sorted(m.content for m in out["messages"] if isinstance(m, ToolMessage))
    assert contents == ["charged 5", "receipt to me"]


def test_without_the_cache_the_side_effect_repeats():
    """The control: shows the resume really re-runs the node (so the test above can fail)."""
    counter: list = []
    graph = _two_call_graph(counter, None)
    config = {"configurable": {"thread_id": "t-nocache"}}
    graph.invoke({"messages": [HumanMessage("pay")]}, config)
    graph.invoke(Command(resume="approve"), config)
    assert counter == [5, 5]


def test_cache_key_needs_thread_and_call_id(cache_path):
    counter: list = []

    def bump() -> str:
        """Count."""
        counter.append(1)
        return str(len(counter))

    cache = IdempotencyCache(cache_path)
    wrapped = safe_tool(bump, idempotent_cache=cache)
    wrapped.invoke({})
    wrapped.invoke({})  # plain calls (no tool-call id, no thread) are never cached
    assert counter == [1, 1] and len(cache) == 0
    config = {"configurable": {"thread_id": "t", "checkpoint_ns": "tools:abc"}}
    assert wrapped.invoke(tool_call("bump", {}, "c1"), config).content == "3"
    assert wrapped.invoke(tool_call("bump", {}, "c1"), config).content == "3"  # same call: cached
    assert wrapped.invoke(tool_call("bump", {}, "c2"), config).content == "4"  # new call id runs
    other_run = {"configurable": {"thread_id": "t", "checkpoint_ns": "tools:def"}}
    assert wrapped.invoke(tool_call("bump", {}, "c1"), other_run).content == "5"  # a fresh run reusing ids
    assert len(cache) == 3


def test_cache_persists_in_the_sqlite_file(cache_path):
    key = ("t", "tools:1", "c1", "add")
    IdempotencyCache(cache_path).put(key, [{"type": "text", "text": "hi"}])
    assert IdempotencyCache(cache_path).get(key) == [{"type": "text", "text": "hi"}]
    assert IdempotencyCache(cache_path, ttl_s=-1).get(key) is None  # expired entries are dropped


_CRASH_SCRIPT = textwrap.dedent(
    """
    import os, sqlite3, sys, time
    from pathlib import Path
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
    from langgraph.checkpoint.sqlite import SqliteSaver
    from genaisys.tools import safe_tool
    from tests.tools.conftest import build_scripted_graph, tool_call

    work = Path(sys.argv[1]); crash = sys.argv[2] == "crash"; cache = sys.argv[3] == "cache"
    ledger = work / "ledger.txt"

    def transfer(amount: int) -> str:
        '''Move money (a side effect).'''
        with open(ledger, "a") as f:
            f.write(f"{amount}\\n")
        return f"moved {amount}"

    def audit(note: str) -> str:
        '''Write an audit note; in the first process the machine dies here.'''
        if crash:
            deadline = time.time() + 20
            while not (ledger.exists() and ledger.read_text()) and time.time() < deadline:
                time.sleep(0.01)
            time.sleep(0.2)  # let the wrapper record transfer's result
            os._exit(3)  # a hard crash: no exception handling, no cleanup
        return "audited"

    kw = {"idempotent_cache": str(work / "calls.sqlite") if cache else None}
    tools = [safe_tool(transfer, **kw), safe_tool(audit, **kw)]
    script = [AIMessage("", tool_calls=[tool_call("transfer", {"amount": 7}, "tx-1"), tool_call("audit", {"note": "n"}, "au-1")])]
    saver = SqliteSaver(sqlite3.connect(str(work / "checkpoints.sqlite"), check_same_thread=False))
    graph = build_scripted_graph(tools, script, checkpointer=saver)
    config = {"configurable": {"thread_id": "crash-test"}}
    if crash:
        graph.invoke({"messages": [HumanMessage("pay")]}, config, durability="sync")
    else:
        out = graph.invoke(None, config, durability="sync")  # resume from the last checkpoint
        print(sorted(m.content for m in out["messages"] if isinstance(m, ToolMessage)))
    """
)


@pytest.mark.parametrize("cache", ["cache", "nocache"])
def test_side_effect_runs_once_across_a_process_crash(tmp_path, cache):
    script = tmp_path / "crash.py"
    script.write_text(_CRASH_SCRIPT)
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    first = subprocess.run([sys.executable, str(script), str(tmp_path), "crash", cache], env=env, cwd=root,
                           capture_output=True, text=True, timeout=120)
    assert first.returncode == 3, first.stderr
    second = subprocess.run([sys.executable, str(script), str(tmp_path), "resume", cache], env=env, cwd=root,
                            capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert "['audited', 'moved 7']" in second.stdout
    ledger = (tmp_path / "ledger.txt").read_text().split()
    assert ledger == (["7"] if cache == "cache" else ["7", "7"])


def test_injected_call_id_and_runtime_reach_the_wrapped_tool():
    @tool
    def who(x: int, tool_call_id: Annotated[str, InjectedToolCallId]) -> str:
        """Report the call id."""
        return f"{x}:{tool_call_id}"

    @tool
    def state_size(x: int, runtime: ToolRuntime) -> str:
        """Report the graph state size."""
        return f"{x}:{runtime.tool_call_id}:{len(runtime.state['messages'])}"

    wrapped = [safe_tool(who), safe_tool(state_size)]
    assert set(wrapped[1].tool_call_schema.model_json_schema()["properties"]) == {"x"}  # hidden from the model
    script = [AIMessage("", tool_calls=[tool_call("who", {"x": 1}, "w1"), tool_call("state_size", {"x": 2}, "s1")])]
    out = build_scripted_graph(wrapped, script).invoke({"messages": [HumanMessage("go")]})
    assert [m.content for m in out["messages"] if isinstance(m, ToolMessage)] == ["1:w1", "2:s1:2"]


def test_async_graph_approval_and_idempotency(cache_path):
    runs: list = []

    async def book(seat: str) -> str:
        """Book a seat."""
        runs.append(seat)
        return f"booked {seat}"

    async def confirm(seat: str) -> str:
        """Confirm a booking."""
        return f"confirmed {seat}"

    cache = IdempotencyCache(cache_path)
    tools = [safe_tool(book, idempotent_cache=cache), safe_tool(confirm, require_approval=True, idempotent_cache=cache)]
    script = [AIMessage("", tool_calls=[tool_call("book", {"seat": "4A"}, "b1"), tool_call("confirm", {"seat": "4A"}, "c1")])]
    graph = build_scripted_graph(tools, script, checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "async"}}

    async def run():
        first = await graph.ainvoke({"messages": [HumanMessage("book")]}, config)
        assert first["__interrupt__"][0].value["tool"] == "confirm"
        return await graph.ainvoke(Command(resume={"action": "approve"}), config)

    out = asyncio.run(run())
    assert runs == ["4A"]
    assert sorted(m.content for m in out["messages"] if isinstance(m, ToolMessage)) == ["booked 4A", "confirmed 4A"]


def test_several_gated_calls_in_one_turn_get_their_own_decisions(cache_path):
    """ToolNode runs a turn's calls in parallel and LangGraph pairs resume values with interrupts
    by order; decisions naming their tool_call_id still reach the right call, and the cache keeps
    an approved call from running again while the others wait."""
    ran: list = []

    def refund(order: str) -> str:
        """Refund an order."""
        ran.append(order)
        return f"refunded {order}"

    cache = IdempotencyCache(cache_path)
    gated = safe_tool(refund, require_approval=True, idempotent_cache=cache)
    script = [AIMessage("", tool_calls=[tool_call("refund", {"order": o}, f"r{o}") for o in "ABC"])]
    graph = build_scripted_graph([gated], script, checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "gated-turn"}}
    out = graph.invoke({"messages": [HumanMessage("refund all")]}, config)
    asked = []
    for _ in range(8):
        if "__interrupt__" not in out:
            break
        pending = out["__interrupt__"]
        asked += [p.value["tool_call_id"] for p in pending]
        answers = {
            p.id: {"action": "reject" if p.value["args"]["order"] == "B" else "approve", "tool_call_id": p.value["tool_call_id"]}
            for p in pending
        }
        out = graph.invoke(Command(resume=answers), config)
    assert set(asked) == {"rA", "rB", "rC"}
    assert sorted(ran) == ["A", "C"]  # each approved refund ran exactly once, the rejected one never
    results = {m.tool_call_id: m for m in out["messages"] if isinstance(m, ToolMessage)}
    assert results["rA"].content == "refunded A" and results["rC"].content == "refunded C"
    assert results["rB"].status == "error" and "rejected" in results["rB"].content


def test_the_default_cache_follows_genaisys_home(monkeypatch, tmp_path):
    from genaisys.tools.safety import default_cache_path

    monkeypatch.delenv("GENAISYS_TOOL_CACHE", raising=False)
    monkeypatch.setenv("GENAISYS_HOME", str(tmp_path / "home"))
    assert default_cache_path() == tmp_path / "home" / "tool_calls.sqlite"
    monkeypatch.setenv("GENAISYS_TOOL_CACHE", str(tmp_path / "own.sqlite"))
    assert default_cache_path() == tmp_path / "own.sqlite"
