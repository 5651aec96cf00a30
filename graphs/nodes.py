"""Node factories for any LangGraph ``StateGraph`` over :class:`~genaisys.graphs.state.AssistantState`.

Each ``make_*_node`` returns a node to add with ``StateGraph.add_node``: a plain function
``(state, config) -> update``, a sync+async runnable (``think``) or LangGraph's ``ToolNode``
(``act``). They work with any LangChain chat model (a ``genaisys`` ``ChatCore``,
a ``RemoteCore`` or a third-party one), any LangChain tools, and any memory with a
``search(query, k=..., where=...)`` method.

Stream events (``stream_mode="custom"``) written by these nodes are dicts with a ``"type"``:
``{"type": "token", "node", "text"}`` from ``think`` for every model chunk,
``{"type": "tool_start", "name", "args", "id"}`` and
``{"type": "tool_end", "name", "id", "status", "content"}`` from ``act``.

Example:
    >>> from langgraph.graph import END, START, StateGraph
    >>> from genaisys.graphs.nodes import make_act_node, make_think_node, route_after_think
    >>> from genaisys.graphs.state import ACT, THINK, AssistantState
    >>> def build(model, tools):
    ...     g = StateGraph(AssistantState)
    ...     g.add_node(THINK, make_think_node(model, tools))
    ...     g.add_node(ACT, make_act_node(tools))
    ...     g.add_edge(START, THINK)
    ...     g.add_conditional_edges(THINK, route_after_think, {ACT: ACT, END: END})
    ...     g.add_edge(ACT, THINK)
    ...     return g.compile()
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Container, Sequence
from typing import Any, Literal, Optional  # Optional: LangGraph matches the `config` annotation text

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.messages.utils import message_chunk_to_message
from langchain_core.runnables import Runnable, RunnableConfig, ensure_config
from langchain_core.tools import BaseTool
from langchain_core.tools import tool as _as_tool
from langgraph.graph import END
from langgraph.prebuilt import ToolNode
from langgraph.types import interrupt

from genaisys.errors import ConfigError, GraphError
from genaisys.memory.focus import ORDERS as _ORDERS
from genaisys.graphs.state import (
    ACT,
    APPROVE,
    CONTEXT,
    MESSAGES,
    RECALL,
    REMEMBER,
    THINK,
    ContextHit,
    format_context,
    hit_to_context,
    last_user_text,
    message_text,
)
from genaisys.types import Blobs, ContextOrder, Memory

__all__ = [
    "CONTEXT_INSTRUCTION",
    "INVALID_CALL_TEMPLATE",
    "LOOP_TEXT",
    "NO_ANSWER_TEXT",
    "NO_CONTEXT_TEXT",
    "REJECTED_TOOL_TEMPLATE",
    "TOOL_ERROR_TEMPLATE",
    "ToolSpec",
    "add_tool_loop",
    "context_order_for",
    "context_sentences_for",
    "focused_recall_node",
    "make_act_node",
    "make_approval_node",
    "make_recall_node",
    "make_remember_node",
    "make_think_node",
    "no_context_note",
    "relevance_floor",
    "resolve_tools",
    "route_after_approve",
    "route_after_think",
]

ToolSpec = str | BaseTool | Callable[..., Any]
"""A tool as the graph builders accept it: a registry name, a LangChain tool, or a function."""

# Text meant for the model: templates, kept apart from exceptions (those are for the programmer).
CONTEXT_INSTRUCTION = (
    "Context retrieved from memory is listed below, numbered. Use it when it is relevant and "
    "cite each source you use as [n]. Do not invent sources."
)
NO_CONTEXT_TEXT = "Memory was searched for this request and holds nothing relevant to it."
INVALID_CALL_TEMPLATE = (
    "Your tool call could not be used: {errors}\nCall the tool again with a JSON object of arguments, "
    "or answer in plain text."
)
LOOP_TEXT = "The {name} tool returned: {result}"
NO_ANSWER_TEXT = "I could not finish this with the tools. Please rephrase the request."
TOOL_ERROR_TEMPLATE = "Error: {error}\nFix the arguments and call the tool again, or answer without it."
REJECTED_TOOL_TEMPLATE = "The user did not approve the call to tool {name!r}{reason}. Do not retry it unasked."


def _stream_writer() -> Callable[[Any], None]:
    """LangGraph's custom-stream writer, or a no-op outside a graph run."""
    from langgraph.config import get_stream_writer

    try:
        return get_stream_writer()
    except (RuntimeError, KeyError):  # called outside a running graph (a unit test calling the node)
        return lambda _chunk: None


