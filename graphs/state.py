"""The state every genaisys graph passes between its nodes, and the names of its keys and nodes.

A genaisys graph is a plain LangGraph ``StateGraph`` over :class:`AssistantState`:

``messages``
    The conversation as LangChain messages, merged by LangGraph's ``add_messages`` reducer
    (append; a message with a known ``id`` replaces the old one). Content may be a string or a
    list of standard content blocks (``text``, ``image``, ``audio``, ``video``, ``file``).
    Media is **referenced, not inlined**: a media block carries the blob-store id in
    ``file_id`` (see :func:`media_block`), so every checkpoint stays small.
``context``
    What the ``recall`` node retrieved for the current turn, as plain dicts (:class:`ContextHit`)
    so checkpoints serialise them. Each hit has a ``citation`` the model is asked to quote.
    Replaced, not appended, on every recall: it is the context of *this* turn.
``artifacts``
    Things the graph produced besides text (decoded images, audio, files), each a
    :class:`Artifact` pointing at a blob id. Appended.
``perception``
    How each medium of the latest user message was read (natively, or turned into text by a
    textualizer) and why: ``[{"index", "kind", "blob_id", "route", "reason"}]``.
``plan``
    A HuggingGPT-style task list (used by the planner graph), ``{"task", "id", "dep", "args"}``.
``results``
    Outputs of executed plan tasks keyed by task id (planner graph). Merged.

Example:
    >>> from langchain_core.messages import HumanMessage
    >>> state: AssistantState = {"messages": [HumanMessage("hi")], "context": []}
    >>> last_user_text(state["messages"])
    'hi'
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage, BaseMessage, HumanMessage
from langgraph.graph.message import add_messages

__all__ = [
    "ABSTAIN",
    "ACT",
    "ANSWER",
    "APPROVE",
    "ARTIFACTS",
    "CONTEXT",
    "DISPATCH",
    "EXECUTE",
    "JOIN",
    "MESSAGES",
    "PLAN",
    "PLANNER",
    "PERCEIVE",
    "RECALL",
    "REMEMBER",
    "RESPOND",
    "RESULTS",
    "RETRIEVE",
    "TEXTUALIZE",
    "THINK",
    "VALIDATE",
    "Artifact",
    "AssistantState",
    "ContextHit",
    "format_context",
    "hit_to_context",
    "last_user_text",
    "media_block",
    "merge_results",
    "message_text",
]

# State keys.
MESSAGES = "messages"
CONTEXT = "context"
ARTIFACTS = "artifacts"
PLAN = "plan"
RESULTS = "results"

# Node names shared by the prebuilt graphs (and by users assembling their own).
PERCEIVE = "perceive"
TEXTUALIZE = "textualize"
RECALL = "recall"
REMEMBER = "remember"
THINK = "think"
ACT = "act"
APPROVE = "approve"
RETRIEVE = "retrieve"
ANSWER = "answer"
ABSTAIN = "abstain"
PLANNER = "plan"
VALIDATE = "validate"
DISPATCH = "dispatch"
EXECUTE = "execute"
JOIN = "join"
RESPOND = "respond"


class ContextHit(TypedDict):
    """One retrieved memory chunk, as plain data (checkpoint-safe)."""

    id: str
    text: str
    score: float
    source: str
    citation: str
    metadata: dict[str, Any]


class Artifact(TypedDict, total=False):
    """Something a graph produced besides text, stored in the blob store."""

    blob_id: str
    kind: str  # "image" | "audio" | "video" | "file"
    mime_type: str
    producer: str  # node or tool that made it
    description: str


def merge_results(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Reducer for ``results``: parallel plan branches each add their own task ids."""
    return {**(left or {}), **(right or {})}


class AssistantState(TypedDict, total=False):
    """State of the prebuilt genaisys graphs; see the module docstring for each key."""

    messages: Annotated[list[AnyMessage], add_messages]
    context: list[ContextHit]
    artifacts: Annotated[list[Artifact], operator.add]
    perception: list[dict[str, Any]]
    plan: list[dict[str, Any]]
    results: Annotated[dict[str, Any], merge_results]


def media_block(kind: str, blob_id: str, *, mime_type: str | None = None) -> dict[str, Any]:
    """A standard LangChain content block that references media in the blob store by id.

    Args:
        kind: ``"image"``, ``"audio"``, ``"video"`` or ``"file"``.
        blob_id: The content-addressed id returned by the blob store.
        mime_type: Optional MIME type, e.g. ``"image/png"``.

    Example:
        >>> media_block("image", "sha256-ab12", mime_type="image/png")
        {'type': 'image', 'file_id': 'sha256-ab12', 'mime_type': 'image/png'}
    """
    from genaisys.errors import ConfigError

    if kind not in ("image", "audio", "video", "file"):
        raise ConfigError(f"media kind must be image, audio, video or file, got {kind!r}")
    if not blob_id:
        raise ConfigError("media_block needs the blob id returned by the blob store, got an empty id")
    block: dict[str, Any] = {"type": kind, "file_id": blob_id}
    if mime_type:
        block["mime_type"] = mime_type
    return block


def message_text(message: BaseMessage) -> str:
    """The text of a message: its string content, or its ``text`` blocks joined by newlines.

    Not langchain-core's ``message.text``, which joins the blocks with nothing: a user's text on
    either side of an image ("Compare" [image] "with this") must stay two lines in the prompt the
    graphs render, which is also the text the core was trained on.
    """
    content = message.content
    if isinstance(content, str):
        return content
    parts = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, Mapping) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return "\n".join(parts)


def last_user_text(messages: Sequence[BaseMessage]) -> str:
    """The text of the latest human message ('' when there is none)."""
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return message_text(message)
    return ""


def hit_to_context(hit: Any) -> ContextHit:
    """Turn a memory hit (``genaisys.memory`` ``Hit`` or any object/dict with the same fields)
    into a plain :class:`ContextHit`.

    Example:
        >>> hit_to_context({"id": "a", "text": "Paris is in France.", "score": 0.9, "source": "geo.md"})["citation"]
        'geo.md'
    """
    get = hit.get if isinstance(hit, Mapping) else (lambda name, default=None: getattr(hit, name, default))
    source = str(get("source", "") or "")
    metadata = get("metadata", None) or {}
    score = get("score", None)
    return ContextHit(
        id=str(get("id", "") or ""),
        text=str(get("text", "") or ""),
        score=float(score) if score is not None else 0.0,
        source=source,
        citation=str(get("citation", "") or source),
        metadata=dict(metadata),
    )


def format_context(hits: Sequence[Mapping[str, Any]]) -> str:
    """Number the hits for a prompt: ``[1] (source: <citation>) <text>`` per line.

    Example:
        >>> format_context([{"text": "Paris is in France.", "citation": "geo.md#1"}])
        '[1] (source: geo.md#1) Paris is in France.'
    """
    lines = []
    for n, hit in enumerate(hits, start=1):
        citation = hit.get("citation") or hit.get("source") or "unknown source"
        lines.append(f"[{n}] (source: {citation}) {hit.get('text', '')}")
    return "\n".join(lines)
