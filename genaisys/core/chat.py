"""ChatCore: a local core behind LangChain's `BaseChatModel` face (docs/architecture.md, "The CPU").

`ChatCore` wraps a `MultimodalCore` or a plain causal LM + tokenizer and speaks LangChain
messages: sync and async, token streaming, ``bind_tools``, tool calls returned as
``AIMessage.tool_calls`` (unusable ones in ``invalid_tool_calls``, a call cut off by the token
limit among them), stop sequences and usage metadata, and structured output: a forced tool call
(``tool_choice="any"`` or a tool's name) and a ``response_format`` (JSON, or JSON matching a
schema) are decoded under a grammar, so they are valid by construction. Decoding — a KV-cached
loop, greedy at ``temperature=0``, otherwise temperature + top-p sampling, with the prefix cache,
continuous batching of concurrent calls, VCD and signal tokens — is the generation engine's job
(`genaisys.core.generation`, `ChatCore.engine`); streaming, stop sequences and tool-call hold-back
share one path through it.

Prompts go through the tokenizer's chat template. When that template knows ``tools`` (it
mentions them), tools and tool turns are passed to it natively; otherwise genaisys's own format
from `genaisys.core.toolcall` is used: the tool list in the system prompt, calls as
``<tool_call>{...}</tool_call>``, results as ``<tool_response>`` turns of role ``tool``.

Images come in LangChain standard content blocks inside any message:
``{"type": "image", "base64": ..., "mime_type": ...}``, ``{"type": "image", "url": "data:…" |
"file:///…" | "/abs/path.png"}``, OpenAI's ``{"type": "image_url", "image_url": {"url": ...}}``
and ``{"type": "image", "file_id": <blob id>}`` (resolved through ``blobs``: any object with
``.path(blob_id) -> Path``, such as genaisys's blob store). Each becomes one ``<image>``
placeholder at its place in the text.

Example:
    >>> from genaisys.core.loading import load_core
    >>> chat = load_core("nano")  # doctest: +SKIP
    >>> chat.invoke("Name a colour.").content  # doctest: +SKIP
    'Blue.'
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr, SkipValidation

from genaisys.core.generation import GenerationEngine, _Stopper, _vcd_config
from genaisys.core.media import attachment_note, load_image_block
from genaisys.core.toolcall import (
    TOOL_CALL_CLOSE,
    TOOL_CALL_ERROR_TEMPLATE,
    TOOL_CALL_OPEN,
    new_tool_call_id,
    parse_tool_calls,
    render_tool_call,
    render_tool_result,
    render_tools_prompt,
)
from genaisys.errors import ConfigError, CoreError, GenaisysError, MediaError
from genaisys.types import BlobReader, ContextOrder

__all__ = ["ChatCore", "load_image_block"]  # load_image_block: re-exported from genaisys.core.media

_DEFAULT_SYSTEM = "You are a helpful assistant."
_TOOL_CHOICE_REQUIRED = "You must answer with at least one tool call now."
# Text meant for the model (templates, not exceptions).
_UNREADABLE_TOOL_IMAGE = "[the tool returned an image that cannot be read: {error}]"
_CUT_OFF_CALL = ("the call was cut off by the token limit after {n} generated tokens; "
                 "raise max_tokens (max_new_tokens) or ask for a shorter call")
_NAME_RE = re.compile(r'"name"\s*:\s*"([^"]+)"')
# Content blocks of AI turns that are carried elsewhere (tool calls) or not shown to the model.
_SKIPPED_BLOCKS = ("tool_call", "tool_call_chunk", "tool_use", "reasoning", "thinking", "redacted_thinking")


class ChatCore(BaseChatModel):
    """A local core (a `MultimodalCore`, or a plain causal LM + tokenizer) as a LangChain chat model.

    Attributes:
        core: a `MultimodalCore` or a `NativeCore` (images allowed), or ``None`` when
            ``language_model`` is set.
        language_model / tokenizer: a plain causal LM and its tokenizer (text only).
        blobs: optional blob store (``.path(blob_id) -> Path``) for ``file_id`` image blocks.
        max_new_tokens: cap on generated tokens per call; ``max_tokens`` is LangChain's standard
            name for it (either may be given, per call too).
        stop: default stop sequences (a call's own ``stop`` replaces them).
        temperature: 0 = greedy; otherwise sampling with ``top_p``.
        seed: seed for sampling (``None``: a fresh one per call).
        system_prompt: used when the conversation has no system message.
        model_name: reported in ``response_metadata``.
        vcd: visual contrastive decoding for every call with images (``True``, a dict or a
            `VCDConfig`); per call: ``invoke(..., vcd=...)``. See `genaisys.core.vcd`.
        constrain_tool_calls: grammar-constrained tool calls also when the model chooses freely
            (``tool_choice`` auto); per call: ``invoke(..., constrain_tool_calls=True)``. A forced
            call is always constrained. See `genaisys.core.constrained`.
        scored_tool_choice / no_tool_bias: with tools bound and ``tool_choice`` auto, first score
            "no tool" and each tool as a closed set (``no_tool_bias`` nats added to "no tool"),
            then decode the chosen tool's call under its grammar; after "no tool" no call can
            open. See `genaisys.core.tool_choice`.
        continuous_batching: concurrent calls — streams and non-streams, several graph sessions,
            a server's clients — decode as rows of one running batch, joining and leaving at token
            boundaries, each with its own settings (`genaisys.core.batching`); ``False``: one call
            at a time. Calls with VCD or signal tokens, and native MLLMs, always decode alone.
        max_batch_size: the most calls decoded together; others wait for a row to free.
        batch_window_ms: when no call is decoding, how long the first one waits for others to
            start together (0: at once; calls arriving later join at the next token anyway).
        prefix_cache: a text-only call starts from the KV cache of the prefix it shares with one of
            the last few prompts (system prompt, tool list, earlier turns) instead of prefilling it
            again.
        dtype: what the language model decodes in: ``"auto"`` (float32 for now: bf16 on a CPU with
            native bf16 was faster but changed too many answers, see `genaisys.core.precision`),
            ``"float32"`` or ``"bfloat16"``; `decode_dtype` is the choice made. bf16
            decodes on a bf16 copy of the weights, so training the core is unaffected. See
            `genaisys.core.precision`.
        merge_adapters: decode a language model with LoRA adapters (peft; the nano core) on a copy
            whose adapters are merged into its weights: 1.26x faster on nano, the same answers up
            to float rounding (bench/precision.py); the trained model keeps its adapters.
            ``False``: decode on the wrapped model itself (no copy: 540 MB less for nano).
        context_sentences: how much recalled context this core reads well: graphs built with
            ``context_sentences="auto"`` (their default) keep only this many of the retrieved
            chunks' sentences, those closest to the question (`genaisys.memory.focus`); ``None``
            (default): the value the core's config records (``MultimodalCoreConfig.context_sentences``,
            what it was trained to read), else whole chunks.
        context_min_score: the relevance floor of that focus (sentences scoring below it are not
            shown); ``None`` (default): the value the core's config records.
        context_order: how that focus lays out its sentences (``"document"`` or ``"best"``, see
            `genaisys.memory.focus.focus_hits`); ``None`` (default): the value the core's config records.

    Example:
        >>> chat = ChatCore(language_model=lm, tokenizer=tok, max_new_tokens=32)  # doctest: +SKIP
        >>> chat.bind_tools([get_weather]).invoke("Weather in Paris?").tool_calls  # doctest: +SKIP
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    core: Any = None
    language_model: Any = None
    tokenizer: Any = None
    blobs: SkipValidation[BlobReader | None] = None
    max_new_tokens: int = 256
    max_tokens: int | None = None
    stop: list[str] | None = None
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    system_prompt: str | None = None
    model_name: str = "genaisys-core"
    vcd: Any = None
    constrain_tool_calls: bool = False
    scored_tool_choice: bool = False
    no_tool_bias: float = 0.0
    continuous_batching: bool = True
    batch_window_ms: float = 0.0
    max_batch_size: int = 16
    prefix_cache: bool = True
    dtype: str = "auto"
    merge_adapters: bool = True
    context_sentences: int | None = Field(None, ge=1)
    context_min_score: float | None = None
    context_order: ContextOrder | None = None

    _decode_dtype: Any = PrivateAttr(default=None)  # torch.dtype decoding runs in
    _engine: Any = PrivateAttr(default=None)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # After pydantic, which would wrap a ConfigError raised while validating in a ValidationError.
        self._decode_dtype = self._resolve_dtype()

    def model_post_init(self, context: Any) -> None:
        super().model_post_init(context)
        for field in ("context_sentences", "context_min_score", "context_order"):
            if field not in self.model_fields_set:
                setattr(self, field, getattr(getattr(self.core, "config", None), field, None))
        if self.max_tokens is not None:
            if "max_new_tokens" in self.model_fields_set and self.max_new_tokens != self.max_tokens:
                raise ConfigError(f"max_tokens={self.max_tokens} and max_new_tokens={self.max_new_tokens} disagree; "
                                  "they are two names of one setting, give one")
            self.max_new_tokens = self.max_tokens
        if self.core is None and (self.language_model is None or self.tokenizer is None):
            raise ConfigError("ChatCore needs core=<MultimodalCore> or both language_model= and tokenizer=")
        if self.core is not None:
            self.language_model, self.tokenizer = self.core.language_model, self.core.tokenizer
        if self.tokenizer.pad_token_id is None and self.tokenizer.eos_token is not None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    def _resolve_dtype(self) -> Any:
        import torch

        from genaisys.core.precision import precision_name, resolve_dtype

        weight = self.engine.lm().get_input_embeddings().weight
        dtype, auto = resolve_dtype(self.dtype, device=weight.device), precision_name(self.dtype) == "auto"
        if dtype == weight.dtype or not weight.is_floating_point() or (auto and weight.dtype != torch.float32):
            return weight.dtype  # "auto" only narrows float32 weights; a model loaded in bf16/fp16 stays so
        # A native MLLM's processor and a cross-attention core's hooked blocks run outside the
        # language model's weights; a cast copy of the LM alone would feed them mismatched dtypes.
        special = ("a native MLLM" if getattr(self.core, "is_native", False) else
                   "a cross-attention core" if getattr(self.core, "cross_attention", None) is not None else None)
        if special is None:
            return dtype
        if auto:
            return weight.dtype
        raise ConfigError(f"dtype={self.dtype!r} cannot be applied to {special} ({type(self.core).__name__}): it "
                          f"decodes in the dtype it was loaded in ({weight.dtype}); use dtype='auto'")

    @property
    def decode_dtype(self) -> Any:
        """The ``torch.dtype`` the language model decodes in (``dtype`` resolved for this machine)."""
        return self._decode_dtype

    @property
    def engine(self) -> GenerationEngine:
        """The generation engine this face calls (`genaisys.core.generation`): token loop, caches, batching."""
        if self._engine is None or self._engine.chat is not self:  # a copied ChatCore gets its own
            self._engine = GenerationEngine(self)
        return self._engine

    def signal_embeddings(self, ref: str) -> Any:
        """The decoder conditioning a ``generate_<modality>`` call refers to: ``(1, out_tokens, out_dim)``.

        Raises:
            CoreError: the reference is unknown or has been evicted (the last 64 are kept).
        """
        return self.engine.signal_embeddings(ref)

    def _constrained(self, kwargs: dict[str, Any]) -> bool:
        """Whether a call decodes under a grammar (tool calls or a response format)."""
        if _json_format(kwargs.get("response_format")):
            return True
        if not kwargs.get("tools") or kwargs.get("tool_choice") == "none":
            return False
        return _forces_call(kwargs.get("tool_choice")) or bool(
            kwargs.get("constrain_tool_calls", self.constrain_tool_calls))

    def _max_tokens(self, kwargs: dict[str, Any]) -> int:
        return int(kwargs.get("max_new_tokens", kwargs.get("max_tokens", self.max_new_tokens)))

    @property
    def _llm_type(self) -> str:
        return "genaisys-chat-core"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "max_new_tokens": self.max_new_tokens,
                "temperature": self.temperature, "top_p": self.top_p, "dtype": str(self._decode_dtype)}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> Any:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "genaisys"
        params["ls_max_tokens"] = self._max_tokens(kwargs)
        if not stop and self.stop:
            params["ls_stop"] = list(self.stop)
        return params

    # ------------------------------------------------------------------ tools
    def bind_tools(self, tools: Sequence[dict[str, Any] | type | Callable[..., Any] | Any], *,
                   tool_choice: str | None = None, **kwargs: Any) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (pydantic models, functions, BaseTools or JSON schemas) for the next calls.

        Args:
            tools: anything `convert_to_openai_tool` accepts.
            tool_choice: ``None``/``"auto"`` (the model decides), ``"none"`` (tools hidden),
                ``"any"``/``"required"``/``True`` (a call to one of them is forced) or a tool's name
                (OpenAI's ``{"type": "function", "function": {"name": ...}}`` too: that call is
                forced). Forced calls are decoded under the tools' grammar.

        Example:
            >>> chat.bind_tools([get_weather], tool_choice="get_weather").invoke("Paris?").tool_calls  # doctest: +SKIP
        """
        formatted = [convert_to_openai_tool(t) for t in tools]
        if tool_choice is not None:
            kwargs["tool_choice"] = _normalise_tool_choice(tool_choice, [t["function"]["name"] for t in formatted])
        return self.bind(tools=formatted, **kwargs)

    def with_structured_output(self, schema: dict[str, Any] | type, *, method: str = "function_calling",
                               include_raw: bool = False, strict: bool | None = None,
                               **kwargs: Any) -> Runnable[LanguageModelInput, Any]:
        """Answers as ``schema`` (a pydantic class, a TypedDict or a JSON schema), valid by construction.

        Args:
            schema: what the answer must be.
            method: ``"function_calling"`` (a forced call of a tool named after the schema),
                ``"json_schema"`` or ``"json_mode"`` (the answer itself is JSON; both are decoded
                under the schema's grammar, since a local core can guarantee what OpenAI's
                ``json_mode`` only asks for).
            include_raw: return ``{"raw", "parsed", "parsing_error"}`` instead of the parsed value.
            strict: accepted for compatibility; decoding is always strict.

        Example:
            >>> from pydantic import BaseModel
            >>> class Colour(BaseModel):
            ...     name: str
            >>> chat.with_structured_output(Colour, method="json_schema").invoke("A colour?")  # doctest: +SKIP
            Colour(name='blue')
        """
        if method == "function_calling":
            return super().with_structured_output(schema, include_raw=include_raw, **kwargs)
        if kwargs:
            raise ConfigError(f"with_structured_output got unsupported arguments {sorted(kwargs)}")
        from genaisys.core.structured import json_schema_runnable

        return json_schema_runnable(self, schema, method=method, include_raw=include_raw)

    def render_prompt(self, messages: list[BaseMessage], *, tools: Sequence[Any] | None = None,
                      tool_choice: str | None = None, add_generation_prompt: bool = True) -> tuple[str, list[Any]]:
        """The exact prompt text (with ``<image>`` placeholders) and images a call would decode from.

        Training code should render conversations with this, so that what the core learns is
        what it sees at inference (chat template, tool section, tool-call and tool-result format).

        Args:
            messages: the conversation (an answer to learn can be the last `AIMessage`).
            tools: tools as `bind_tools` takes them (converted with `convert_to_openai_tool`).
            tool_choice: as in `bind_tools`.
            add_generation_prompt: end with the opening of an assistant turn (what inference
                decodes from); ``False`` renders a finished conversation (training targets).

        Example:
            >>> prompt, images = chat.render_prompt([HumanMessage("Hi")])  # doctest: +SKIP
        """
        formatted = [convert_to_openai_tool(t) for t in tools] if tools else None
        return self._render(list(messages), formatted, tool_choice, add_generation_prompt=add_generation_prompt)

    def _template_supports_tools(self) -> bool:
        owner = self.core.processor if getattr(self.core, "is_native", False) else self.tokenizer
        template = getattr(owner, "chat_template", None) or ""
        return isinstance(template, str) and "tools" in template

    # ------------------------------------------------------------------ prompt
    def _render(self, messages: list[BaseMessage], tools: list[dict[str, Any]] | None,
                tool_choice: str | None, *, add_generation_prompt: bool = True) -> tuple[str, list[Any]]:
        """Messages → (prompt text with ``<image>`` placeholders, images in order)."""
        if tool_choice == "none":
            tools = None
        native = bool(tools) and self._template_supports_tools()
        image_token = self.core.image_token if self.core is not None else None
        images: list[Any] = []
        names_by_id: dict[str, str] = {}
        turns: list[dict[str, Any]] = []
        for msg in messages:
            text = self._content_text(msg, images, image_token)
            if isinstance(msg, SystemMessage):
                turns.append({"role": "system", "content": text})
            elif isinstance(msg, HumanMessage):
                turns.append({"role": "user", "content": text})
            elif isinstance(msg, AIMessage):
                for tc in msg.tool_calls:
                    if tc.get("id"):
                        names_by_id[tc["id"]] = tc["name"]
                # a decoder call the core made by emitting signal tokens reads back as those tokens
                signalled = [self._signal_tokens(tc) for tc in msg.tool_calls]
                text += "".join(t for t in signalled if t)
                tool_calls = [tc for tc, t in zip(msg.tool_calls, signalled) if not t]
                if native and tool_calls:
                    turns.append({"role": "assistant", "content": text, "tool_calls": [
                        {"type": "function", "id": tc.get("id"),
                         "function": {"name": tc["name"], "arguments": tc["args"]}} for tc in tool_calls]})
                else:
                    calls = "\n".join(render_tool_call(tc["name"], tc["args"]) for tc in tool_calls)
                    turns.append({"role": "assistant", "content": "\n".join(p for p in (text, calls) if p)})
            elif isinstance(msg, ToolMessage):
                name = msg.name or names_by_id.get(msg.tool_call_id)
                if native:
                    turns.append({"role": "tool", "content": text, "tool_call_id": msg.tool_call_id, "name": name})
                else:
                    turns.append({"role": "tool", "content": render_tool_result(name, text)})
            else:
                turns.append({"role": getattr(msg, "role", msg.type), "content": text})
        if tools and not native:
            section = render_tools_prompt(tools)
            if turns and turns[0]["role"] == "system":
                turns[0] = {**turns[0], "content": f"{turns[0]['content']}\n\n{section}"}
            else:
                turns.insert(0, {"role": "system", "content": f"{self.system_prompt or _DEFAULT_SYSTEM}\n\n{section}"})
        elif self.system_prompt and not (turns and turns[0]["role"] == "system"):
            turns.insert(0, {"role": "system", "content": self.system_prompt})
        if tools and tool_choice not in (None, "auto", "none"):
            demand = _TOOL_CHOICE_REQUIRED
            if tool_choice not in ("any", "required"):
                demand = f"You must call the tool {tool_choice!r} now."
            turns[0] = {**turns[0], "content": f"{turns[0]['content']}\n{demand}"}
        kwargs: dict[str, Any] = {"tokenize": False, "add_generation_prompt": add_generation_prompt}
        if native:
            kwargs["tools"] = tools
        if getattr(self.core, "is_native", False):
            prompt = self.core.render(turns, add_generation_prompt=add_generation_prompt,
                                      **({"tools": tools} if native else {}))
        elif getattr(self.tokenizer, "chat_template", None):
            prompt = self.tokenizer.apply_chat_template(turns, **kwargs)
        else:  # no template at all: a plain transcript
            prompt = "".join(f"{t['role']}: {t['content']}\n" for t in turns) + ("assistant: " if add_generation_prompt else "")
        return prompt, images

    def _signal_tokens(self, tool_call: dict[str, Any]) -> str:
        """The signal tokens a ``generate_<modality>`` call stands for, when the core made it by emitting
        them (its ``signal`` is a ``signal_embeddings`` reference) and has them; else ``""``."""
        signal = (tool_call.get("args") or {}).get("signal")
        ids = getattr(self.core, "signal_token_ids", None) or {}
        if not isinstance(signal, dict) or signal.get("kind") != "signal_embeddings":
            return ""
        modality = str(signal.get("modality") or tool_call["name"].removeprefix("generate_"))
        if tool_call["name"] != f"generate_{modality}" or modality not in ids:
            return ""
        from genaisys.core.multimodal import signal_token_names

        return "".join(signal_token_names(modality, len(ids[modality])))

    def _content_text(self, msg: BaseMessage, images: list[Any], image_token: str | None) -> str:
        content = msg.content
        if isinstance(content, str):
            return content
        parts: list[str] = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict) and block.get("type") == "text":
                parts.append(str(block.get("text", "")))
            elif isinstance(msg, AIMessage) and attachment_note(block) is not None:
                parts.append(attachment_note(block) or "")  # what a decoder made for an earlier answer
            elif isinstance(block, dict) and block.get("type") in ("image", "image_url"):
                if image_token is None and isinstance(msg, ToolMessage):
                    parts.append("[the tool returned an image, which this text-only model cannot see]")
                    continue
                if image_token is None:
                    raise CoreError("this ChatCore wraps a text-only language model and cannot see images; "
                                    "use a MultimodalCore (load_core('nano')) or textualize the image first")
                try:
                    images.append(load_image_block(block, self.blobs))
                except MediaError as exc:
                    if not isinstance(msg, ToolMessage):
                        raise
                    # A tool's broken picture is the tool's problem: the model reads why, the call goes on.
                    parts.append(_UNREADABLE_TOOL_IMAGE.format(error=exc))
                    continue
                parts.append(image_token)
            elif isinstance(block, dict) and block.get("type") in _SKIPPED_BLOCKS:
                continue  # carried in msg.tool_calls / not shown to the model
            else:
                kind = block.get("type") if isinstance(block, dict) else type(block).__name__
                raise CoreError(f"content block type {kind!r} is not supported by ChatCore; "
                                "use text or image blocks (textualize audio/video first)")
        return "".join(parts)

    def _run(self, messages: list[BaseMessage], stop: list[str] | None,
             **kwargs: Any) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield ``(text_delta, {})`` while decoding, then ``("", final_info)`` once."""
        # tool_choice="none": the tools are hidden and the answer is text, even if it looks like a call.
        tools = None if kwargs.get("tool_choice") == "none" else kwargs.get("tools") or None
        prompt, images = self._render(messages, tools, kwargs.get("tool_choice"))
        usage: dict[str, int] = {}
        tool_choice = kwargs.get("tool_choice")
        if tools and tool_choice in (None, "auto") and kwargs.get("scored_tool_choice", self.scored_tool_choice):
            from genaisys.core.tool_choice import choose_tool

            with self.engine.lock:
                scores = self.engine.tool_scores(prompt, images, [t["function"]["name"] for t in tools])
            tool_choice = choose_tool(scores, no_tool_bias=float(kwargs.get("no_tool_bias", self.no_tool_bias)))
            no_call = not tool_choice  # the choice binds: a "no tool" answer cannot open a call
            tool_choice = tool_choice or None
            kwargs = {**kwargs, "tool_choice": tool_choice}
        else:
            no_call = False
        stopper = _Stopper(stop or self.stop or [], hold_calls=bool(tools) and tool_choice != "none")
        generated: list[int] = []
        grammar, force = None, bool(tools) and _forces_call(tool_choice)
        if self._constrained(kwargs) and tools:
            from genaisys.core.constrained import ToolCallGrammar

            named = [t for t in tools if t["function"]["name"] == tool_choice]
            grammar = ToolCallGrammar(self.tokenizer, named or tools)
        elif _json_format(kwargs.get("response_format")):
            from genaisys.core.constrained import JsonGrammar

            grammar, force = JsonGrammar(self.tokenizer, _response_schema(kwargs["response_format"])), True
        signals: list[dict[str, Any]] = []
        tokens = self.engine.tokens(
            prompt, images, max_new_tokens=self._max_tokens(kwargs),
            temperature=float(kwargs.get("temperature", self.temperature)),
            top_p=float(kwargs.get("top_p", self.top_p)), seed=kwargs.get("seed", self.seed), usage=usage,
            vcd=_vcd_config(kwargs.get("vcd", self.vcd)), grammar=grammar,
            force_call=force, no_call=no_call, signals=signals,
        )
        try:
            for token in tokens:
                generated.append(token)
                delta = stopper.feed(self.tokenizer.decode(generated, skip_special_tokens=True))
                if delta:
                    yield delta, {}
                if stopper.stopped:
                    break
        finally:
            tokens.close()  # a stop sequence or a consumer that left: the call's row is freed now
        if not stopper.stopped:
            tail = stopper.finish() if not tools else ""
            if tail:
                yield tail, {}
        full = stopper.text
        shown = full[:stopper.emitted]
        # The tokens this call took: a batch row may have decoded a few more before a stop closed it.
        info = self._final_info(full, tools, usage.get("input_tokens", 0), len(generated),
                                ended=bool(stopper.stopped or usage.get("finish")), vcd=bool(usage.get("vcd")))
        for sig in signals:  # each produced signal becomes a typed call to a decoder, by reference
            ref = self.engine.keep_signal(sig["embeds"])
            info["tool_calls"].append({
                "name": f"generate_{sig['modality']}", "id": new_tool_call_id(), "type": "tool_call",
                "args": {"prompt": info["content"], "signal": {"kind": "signal_embeddings", "ref": ref,
                                                               "modality": sig["modality"],
                                                               "shape": list(sig["embeds"].shape[1:])}}})
            info["response_metadata"]["finish_reason"] = "tool_calls"
        if tools:
            # The held-back part may be ordinary text (a brace in prose): release what is not a call.
            content, lead = info["content"], shown.lstrip()
            for prefix in (lead, lead.rstrip()):
                if content.startswith(prefix):
                    if content[len(prefix):]:
                        yield content[len(prefix):], {}
                    break
        yield "", info

    def _final_info(self, full: str, tools: list[dict[str, Any]] | None, n_in: int, n_out: int, *,
                    ended: bool, vcd: bool = False) -> dict[str, Any]:
        """Decoded text → content, tool calls, usage and finish reason."""
        content, calls, invalid = full, [], []
        if tools:
            cut = None
            at = full.rfind(TOOL_CALL_OPEN)
            if at < 0:  # the limit may fall inside the opener itself
                at = next((len(full) - k for k in range(len(TOOL_CALL_OPEN) - 1, 1, -1)
                           if full.endswith(TOOL_CALL_OPEN[:k])), -1)
            if not ended and at >= 0 and TOOL_CALL_CLOSE not in full[at:]:
                # The token limit ended the text inside a call: what was written is not a call the
                # model finished, so it is not repaired into one; the reason goes back with it.
                full, cut = full[:at], full[at + len(TOOL_CALL_OPEN):].strip()
            content, calls, invalid = parse_tool_calls(full, known_tools=[t["function"]["name"] for t in tools])
            if cut is not None:
                name = _NAME_RE.search(cut)
                invalid.append({"name": name.group(1) if name else None, "args": cut, "id": new_tool_call_id(),
                                "error": TOOL_CALL_ERROR_TEMPLATE.format(error=_CUT_OFF_CALL.format(n=n_out)),
                                "type": "invalid_tool_call"})
        reason = "length" if not ended else "tool_calls" if calls else "stop"
        return {"content": content, "tool_calls": calls, "invalid_tool_calls": invalid,
                "usage_metadata": {"input_tokens": n_in, "output_tokens": n_out, "total_tokens": n_in + n_out},
                "response_metadata": {"finish_reason": reason, "model_name": self.model_name, "vcd": vcd}}

    # ------------------------------------------------------------------ batched generation
    def batch(self, inputs: list[LanguageModelInput], config: Any = None, *, return_exceptions: bool = False,
              **kwargs: Any) -> list[Any]:
        """Answer many inputs in one padded batch (one KV-cached loop), not one after another.

        Greedy results equal separate ``invoke`` calls; sampled ones draw from one generator for
        the batch. Falls back to LangChain's per-input ``batch`` for native MLLMs, VCD, constrained
        tool calls or callbacks (those want per-call events).
        """
        configs = config if isinstance(config, list) else [config]
        # A bound model (``bind_tools(...).batch``) always passes one config per input; those
        # without callbacks batch too (tags, names and metadata only matter to callbacks).
        plain = all(not (c or {}).get("callbacks") for c in configs)
        constrained = self._constrained(kwargs)
        if (not inputs or not plain or constrained or getattr(self.core, "is_native", False)
                or _vcd_config(kwargs.get("vcd", self.vcd)) is not None):
            return super().batch(inputs, config, return_exceptions=return_exceptions, **kwargs)
        return self.batch_generate([self._convert_input(i).to_messages() for i in inputs],
                                   return_exceptions=return_exceptions, **kwargs)

    async def abatch(self, inputs: list[LanguageModelInput], config: Any = None, *,
                     return_exceptions: bool = False, **kwargs: Any) -> list[Any]:
        """`batch` in a worker thread."""
        return await asyncio.to_thread(self.batch, inputs, config, return_exceptions=return_exceptions, **kwargs)

    def batch_generate(self, conversations: list[list[BaseMessage]], *, stop: list[str] | None = None,
                       return_exceptions: bool = False, **kwargs: Any) -> list[Any]:
        """Generate one `AIMessage` per conversation, all decoded together in one batch.

        Args:
            conversations: message lists (each like one ``invoke`` input).
            stop: stop sequences for every row.
            return_exceptions: put a row's error (bad image …) in its slot instead of raising.
            **kwargs: ``max_new_tokens``, ``temperature``, ``top_p``, ``seed``, ``tools``, ``tool_choice``.

        Example:
            >>> chat.batch_generate([[HumanMessage("Hi")], [HumanMessage("Bye")]])  # doctest: +SKIP
        """
        import torch

        if getattr(self.core, "is_native", False):
            raise CoreError("batch_generate does not drive native MLLMs yet; use chat.batch (one call per input)")
        tools = None if kwargs.get("tool_choice") == "none" else kwargs.get("tools") or None
        if self._constrained(kwargs):
            raise CoreError("batch_generate does not decode under a grammar (constrained or forced tool calls, "
                            "response_format); use chat.batch (one call per input)")
        results: list[Any] = [None] * len(conversations)
        rows: list[tuple[int, str, list[Any]]] = []
        for i, messages in enumerate(conversations):
            try:
                rows.append((i, *self._render(messages, tools, kwargs.get("tool_choice"))))
            except (GenaisysError, ValueError) as exc:
                if not return_exceptions:
                    raise
                results[i] = exc
        if not rows:
            return results
        seed = kwargs.get("seed", self.seed)
        generator = torch.Generator().manual_seed(seed if seed is not None else int(torch.randint(0, 2**31 - 1, (1,))))
        with self.engine.lock, torch.no_grad():
            decoded = self.engine.decode_batch([r[1] for r in rows], [r[2] for r in rows], stop=stop or self.stop or [],
                                         max_new_tokens=self._max_tokens(kwargs),
                                         temperature=float(kwargs.get("temperature", self.temperature)),
                                         top_p=float(kwargs.get("top_p", self.top_p)), generator=generator)
        for (i, _, _), (text, n_in, n_out, ended) in zip(rows, decoded, strict=True):
            info = self._final_info(text, tools, n_in, n_out, ended=ended)
            results[i] = AIMessage(content=info["content"], tool_calls=info["tool_calls"],
                                   invalid_tool_calls=info["invalid_tool_calls"],
                                   usage_metadata=info["usage_metadata"], response_metadata=info["response_metadata"])
        return results

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        final: dict[str, Any] = {}
        for delta, info in self._run(messages, stop, **kwargs):
            if delta and run_manager is not None:
                run_manager.on_llm_new_token(delta)
            final = info or final
        message = AIMessage(content=final["content"], tool_calls=final["tool_calls"],
                            invalid_tool_calls=final["invalid_tool_calls"], usage_metadata=final["usage_metadata"],
                            response_metadata=final["response_metadata"])
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        for delta, info in self._run(messages, stop, **kwargs):
            if delta:
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta))
                if run_manager is not None:
                    run_manager.on_llm_new_token(delta, chunk=chunk)
                yield chunk
            elif info:
                yield ChatGenerationChunk(message=_last_chunk(info))

    async def _agenerate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                         run_manager: AsyncCallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        # Decoding is CPU-bound torch work: run it in a worker thread, keep the event loop free.
        return await asyncio.to_thread(self._generate, messages, stop, None, **kwargs)

    async def _astream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                       run_manager: AsyncCallbackManagerForLLMRun | None = None,
                       **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        done = object()
        cancelled = threading.Event()  # set when the consumer stops early: decoding stops too

        def work() -> None:
            try:
                for chunk in self._stream(messages, stop, None, **kwargs):
                    if cancelled.is_set():
                        break  # closes the decoding generator, which releases the model lock
                    loop.call_soon_threadsafe(queue.put_nowait, chunk)
            except Exception as exc:  # noqa: BLE001 - handed to the awaiting side and re-raised there
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, done)

        worker = threading.Thread(target=work, name="genaisys-chatcore-astream", daemon=True)
        worker.start()
        try:
            while (item := await queue.get()) is not done:
                if isinstance(item, Exception):
                    raise item
                if run_manager is not None and item.message.content:
                    await run_manager.on_llm_new_token(str(item.message.content), chunk=item)
                yield item
        finally:
            cancelled.set()


