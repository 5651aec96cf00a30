"""Media nodes: ``perceive`` and ``textualize`` on the way in, decoders and ``respond`` on the way out.

On the way in, ``perceive`` looks at every medium attached to the latest user message, moves
inline data (``base64``) into the blob store so the state only holds blob ids, and decides per
medium — by a policy you can replace — whether the core reads it natively (its own encoder) or
a *textualizer* turns it into text first, recording each decision and its reason in
``perception``. ``textualize`` runs the textualizers and swaps those media blocks for their text.

On the way out, decoders are **tools** (docs/architecture.md, "The CPU": a decoder call is a typed tool call,
inspectable and gateable like any other): :func:`make_decoder_tools` wraps each decoder as
``generate_image`` / ``generate_audio`` / ``generate_video`` / ``speak``, storing what it makes
in the blob store and handing the graph an :class:`~genaisys.graphs.state.Artifact`.
``respond`` attaches the artifacts made during the turn to the final answer as media blocks that
reference the blob store, and lists them in ``artifacts``.

Contracts (duck-typed, so genaisys's own textualizers, decoders and ``BlobStore`` fit, and so do
yours):

- blob store: ``put(data: bytes, mime_type=...) -> blob_id`` and ``path(blob_id) -> Path``;
- textualizer: a callable ``(path) -> str`` or an object with ``textualize(path)``; the result
  is text, or has a ``text`` attribute / ``to_text()`` method;
- decoder: a callable ``(prompt) -> ...`` or an object with ``decode(prompt)``, returning bytes,
  a ``Path`` to a file, a blob id already stored, or an object with ``blob_id`` (and optionally
  ``mime_type``). The image, audio and video tools also take an optional ``signal``: the
  reference to signal-token embeddings that a core emitting ``[IMG0..k]`` tokens puts in its
  ``generate_<kind>`` call (NExT-GPT). It is forwarded as ``decode(prompt, signal=signal)`` —
  genaisys's decoders (``genaisys.tools.decoders``) resolve it to ``prompt_embeds`` — and only
  when given, so decoders without a ``signal`` parameter keep working on text prompts.

Example:
    >>> decide_route({"type": "audio", "file_id": "b1"}, native=frozenset({"image"}), textualizers={"audio": len})
    ('textualize', "the core has no native audio encoder; the 'audio' textualizer turns it into text")
"""

from __future__ import annotations

import base64
import binascii
import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, Optional  # Optional: LangGraph matches the `config` annotation text

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool

from genaisys.errors import ConfigError, MediaError
from genaisys.graphs.media_check import check_media
from genaisys.graphs.state import ARTIFACTS, MESSAGES, Artifact, media_block
from genaisys.types import Blobs, Decoder, Textualizer

__all__ = [
    "ROUTES",
    "ByContent",
    "DECODER_TOOL_NAMES",
    "MEDIA_KINDS",
    "PERCEPTION",
    "Policy",
    "TEXTUALIZED_TEMPLATE",
    "UNSUPPORTED_TEMPLATE",
    "decide_route",
    "default_perception",
    "make_decode_node",
    "make_decoder_tools",
    "make_perceive_node",
    "make_respond_node",
    "make_textualize_node",
    "route_after_perceive",
]

PERCEPTION = "perception"
MEDIA_KINDS = ("image", "audio", "video", "file")
DECODER_TOOL_NAMES = {"image": "generate_image", "audio": "generate_audio", "video": "generate_video", "speech": "speak"}
_DECODER_MIME = {"image": "image/png", "audio": "audio/wav", "video": "video/mp4", "speech": "audio/wav"}
_DECODER_DOC = {
    "image": "Generate an image from a detailed description of it; the image is attached to your answer.",
    "audio": "Generate a sound or music clip from a description of it; it is attached to your answer.",
    "video": "Generate a short video from a description of it; it is attached to your answer.",
    "speech": "Speak the given text aloud; the audio is attached to your answer.",
}

# Text meant for the model (templates, not exceptions).
TEXTUALIZED_TEMPLATE = "[the attached {kind}, as described by {name}]\n{text}"
UNSUPPORTED_TEMPLATE = "[{kind} {blob_id} attached but not readable: {reason}]"
_DECODED_TEMPLATE = "Generated the {kind} for: {prompt!r}. It will be attached to your answer."