# --------------------------------------------------------------------------------------- tools
def _safe(tool: BaseTool, settings: dict[str, Any]) -> BaseTool:
    """Wrap a tool in genaisys's safety wrapper (timeout, size cap, validation errors as text…)."""
    from genaisys.tools import safe_tool  # lazy: layer 2

    if getattr(tool, "_genaisys_safe", False) and not settings:  # already wrapped (get_tool does it)
        return tool
    return safe_tool(tool, **settings)


def resolve_tools(
    tools: Sequence[ToolSpec], *, memory: Memory | None = None, safe: bool = True, safety: dict[str, Any] | None = None
) -> list[BaseTool]:
    """Turn tool specs into LangChain tools, each wrapped by ``genaisys.tools.safe_tool``.

    Args:
        tools: Registry names (``"builtin:calculator"``; ``"builtin:memory_search"`` is given
            ``memory=``), LangChain ``BaseTool`` objects, or plain functions with a docstring.
        memory: The memory handed to memory tools.
        safe: Wrap each tool with the safety wrapper (default ``True``). ``False`` returns the
            plain tools, registry tools included (as ``get_tool(name, safe=False)`` builds them).
        safety: Settings for ``genaisys.tools.safe_tool`` (``timeout_s``, ``max_output_chars``,
            ``require_approval``, ``idempotent_cache``), applied to every tool.

    Returns:
        The tools, in order, with unique names.

    Raises:
        ConfigError: A spec is of the wrong type, two tools share a name, or ``safety`` settings
            come with ``safe=False`` (there is no wrapper to apply them to).

    Example:
        >>> def add(a: int, b: int) -> int:
        ...     '''Add two integers.'''
        ...     return a + b
        >>> [t.name for t in resolve_tools([add], safe=False)]
        ['add']
    """
    if not safe and safety:
        raise ConfigError(f"safety settings {sorted(safety)} need the safety wrapper; drop safety= or pass safe=True")
    resolved: list[BaseTool] = []
    for spec in tools:
        if isinstance(spec, str):
            from genaisys.tools import get_tool  # lazy: layer 2, built in parallel

            kwargs = {"memory": memory} if "memory" in spec.split(":")[-1] else {}
            if kwargs and memory is None:
                raise ConfigError(f"tool {spec!r} needs a memory: pass memory=... to the graph builder")
            # get_tool wraps the tool itself (with the registry's defaults plus `safety`), or not
            resolved.append(get_tool(spec, safe=safe, safety=safety, **kwargs))
            continue
        elif isinstance(spec, BaseTool):
            tool = spec
        elif callable(spec):
            if not (getattr(spec, "__doc__", None) or "").strip():
                raise ConfigError(
                    f"function {getattr(spec, '__name__', spec)!r} needs a docstring: the model reads it "
                    "as the tool's description"
                )
            tool = _as_tool(spec)
        else:
            raise ConfigError(
                f"a tool must be a registry name, a LangChain BaseTool or a function, got {type(spec).__name__}"
            )
        resolved.append(_safe(tool, dict(safety or {})) if safe else tool)
    names = [t.name for t in resolved]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"two tools share the name(s) {duplicates}; rename one (tool names must be unique)")
    return resolved


