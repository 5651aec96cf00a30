"""Any-to-any: perceive any input modality, answer in text, image, audio or speech.

::

    START → perceive ─┬─ media to read as text ─→ textualize ─┐
                      └─────────────────────────────────────────┴→ [recall] → think ─┬─ tool calls ─→ act → think
                                                                                      └─ answer ─→ respond → END

``perceive`` moves inline media into the blob store and decides per medium whether the core
reads it natively or a textualizer turns it into text (the decision and its reason are kept in
``perception``); ``textualize`` does the turning. The core answers and may call tools, among
them the decoders (``generate_image``, ``speak`` …, see
:func:`~genaisys.graphs.media.make_decoder_tools`), which run in ``act`` behind the safety
wrapper like any tool, so they can be gated by ``approve``. ``respond`` attaches what the
decoders made to the final answer as blob-referencing media blocks and lists it in ``artifacts``.

Example:
    >>> from langchain_core.language_models import FakeListChatModel
    >>> graph = build_any_to_any_graph(FakeListChatModel(responses=["hi"]), checkpointer=False)
    >>> graph.invoke({"messages": [("user", "hello")]})["messages"][-1].content
    'hi'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from genaisys.errors import ConfigError
from genaisys.graphs.checkpoint import CheckpointerSpec, make_checkpointer
from genaisys.graphs.media import (
    Policy,
    default_perception,
    make_decoder_tools,
    make_perceive_node,
    make_respond_node,
    make_textualize_node,
    route_after_perceive,
)
from genaisys.graphs.nodes import (
    ToolSpec,
    add_tool_loop,
    focused_recall_node,
    make_think_node,
    no_context_note,
    resolve_tools,
)
from genaisys.graphs.state import ACT, MESSAGES, PERCEIVE, RECALL, RESPOND, TEXTUALIZE, THINK, AssistantState
from genaisys.types import Blobs, Decoder, Memory, Textualizer

__all__ = ["AnyToAnyState", "build_any_to_any_graph"]


AnyToAnyState = AssistantState
"""The any-to-any graph runs on the assistant state; ``perception`` records how each medium was read."""


def _route_after_think(state: dict) -> Literal["act", "respond"]:
    from langchain_core.messages import AIMessage

    last = (state.get(MESSAGES) or [None])[-1]
    return ACT if isinstance(last, AIMessage) and last.tool_calls else RESPOND


def build_any_to_any_graph(
    core: BaseChatModel,
    *,
    blobs: Blobs | None = None,
    native: Sequence[str] = ("image",),
    textualizers: Mapping[str, Textualizer] | None = None,
    decoders: Mapping[str, Decoder | Callable[..., Any]] | None = None,
    policy: Policy | None = None,
    tools: Sequence[ToolSpec] = (),
    memory: Memory | None = None,
    checkpointer: CheckpointerSpec = None,
    system_prompt: str | None = None,
    recursion_limit: int = 25,
    k: int = 4,
    context_sentences: int | None | str = "auto",
    approve: bool | Sequence[str] = False,
    tool_safety: dict[str, Any] | None = None,
    stream_tokens: bool = True,
    see_outputs: bool = False,
) -> CompiledStateGraph:
    """Build the any-to-any assistant graph (see the module docstring).

    Args:
        core: Any LangChain chat model; with ``native=("image",)`` it must accept image blocks
            (``genaisys.core.ChatCore`` with a vision core and ``blobs=`` does).
        blobs: The blob store (``put`` / ``path``) for inline media, textualizers and decoders.
        native: Media kinds the core reads itself.
        textualizers: Kind (``"image"``, ``"audio"``, ``"video"``, ``"file"``) → textualizer; an
            image textualizer is added when the core's encoder path reads only synthetic shapes
            (see `genaisys.graphs.media.default_perception`).
        decoders: Kind (``"image"``, ``"audio"``, ``"video"``, ``"speech"``) → decoder.
        policy: Perception policy ``(block, *, native, textualizers[, blobs]) -> (route, reason)``;
            default: what `~genaisys.graphs.media.default_perception` picks for ``core``.
        tools, memory, checkpointer, system_prompt, recursion_limit, k, context_sentences, approve,
        tool_safety, stream_tokens: As for :func:`~genaisys.graphs.assistant.build_assistant_graph`.
        see_outputs: Put each image the core draws into the ``generate_image`` result as an image
            block, so the core reads its own output through its encoder (the native path) and
            can answer "what did you draw?" from the picture, not from what it meant to draw.

    Raises:
        ConfigError: Bad arguments (a textualizer or decoder without a blob store…).
    """
    if not isinstance(recursion_limit, int) or isinstance(recursion_limit, bool) or recursion_limit < 1:
        raise ConfigError(f"recursion_limit must be a positive integer, got {recursion_limit!r}")
    saver = make_checkpointer(checkpointer)
    if approve and saver is None:
        raise ConfigError("approve=... pauses the graph for a human and needs a checkpointer; do not pass False")
    if (textualizers or decoders) and blobs is None:
        raise ConfigError("textualizers and decoders work on media in the blob store; pass blobs=...")
    resolved = resolve_tools(
        [*tools, *make_decoder_tools(decoders or {}, blobs=blobs, show_images=see_outputs)], memory=memory,
        safety=tool_safety
    )

    _, chosen, default_policy = default_perception(core)
    textualizers = {**chosen, **(textualizers or {})}
    graph = StateGraph(AnyToAnyState)
    graph.add_node(PERCEIVE, make_perceive_node(blobs=blobs, native=tuple(native), textualizers=textualizers,
                                                policy=policy or default_policy))
    after_perception = RECALL if memory is not None else THINK
    graph.add_edge(START, PERCEIVE)
    graph.add_node(TEXTUALIZE, make_textualize_node(blobs=blobs, textualizers=textualizers or {}))
    graph.add_conditional_edges(PERCEIVE, route_after_perceive, {TEXTUALIZE: TEXTUALIZE, "next": after_perception})
    graph.add_edge(TEXTUALIZE, after_perception)
    if memory is not None:
        graph.add_node(RECALL, focused_recall_node(memory, k, core, context_sentences))
        graph.add_edge(RECALL, THINK)
    graph.add_node(THINK, make_think_node(core, resolved, system_prompt, stream_tokens=stream_tokens,
                                          no_context=no_context_note(memory, core, context_sentences)))
    graph.add_node(RESPOND, make_respond_node())
    graph.add_edge(RESPOND, END)
    add_tool_loop(graph, resolved, router=_route_after_think, done_key=RESPOND, done=RESPOND, approve=approve,
                  blobs=blobs)
    compiled = graph.compile(checkpointer=saver, name="any_to_any")
    return compiled.with_config(recursion_limit=recursion_limit)

