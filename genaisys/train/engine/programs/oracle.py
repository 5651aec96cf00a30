"""The oracle: a scripted policy playing the CPU inside a real graph, recording every call it gets.

Training data for the core is made by *running the programs it runs in*. A graph (assistant,
RAG, any-to-any, planner) is built around an `OracleCore` instead of the core: real tools act,
a real memory recalls, the real nodes assemble the prompt. At each model call the oracle is
handed exactly the messages and tools the graph would hand the core — system prompt with the
recalled context, tool list, history, tool results — and answers with what a good CPU would
say, decided by the scenario's `Policy` from what it can see (a tool's actual result, the
chunks actually retrieved). Each call is kept as a `RecordedCall`; `RecordedCall.to_record`
turns it into a training record whose rendering through `ChatCore.render_prompt` is the text
the core reads at inference, followed by the answer to learn (``train_on: "last"``).

Example:
    >>> from genaisys.graphs import build_assistant_graph, run_turn
    >>> oracle = OracleCore()
    >>> graph = build_assistant_graph(oracle, checkpointer=False)
    >>> oracle.policy = lambda view: f"You said: {view.user_text}"
    >>> run_turn(graph, "hello", thread_id="t")["messages"][-1].content
    'You said: hello'
    >>> call = oracle.calls[-1]
    >>> call.node, [m.type for m in call.messages], call.reply.content
    ('think', ['human'], 'You said: hello')
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict

from genaisys.errors import ConfigError
from genaisys.types import ContextOrder

__all__ = ["ContextChunk", "OracleCore", "Policy", "RecordedCall", "View", "call", "merge_calls", "plan"]

_CHUNK = re.compile(r"^\[(\d+)\] \(source: ([^)]*)\) ", re.M)


@dataclass(frozen=True)
class ContextChunk:
    """One numbered chunk of the context the graph put in the system prompt."""

    number: int
    citation: str
    text: str


@dataclass
class View:
    """What the oracle sees at one call: the graph's messages and bound tools, with helpers."""

    messages: list[BaseMessage]
    tools: list[dict[str, Any]]
    node: str = ""

    @property
    def tool_names(self) -> list[str]:
        return [t["function"]["name"] for t in self.tools]

    @property
    def system(self) -> str:
        first = self.messages[0] if self.messages else None
        return first.text if isinstance(first, SystemMessage) else ""

    @property
    def context(self) -> list[ContextChunk]:
        """The numbered chunks ``[n] (source: …) text`` in the system prompt, in order."""
        text = self.system
        marks = list(_CHUNK.finditer(text))
        chunks = []
        for i, m in enumerate(marks):
            end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
            chunks.append(ContextChunk(int(m.group(1)), m.group(2), text[m.end():end].strip()))
        return chunks

    @property
    def turn(self) -> list[BaseMessage]:
        """The messages after the latest human message (this turn's calls and results)."""
        for i in range(len(self.messages) - 1, -1, -1):
            if isinstance(self.messages[i], HumanMessage):
                return self.messages[i + 1:]
        return list(self.messages)

    @property
    def step(self) -> int:
        """How many model replies this turn has had before this call (0 at the first)."""
        return sum(isinstance(m, AIMessage) for m in self.turn)

    @property
    def results(self) -> list[ToolMessage]:
        return [m for m in self.turn if isinstance(m, ToolMessage)]

    @property
    def user_text(self) -> str:
        for m in reversed(self.messages):
            if isinstance(m, HumanMessage):
                return m.text
        return ""

    @property
    def history(self) -> list[BaseMessage]:
        """The conversation before the latest human message (system prompt excluded)."""
        body = [m for m in self.messages if not isinstance(m, SystemMessage)]
        for i in range(len(body) - 1, -1, -1):
            if isinstance(body[i], HumanMessage):
                return body[:i]
        return []


Policy = Callable[[View], "AIMessage | str"]
"""``policy(view) -> reply``: an `AIMessage` (text and/or tool calls) or plain text."""


def call(name: str, args: dict[str, Any], text: str = "") -> AIMessage:
    """A reply that calls one tool (ids are given when the oracle returns it).

    Example:
        >>> call("calculator", {"expression": "2+2"}).tool_calls[0]["args"]
        {'expression': '2+2'}
    """
    return AIMessage(text, tool_calls=[{"name": name, "args": dict(args), "id": "", "type": "tool_call"}])


def plan(*steps: AIMessage | str | Callable[[View], AIMessage | str]) -> Policy:
    """A policy that plays ``steps`` in order, one per model call of the turn: a fixed reply, or a
    function of the view (to answer from a tool's actual result, say). Calls past the last step
    repeat it.

    Example:
        >>> policy = plan(call("calculator", {"expression": "6*7"}), lambda v: f"It is {v.results[-1].text}.")
    """
    if not steps:
        raise ConfigError("plan() needs at least one step")

    def policy(view: View) -> AIMessage | str:
        step = steps[min(view.step, len(steps) - 1)]
        return step(view) if callable(step) and not isinstance(step, (AIMessage, str)) else step

    return policy


@dataclass
class RecordedCall:
    """One model call of a graph run: its input exactly as the graph built it, and the oracle's reply."""

    graph: str
    node: str
    messages: list[BaseMessage]
    tools: list[dict[str, Any]]
    reply: AIMessage
    meta: dict[str, Any] = field(default_factory=dict)

    def to_record(self, id: str, *, blobs: Any = None, train_on: str = "last") -> dict[str, Any]:
        """The training record: this prompt, then the reply as the turn to learn (``train_on``:
        which earlier gpt turns are targets too — see `merge_calls`)."""
        from genaisys.train.data import from_messages

        meta = {"graph": self.graph, "node": self.node, **self.meta}
        return from_messages([*self.messages, self.reply], self.tools or None, id=id, blobs=blobs,
                             train_on=train_on, meta=meta)

    @property
    def conversation(self) -> list[BaseMessage]:
        return [*self.messages, self.reply]