# -------------------------------------------------------------------------------------- recall
def make_recall_node(memory: Memory | None, k: int = 4, *, where: dict[str, Any] | None = None,
                     sentences: int | None = None, min_score: float | None = None,
                     order: ContextOrder = "document") -> Callable[..., dict]:
    """A node that searches ``memory`` with the latest user text and puts the hits in ``context``.

    Args:
        memory: Anything with ``search(query, k=..., where=...)`` returning hits with
            ``id/text/score/source/citation/metadata`` (``genaisys.memory.ChromaMemory`` does).
        k: How many hits to keep.
        where: Optional metadata filter passed to ``search``.
        sentences: Focus the context: keep only this many of the hits' sentences, those closest
            to the question (`genaisys.memory.focus.focus_hits`, scored with ``memory.embedding``
            when the memory has one). ``None`` keeps whole chunks.
        min_score: With ``sentences``: keep only sentences scoring at least this, so a question
            nothing in memory bears on gets no context (see `genaisys.memory.focus.focus_hits`).
        order: With ``sentences``: ``"document"`` (kept sentences grouped by chunk) or ``"best"``
            (one context entry per sentence, best-scoring first).

    Example:
        >>> class Mem:
        ...     def search(self, query, k=4, where=None):
        ...         return [{"id": "1", "text": "Paris is in France.", "score": 0.9, "source": "geo.md"}]
        >>> from langchain_core.messages import HumanMessage
        >>> make_recall_node(Mem())({"messages": [HumanMessage("Where is Paris?")]})["context"][0]["citation"]
        'geo.md'
    """
    if not callable(getattr(memory, "search", None)):
        raise ConfigError(f"memory must have a search(query, k=..., where=...) method; got {type(memory).__name__}")
    if k < 1:
        raise ConfigError(f"k must be at least 1, got {k}")
    if sentences is not None and not _is_count(sentences):
        raise ConfigError(f"sentences must be None or an integer ≥ 1, got {sentences!r}")
    if min_score is not None and (sentences is None or not _is_number(min_score)):
        raise ConfigError(f"min_score is a number that filters focused sentences; give sentences=N with it "
                          f"(got sentences={sentences!r}, min_score={min_score!r})")
    if order not in _ORDERS:
        raise ConfigError(f"order must be one of {_ORDERS}, got {order!r}")

    def recall(state: dict, config: Optional[RunnableConfig] = None) -> dict[str, list[ContextHit]]:
        query = last_user_text(state.get(MESSAGES, []))
        if not query.strip():
            return {CONTEXT: []}
        hits = memory.search(query, k=k, where=where) if where is not None else memory.search(query, k=k)
        context = [hit_to_context(h) for h in hits]
        if sentences is not None and context:
            from genaisys.memory.focus import focus_hits  # lazy: layer 2

            embedding = getattr(memory, "embedding", None)
            context = [hit_to_context(h) for h in focus_hits(query, context, sentences=sentences, min_score=min_score,
                                                             order=order,
                                                             embedding=embedding if callable(embedding) else None)]
        return {CONTEXT: context}

    recall.__name__ = RECALL
    return recall


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def context_sentences_for(core: Any, context_sentences: int | None | str = "auto") -> int | None:
    """Resolve a graph builder's ``context_sentences``: ``"auto"`` asks the core (a `ChatCore`'s
    ``context_sentences``, taken from its config when it was trained on focused context; any other model
    reads whole chunks).

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> context_sentences_for(FakeListChatModel(responses=["ok"])), context_sentences_for(None, 4)
        (None, 4)
    """
    if context_sentences == "auto":
        value = getattr(core, "context_sentences", None)
        return value if _is_count(value) else None
    if context_sentences is None or _is_count(context_sentences):
        return context_sentences
    raise ConfigError(f"context_sentences must be 'auto', None or an integer ≥ 1, got {context_sentences!r}")


def focused_recall_node(memory: Memory, k: int, core: Any, context_sentences: int | None | str = "auto", *,
                        where: dict[str, Any] | None = None) -> Callable[..., dict]:
    """The recall node a graph builder adds: focused as `context_sentences_for` resolves, with the
    core's relevance floor (its ``context_min_score``) when the focus comes from the core (``"auto"``)."""
    sentences = context_sentences_for(core, context_sentences)
    return make_recall_node(memory, k, where=where, sentences=sentences,
                            min_score=relevance_floor(core, context_sentences),
                            order=context_order_for(core, context_sentences))


def context_order_for(core: Any, context_sentences: int | None | str = "auto") -> ContextOrder:
    """How a graph's recall lays out focused sentences: the core's ``context_order`` when the focus
    comes from the core (``"auto"``) and it names one, else ``"document"``.

    Example:
        >>> class Core:
        ...     context_sentences, context_order = 3, "best"
        >>> context_order_for(Core()), context_order_for(Core(), 3), context_order_for(None)
        ('best', 'document', 'document')
    """
    order = getattr(core, "context_order", None) if context_sentences == "auto" else None
    if context_sentences_for(core, context_sentences) is None or order is None:
        return "document"
    if order not in _ORDERS:
        raise ConfigError(f"context_order must be one of {_ORDERS}, got {order!r}")
    return order


def relevance_floor(core: Any, context_sentences: int | None | str = "auto") -> float | None:
    """The relevance floor a graph's recall applies: the core's ``context_min_score`` when the focus
    comes from the core (``"auto"``) and it reads focused context, else ``None``.

    Example:
        >>> class Core:
        ...     context_sentences, context_min_score = 6, 0.55
        >>> relevance_floor(Core()), relevance_floor(Core(), 6), relevance_floor(None)
        (0.55, None, None)
    """
    if context_sentences != "auto" or context_sentences_for(core, context_sentences) is None:
        return None
    floor = getattr(core, "context_min_score", None)
    return floor if _is_number(floor) else None


def no_context_note(memory: Memory | None, core: Any, context_sentences: int | None | str = "auto") -> str | None:
    """What the think node says when recall found nothing: `NO_CONTEXT_TEXT` where a relevance floor
    can empty the context (so a memory thread with nothing relevant still differs from a thread
    without memory), else ``None`` (the prompt then has no context part, as cores without a floor
    were trained)."""
    return NO_CONTEXT_TEXT if memory is not None and relevance_floor(core, context_sentences) is not None else None


