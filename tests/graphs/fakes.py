"""Test doubles for the graph tests: a scripted chat model and a tiny word-overlap memory."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult


class ScriptedChatModel(BaseChatModel):
    """Replays ``responses`` in order (cycling when ``cycle``); records every prompt it gets.

    ``bind_tools`` returns the model itself and records the tool names. ``on_call(n, messages)``
    runs before the n-th call (0-based) - tests use it to crash a process on purpose.
    ``stream_chunks`` makes ``stream`` yield the text word by word.
    """

    responses: list[AIMessage]
    cycle: bool = False
    stream_chunks: bool = False
    prompts: list[list[BaseMessage]] = []
    bound_tools: list[str] = []
    on_call: Callable[[int, list[BaseMessage]], None] | None = None

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:
        self.bound_tools = [getattr(t, "name", str(t)) for t in tools]
        return self

    def _next(self, messages: list[BaseMessage]) -> AIMessage:
        n = len(self.prompts)
        if self.on_call is not None:
            self.on_call(n, messages)
        self.prompts.append(list(messages))
        if n >= len(self.responses) and not self.cycle:
            raise RuntimeError(f"scripted model called {n + 1} times but has {len(self.responses)} responses")
        return self.responses[n % len(self.responses)].model_copy()

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._next(messages))])

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        if not self.stream_chunks:
            # BaseChatModel falls back to _generate when _stream is not overridden; mimic that.
            msg = self._next(messages)
            yield ChatGenerationChunk(
                message=AIMessageChunk(content=msg.content, tool_call_chunks=_chunks(msg), id=msg.id)
            )
            return
        msg = self._next(messages)
        words = re.findall(r"\S+\s*", msg.text) or [""]
        for i, word in enumerate(words):
            last = i == len(words) - 1
            chunk = AIMessageChunk(content=word, tool_call_chunks=_chunks(msg) if last else [])
            if run_manager:
                run_manager.on_llm_new_token(word, chunk=ChatGenerationChunk(message=chunk))
            yield ChatGenerationChunk(message=chunk)


def _chunks(msg: AIMessage) -> list[dict]:
    import json

    valid = [
        {"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": i, "type": "tool_call_chunk"}
        for i, c in enumerate(msg.tool_calls)
    ]
    n = len(valid)
    # an invalid call's args must not parse as JSON once chunks are merged (as genaisys's ChatCore does)
    invalid = [
        {"name": c["name"], "args": f"{c.get('error') or ''}\n{c['args']}", "id": c["id"], "index": n + i,
         "type": "tool_call_chunk"}
        for i, c in enumerate(msg.invalid_tool_calls)
    ]
    return valid + invalid


def call(name: str, args: dict[str, Any], call_id: str) -> dict[str, Any]:
    """A tool call dict as a model would emit it."""
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}


@dataclass
class FakeHit:
    id: str
    text: str
    score: float
    source: str
    citation: str
    metadata: dict[str, Any] = field(default_factory=dict)


class FakeMemory:
    """Scores a doc by the share of query words it contains; records the queries it gets."""

    def __init__(self, docs: dict[str, str]) -> None:
        self.docs = docs  # source -> text
        self.queries: list[str] = []

    def add_texts(self, texts: list[str], metadatas: list[dict] | None = None) -> list[str]:
        for text, meta in zip(texts, metadatas or [{}] * len(texts)):
            self.docs[meta.get("source", f"doc{len(self.docs)}")] = text
        return [str(hash(t)) for t in texts]

    def search(self, query: str, k: int = 4, where: dict | None = None) -> list[FakeHit]:
        self.queries.append(query)
        words = set(re.findall(r"\w+", query.lower()))
        hits = []
        for i, (source, text) in enumerate(self.docs.items()):
            overlap = len(words & set(re.findall(r"\w+", text.lower()))) / max(len(words), 1)
            hits.append(FakeHit(f"d{i}", text, overlap, source, f"{source}#chunk0"))
        hits.sort(key=lambda h: -h.score)
        return hits[:k]


def broken_media() -> dict[str, tuple[bytes, str]]:
    """Files a user may attach that no core can read: name → (bytes, mime type)."""
    import io

    from PIL import Image

    png, gif = io.BytesIO(), io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(png, "PNG")
    frames = [Image.new("P", (32, 32), i) for i in (1, 2, 3)]
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:])
    return {"truncated.png": (png.getvalue()[: len(png.getvalue()) // 2], "image/png"),
            "empty.png": (b"", "image/png"),
            "broken.gif": (gif.getvalue()[:30], "image/gif")}


def tiny_png(colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A real 4x4 PNG (perceive refuses bytes that only look like one)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 4), colour).save(buf, "PNG")
    return buf.getvalue()