Policy = Callable[..., tuple[str, str]]
"""``policy(block, *, native, textualizers[, blobs]) -> (route, reason)``; route is ``"native"``,
``"textualize"``, ``"both"`` (encoder tokens and the text) or ``"unsupported"``. A policy that
takes ``blobs`` gets the blob store, to look at the medium's bytes."""
ROUTES = ("native", "textualize", "both", "unsupported")


def _kind(block: Any) -> str | None:
    if isinstance(block, Mapping) and block.get("type") in MEDIA_KINDS:
        return str(block["type"])
    if isinstance(block, Mapping) and block.get("type") == "image_url":
        return "image"
    return None


def decide_route(
    block: Mapping[str, Any], *, native: frozenset[str], textualizers: Mapping[str, Textualizer]
) -> tuple[str, str]:
    """The default perception policy: native encoder first, then a textualizer, else unsupported."""
    kind = _kind(block) or "file"
    if kind in native:
        return "native", f"the core encodes {kind} natively"
    if kind in textualizers:
        return "textualize", f"the core has no native {kind} encoder; the {kind!r} textualizer turns it into text"
    return "unsupported", (
        f"the core has no native {kind} encoder and no {kind} textualizer is configured "
        f"(pass textualizers={{'{kind}': ...}})"
    )


class ByContent:
    """A perception policy that decides per image, from its pixels, how the core should read it.

    ``classify(image) -> (verdict, reason)`` looks at the image (a PIL image) and answers
    ``"native"``, ``"textualize"`` or ``"both"`` — `genaisys.core.perception.looks_like_shapes`
    is the one for a core whose encoder path was trained on synthetic shapes. A verdict that needs
    a textualizer the graph does not have falls back to ``"native"``; media other than images
    follow `decide_route`.

    Example:
        >>> from genaisys.core.perception import looks_like_shapes
        >>> policy = ByContent(looks_like_shapes)
        >>> policy({"type": "audio", "file_id": "b"}, native=frozenset({"image"}), textualizers={})[0]
        'unsupported'
    """

    def __init__(self, classify: Callable[[Any], tuple[str, str]]) -> None:
        self.classify = classify

    def __call__(self, block: Mapping[str, Any], *, native: frozenset[str], textualizers: Mapping[str, Textualizer],
                 blobs: Blobs | None = None) -> tuple[str, str]:
        kind = _kind(block)
        if kind != "image" or blobs is None or not block.get("file_id"):
            return decide_route(block, native=native, textualizers=textualizers)
        from PIL import Image

        with Image.open(blobs.path(str(block["file_id"]))) as image:
            verdict, reason = self.classify(image.convert("RGB"))
        if verdict not in ("native", "textualize", "both"):
            raise ConfigError(f"a content classifier must answer native, textualize or both, got {verdict!r}")
        if verdict != "native" and "image" not in textualizers:
            return "native", f"{reason}; no image textualizer is configured, so the core reads it itself"
        if verdict != "textualize" and "image" not in native:
            return "textualize", f"{reason}; the core has no image encoder, so only the text reaches it"
        return verdict, reason


def default_perception(core: Any) -> tuple[tuple[str, ...], dict[str, Any], Policy]:
    """How a graph around ``core`` reads images by default: ``(native kinds, textualizers, policy)``.

    - a genaisys core whose encoder path knows only synthetic shapes (``native_domain="shapes"``,
      the nano core): each image is judged by its pixels (`ByContent` with
      `genaisys.core.perception.looks_like_shapes`); photos and documents go to the
      `~genaisys.tools.textualizers.ImageTextualizer` (ImageNet labels + OCR);
    - a text-only genaisys core: every image is textualized;
    - any other model (a native MLLM, a remote or third-party chat model): images go to it as they are.

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> default_perception(FakeListChatModel(responses=["x"]))[0]
        ('image',)
    """
    from genaisys.core.chat import ChatCore

    if not isinstance(core, ChatCore):
        return ("image",), {}, decide_route
    inner = core.core
    if inner is not None and getattr(getattr(inner, "config", None), "native_domain", None) is None:
        return ("image",), {}, decide_route
    from genaisys.core.perception import looks_like_shapes
    from genaisys.tools.textualizers import ImageTextualizer

    textualizers = {"image": ImageTextualizer()}
    if inner is None:  # a text-only language model
        return (), textualizers, decide_route
    return ("image",), textualizers, ByContent(looks_like_shapes)


def route_after_perceive(state: dict) -> Literal["textualize", "next"]:
    """``textualize`` when perception routed any medium there (or found one unsupported), else ``next``."""
    return "textualize" if any(d["route"] != "native" for d in state.get(PERCEPTION) or []) else "next"