def make_remember_node(memory: Memory | None, *, source_prefix: str = "conversation") -> Callable[..., dict]:
    """A node that writes the turn that just ended (the user's text and the final answer) to memory.

    The text goes in with ``add_texts`` and metadata ``{"source": "<source_prefix>:<thread_id>",
    "kind": "exchange"}``, so a later ``recall`` (in this thread or another) can find and cite it.
    Turns without text on either side are skipped. Memory ids are content hashes, so a resumed
    graph that runs this node again stores nothing twice.

    Args:
        memory: Anything with ``add_texts(texts, metadatas)`` (``genaisys.memory.ChromaMemory``).
        source_prefix: The start of the ``source`` recorded with each exchange.

    Example:
        >>> class Mem:
        ...     def add_texts(self, texts, metadatas):
        ...         print(texts[0], metadatas[0]["source"])
        >>> from langchain_core.messages import AIMessage, HumanMessage
        >>> node = make_remember_node(Mem())
        >>> node({"messages": [HumanMessage("I like tea."), AIMessage("Noted.")]}, {"configurable": {"thread_id": "t1"}})
        User: I like tea.
        Assistant: Noted. conversation:t1
        {}
    """
    if not callable(getattr(memory, "add_texts", None)):
        raise ConfigError(f"memory must have an add_texts(texts, metadatas) method; got {type(memory).__name__}")

    def remember(state: dict, config: Optional[RunnableConfig] = None) -> dict:
        messages = state.get(MESSAGES, [])
        answer = messages[-1] if messages and isinstance(messages[-1], AIMessage) else None
        question = last_user_text(messages)
        if answer is None or not question.strip() or not message_text(answer).strip():
            return {}
        thread = ((config or {}).get("configurable") or {}).get("thread_id", "default")
        memory.add_texts(
            [f"User: {question}\nAssistant: {message_text(answer)}"],
            [{"source": f"{source_prefix}:{thread}", "kind": "exchange"}],
        )
        return {}

    remember.__name__ = REMEMBER
    return remember


# --------------------------------------------------------------------------------------- think
def _with_system(messages: Sequence[BaseMessage], system_prompt: str | None, context: Sequence[dict],
                 no_context: str | None = None) -> list:
    parts = [system_prompt] if system_prompt else []
    if context:
        parts.append(f"{CONTEXT_INSTRUCTION}\n{format_context(context)}")
    elif no_context:
        parts.append(no_context)
    messages = list(messages)
    if messages and isinstance(messages[0], SystemMessage):  # one system message: some templates need it
        parts.insert(0, message_text(messages[0]))
        messages = messages[1:]
    return ([SystemMessage("\n\n".join(parts))] if parts else []) + messages


