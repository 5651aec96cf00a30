"""The tool-augmented assistant graph: recall → think → (tool calls?) act → think … → end.

::

    START → [perceive → [textualize]] → [recall] → think ─┬─ tool calls ─→ [approve →] act → think
                                                          └─ no tool calls ─→ [remember] → END

``perceive`` runs when a blob store is given: it keeps media in the blob store and decides, per
medium and by its content, whether the core reads it natively or a textualizer turns it into
text first (``textualize``; see `genaisys.graphs.media.default_perception`). ``recall`` runs
when a memory is given, ``approve`` with ``approve=...``, ``remember`` with ``remember=True``.

Also here: :func:`run_turn`, which runs one user turn of any messages-based graph, streams node
updates and custom events to a callback, and turns LangGraph's ``GraphRecursionError`` into a :class:`~genaisys.errors.GraphError` that says which
nodes looped and how to raise the limit.

Example:
    >>> from langchain_core.language_models import FakeListChatModel
    >>> graph = build_assistant_graph(FakeListChatModel(responses=["Hi!"]), checkpointer=False)
    >>> run_turn(graph, "hello", thread_id="t1")["messages"][-1].content
    'Hi!'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphRecursionError
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from genaisys.errors import ConfigError, GraphError, MediaError
from genaisys.graphs.checkpoint import CheckpointerSpec, make_checkpointer, rewind_thread, thread_head
from genaisys.graphs.nodes import (
    ToolSpec,
    add_tool_loop,
    focused_recall_node,
    make_remember_node,
    make_think_node,
    no_context_note,
    resolve_tools,
    route_after_think,
)
from genaisys.graphs.state import PERCEIVE, RECALL, REMEMBER, TEXTUALIZE, THINK, AssistantState
from genaisys.types import Blobs, Memory, Textualizer

if TYPE_CHECKING:
    from genaisys.graphs.media import Policy

__all__ = ["build_assistant_graph", "run_turn"]


def build_assistant_graph(
    core: BaseChatModel,
    *,
    tools: Sequence[ToolSpec] = (),
    memory: Memory | None = None,
    blobs: Blobs | None = None,
    checkpointer: CheckpointerSpec = None,
    system_prompt: str | None = None,
    recursion_limit: int = 25,
    k: int = 4,
    context_sentences: int | None | str = "auto",
    approve: bool | Sequence[str] = False,
    remember: bool = False,
    tool_safety: dict[str, Any] | None = None,
    stream_tokens: bool = True,
    textualizers: Mapping[str, Textualizer] | None = None,
    policy: Policy | None = None,
) -> CompiledStateGraph:
    """Build the tool-augmented chat graph around any LangChain chat model.

    Args:
        core: The CPU: ``genaisys.core.ChatCore``, ``RemoteCore`` or any LangChain chat model.
        tools: Registry names (``"builtin:calculator"``, ``"builtin:memory_search"``), LangChain
            tools or plain functions with a docstring; each runs behind the safety wrapper.
        memory: Optional memory with ``search(query, k=...)``. When given, a ``recall`` node
            puts its hits (with citations) in the model's system prompt on every turn.
        blobs: Optional blob store (``put(data, mime_type=...) -> blob_id``). When given, a
            ``perceive`` node first moves inline (``base64``) media of the user's message into it,
            and media that tools return get the same treatment, so the state and its checkpoints
            carry blob ids only (give the core the same store, e.g.
            ``load_core("nano", blobs=blobs)``, to read them).
        checkpointer: See ``genaisys.graphs.checkpoint.CheckpointerSpec``: SQLite by default, a
            SQLite path, a ``postgresql://`` DSN, any LangGraph saver, or ``False`` for none.
        system_prompt: Instructions prepended to every model call.
        recursion_limit: Steps (node runs) allowed per turn before the run stops; each tool
            round costs two steps. Set on the compiled graph.
        k: Hits to retrieve per turn.
        context_sentences: Focus the recalled context on its sentences closest to the question
            (`genaisys.memory.focus`): ``"auto"`` (default) asks the core (a core trained on focused
            context says how many; others read whole chunks), an integer keeps that many, ``None`` whole chunks.
        approve: ``True`` to ask a human before any tool call, or the tool names that need it
            (an ``approve`` node that pauses with ``interrupt()``; needs a checkpointer).
        remember: Write every finished exchange back to ``memory`` (a ``remember`` node before
            the end), so later turns and threads can recall it.
        tool_safety: Settings for ``genaisys.tools.safe_tool`` applied to every tool, e.g.
            ``{"timeout_s": 5, "idempotent_cache": "calls.sqlite"}``.
        stream_tokens: Write model tokens to the ``custom`` stream mode.
        textualizers: Kind → textualizer for media the core should read as text (with ``blobs``);
            default: what `~genaisys.graphs.media.default_perception` picks for ``core``.
        policy: Perception policy (see `genaisys.graphs.media.Policy`); default as above.

    Returns:
        The compiled graph, with ``recursion_limit`` in its config. Run a turn with
        :func:`run_turn`, or with ``graph.invoke`` / ``graph.stream`` and a ``thread_id``.

    Raises:
        ConfigError: Bad arguments (unknown tool name, approval without a checkpointer…).

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> graph = build_assistant_graph(FakeListChatModel(responses=["ok"]), checkpointer=":memory:")
        >>> sorted(graph.get_graph().nodes)
        ['__end__', '__start__', 'think']
    """
    if not isinstance(recursion_limit, int) or isinstance(recursion_limit, bool) or recursion_limit < 1:
        raise ConfigError(f"recursion_limit must be a positive integer, got {recursion_limit!r}")
    saver = make_checkpointer(checkpointer)
    if approve and saver is None:
        raise ConfigError("approve=... pauses the graph for a human and needs a checkpointer; do not pass False")
    if remember and memory is None:
        raise ConfigError("remember=True writes exchanges to the memory; pass memory=...")
    resolved = resolve_tools(tools, memory=memory, safety=tool_safety)

    graph = StateGraph(AssistantState)
    end = END
    if remember:
        graph.add_node(REMEMBER, make_remember_node(memory))
        graph.add_edge(REMEMBER, END)
        end = REMEMBER
    graph.add_node(THINK, make_think_node(core, resolved, system_prompt, stream_tokens=stream_tokens,
                                          no_context=no_context_note(memory, core, context_sentences)))
    first = THINK
    if memory is not None:
        graph.add_node(RECALL, focused_recall_node(memory, k, core, context_sentences))
        graph.add_edge(RECALL, THINK)
        first = RECALL
    if blobs is not None:
        from genaisys.graphs.media import (
            default_perception,
            make_perceive_node,
            make_textualize_node,
            route_after_perceive,
        )

        native, chosen, default_policy = default_perception(core)
        texts = dict(chosen if textualizers is None else textualizers)
        # other media kinds go to the core as they are, unless a textualizer is given for them
        native = tuple(k for k in {*native, "audio", "video", "file"} if k not in texts or k in native)
        graph.add_node(PERCEIVE, make_perceive_node(blobs=blobs, native=native, textualizers=texts,
                                                    policy=policy or default_policy))
        graph.add_node(TEXTUALIZE, make_textualize_node(blobs=blobs, textualizers=texts))
        graph.add_conditional_edges(PERCEIVE, route_after_perceive, {TEXTUALIZE: TEXTUALIZE, "next": first})
        graph.add_edge(TEXTUALIZE, first)
        first = PERCEIVE
    graph.add_edge(START, first)
    add_tool_loop(graph, resolved, router=route_after_think, done_key=END, done=end, approve=approve, blobs=blobs)
    compiled = graph.compile(checkpointer=saver, name="assistant")
    return compiled.with_config(recursion_limit=recursion_limit)


# ------------------------------------------------------------------------------------ running
def _looped_message(limit: Any, visits: Counter[str]) -> str:
    if visits:
        ran = ", ".join(f"{node} ×{n}" for node, n in visits.most_common())
        loop = f"Nodes run before it stopped: {ran}."
    else:
        loop = "No node finished before it stopped."
    return (
        f"The graph hit its recursion limit ({limit} steps) before reaching the end. {loop} "
        "Usually the model keeps calling tools without converging on an answer: check the tool "
        "results it receives and its system prompt. If the task really needs more steps, raise "
        "the limit: build_*_graph(..., recursion_limit=N), graph.with_config(recursion_limit=N), "
        "or pass config={'recursion_limit': N} to run_turn."
    )


def run_turn(
    graph: CompiledStateGraph,
    content: str | list | BaseMessage | Command | None,
    *,
    thread_id: str,
    stream: Callable[[str, Any], None] | None = None,
    config: RunnableConfig | None = None,
    durability: Literal["sync", "async", "exit"] = "sync",
) -> dict[str, Any]:
    """Run one turn of a graph and return its final state values.

    Args:
        graph: A compiled genaisys (or any messages-based) graph.
        content: The user's message (text, a list of content blocks, or a message), a
            ``Command(resume=...)`` to answer an interrupt, or ``None`` to continue a thread
            from its last checkpoint (after a crash, say).
        thread_id: The conversation; with a checkpointer, turns on one thread share state.
        stream: Optional callback ``(mode, payload)`` for every ``"updates"`` (node name →
            update) and ``"custom"`` (tokens, tool events) chunk, in order.
        config: Extra run config (``recursion_limit``, callbacks, …).
        durability: When checkpoints are written (with a checkpointer). ``"sync"`` (default)
            writes each step's checkpoint before the next step starts, so a process killed at
            any point resumes after the last finished step (a tool that finished is not run
            again); ``"async"`` overlaps the write with the next step (faster, but a crash may
            lose the last step); ``"exit"`` writes only at the end.

    Returns:
        The state values after the turn. If the graph paused for a human, the values carry
        ``"__interrupt__"``: a list of LangGraph ``Interrupt`` objects (answer with
        ``run_turn(graph, Command(resume=...), thread_id=...)``).

    Raises:
        GraphError: The recursion limit was hit (the message says which nodes looped).
        MediaError: An attached medium cannot be used (``perceive`` refuses it); the thread is
            left as it was before the turn, so the next turn on it works.

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> g = build_assistant_graph(FakeListChatModel(responses=["4"]), checkpointer=False)
        >>> run_turn(g, "2+2?", thread_id="x")["messages"][-1].content
        '4'
    """
    if isinstance(content, (Command, type(None))):
        graph_input: Any = content
    elif isinstance(content, BaseMessage):
        graph_input = {"messages": [content]}
    elif isinstance(content, (str, list)):
        graph_input = {"messages": [HumanMessage(content)]}
    else:
        raise ConfigError(f"content must be text, content blocks, a message, a Command or None; got {type(content)}")
    run_config: RunnableConfig = {**(config or {})}
    run_config["configurable"] = {**run_config.get("configurable", {}), "thread_id": thread_id}
    visits: Counter[str] = Counter()
    values: dict[str, Any] = {}
    interrupts: list[Any] = []
    extra: dict[str, Any] = {"durability": durability} if graph.checkpointer else {}
    head = thread_head(graph, run_config) if isinstance(graph_input, dict) else None
    try:
        for mode, payload in graph.stream(
            graph_input, run_config, stream_mode=["updates", "custom", "values"], **extra
        ):
            if mode == "values":
                values = payload
                continue
            if mode == "updates":
                for node, update in payload.items():
                    if node == "__interrupt__":
                        interrupts.extend(update)
                    else:
                        visits[node] += 1
            if stream is not None:
                stream(mode, payload)
    except GraphRecursionError as exc:
        limit = run_config.get("recursion_limit", (graph.config or {}).get("recursion_limit", "?"))
        raise GraphError(_looped_message(limit, visits)) from exc
    except MediaError:
        # A refused medium: the turn did not happen, so the thread goes back to where it was.
        if isinstance(graph_input, dict):
            rewind_thread(graph, run_config, head)
        raise
    if interrupts:
        values = {**values, "__interrupt__": interrupts}
    return values