def _forces_call(tool_choice: Any) -> bool:
    return tool_choice not in (None, "auto", "none")


def _normalise_tool_choice(choice: Any, names: list[str]) -> str:
    """``bind_tools``'s ``tool_choice`` in every accepted form → ``auto``/``none``/``any``/a tool name."""
    if choice is True or choice == "required":
        return "any"
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") or choice.get("name")
        if not isinstance(name, str):
            raise ConfigError(f"tool_choice {choice!r} names no tool; use {{'type': 'function', 'function': "
                              "{'name': <tool>}}, a tool name, 'auto', 'none' or 'any'")
        choice = name
    if not isinstance(choice, str):
        raise ConfigError(f"tool_choice must be 'auto', 'none', 'any', 'required' or a tool name, got {choice!r}")
    if choice not in ("auto", "none", "any") and choice not in names:
        raise ConfigError(f"tool_choice {choice!r} is not a bound tool; bound: {', '.join(names) or '(none)'}")
    return choice


def _json_format(response_format: Any) -> bool:
    """Whether a ``response_format`` asks for JSON (``json_object`` / ``json_schema``; ``text`` does not)."""
    if response_format is None:
        return False
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "text":
        return False
    if kind not in ("json_object", "json_schema"):
        raise ConfigError(f"response_format must be {{'type': 'text' | 'json_object' | 'json_schema', ...}}, "
                          f"got {response_format!r:.200}")
    return True


def _response_schema(response_format: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema a ``response_format`` demands (``None``: any JSON object)."""
    if response_format.get("type") != "json_schema":
        return None
    spec = response_format.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    if not isinstance(schema, dict):
        raise ConfigError("a json_schema response_format needs {'type': 'json_schema', 'json_schema': "
                          "{'name': ..., 'schema': {...}}}")
    return schema


def _last_chunk(info: dict[str, Any]) -> AIMessageChunk:
    """The closing stream chunk: tool calls, usage and finish reason."""
    chunks = [{"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": i, "type": "tool_call_chunk"}
              for i, c in enumerate(info["tool_calls"])]
    # An invalid call stays invalid once the stream is aggregated only if its args do not parse as
    # JSON; prefixing the message for the model guarantees that and keeps the reason visible.
    n = len(chunks)
    chunks += [{"name": c["name"], "args": f"{c['error']}\n{c['args']}", "id": c["id"], "index": n + i,
                "type": "tool_call_chunk"} for i, c in enumerate(info["invalid_tool_calls"])]
    return AIMessageChunk(content="", tool_call_chunks=chunks, usage_metadata=info["usage_metadata"],
                          response_metadata=info["response_metadata"], chunk_position="last")