def make_think_node(
    model: BaseChatModel,
    tools: Sequence[BaseTool] = (),
    system_prompt: str | None = None,
    *,
    stream_tokens: bool = True,
    repair_attempts: int = 1,
    max_tool_rounds: int | None = 4,
    name: str = THINK,
    no_context: str | None = None,
) -> Any:
    """A node where the model (the CPU) reads the conversation and answers or calls tools.

    The model is bound to ``tools`` (``bind_tools``); a system message carrying
    ``system_prompt`` and the retrieved ``context`` with numbered citations is prepended to the
    conversation for the call only (it is not stored in the state).

    Args:
        model: Any LangChain chat model.
        tools: Tools the model may call (already resolved, see :func:`resolve_tools`).
        system_prompt: Instructions prepended to every call.
        stream_tokens: Stream the model and write every chunk to the ``custom`` stream mode as
            ``{"type": "token", "node": name, "text": ...}``.
        repair_attempts: When the model's reply has only unusable tool calls
            (``invalid_tool_calls``: bad JSON, say), show it the errors
            (:data:`INVALID_CALL_TEMPLATE`) and ask again, up to this many times; a
            ``{"type": "repair", "node", "errors"}`` event is streamed each time. Only the final
            reply is stored. A reply still unusable after them (a call to a tool that is not bound,
            say) is asked once more without tools, so the turn ends in words: its text with any
            call markup dropped, else :data:`NO_ANSWER_TEXT`, never an empty answer; a
            ``tool_loop`` event names the calls dropped.
        max_tool_rounds: After this many tool rounds in one turn (since the last user message),
            the model is asked without tools and must answer (calls it still writes are dropped).
            A reply that only repeats a call already answered in this turn is asked again without
            tools too (a small model can loop on a tool); if it repeats again, the calls are
            dropped. Dropped calls stream a ``{"type": "tool_loop", "node", "calls"}`` event.
            ``None``: no limit.
        name: The node name written into token events.
        no_context: Said in the system message when the state's ``context`` is empty (what
            `no_context_note` gives a graph whose recall has a relevance floor); ``None``: nothing.

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> from langchain_core.messages import HumanMessage
        >>> think = make_think_node(FakeListChatModel(responses=["hello"]))
        >>> think.invoke({"messages": [HumanMessage("hi")]})["messages"][0].content
        'hello'
    """
    if not isinstance(model, BaseChatModel):
        raise ConfigError(f"model must be a LangChain BaseChatModel, got {type(model).__name__}")
    if tools:
        try:
            bound = model.bind_tools(list(tools))
        except NotImplementedError as exc:
            raise ConfigError(
                f"{type(model).__name__} does not implement bind_tools; use a chat model with tool calling "
                "or build the graph without tools"
            ) from exc
    else:
        bound = model

    def finish(merged: Any) -> AIMessage:
        if merged is None:
            raise GraphError(f"model {type(model).__name__} streamed no output in node {name!r}")
        response = message_chunk_to_message(merged)
        if not isinstance(response, AIMessage):
            raise GraphError(f"model returned {type(response).__name__}, expected an AIMessage")
        return response

    def emit(write: Callable[[Any], None], chunk: Any, merged: Any) -> Any:
        text = chunk.text if isinstance(chunk.text, str) else message_text(chunk)
        if text:
            write({"type": "token", "node": name, "text": text})
        return chunk if merged is None else merged + chunk

    def once(prompt: list, config: RunnableConfig | None, runner: Any = None) -> AIMessage:
        runner = bound if runner is None else runner
        if not stream_tokens:
            return finish(runner.invoke(prompt, config))
        write, merged = _stream_writer(), None
        for chunk in runner.stream(prompt, config):
            merged = emit(write, chunk, merged)
        return finish(merged)

    async def aonce(prompt: list, config: RunnableConfig | None, runner: Any = None) -> AIMessage:
        runner = bound if runner is None else runner
        if not stream_tokens:
            return finish(await runner.ainvoke(prompt, config))
        write, merged = _stream_writer(), None
        async for chunk in runner.astream(prompt, config):
            merged = emit(write, chunk, merged)
        return finish(merged)

    def think(state: dict, config: Optional[RunnableConfig] = None) -> dict[str, list[BaseMessage]]:
        messages = state.get(MESSAGES, [])
        prompt = _with_system(messages, system_prompt, state.get(CONTEXT) or [], no_context)
        rounds, answered = _tool_rounds(messages)
        spent = bool(tools) and max_tool_rounds is not None and rounds >= max_tool_rounds
        response = once(prompt, config, model if spent else None)
        if spent:
            response = _no_loop(response, None, name, messages)
        first = prompt
        for _ in range(repair_attempts):
            if not _unusable(response):
                break
            prompt = _repair_prompt(prompt, response, name)
            response = once(prompt, config)
        if _unusable(response):  # repairs spent: asked once without tools, the turn still ends in words
            return {MESSAGES: [_gave_up(_no_loop(once(first, config, model), None, name, messages), response)]}
        if tools and _repeats(response, answered):
            response = _no_loop(once(prompt, config, model), answered, name, messages)
        return {MESSAGES: [response]}

    async def athink(state: dict, config: Optional[RunnableConfig] = None) -> dict[str, list[BaseMessage]]:
        messages = state.get(MESSAGES, [])
        prompt = _with_system(messages, system_prompt, state.get(CONTEXT) or [], no_context)
        rounds, answered = _tool_rounds(messages)
        spent = bool(tools) and max_tool_rounds is not None and rounds >= max_tool_rounds
        response = await aonce(prompt, config, model if spent else None)
        if spent:
            response = _no_loop(response, None, name, messages)
        first = prompt
        for _ in range(repair_attempts):
            if not _unusable(response):
                break
            prompt = _repair_prompt(prompt, response, name)
            response = await aonce(prompt, config)
        if _unusable(response):  # repairs spent: asked once without tools, the turn still ends in words
            return {MESSAGES: [_gave_up(_no_loop(await aonce(first, config, model), None, name, messages), response)]}
        if tools and _repeats(response, answered):
            response = _no_loop(await aonce(prompt, config, model), answered, name, messages)
        return {MESSAGES: [response]}

    # sync and async: an async graph run (ainvoke/astream, `genaisys serve`) awaits the model
    return _SyncAsyncNode(think, athink, name=name)


