"""Retrieval-grounded QA: retrieve, answer citing the chunks used, or abstain.

::

    START → retrieve ─┬─ best hit score ≥ min_score ─→ answer → END
                      └─ otherwise ─────────────────→ abstain → END

``retrieve`` searches the memory with the question and keeps the hits (with citations) in
``context``. ``answer`` asks the model to answer from the chunks that score at least
``min_score`` (numbered in that order; weaker ones are not shown) and to cite them as ``[n]``; the chunks it cited land in ``citations`` (and in the answer's
``response_metadata["citations"]``). Retrieved images (hits whose metadata carries a
``blob_id`` and an ``image/*`` ``mime_type``) are shown to the model as image blocks that
reference the blob store. ``abstain`` answers :data:`ABSTAIN_TEMPLATE` without calling the
model when the memory holds nothing close enough to the question; with ``require_citation``
an answer that cites no retrieved chunk is replaced by the abstention too.

Example:
    >>> from langchain_core.language_models import FakeListChatModel
    >>> class Mem:
    ...     def search(self, query, k=4, where=None):
    ...         return [{"id": "1", "text": "Paris is the capital of France.", "score": 0.8, "source": "geo.md"}]
    >>> graph = build_rag_graph(FakeListChatModel(responses=["Paris [1]."]), Mem())
    >>> state = graph.invoke({"messages": [("user", "What is the capital of France?")]})
    >>> [c["citation"] for c in state["citations"]]
    ['geo.md']
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Optional  # Optional: LangGraph matches the `config` annotation text

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from typing_extensions import TypedDict

from genaisys.errors import ConfigError
from genaisys.graphs.checkpoint import CheckpointerSpec, make_checkpointer
from genaisys.graphs.nodes import focused_recall_node, make_think_node
from genaisys.graphs.state import (
    ABSTAIN,
    ANSWER,
    CONTEXT,
    MESSAGES,
    RETRIEVE,
    ContextHit,
    media_block,
    message_text,
)
from genaisys.types import Memory

__all__ = [
    "ABSTAIN_TEMPLATE",
    "CITATIONS",
    "RAG_INSTRUCTION",
    "RagState",
    "build_rag_graph",
    "cited_hits",
    "route_after_retrieve",
]

CITATIONS = "citations"

# Text meant for the model / the user (templates, not exceptions).
RAG_INSTRUCTION = (
    "Answer the question using only the numbered context chunks below. After each statement, cite "
    "the chunk(s) it comes from as [n]. If the chunks do not contain the answer, say that you do not "
    "know; do not guess."
)
ABSTAIN_TEMPLATE = "I don't know: nothing in my memory supports an answer to this question."
_MEDIA_NOTE = "Images from the retrieved context, in the order of their chunk numbers: {numbers}."

_CITE = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


class RagState(TypedDict, total=False):
    """State of the RAG graph: the :class:`~genaisys.graphs.state.AssistantState` keys it uses, plus
    ``citations`` (the retrieved chunks the answer cites, in citation order)."""

    messages: Annotated[list[AnyMessage], add_messages]
    context: list[ContextHit]
    citations: list[ContextHit]


def cited_hits(answer: str, context: Sequence[ContextHit]) -> list[ContextHit]:
    """The context chunks an answer cites as ``[n]`` or ``[n, m]`` (1-based), first citation first.

    Numbers outside the context are ignored (a model inventing ``[7]`` cites nothing).

    Example:
        >>> ctx = [{"citation": "a.md"}, {"citation": "b.md"}]
        >>> [h["citation"] for h in cited_hits("B [2], A [1, 2], bogus [9].", ctx)]
        ['b.md', 'a.md']
    """
    seen: list[int] = []
    for group in _CITE.findall(answer):
        for number in (int(n) for n in group.split(",")):
            if 1 <= number <= len(context) and number not in seen:
                seen.append(number)
    return [context[n - 1] for n in seen]


def _best_score(context: Sequence[ContextHit]) -> float | None:
    return max((hit["score"] for hit in context), default=None)


def build_rag_graph(
    core: BaseChatModel,
    memory: Memory,
    *,
    k: int = 4,
    context_sentences: int | None | str = "auto",
    min_score: float = 0.3,
    where: dict[str, Any] | None = None,
    require_citation: bool = False,
    attach_media: bool = True,
    system_prompt: str | None = None,
    checkpointer: CheckpointerSpec = False,
    recursion_limit: int = 10,
    stream_tokens: bool = True,
) -> CompiledStateGraph:
    """Build the retrieval-grounded QA graph.

    Args:
        core: Any LangChain chat model.
        memory: Anything with ``search(query, k=..., where=...)`` returning hits whose ``score``
            is a similarity, higher is closer (``genaisys.memory.ChromaMemory``: cosine similarity).
        k: Chunks retrieved per question.
        context_sentences: Focus the recalled context on its sentences closest to the question
            (`genaisys.memory.focus`): ``"auto"`` (default) asks the core (a core trained on focused
            context says how many; others read whole chunks), an integer keeps that many, ``None`` whole chunks.
        min_score: Abstain without calling the model when the best hit scores below this.
        where: Optional metadata filter for the search.
        require_citation: Also abstain when the model's answer cites none of the chunks.
        attach_media: Show retrieved images to the model as blob-referencing image blocks.
        system_prompt: Extra instructions placed before :data:`RAG_INSTRUCTION`.
        checkpointer: See ``genaisys.graphs.checkpoint.CheckpointerSpec``; none by default
            (single-shot QA); pass a path or ``None`` (default SQLite file) for conversations.
        recursion_limit: Steps allowed per question (set on the compiled graph).
        stream_tokens: Write the answer's tokens to the ``custom`` stream mode.

    Returns:
        The compiled graph. Input ``{"messages": [question]}``; output adds the answer message,
        ``context`` and ``citations``.

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> class Empty:
        ...     def search(self, query, k=4, where=None):
        ...         return []
        >>> out = build_rag_graph(FakeListChatModel(responses=["?"]), Empty()).invoke({"messages": [("user", "Who?")]})
        >>> out["messages"][-1].content == ABSTAIN_TEMPLATE
        True
    """
    if not isinstance(core, BaseChatModel):
        raise ConfigError(f"core must be a LangChain BaseChatModel, got {type(core).__name__}")
    if not -1.0 <= float(min_score) <= 1.0:
        raise ConfigError(f"min_score is a similarity threshold and should lie in [-1, 1], got {min_score}")
    if not isinstance(recursion_limit, int) or recursion_limit < 3:
        raise ConfigError(f"recursion_limit must be an integer ≥ 3 (the graph runs 2 steps), got {recursion_limit!r}")
    instruction = f"{system_prompt}\n\n{RAG_INSTRUCTION}" if system_prompt else RAG_INSTRUCTION
    think = make_think_node(core, (), instruction, stream_tokens=stream_tokens, name=ANSWER)

    def route(state: dict) -> Literal["answer", "abstain"]:
        return route_after_retrieve(state, min_score=min_score)

    def answer(state: dict, config: Optional[RunnableConfig] = None) -> dict[str, Any]:
        # only chunks that clear the threshold support an answer; they are numbered [1..n] for the model
        context: list[ContextHit] = [h for h in state.get(CONTEXT) or [] if h["score"] >= min_score]
        prompt_state = {**state, CONTEXT: context}
        media = [
            (n, hit["metadata"])
            for n, hit in enumerate(context, start=1)
            if str(hit["metadata"].get("mime_type", "")).startswith("image/") and hit["metadata"].get("blob_id")
        ]
        if attach_media and media:  # for this call only; the stored conversation keeps no copy
            note = _MEDIA_NOTE.format(numbers=", ".join(f"[{n}]" for n, _ in media))
            blocks = [{"type": "text", "text": note}] + [
                media_block("image", str(meta["blob_id"]), mime_type=str(meta["mime_type"])) for _, meta in media
            ]
            prompt_state[MESSAGES] = [*state.get(MESSAGES, []), HumanMessage(blocks)]
        reply: AIMessage = think.invoke(prompt_state, config)[MESSAGES][0]
        used = cited_hits(message_text(reply), context)
        if require_citation and not used:
            return _abstention(reason="the answer cited none of the retrieved chunks")
        reply = reply.model_copy(
            update={"response_metadata": {**reply.response_metadata, CITATIONS: [h["citation"] for h in used]}}
        )
        return {MESSAGES: [reply], CITATIONS: used}

    def abstain(state: dict) -> dict[str, Any]:
        best = _best_score(state.get(CONTEXT) or [])
        reason = "no chunk retrieved" if best is None else f"best score {best:.3f} < min_score {min_score}"
        return _abstention(reason=reason)

    graph = StateGraph(RagState)
    graph.add_node(RETRIEVE, focused_recall_node(memory, k, core, context_sentences, where=where))
    graph.add_node(ANSWER, answer)
    graph.add_node(ABSTAIN, abstain)
    graph.add_edge(START, RETRIEVE)
    graph.add_conditional_edges(RETRIEVE, route, {ANSWER: ANSWER, ABSTAIN: ABSTAIN})
    graph.add_edge(ANSWER, END)
    graph.add_edge(ABSTAIN, END)
    compiled = graph.compile(checkpointer=make_checkpointer(checkpointer), name="rag")
    return compiled.with_config(recursion_limit=recursion_limit)


def _abstention(*, reason: str) -> dict[str, Any]:
    message = AIMessage(ABSTAIN_TEMPLATE, response_metadata={"abstained": True, "abstain_reason": reason, CITATIONS: []})
    return {MESSAGES: [message], CITATIONS: []}


def route_after_retrieve(state: dict, *, min_score: float = 0.3) -> Literal["answer", "abstain"]:
    """``answer`` when the best retrieved chunk scores at least ``min_score``, else ``abstain``."""
    best = _best_score(state.get(CONTEXT) or [])
    return ANSWER if best is not None and best >= min_score else ABSTAIN