def _same(a: BaseMessage, b: BaseMessage) -> bool:
    if type(a) is not type(b) or a.content != b.content:
        return False
    if isinstance(a, AIMessage):
        return [(c["name"], c["args"], c["id"]) for c in a.tool_calls] == \
            [(c["name"], c["args"], c["id"]) for c in b.tool_calls]  # type: ignore[union-attr]
    if isinstance(a, ToolMessage):
        return a.tool_call_id == b.tool_call_id  # type: ignore[union-attr]
    return True


def _extends(later: RecordedCall, earlier: RecordedCall) -> bool:
    head = earlier.conversation
    return later.tools == earlier.tools and len(later.messages) >= len(head) and \
        all(_same(x, y) for x, y in zip(later.messages, head))


def merge_calls(calls: Sequence[RecordedCall]) -> list[tuple[RecordedCall, str]]:
    """Fold calls whose whole conversation is the start of a later call's prompt into that call.

    Within one user turn the system prompt stays and each call's prompt is the previous one plus
    its reply and the tool results; without recalled context the whole thread is one growing
    conversation. One record per chain then trains every reply of it — the same labels on the same
    text, at the cost of one prompt. Returns ``(last call, train_on)`` pairs: ``"all"`` when every
    gpt turn of the record is a reply of the chain, ``"turn"`` when those after the last human turn
    are, ``"last"`` for a call that could not be folded.

    Example:
        >>> merge_calls([])
        []
    """
    chains: list[list[RecordedCall]] = []
    for c in calls:
        if chains and _extends(c, chains[-1][-1]):
            chains[-1].append(c)
        else:
            chains.append([c])
    out: list[tuple[RecordedCall, str]] = []
    for chain in chains:
        last = chain[-1]
        conversation = last.conversation
        replies = {len(c.messages) for c in chain}
        ai = {i for i, m in enumerate(conversation) if isinstance(m, AIMessage)}
        humans = [i for i, m in enumerate(conversation) if isinstance(m, HumanMessage)]
        after = {i for i in ai if not humans or i > humans[-1]}
        if replies == ai:
            out.append((last, "all"))
        elif replies == after:
            out.append((last, "turn"))
        else:
            out.extend((c, "last") for c in chain)
    return out


class OracleCore(BaseChatModel):
    """A LangChain chat model whose answers come from ``policy``; every call lands in ``calls``.

    Attributes:
        policy: the current `Policy` (set it before each user turn).
        calls: the recorded calls, in order.
        graph: the graph name written into each `RecordedCall` (set by the runner).
        meta: extra fields written into each call's record ``meta``.
        context_sentences: what graphs built around it with ``context_sentences="auto"`` focus the
            recalled context to — set it to the trained core's value, so records show what it will read.
        context_min_score: the relevance floor of that focus (the trained core's value too).
        context_order: how that focus lays out its sentences (the trained core's value too).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    policy: Any = None
    calls: list[Any] = []
    graph: str = ""
    meta: dict[str, Any] = {}
    context_sentences: int | None = None
    context_min_score: float | None = None
    context_order: ContextOrder = "document"

    @classmethod
    def for_world(cls, graph: str, world: Any) -> OracleCore:
        """An oracle for ``graph`` that focuses recalled context as ``world`` says (its
        ``context_sentences``, ``context_min_score`` and ``context_order``: those of the core being
        trained)."""
        return cls(graph=graph, context_sentences=getattr(world, "context_sentences", None),
                   context_min_score=getattr(world, "context_min_score", None),
                   context_order=getattr(world, "context_order", "document"))

    @property
    def _llm_type(self) -> str:
        return "genaisys-oracle"

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: str | None = None,
                   **kwargs: Any) -> Runnable[LanguageModelInput, AIMessage]:
        formatted = [convert_to_openai_tool(t) for t in tools]
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=formatted, **kwargs)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        from genaisys.core.toolcall import new_tool_call_id

        if self.policy is None:
            raise ConfigError("the oracle has no policy: set oracle.policy before running the graph")
        tools = [] if kwargs.get("tool_choice") == "none" else list(kwargs.get("tools") or [])
        view = View(list(messages), tools, _current_node())
        reply = self.policy(view)
        if isinstance(reply, str):
            reply = AIMessage(reply)
        if reply.tool_calls:
            unknown = [c["name"] for c in reply.tool_calls if c["name"] not in view.tool_names]
            if unknown:
                raise ConfigError(f"the oracle called {unknown}, which this call does not bind "
                                  f"({view.tool_names}); the scenario is wrong")
            reply = AIMessage(reply.text, tool_calls=[{**c, "id": new_tool_call_id()} for c in reply.tool_calls])
        self.calls.append(RecordedCall(self.graph, view.node, view.messages, tools, reply, dict(self.meta)))
        return ChatResult(generations=[ChatGeneration(message=reply)])


def _current_node() -> str:
    """The LangGraph node running this call ('' outside a graph)."""
    try:
        from langgraph.config import get_config

        return str((get_config().get("metadata") or {}).get("langgraph_node", ""))
    except RuntimeError:
        return ""