class _SyncAsyncNode(Runnable[dict, dict]):
    """Calls ``func(state, config)`` from ``invoke`` and awaits ``afunc(state, config)`` from ``ainvoke``.

    LangGraph takes any `Runnable` as a node as it is and hands it the node's config, so the
    model calls inside inherit the graph's callbacks (token streaming, tracing) and stream writer.
    It opens no traced run of its own, so a step costs what LangGraph's own (private) wrapper for
    plain functions costs; `RunnableLambda`, which opens a traced child run per call, costs ~40%
    more per step of a one-node graph.
    """

    def __init__(self, func: Callable[..., Any], afunc: Callable[..., Any], *, name: str) -> None:
        self.func, self.afunc, self.name = func, afunc, name

    def invoke(self, input: dict, config: RunnableConfig | None = None, **kwargs: Any) -> dict:
        return self.func(input, config if config is not None else ensure_config())

    async def ainvoke(self, input: dict, config: RunnableConfig | None = None, **kwargs: Any) -> dict:
        return await self.afunc(input, config if config is not None else ensure_config())


def _call_key(call: dict) -> str:
    return json.dumps([call.get("name"), call.get("args")], sort_keys=True, default=str)


def _tool_rounds(messages: Sequence[BaseMessage]) -> tuple[int, set[str]]:
    """Tool rounds since the last user message, and the calls they made."""
    rounds, calls = 0, set()
    for msg in reversed(messages):
        if isinstance(msg, HumanMessage):
            break
        if isinstance(msg, AIMessage) and msg.tool_calls:
            rounds += 1
            calls.update(_call_key(c) for c in msg.tool_calls)
    return rounds, calls


def _repeats(response: AIMessage, answered: set[str]) -> bool:
    return bool(response.tool_calls) and all(_call_key(c) in answered for c in response.tool_calls)


_CALL_MARKUP = re.compile(r"<tool_call>.*?(</tool_call>|$)", re.S)


def _no_loop(response: AIMessage, answered: set[str] | None, node: str, messages: Sequence[BaseMessage] = ()) -> AIMessage:
    """Asked without tools, a model may still write a call — as a call, or as call markup in its
    text: drop the calls it already made this turn (``answered``), or every call once the turn's
    tool budget is spent (``None``). What is left is its text, else the last tool result."""
    text = message_text(response)
    stripped = _CALL_MARKUP.sub("", text).strip()
    calls = [*response.tool_calls, *response.invalid_tool_calls]  # an unusable call is dropped as well
    if (not calls or (answered is not None and not _repeats(response, answered))) and stripped == text.strip():
        return response
    _stream_writer()({"type": "tool_loop", "node": node, "calls": [c.get("name") for c in calls]})
    last = next((m for m in reversed(messages) if isinstance(m, ToolMessage)), None)
    if not stripped and last is not None and last.status != "error":  # a tool's error text is no answer
        stripped = LOOP_TEXT.format(name=last.name or "tool", result=message_text(last)[:500])
    return AIMessage(stripped or NO_ANSWER_TEXT, id=response.id, response_metadata=response.response_metadata)


def _gave_up(answer: AIMessage, broken: AIMessage) -> AIMessage:
    """``answer`` with the unusable calls of ``broken`` kept in its metadata (``unusable_calls``): an
    evaluation of the model's tool choice must still see them."""
    answer.response_metadata["unusable_calls"] = list(broken.invalid_tool_calls)
    return answer


def _unusable(response: AIMessage) -> bool:
    return bool(response.invalid_tool_calls) and not response.tool_calls


def _repair_prompt(prompt: list, response: AIMessage, node: str) -> list:
    errors = "; ".join(
        c.get("error") or f"the arguments of {c.get('name')!r} are not a JSON object: {str(c.get('args'))[:200]!r}"
        for c in response.invalid_tool_calls
    )
    _stream_writer()({"type": "repair", "node": node, "errors": errors})
    # the unusable reply goes back as text: an AI turn carrying call ids no tool answers breaks chat APIs
    return [*prompt, AIMessage(message_text(response)), HumanMessage(INVALID_CALL_TEMPLATE.format(errors=errors))]


def route_after_think(state: dict) -> Literal["act", "__end__"]:
    """Go to ``act`` when the model's last message calls tools, otherwise end the turn."""
    messages = state.get(MESSAGES, [])
    last = messages[-1] if messages else None
    if isinstance(last, AIMessage) and last.tool_calls:
        return ACT
    return END


