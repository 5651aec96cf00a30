"""Conversations → token ids and labels, rendered exactly as the core renders them at inference.

Training must show the core what it sees when it runs: the chat template, the tool section,
the tool-call and tool-result format. So a conversation is rendered with
`ChatCore.render_prompt` — the inference path — and the assistant turns are found by
rendering growing prefixes: for an assistant message ``i``, the text up to it *with* the
generation prompt (what inference would decode from) must be a prefix of the whole, and its
span runs from there to the end of the turn (end-of-turn marker included, so the core learns
to stop). Only those spans are labelled (LLaVA's recipe). A template for which the prefixes do
not line up raises `PreflightError` — the "tokenization mismatch" that silently masks every
label in LLaVA-style training.

Images are not loaded here: an image block becomes the core's ``<image>`` placeholder and its
reference (a path, a data URL, a blob id) is returned in order, for the stage to turn into
pixels or cached features.

Example:
    >>> from langchain_core.messages import AIMessage, HumanMessage
    >>> enc = encode_conversation(chat, [HumanMessage("Hi"), AIMessage("Hello!")])  # doctest: +SKIP
    >>> chat.tokenizer.decode([t for t in enc.labels if t != -100])  # doctest: +SKIP
    'Hello!<|im_end|>\\n'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from genaisys.errors import PreflightError

__all__ = ["IGNORE_INDEX", "Encoded", "encode_conversation", "image_ref"]

IGNORE_INDEX = -100


@dataclass
class Encoded:
    """One conversation as ids.

    Attributes:
        input_ids: token ids, one ``<image>`` placeholder id per image.
        labels: ``input_ids`` with every position outside an assistant span set to -100.
        images: the image content blocks, in order (`image_ref` gives each a cache key).
        spans: ``(start, end)`` token ranges that are labelled.
    """

    input_ids: list[int]
    labels: list[int]
    images: list[Any] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)


def image_ref(block: dict[str, Any]) -> str:
    """A stable key for an image content block: its path, URL or blob id, else a hash of its data.

    Example:
        >>> image_ref({"type": "image", "path": "/data/1.png"})
        '/data/1.png'
    """
    import hashlib
    import json

    image_url = block.get("image_url")
    if isinstance(image_url, dict):
        image_url = image_url.get("url")
    for value in (block.get("path"), block.get("url"), block.get("file_id"), block.get("id"), image_url):
        if isinstance(value, str) and value and not value.startswith("data:"):
            return value
    return "sha256:" + hashlib.sha256(json.dumps(block, sort_keys=True, default=str).encode()).hexdigest()


def _placeholders(messages: Sequence[Any], image_token: str | None) -> tuple[list[Any], list[Any]]:
    """Replace image blocks by the placeholder text, keeping their references in order."""
    out, images = [], []
    for msg in messages:
        content = msg.content
        if isinstance(content, list) and any(isinstance(b, dict) and b.get("type") in ("image", "image_url")
                                             for b in content):
            if image_token is None:
                raise PreflightError("the conversation has images but the core has no image placeholder "
                                     "(a text-only core); train a MultimodalCore or drop the images")
            blocks = []
            for b in content:
                if isinstance(b, dict) and b.get("type") in ("image", "image_url"):
                    images.append(b)
                    blocks.append({"type": "text", "text": image_token})
                else:
                    blocks.append(b)
            msg = msg.model_copy(update={"content": blocks})
        out.append(msg)
    return out, images


def encode_conversation(chat: Any, messages: Sequence[Any], tools: Sequence[Any] | None = None, *,
                        train_on: str = "all", max_length: int | None = None) -> Encoded:
    """Render and tokenise one conversation; label its assistant turns.

    Args:
        chat: the `ChatCore` whose `render_prompt` and tokenizer define the format.
        messages: LangChain messages; at least one `AIMessage` (the turns to learn).
        tools: tools bound at inference (their section is part of the prompt).
        train_on: ``"all"`` assistant turns, those after the last human turn (``"turn"``), or
            only the ``"last"``.
        max_length: cut longer sequences (counting each image as one placeholder) on the right.

    Raises:
        PreflightError: no assistant turn, or the template renders prefixes that do not line up
            with the whole conversation (it does not match this tokenizer / message format).
    """
    from langchain_core.messages import AIMessage

    if train_on not in ("all", "last", "turn"):
        raise PreflightError(f"train_on must be 'all', 'turn' or 'last', got {train_on!r}")
    image_token = chat.core.image_token if getattr(chat, "core", None) is not None else None
    messages, images = _placeholders(list(messages), image_token)
    targets = [i for i, m in enumerate(messages) if isinstance(m, AIMessage)]
    if not targets:
        raise PreflightError("the conversation has no assistant turn to learn from")
    if train_on == "last":
        targets = targets[-1:]
    elif train_on == "turn":
        from langchain_core.messages import HumanMessage

        humans = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage)]
        targets = [i for i in targets if not humans or i > humans[-1]]
    full, _ = chat.render_prompt(messages, tools=tools, add_generation_prompt=False)
    cuts: list[tuple[int, int]] = []
    for i in targets:
        before, _ = chat.render_prompt(messages[:i], tools=tools)
        upto, _ = chat.render_prompt(messages[: i + 1], tools=tools, add_generation_prompt=False)
        if not (full.startswith(before) and full.startswith(upto) and len(upto) > len(before)):
            raise PreflightError(
                f"the chat template does not render assistant turn {i} as a continuation of the prompt before it "
                f"(prompt ends {before[-40:]!r}, conversation continues {full[len(before) - 10:len(before) + 30]!r}); "
                "training on it would teach text that inference never sees. Fix the tokenizer's chat_template "
                "(it must render a conversation as prompt + generation prompt + answer)")
        cuts.append((len(before), len(upto)))
    tok = chat.tokenizer
    ids: list[int] = []
    labels: list[int] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    for start, end in cuts:
        if start < pos:
            raise PreflightError("assistant turns overlap in the rendered conversation; the template is not "
                                 "turn-by-turn")
        head = tok(full[pos:start], add_special_tokens=False)["input_ids"]
        body = tok(full[start:end], add_special_tokens=False)["input_ids"]
        ids += head
        labels += [IGNORE_INDEX] * len(head)
        spans.append((len(ids), len(ids) + len(body)))
        ids += body
        labels += body
        pos = end
    tail = tok(full[pos:], add_special_tokens=False)["input_ids"]
    ids += tail
    labels += [IGNORE_INDEX] * len(tail)
    if max_length is not None and len(ids) > max_length:
        ids, labels = ids[:max_length], labels[:max_length]
        spans = [(s, min(e, max_length)) for s, e in spans if s < max_length]
        if image_token is not None:  # images whose placeholder was cut go too
            kept = ids.count(int(tok.convert_tokens_to_ids(image_token)))
            images = images[:kept]
    return Encoded(input_ids=ids, labels=labels, images=images, spans=spans)