def _latest_human(messages: list) -> HumanMessage | None:
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return message
    return None


def make_perceive_node(
    *,
    blobs: Blobs | None = None,
    native: tuple[str, ...] | frozenset[str] = ("image",),
    textualizers: Mapping[str, Textualizer] | None = None,
    policy: Policy = decide_route,
) -> Callable[..., dict]:
    """A node that externalises inline media to the blob store and decides how each medium is read.

    Args:
        blobs: The blob store; needed when a message carries inline ``base64`` media.
        native: Media kinds the core encodes itself (a vision core: ``("image",)``).
        textualizers: Kind → textualizer for kinds to turn into text.
        policy: Decides ``(route, reason)`` per media block (default :func:`decide_route`).

    The decisions land in ``perception``: ``[{"index", "kind", "blob_id", "route", "reason"}]``.
    """
    native_set = frozenset(native)
    texts = dict(textualizers or {})
    extra = {"blobs": blobs} if _takes(policy, "blobs") else {}

    def perceive(state: dict) -> dict[str, Any]:
        message = _latest_human(state.get(MESSAGES, []))
        if message is None or isinstance(message.content, str):
            return {PERCEPTION: []}
        check_media(message, blobs=blobs)  # refuse what the core could not read, before it is stored
        blocks, changed, decisions = [], False, []
        for index, block in enumerate(message.content):
            kind = _kind(block)
            if kind is None:
                blocks.append(block)
                continue
            if isinstance(block, Mapping) and block.get("base64"):
                block, changed = _externalize(block, kind, blobs), True
            route, reason = policy(block, native=native_set, textualizers=texts, **extra)
            if route not in ROUTES:
                raise ConfigError(f"a perception policy must route to one of {', '.join(ROUTES)}, got {route!r}")
            blob_id = block.get("file_id") or block.get("id") or block.get("url", "")
            decisions.append({"index": index, "kind": kind, "blob_id": str(blob_id), "route": route, "reason": reason})
            blocks.append(block)
        update: dict[str, Any] = {PERCEPTION: decisions}
        if changed:  # same id: add_messages replaces the message, so no base64 reaches a checkpoint
            update[MESSAGES] = [message.model_copy(update={"content": blocks})]
        return update

    perceive.__name__ = "perceive"
    return perceive