# ----------------------------------------------------------------------------------------- act
def _externalize_tool_media(result: Any, blobs: Blobs | None) -> Any:
    """Move inline (base64) media a tool returned into the blob store; keep a file_id block."""
    if not isinstance(result, ToolMessage) or isinstance(result.content, str):
        return result
    import base64
    import binascii

    from genaisys.graphs.state import media_block

    blocks, changed = [], False
    for block in result.content:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind in ("image", "audio", "video", "file") and block.get("base64"):
            try:
                data = base64.b64decode(str(block["base64"]), validate=True)
            except (binascii.Error, ValueError):
                blocks.append({"type": "text", "text": f"[the tool returned a {kind} that is not valid base64]"})
                changed = True
                continue
            block = media_block(kind, blobs.put(data, mime_type=block.get("mime_type")), mime_type=block.get("mime_type"))
            changed = True
        blocks.append(block)
    return result.model_copy(update={"content": blocks}) if changed else result


def _tool_interceptor(*, events: bool, blobs: Blobs | None) -> Callable[[Any, Callable[[Any], Any]], Any]:
    """``ToolNode`` interceptor: tool start/end events, and media results moved to the blob store."""

    def intercept(request: Any, execute: Callable[[Any], Any]) -> Any:
        if not events:
            return _externalize_tool_media(execute(request), blobs)
        return _tool_events(request, lambda req: _externalize_tool_media(execute(req), blobs) if blobs else execute(req))

    return intercept


def _tool_events(request: Any, execute: Callable[[Any], Any]) -> Any:
    """``ToolNode`` interceptor: write tool start/end events to the ``custom`` stream mode."""
    write = _stream_writer()
    call = request.tool_call
    write({"type": "tool_start", "name": call["name"], "args": call.get("args", {}), "id": call.get("id")})
    result = execute(request)
    if isinstance(result, ToolMessage):
        content = result.content if isinstance(result.content, str) else message_text(result)
        write(
            {
                "type": "tool_end",
                "name": call["name"],
                "id": call.get("id"),
                "status": result.status,
                "content": content[:2000],
            }
        )
    else:
        write({"type": "tool_end", "name": call["name"], "id": call.get("id"), "status": "success", "content": ""})
    return result


def _tool_error_text(error: Exception) -> str:
    """What the model reads when a tool call fails (``handle_tool_errors`` of the ``ToolNode``)."""
    from langgraph.prebuilt.tool_node import ToolInvocationError

    if isinstance(error, ToolInvocationError):  # bad arguments: name each wrong field
        details = "\n".join(
            f"  {'.'.join(str(p) for p in e.get('loc', ())) or '(arguments)'}: {e.get('msg', '')}"
            for e in (error.filtered_errors or [])
        ) or f"  {error.source}"
        text = f"invalid arguments for tool {error.tool_name!r} {error.tool_kwargs!r}:\n{details}"
    else:
        text = f"tool raised {type(error).__name__}: {error}"
    return TOOL_ERROR_TEMPLATE.format(error=text)


def make_act_node(tools: Sequence[BaseTool], *, name: str = ACT, events: bool = True, blobs: Blobs | None = None) -> ToolNode:
    """A node that runs the tool calls of the last AI message, in parallel, and returns ToolMessages.

    It is LangGraph's ``ToolNode`` with tool errors handled: a bad argument or a failing
    tool comes back to the model as an error ``ToolMessage`` instead of ending the run. Give it
    tools from :func:`resolve_tools` so each goes through the genaisys safety wrapper.

    Args:
        tools: The tools, resolved.
        name: The node name.
        events: Write ``tool_start`` / ``tool_end`` events to the ``custom`` stream mode.
        blobs: Optional blob store: inline (``base64``) media a tool returns is moved into it and
            the tool message keeps a ``file_id`` block, so no media lands in a checkpoint.

    Example:
        >>> def add(a: int, b: int) -> int:
        ...     '''Add two integers.'''
        ...     return a + b
        >>> node = make_act_node(resolve_tools([add], safe=False))
        >>> (node.name, sorted(node.tools_by_name))
        ('act', ['add'])
    """
    if not tools:
        raise ConfigError("make_act_node needs at least one tool")
    # handle_tool_errors: every exception becomes an error ToolMessage (text from _tool_error_text).
    if events and blobs is None:
        wrapper: Any = _tool_events
    elif events or blobs is not None:
        wrapper = _tool_interceptor(events=events, blobs=blobs)
    else:
        wrapper = None
    return ToolNode(list(tools), name=name, handle_tool_errors=_tool_error_text, wrap_tool_call=wrapper)


