"""The generation engine behind `ChatCore`: the KV-cached token loop and what feeds it.

`ChatCore` is the LangChain face (messages, prompts, tool calls, streaming events); this module
is what it calls to turn a rendered prompt into tokens, read top to bottom:

- `_sample`: greedy at ``temperature=0``, else temperature + top-p;
- `_Stopper`: incremental detokenisation with stop sequences and tool-call hold-back;
- `GenerationEngine.token_stream`: one prompt's loop — inputs (a `MultimodalCore`'s spliced
  image features, a native MLLM's processor inputs, or plain text), the prefill (from the
  **prefix cache** when a text-only prompt shares a prefix with the last one), then one token per
  step with **visual contrastive decoding** (`genaisys.core.vcd`), **grammar-guided** tool calls
  and JSON (`genaisys.core.constrained`), a binding "no tool" choice and **signal tokens**
  (NExT-GPT), whose hidden states are projected and kept for a decoder (`keep_signal`);
- `GenerationEngine.decode_batch`: many prompts left-padded into one batch, decoded in lockstep;
- `GenerationEngine.tool_scores`: the closed-set tool choice's scores on the same LM and cache;
- `GenerationEngine.decoder`: the LM decoding runs on, or its copy cast to ``ChatCore.dtype``;
- `_MicroBatcher`: concurrent calls within ``batch_window_ms`` decoded as one batch.

The engine reads the chat's core, tokenizer and settings at every call: training may wrap or
update the language model between calls, and the caches key on the weights' versions.

Example:
    >>> from genaisys.core.loading import load_core
    >>> chat = load_core("nano")  # doctest: +SKIP
    >>> usage = {}
    >>> tokens = list(chat.engine.token_stream("Hi", [], max_new_tokens=4, temperature=0.0, top_p=1.0,
    ...                                        seed=0, usage=usage))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, BaseMessage

from genaisys.core.forward import PLAIN_INPUTS, cache_of, forward_kwargs, text_inputs
from genaisys.core.toolcall import TOOL_CALL_OPEN, new_tool_call_id
from genaisys.errors import ConfigError, CoreError

if TYPE_CHECKING:
    from genaisys.core.chat import ChatCore

__all__ = ["GenerationEngine"]

_MIN_PREFIX = 16  # shorter shared prefixes are cheaper to prefill again than to copy
_MAX_SIGNALS = 64
# Text that may open a tool call: streaming holds back from here so raw call text never leaks.
_CALL_OPENERS = (TOOL_CALL_OPEN, "```", "{")


def _sample(logits: Any, temperature: float, top_p: float, generator: Any) -> int:
    import torch

    # logits: (V,)
    if temperature <= 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    if top_p < 1.0:
        sorted_p, idx = torch.sort(probs, descending=True)
        keep = torch.cumsum(sorted_p, 0) - sorted_p < top_p  # always keeps the top token
        probs = torch.zeros_like(probs).scatter(0, idx[keep], sorted_p[keep])
    return int(torch.multinomial(probs / probs.sum(), 1, generator=generator))


class _Stopper:
    """Incremental detokenisation with stop sequences and tool-call hold-back."""

    def __init__(self, stop: Sequence[str], hold_calls: bool) -> None:
        self.stop, self.hold_calls = [s for s in stop if s], hold_calls
        self.text, self.emitted, self.stopped = "", 0, False

    def feed(self, text: str) -> str:
        """Give the full decoded text so far; return the new text safe to show."""
        self.text = text
        for s in self.stop:
            at = text.find(s)
            if at >= 0:
                self.text, self.stopped = text[:at], True
        return self._release(final=self.stopped)

    def finish(self) -> str:
        return self._release(final=True)

    def _release(self, final: bool) -> str:
        limit = len(self.text)
        if self.hold_calls:
            starts = [self.text.find(o, self.emitted) for o in _CALL_OPENERS]
            starts = [s for s in starts if s >= 0]
            if starts:
                limit = min(limit, min(starts))
        if not final:
            # Keep back a tail that could still become a stop sequence or a call opener, and a
            # trailing replacement char (a multi-byte character split across tokens).
            watch = [*self.stop, *(_CALL_OPENERS if self.hold_calls else ())]
            for w in watch:
                for k in range(min(len(w) - 1, len(self.text)), 0, -1):
                    if self.text.endswith(w[:k]):
                        limit = min(limit, len(self.text) - k)
                        break
            if self.text.endswith("\ufffd"):
                limit = min(limit, len(self.text) - 1)
        out = self.text[self.emitted:limit] if limit > self.emitted else ""
        self.emitted = max(self.emitted, limit)
        return out


class GenerationEngine:
    """Token-level decoding for one `ChatCore`: the token loop, the prefix cache, batched decoding,
    the decoding dtype's weight copy, signal embeddings and the micro-batcher.

    Args:
        chat: the chat model it decodes for; its core, tokenizer and settings are read at each call.

    Attributes:
        lock: held while a call decodes (the caches below are per engine, not per call).
        prefix_hits: the reused prefix length of each recent text-only prefill (0: none).
    """

    def __init__(self, chat: ChatCore) -> None:
        self.chat = chat
        self.lock = threading.Lock()
        self.prefix_hits: list[int] = []
        self._prefix: Any = None  # (model, weight version, prompt ids, KV cache after prefill)
        self._decoding: Any = None  # (source LM, its weight version, the cast copy)
        self._signals: OrderedDict[str, Any] = OrderedDict()
        self._batcher: _MicroBatcher | None = None
        self._batcher_lock = threading.Lock()

    def signal_embeddings(self, ref: str) -> Any:
        """The decoder conditioning a ``generate_<modality>`` call refers to: ``(1, out_tokens, out_dim)``.

        Raises:
            CoreError: the reference is unknown or has been evicted (the last 64 are kept).
        """
        try:
            return self._signals[ref]
        except KeyError:
            raise CoreError(f"no signal embeddings under {ref!r}: unknown, or evicted (the last "
                            f"{_MAX_SIGNALS} are kept); regenerate the answer") from None

    def keep_signal(self, embeds: Any) -> str:
        """Keep projected signal embeddings (the last 64) and return the reference a decoder call carries."""
        ref = "sig_" + new_tool_call_id()[5:]
        self._signals[ref] = embeds.detach()
        while len(self._signals) > _MAX_SIGNALS:
            self._signals.popitem(last=False)
        return ref

    def micro_batcher(self) -> _MicroBatcher:
        """The batcher that decodes concurrent calls arriving within ``batch_window_ms`` together."""
        with self._batcher_lock:
            if self._batcher is None:
                self._batcher = _MicroBatcher(self.chat, self.chat.batch_window_ms / 1000, self.chat.max_batch_size)
            return self._batcher

    def lm(self) -> Any:
        """The language model as it is now."""
        # Read through the core each time: training may have wrapped its LM (LoRA) since.
        return self.chat.core.language_model if self.chat.core is not None else self.chat.language_model

    def decoder(self) -> Any:
        """The language model decoding runs on: the LM itself, or its copy cast to `decode_dtype`.

        The copy is kept while the LM is the same object with the same weights (the parameters'
        version counters, which every in-place update bumps); a training step or a LoRA wrap since
        the last call makes a fresh one, so decoding never reads stale weights.
        """
        from genaisys.core.precision import decoding_copy

        lm = self.lm()
        if lm.get_input_embeddings().weight.dtype == self.chat.decode_dtype:
            return lm
        version = sum(p._version for p in lm.parameters())
        held = self._decoding
        if held is None or held[0] is not lm or held[1] != version:
            self._decoding = held = (lm, version, decoding_copy(lm, self.chat.decode_dtype))
        return held[2]

    def token_stream(self, prompt: str, images: list[Any], *, max_new_tokens: int, temperature: float,
                      top_p: float, seed: int | None, usage: dict[str, int], vcd: Any = None,
                      grammar: Any = None, force_call: bool = False, no_call: bool = False,
                      signals: list[dict[str, Any]] | None = None) -> Iterator[int]:
        """Decode ``prompt`` (with ``images``) token by token; ``usage`` is filled as it goes.

        Greedy at ``temperature=0``, else temperature + top-p. ``vcd`` contrasts each step's logits
        with a distorted-image row; ``grammar`` guides a tool call (or JSON) token by token, from
        the first token when ``force_call``; ``no_call`` refuses to open a call; projected signal
        tokens are appended to ``signals``.
        """
        import torch

        tok = self.chat.tokenizer
        ids = tok(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]  # (1, L)
        prompt_ids = ids[0].tolist()
        lm = self.decoder()
        generator = torch.Generator().manual_seed(seed if seed is not None else int(torch.randint(0, 2**31 - 1, (1,))))
        use_vcd = vcd is not None and self.chat.core is not None and bool(images)
        usage["vcd"] = int(use_vcd)
        with torch.no_grad():
            if getattr(self.chat.core, "is_native", False):
                prep = self._native_inputs(prompt, images, vcd if use_vcd else None, generator)
            elif self.chat.core is not None:
                pixel_values = self.chat.core.preprocess_images(images) if images else None
                if use_vcd:
                    from genaisys.core.vcd import distort_images

                    # Row 0 sees the real images, row 1 the distorted ones: one batch, one cache.
                    distorted = distort_images(pixel_values, vcd.noise_step, generator)
                    ids = ids.repeat(2, 1)  # (2, L)
                    pixel_values = torch.cat([pixel_values, distorted])
                prep = _embeds_as(self.chat.core.prepare_inputs(ids, pixel_values=pixel_values), lm)
            else:
                prep = text_inputs(lm, ids)
        # (B, L'), (B, L'); B = 2 with VCD. Native models place their own positions (pos = None).
        mask, pos = prep["attention_mask"], prep.get("position_ids")
        usage["input_tokens"] = int(mask[0].sum())
        eos = set()
        for src in (getattr(getattr(lm, "generation_config", None), "eos_token_id", None), tok.eos_token_id):
            eos.update(src if isinstance(src, list) else [src] if src is not None else [])
        banned = [self.chat.core.image_token_id] if self.chat.core is not None else []
        cache_kw, prefill_kw = forward_kwargs(lm)
        # Grammar-constrained text: while `guide` is set only tokens continuing valid text are
        # allowed. A demanded call or JSON answer is guided from the first token (`whole`); a call
        # the model opens itself from right after its opener. `forced` tokens (signal tokens) are
        # emitted as they are.
        forced: list[int] = []
        whole = grammar is not None and force_call
        guide = grammar.new_guide(whole=True) if whole else None
        recent: list[int] = []
        tail_ids: list[int] = []  # the last tokens, when a call's opener is refused (no_call)
        # Signal tokens (NExT-GPT): the first one of a modality forces the rest (as GILL does);
        # each one's last hidden state is captured when it is fed back, then projected.
        signal_ids = {} if self.chat.core is None or getattr(self.chat.core, "is_native", False) else \
            getattr(self.chat.core, "signal_token_ids", {})
        signal_of = {t: m for m, ids in signal_ids.items() for t in ids}
        captured: dict[str, list[Any]] = {}
        extra = {"output_hidden_states": True} if signal_of else {}
        with torch.no_grad():
            out = self._prefill(lm, prompt_ids, prep, {**prefill_kw, **extra}, reuse=not images and not use_vcd)
            for _ in range(max_new_tokens):
                # (V,), float32: bf16 logits tie and round before softmax and argmax
                logits = out.logits[0, -1].to(torch.float32, copy=True)
                if use_vcd:
                    from genaisys.core.vcd import contrast_logits

                    logits = contrast_logits(logits, out.logits[1, -1], alpha=vcd.alpha, beta=vcd.beta)
                if banned:
                    logits[banned] = float("-inf")
                if forced:
                    nxt = forced.pop(0)
                else:
                    if guide is not None:
                        tokens = guide.get_tokens()
                        budget = max_new_tokens - usage.get("output_tokens", 0)
                        tokens = grammar.finish_within(guide, tokens, budget, whole=whole) or tokens
                        allowed = torch.tensor(tokens, dtype=torch.long, device=logits.device)
                        masked = torch.full_like(logits, float("-inf"))
                        masked[allowed] = logits[allowed]
                        logits = masked
                    nxt = _sample(logits, temperature, top_p, generator)
                    # no_call: a "no tool" choice binds; a token that would complete a call's opener is
                    # refused and another drawn in its place
                    for _ in range(8 if no_call else 0):
                        if TOOL_CALL_OPEN not in tok.decode(tail_ids + [nxt]):
                            break
                        logits[nxt] = float("-inf")
                        nxt = _sample(logits, temperature, top_p, generator)
                    if no_call:
                        tail_ids = (tail_ids + [nxt])[-8:]
                    if guide is not None:
                        guide.advance(nxt)
                        if guide.is_finished():
                            guide = None  # the call is closed: free text again …
                            if force_call:  # … unless the call was demanded: then it is the answer
                                usage["output_tokens"] = usage.get("output_tokens", 0) + 1
                                usage["finish"] = 1
                                yield nxt
                                return
                    elif grammar is not None:
                        recent = (recent + [nxt])[-16:]
                        tail = self.chat.tokenizer.decode(recent)
                        if (at := tail.rfind(TOOL_CALL_OPEN)) >= 0:
                            # The token that closed the opener may carry the call's first
                            # characters ('>{"'): start the guide past them.
                            guide, recent = _guide_after(grammar, self.chat.tokenizer, tail[at + len(TOOL_CALL_OPEN):]), []
                            whole = False
                if nxt in eos:
                    usage["finish"] = 1
                    return
                if nxt in signal_of and signal_ids[signal_of[nxt]][0] == nxt and not forced:
                    forced = list(signal_ids[signal_of[nxt]][1:])
                usage["output_tokens"] = usage.get("output_tokens", 0) + 1
                yield nxt
                mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], dim=1)
                step: dict[str, Any] = {cache_kw: cache_of(out), **extra}
                if pos is not None:
                    pos = pos[:, -1:] + 1
                    step["position_ids"] = pos
                out = lm(input_ids=torch.full((mask.shape[0], 1), nxt, device=mask.device), attention_mask=mask,
                         use_cache=True, **step)
                if nxt in signal_of:
                    modality = signal_of[nxt]
                    got = captured.setdefault(modality, [])
                    got.append(out.hidden_states[-1][0, -1])  # (d,)
                    if len(got) == len(signal_ids[modality]) and signals is not None:
                        hidden = torch.stack(got).unsqueeze(0)  # (1, k, d)
                        signals.append({"modality": modality, "embeds": self.chat.core.project_signals(hidden, modality)})
                        captured[modality] = []

    def _prefill(self, lm: Any, prompt_ids: list[int], prep: dict[str, Any], kw: dict[str, Any], *,
                 reuse: bool) -> Any:
        """The prompt's prefill: from the prefix cache where it may serve (``reuse``, a text-only
        single row), else one plain pass."""
        if reuse and self.chat.prefix_cache and set(prep) == PLAIN_INPUTS and prep["inputs_embeds"].shape[0] == 1:
            return self._prefill_reusing_prefix(lm, prompt_ids, prep, forward_kwargs(lm)[0], kw)
        return lm(**prep, use_cache=True, **kw)

    def tool_scores(self, prompt: str, images: list[Any], names: list[str]) -> dict[str, float]:
        """`genaisys.core.tool_choice.score_tool_options` on this engine's LM, inputs and prefix cache."""
        import torch

        from genaisys.core.tool_choice import score_tool_options

        if getattr(self.chat.core, "is_native", False):
            raise ConfigError("scored_tool_choice works with a text LM or a genaisys MultimodalCore, not a native "
                              f"MLLM ({type(self.chat.core).__name__}); leave it off for this core")
        lm = self.decoder()

        def prepare(ids: Any) -> dict[str, Any]:
            if self.chat.core is None:
                return text_inputs(lm, ids)
            pixel_values = self.chat.core.preprocess_images(images) if images else None
            return _embeds_as(self.chat.core.prepare_inputs(ids, pixel_values=pixel_values), lm)

        def prefill(prompt_ids: list[int], prep: dict[str, Any], kw: dict[str, Any]) -> Any:
            return self._prefill(lm, prompt_ids, prep, kw, reuse=not images)

        with torch.no_grad():
            return score_tool_options(lm, self.chat.tokenizer, prompt, names, prepare=prepare, prefill=prefill)

    def _prefill_reusing_prefix(self, lm: Any, prompt_ids: list[int], prep: dict[str, Any], cache_kw: str,
                                kw: dict[str, Any]) -> Any:
        """Prefill a text-only prompt, starting from the KV cache of the longest prefix it shares
        with the previous such prompt (the system prompt and tool list of a session, earlier turns).

        The cache is keyed by the model object and its parameters' version counters, so weights
        changed in place (a training step) are never served stale keys and values.
        """
        import copy

        version = sum(p._version for p in lm.parameters())
        n, stored = 0, self._prefix
        if stored is not None and stored[0] is lm and stored[1] == version:
            old, limit = stored[2], min(len(stored[2]), len(prompt_ids) - 1)  # feed at least one token
            while n < limit and old[n] == prompt_ids[n]:
                n += 1
        if n >= _MIN_PREFIX:
            cache = copy.deepcopy(stored[3])
            if n < len(stored[2]):
                cache.crop(n - len(stored[2]))  # transformers 5 crops by a negative count of tokens to drop
            out = lm(inputs_embeds=prep["inputs_embeds"][:, n:], attention_mask=prep["attention_mask"],
                     position_ids=prep["position_ids"][:, n:], use_cache=True, **{cache_kw: cache}, **kw)
        else:
            out = lm(**prep, use_cache=True, **kw)
        cache = cache_of(out)
        self._prefix = (lm, version, prompt_ids, copy.deepcopy(cache)) if hasattr(cache, "crop") else None
        self.prefix_hits.append(n if n >= _MIN_PREFIX else 0)
        del self.prefix_hits[:-64]
        return out

    def _native_inputs(self, prompt: str, images: list[Any], vcd: Any, generator: Any) -> dict[str, Any]:
        """A native MLLM's processor inputs; with VCD, a second row whose images are noised."""
        import torch

        if vcd is None:
            return self.chat.core.prepare_inputs([prompt], images)
        from genaisys.core.vcd import distort_images

        prep = self.chat.core.prepare_inputs([prompt, prompt], images + images)
        pixels, n = prep.get("pixel_values"), len(images)
        if not isinstance(pixels, torch.Tensor) or pixels.shape[0] != 2 * n:
            raise CoreError(f"VCD needs one pixel tensor per image, but {type(self.chat.core.model).__name__}'s processor "
                            "packs images differently; call without vcd for this model")
        prep["pixel_values"] = torch.cat([pixels[:n], distort_images(pixels[:n], vcd.noise_step, generator)])
        return prep

    def decode_batch(self, prompts: list[str], images: list[list[Any]], *, stop: list[str], max_new_tokens: int,
                      temperature: float, top_p: float, generator: Any) -> list[tuple[str, int, int, bool]]:
        """Left-pad the prompts into one batch and decode them in lockstep with one KV cache."""
        import torch

        tok, lm = self.chat.tokenizer, self.decoder()
        encoded = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
        B, L = len(encoded), max(len(e) for e in encoded)
        pad = tok.pad_token_id if tok.pad_token_id is not None else 0
        ids = torch.full((B, L), pad, dtype=torch.long)
        mask = torch.zeros((B, L), dtype=torch.long)
        for b, e in enumerate(encoded):
            ids[b, L - len(e):] = torch.tensor(e, dtype=torch.long)
            mask[b, L - len(e):] = 1
        flat = [im for row in images for im in row]
        if self.chat.core is not None:
            pixel_values = self.chat.core.preprocess_images(flat) if flat else None
            prep = _embeds_as(self.chat.core.prepare_inputs(ids, mask, pixel_values, padding_side="left"), lm)
        else:
            embed = lm.get_input_embeddings()
            ids, mask = ids.to(embed.weight.device), mask.to(embed.weight.device)
            prep = {"inputs_embeds": embed(ids), "attention_mask": mask,
                    "position_ids": (mask.cumsum(-1) - 1).clamp(min=0)}
        mask, pos = prep["attention_mask"], prep["position_ids"]  # (B, L'), (B, L')
        n_in = [int(n) for n in mask.sum(1)]
        eos = set()
        for src in (getattr(getattr(lm, "generation_config", None), "eos_token_id", None), tok.eos_token_id):
            eos.update(src if isinstance(src, list) else [src] if src is not None else [])
        banned = [self.chat.core.image_token_id] if self.chat.core is not None else []
        cache_kw, prefill_kw = forward_kwargs(lm)
        generated: list[list[int]] = [[] for _ in range(B)]
        stoppers = [_Stopper(stop, hold_calls=False) for _ in range(B)]
        ended = [False] * B
        out = lm(**prep, use_cache=True, **prefill_kw)
        for _ in range(max_new_tokens):
            logits = out.logits[:, -1].to(torch.float32, copy=True)  # (B, V)
            if banned:
                logits[:, banned] = float("-inf")
            step_tokens = []
            for b in range(B):
                nxt = pad if ended[b] else _sample(logits[b], temperature, top_p, generator)
                if not ended[b] and nxt in eos:
                    ended[b], nxt = True, pad
                elif not ended[b]:
                    generated[b].append(nxt)
                    stoppers[b].feed(tok.decode(generated[b], skip_special_tokens=True))
                    ended[b] = stoppers[b].stopped
                step_tokens.append(nxt)
            if all(ended):
                break
            mask = torch.cat([mask, mask.new_ones(B, 1)], dim=1)
            pos = pos[:, -1:] + 1
            out = lm(input_ids=torch.tensor(step_tokens, device=mask.device).view(B, 1), attention_mask=mask,
                     position_ids=pos, use_cache=True, **{cache_kw: cache_of(out)})
        for b in range(B):  # rows that hit max_new_tokens: their full text
            if not stoppers[b].stopped:
                stoppers[b].feed(tok.decode(generated[b], skip_special_tokens=True))
        return [(stoppers[b].text, n_in[b], len(generated[b]), ended[b]) for b in range(B)]