def _externalize(block: Mapping[str, Any], kind: str, blobs: Blobs | None) -> dict[str, Any]:
    if blobs is None:
        raise ConfigError(
            f"a {kind} arrived inline (base64) but the graph has no blob store to keep it; pass blobs=... "
            "or send the medium as {'type': ..., 'file_id': <blob id>}"
        )
    try:
        data = base64.b64decode(str(block["base64"]), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MediaError(f"the inline {kind} is not valid base64 ({exc})") from exc
    if not data:
        raise MediaError(f"the inline {kind} is empty")
    mime = block.get("mime_type")
    blob_id = blobs.put(data, mime_type=mime)
    return media_block(kind, blob_id, mime_type=mime)


def _call_textualizer(textualizer: Any, path: Path) -> str:
    result = textualizer.textualize(path) if hasattr(textualizer, "textualize") else textualizer(path)
    if isinstance(result, str):
        return result
    if hasattr(result, "to_text"):
        return str(result.to_text())
    if hasattr(result, "text"):
        return str(result.text)
    return str(result)


def make_textualize_node(*, blobs: Blobs | None = None, textualizers: Mapping[str, Textualizer]) -> Callable[..., dict]:
    """A node that replaces each medium routed to ``textualize`` by its text (and unsupported ones
    by a note saying why), in the latest user message.

    Args:
        blobs: The blob store (``path(blob_id) -> Path``) holding the media (needed once a
            medium is routed to a textualizer).
        textualizers: Kind → textualizer (see the module docstring).
    """
    def textualize(state: dict) -> dict[str, Any]:
        message = _latest_human(state.get(MESSAGES, []))
        decisions = {d["index"]: d for d in state.get(PERCEPTION) or []}
        if message is None or isinstance(message.content, str) or not decisions:
            return {}
        blocks = list(message.content)
        for index, decision in decisions.items():
            kind, blob_id = decision["kind"], decision["blob_id"]
            if decision["route"] in ("textualize", "both"):
                if blobs is None:
                    raise ConfigError("textualizing media needs the blob store that holds it; pass blobs=...")
                textualizer = textualizers[kind]
                name = getattr(textualizer, "name", None) or getattr(textualizer, "__name__", type(textualizer).__name__)
                text = _call_textualizer(textualizer, Path(blobs.path(blob_id)))
                described = {"type": "text", "text": _separated(blocks, index, TEXTUALIZED_TEMPLATE.format(
                    kind=kind, blob_id=blob_id, name=name, text=text))}
                # "both": the medium stays for the encoder and its description follows it
                blocks[index] = [blocks[index], described] if decision["route"] == "both" else described
            elif decision["route"] == "unsupported":
                blocks[index] = {
                    "type": "text",
                    "text": _separated(blocks, index, UNSUPPORTED_TEMPLATE.format(kind=kind, blob_id=blob_id,
                                                                                  reason=decision["reason"])),
                }
        flat = [b for block in blocks for b in (block if isinstance(block, list) else [block])]
        return {MESSAGES: [message.model_copy(update={"content": flat})]}

    textualize.__name__ = "textualize"
    return textualize


def _separated(blocks: list[Any], index: int, text: str) -> str:
    """Text replacing a medium sits on its own lines: text blocks are joined without a separator
    when the prompt is rendered, so a newline goes before it when something comes before and
    after it when something follows."""
    before = "\n" if index > 0 else ""
    after = "\n" if index < len(blocks) - 1 else ""
    return f"{before}{text}{after}"


def _takes(fn: Callable[..., Any], name: str) -> bool:
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _store_decoded(result: Any, kind: str, blobs: Blobs | None) -> tuple[str, str]:
    mime = _DECODER_MIME[kind]
    if hasattr(result, "blob_id"):
        return str(result.blob_id), str(getattr(result, "mime_type", None) or mime)
    if isinstance(result, Mapping) and "blob_id" in result:
        return str(result["blob_id"]), str(result.get("mime_type") or mime)
    if isinstance(result, (bytes, bytearray)):
        if not result:
            raise MediaError(f"the {kind} decoder returned no data")
        return blobs.put(bytes(result), mime_type=mime), mime
    if isinstance(result, Path):
        return blobs.put(result.read_bytes(), mime_type=mime), mime
    if isinstance(result, str) and result:
        Path(blobs.path(result))  # a blob id: it must exist
        return result, mime
    raise MediaError(
        f"the {kind} decoder returned {type(result).__name__}; return bytes, a Path, a blob id or an object with blob_id"
    )


def make_decoder_tools(decoders: Mapping[str, Decoder | Callable[..., Any]], *, blobs: Blobs | None,
                       show_images: bool = False) -> list[BaseTool]:
    """Wrap decoders as tools the core can call: ``generate_image``, ``generate_audio``,
    ``generate_video``, ``speak`` (for kinds ``image``, ``audio``, ``video``, ``speech``).

    Each tool stores its output in the blob store and returns a short text for the model plus an
    :class:`~genaisys.graphs.state.Artifact` (the ``ToolMessage.artifact``) that ``respond``
    attaches to the answer. With ``show_images`` the image a ``generate_image`` call made also
    goes into its result as an image block, so the core sees what it drew — then, and on later
    turns ("what did you draw?").

    Example:
        >>> class Blobs:
        ...     def put(self, data, mime_type=None):
        ...         return "blob-1"
        >>> [t.name for t in make_decoder_tools({"image": lambda prompt: b"png"}, blobs=Blobs())]
        ['generate_image']
    """
    unknown = sorted(set(decoders) - set(DECODER_TOOL_NAMES))
    if unknown:
        raise ConfigError(f"unknown decoder kind(s) {unknown}; known: {', '.join(DECODER_TOOL_NAMES)}")
    if decoders and blobs is None:
        raise ConfigError("decoders store what they make in the blob store; pass blobs=...")
    return [_decoder_tool(kind, decoder, blobs, show_images) for kind, decoder in decoders.items()]


def _takes_signal(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: try the call
        return True
    return any(p.name == "signal" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def _decoder_tool(kind: str, decoder: Decoder | Callable[..., Any], blobs: Blobs | None,
                  show_images: bool = False) -> BaseTool:
    def run(prompt: str, signal: dict[str, Any] | None = None) -> tuple[str | list[dict[str, Any]], Artifact]:
        fn = decoder.decode if hasattr(decoder, "decode") else decoder
        if signal is None:
            result = fn(prompt)
        elif _takes_signal(fn):
            result = fn(prompt, signal=signal)
        else:
            raise ConfigError(
                f"the {kind} decoder {getattr(fn, '__qualname__', type(decoder).__name__)} takes no signal=, but this "
                f"{DECODER_TOOL_NAMES[kind]} call carries signal-token embeddings; use a genaisys.tools.decoders "
                "decoder built with signals=core.signal_embeddings (or give yours a signal= parameter)"
            )
        blob_id, mime = _store_decoded(result, kind, blobs)
        described = prompt or f"(signal {signal.get('ref', '?') if isinstance(signal, Mapping) else signal})"
        artifact = Artifact(blob_id=blob_id, kind=kind, mime_type=mime, producer=DECODER_TOOL_NAMES[kind],
                            description=described)
        text = _DECODED_TEMPLATE.format(kind=kind, blob_id=blob_id, prompt=described)
        if show_images and kind == "image":
            return [{"type": "text", "text": text}, media_block("image", blob_id, mime_type=mime)], artifact
        return text, artifact

    return StructuredTool.from_function(
        func=run,
        name=DECODER_TOOL_NAMES[kind],
        description=_DECODER_DOC[kind],
        args_schema=_prompt_schema(kind),
        response_format="content_and_artifact",
    )


def make_decode_node(decoders: Mapping[str, Decoder | Callable[..., Any]], *, blobs: Blobs | None, name: str = "decode") -> Any:
    """A node that runs the model's decoder calls (for custom graphs that route them apart from
    other tools): the ``act`` node over :func:`make_decoder_tools`, each behind the safety wrapper.
    Follow it with :func:`make_respond_node` to attach what it made to the answer.

    Example:
        >>> class Blobs:
        ...     def put(self, data, mime_type=None):
        ...         return "blob-1"
        >>> sorted(make_decode_node({"speech": lambda text: b"wav"}, blobs=Blobs()).tools_by_name)
        ['speak']
    """
    from genaisys.graphs.nodes import make_act_node, resolve_tools

    return make_act_node(resolve_tools(make_decoder_tools(decoders, blobs=blobs)), name=name)


def _prompt_schema(kind: str) -> type:
    from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

    name = f"{DECODER_TOOL_NAMES[kind].title().replace('_', '')}Args"
    if kind == "speech":  # text-to-speech has no signal-token path
        model: type[BaseModel] = create_model(  # type: ignore[call-overload]
            name, __config__=ConfigDict(extra="forbid"),
            prompt=(str, Field(min_length=1, description="the text to speak")),
        )
        return model

    def _needs_prompt_or_signal(args: Any) -> Any:
        if not args.prompt.strip() and args.signal is None:
            raise ValueError(f"the prompt is empty: describe the {kind} to make")
        return args

    model = create_model(  # type: ignore[call-overload]
        name, __config__=ConfigDict(extra="forbid"),
        __validators__={"needs_prompt_or_signal": model_validator(mode="after")(_needs_prompt_or_signal)},
        prompt=(str, Field(description=f"a detailed description of the {kind} to make")),
        signal=(dict[str, Any] | None, Field(
            default=None, description="set by the core when it emits signal tokens (a reference to their "
            "embeddings, e.g. {'kind': 'signal_embeddings', 'ref': 'sig_...'}); leave it out otherwise")),
    )
    return model


def make_respond_node() -> Callable[..., dict]:
    """A node that attaches the artifacts made during this turn to the final answer.

    It collects ``ToolMessage.artifact`` values with a ``blob_id`` since the latest user
    message, adds them to ``artifacts``, and rewrites the final AI message as text + media blocks
    referencing the blob store (``speech`` → an ``audio`` block). Without artifacts it changes
    nothing.
    """

    def respond(state: dict, config: Optional[RunnableConfig] = None) -> dict[str, Any]:
        messages = state.get(MESSAGES, [])
        made: list[Artifact] = []
        for message in reversed(messages):
            if isinstance(message, HumanMessage):
                break
            if isinstance(message, ToolMessage) and isinstance(message.artifact, Mapping) and message.artifact.get("blob_id"):
                made.insert(0, Artifact(**dict(message.artifact)))  # type: ignore[typeddict-item]
        final = messages[-1] if messages else None
        if not made or not isinstance(final, AIMessage):
            return {}
        content = [{"type": "text", "text": final.content}] if isinstance(final.content, str) else list(final.content)
        for art in made:
            block_kind = "audio" if art["kind"] == "speech" else art["kind"]
            content.append(media_block(block_kind, art["blob_id"], mime_type=art.get("mime_type")))
        return {MESSAGES: [final.model_copy(update={"content": content})], ARTIFACTS: made}

    respond.__name__ = "respond"
    return respond