# ------------------------------------------------------------------------------------ approval
def make_approval_node(needs_approval: Container[str] | bool = True) -> Callable[..., dict]:
    """A human-in-the-loop gate before ``act``: pauses the graph with ``interrupt()`` for approval.

    The interrupt payload is ``{"type": "tool_approval", "tool_calls": [{"name", "args", "id"}]}``.
    Resume with the same answers ``genaisys.tools.safe_tool`` takes: ``Command(resume="approve")``
    (or ``True``), ``Command(resume={"action": "reject", "reason": "..."})`` (or ``False``), or
    ``Command(resume={"action": "edit", "args": {...}})`` when one call is pending. A rejection
    answers every pending call with an error ``ToolMessage`` the model can read, and the graph
    goes back to ``think``. Needs a checkpointer and a ``thread_id``; the resume may come from
    another process. The node runs again from its start on resume, so it has no side effects
    before ``interrupt()``.

    Args:
        needs_approval: ``True`` for every tool, or the tool names that need approval.

    Example:
        >>> gate = make_approval_node({"delete_file"})
        >>> from langchain_core.messages import AIMessage
        >>> gate({"messages": [AIMessage("", tool_calls=[{"name": "add", "args": {}, "id": "1"}])]})
        {}
    """

    def approve(state: dict, config: Optional[RunnableConfig] = None) -> dict:
        messages = state.get(MESSAGES, [])
        last = messages[-1] if messages else None
        if not isinstance(last, AIMessage) or not last.tool_calls:
            return {}
        gated = [
            c for c in last.tool_calls if needs_approval is True or (needs_approval and c["name"] in needs_approval)
        ]
        if not gated:
            return {}
        decision = interrupt(
            {
                "type": "tool_approval",
                "tool_calls": [{"name": c["name"], "args": c.get("args", {}), "id": c.get("id")} for c in gated],
            }
        )
        choice = _parse_decision(decision)
        if choice.action == "approve":
            return {}
        if choice.action == "edit":
            if len(gated) != 1:
                raise GraphError(
                    f"an 'edit' decision needs exactly one pending call, got {len(gated)}; approve or reject them"
                )
            edited = [
                {**c, "args": dict(choice.args or {})} if c["id"] == gated[0]["id"] else c for c in last.tool_calls
            ]
            # same message id: add_messages replaces the AI message, so act runs the edited call
            return {MESSAGES: [last.model_copy(update={"tool_calls": edited})]}
        reason = choice.reason or ""
        why = f" ({reason})" if reason else ""
        return {
            MESSAGES: [
                ToolMessage(
                    REJECTED_TOOL_TEMPLATE.format(name=c["name"], reason=why),
                    name=c["name"],
                    tool_call_id=c["id"],
                    status="error",
                )
                for c in last.tool_calls
            ]
        }

    approve.__name__ = APPROVE
    return approve


def _parse_decision(decision: Any) -> Any:
    from pydantic import ValidationError

    from genaisys.tools.safety import ApprovalDecision  # lazy: layer 2; one answer format for both gates

    try:
        return ApprovalDecision.model_validate(decision)
    except ValidationError as exc:
        raise GraphError(
            "answer a tool approval with Command(resume='approve'|'reject'|True|False) or "
            f"Command(resume={{'action': 'approve'|'reject'|'edit', 'reason': ..., 'args': {{...}}}}); got {decision!r}"
        ) from exc


def route_after_approve(state: dict) -> Literal["act", "think"]:
    """After the approval gate: ``act`` when approved, back to ``think`` when rejected."""
    messages = state.get(MESSAGES, [])
    return THINK if messages and isinstance(messages[-1], ToolMessage) else ACT


def add_tool_loop(
    graph: Any,
    tools: Sequence[BaseTool],
    *,
    router: Callable[[dict], str],
    done_key: str,
    done: str,
    approve: bool | Sequence[str] = False,
    blobs: Blobs | None = None,
) -> None:
    """Wire ``think ⇄ act`` (through an approval gate when ``approve``) into ``graph``.

    ``router`` runs after ``think``: it returns ``ACT`` when the model called tools and ``done_key``
    otherwise, which leads to the node ``done``. Without tools, ``think`` goes straight to ``done``.
    The prebuilt assistant and any-to-any graphs share this wiring.
    """
    if not tools:
        graph.add_edge(THINK, done)
        return
    graph.add_node(ACT, make_act_node(tools, blobs=blobs))
    graph.add_edge(ACT, THINK)
    if approve:
        graph.add_node(APPROVE, make_approval_node(True if approve is True else set(approve)))
        graph.add_conditional_edges(THINK, router, {ACT: APPROVE, done_key: done})
        graph.add_conditional_edges(APPROVE, route_after_approve, {ACT: ACT, THINK: THINK})
    else:
        graph.add_conditional_edges(THINK, router, {ACT: ACT, done_key: done})