class _MicroBatcher:
    """Collects concurrent `ChatCore` calls for a short window and decodes them as one batch."""

    def __init__(self, chat: ChatCore, window_s: float, max_batch: int) -> None:
        self.chat, self.window_s, self.max_batch = chat, window_s, max(1, max_batch)
        self.requests: queue.Queue[tuple[str, list[BaseMessage], list[str] | None, dict[str, Any], Future[Any]]] = \
            queue.Queue()
        self.thread = threading.Thread(target=self._loop, name="genaisys-chatcore-batcher", daemon=True)
        self.thread.start()

    def submit(self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]) -> AIMessage:
        # Only calls with the same settings share a batch.
        key = json.dumps([stop, kwargs], sort_keys=True, default=str)
        future: Future[Any] = Future()
        self.requests.put((key, messages, stop, kwargs, future))
        return future.result()

    def _loop(self) -> None:
        while True:
            first = self.requests.get()
            group, others = [first], []
            deadline = time.monotonic() + self.window_s
            while len(group) < self.max_batch and (left := deadline - time.monotonic()) > 0:
                try:
                    item = self.requests.get(timeout=left)
                except queue.Empty:
                    break
                (group if item[0] == first[0] else others).append(item)
            for item in others:
                self.requests.put(item)
            try:
                results = self.chat.batch_generate([g[1] for g in group], stop=first[2], return_exceptions=True,
                                                   **first[3])
            except Exception as exc:  # noqa: BLE001 - handed to every waiting caller
                for g in group:
                    g[4].set_exception(exc)
                continue
            for g, result in zip(group, results, strict=True):
                if isinstance(result, BaseException):
                    g[4].set_exception(result)
                else:
                    g[4].set_result(result)


def _embeds_as(prep: dict[str, Any], lm: Any) -> dict[str, Any]:
    """A core's spliced inputs with ``inputs_embeds`` in the decoding LM's dtype (its float32 embeddings
    and image features meet a bf16 decoding copy here)."""
    dtype = lm.get_input_embeddings().weight.dtype
    if prep["inputs_embeds"].dtype != dtype:
        prep = {**prep, "inputs_embeds": prep["inputs_embeds"].to(dtype)}
    return prep


def _guide_after(grammar: Any, tokenizer: Any, text: str) -> Any:
    """A fresh call guide advanced over ``text``; ``None`` if that text already breaks the grammar."""
    guide = grammar.new_guide()
    for token in tokenizer(text, add_special_tokens=False)["input_ids"] if text else []:
        if token not in guide.get_tokens():
            return None  # left to the tolerant parser
        guide.advance(token)
    return guide


def _vcd_config(value: Any) -> Any:
    """``None``/``False`` → off; ``True`` → defaults; a dict or `VCDConfig` → those settings."""
    if value is None or value is False:
        return None
    from genaisys.core.vcd import VCDConfig

    if value is True:
        return VCDConfig()
    if isinstance(value, dict):
        return VCDConfig(**value)
    if isinstance(value, VCDConfig):
        return value
    raise ConfigError(f"vcd must be True, a dict or a VCDConfig, got {type(value).__name__}")
