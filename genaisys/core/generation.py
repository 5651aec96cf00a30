"""The generation engine behind `ChatCore`: the KV-cached token loop and what feeds it.

`ChatCore` is the LangChain face (messages, prompts, tool calls, streaming events); this module
is what it calls to turn a rendered prompt into tokens, read top to bottom (each step's token is
chosen by a `genaisys.core.rows.DecodeRow`: sampling, grammar, end of text):

- `_Stopper`: incremental detokenisation with stop sequences and tool-call hold-back;
- `GenerationEngine.token_stream`: one prompt's loop — inputs (a `MultimodalCore`'s spliced
  image features, a native MLLM's processor inputs, or plain text), the prefill (from the
  **prefix cache** when a text-only prompt shares a prefix with a recent one), then one token per
  step with **visual contrastive decoding** (`genaisys.core.vcd`), **grammar-guided** tool calls
  and JSON (`genaisys.core.constrained`), a binding "no tool" choice and **signal tokens**
  (NExT-GPT), whose hidden states are projected and kept for a decoder (`keep_signal`);
- `GenerationEngine.decode_batch`: many prompts left-padded into one batch, decoded in lockstep;
- `GenerationEngine.tool_scores`: the closed-set tool choice's scores on the same LM and cache;
- `GenerationEngine.decoder`: the LM decoding runs on, or its copy cast to ``ChatCore.dtype``;
- `GenerationEngine.tokens`: a call's tokens, as a row of the running batch that concurrent
  calls share (continuous batching, `genaisys.core.batching`) or alone under the lock.

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

import copy
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from genaisys.core.batching import ContinuousBatcher
from genaisys.core.forward import PLAIN_INPUTS, cache_of, forward_kwargs, text_inputs
from genaisys.core.rows import DecodeRow, embeds_as, eos_ids, sample
from genaisys.core.toolcall import TOOL_CALL_OPEN, new_tool_call_id
from genaisys.errors import ConfigError, CoreError

if TYPE_CHECKING:
    from genaisys.core.chat import ChatCore

__all__ = ["GenerationEngine"]

_MIN_PREFIX = 16  # shorter shared prefixes are cheaper to prefill again than to copy
_MAX_SIGNALS = 64
_PREFIXES_KEPT = 4  # prompts whose KV caches the prefix cache keeps (most recent last)
# Text that may open a tool call: streaming holds back from here so raw call text never leaks.
_CALL_OPENERS = (TOOL_CALL_OPEN, "```", "{")


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
    the decoding dtype's weight copy, signal embeddings and the running batch.

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
        self._prefixes: list[Any] = []  # (model, weight version, prompt ids, KV cache after prefill)
        self._decoding: Any = None  # (source LM, its weight version, the cast copy)
        self._signals: OrderedDict[str, Any] = OrderedDict()
        self._batcher: ContinuousBatcher | None = None
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

    def batcher(self) -> ContinuousBatcher:
        """The running batch that concurrent calls share (`genaisys.core.batching`), started on first use."""
        with self._batcher_lock:
            if self._batcher is None:
                self._batcher = ContinuousBatcher(self, max_rows=self.chat.max_batch_size,
                                                  window_s=self.chat.batch_window_ms / 1000)
            return self._batcher

    def shares_batch(self, images: list[Any], vcd: Any) -> bool:
        """Whether a call can decode as a row of the running batch rather than alone."""
        core = self.chat.core
        return bool(self.chat.continuous_batching) and not (
            getattr(core, "is_native", False) or getattr(core, "cross_attention", None) is not None
            or (core is not None and getattr(core, "signal_token_ids", None))
            or (vcd is not None and core is not None and bool(images)))

    def tokens(self, prompt: str, images: list[Any], *, vcd: Any = None,
               signals: list[dict[str, Any]] | None = None, **settings: Any) -> Iterator[int]:
        """Decode a call: as a row of the running batch when it can share it (`shares_batch`), else
        alone under `lock` (`token_stream`). Closing the iterator early stops its decoding.

        ``settings``: ``max_new_tokens``, ``temperature``, ``top_p``, ``seed``, ``usage``,
        ``grammar``, ``force_call``, ``no_call``, as `token_stream` takes them.
        """
        if not self.shares_batch(images, vcd):
            with self.lock:
                yield from self.token_stream(prompt, images, vcd=vcd, signals=signals, **settings)
            return
        settings["usage"]["vcd"] = 0
        job = self.batcher().submit(DecodeRow(self.chat, self.lm(), prompt, images, **settings),
                                    reuse_prefix=not images)
        try:
            yield from job
        finally:
            job.cancel()  # a consumer that stopped early frees its row

    def lm(self) -> Any:
        """The language model as it is now."""
        # Read through the core each time: training may have wrapped its LM (LoRA) since.
        return self.chat.core.language_model if self.chat.core is not None else self.chat.language_model

    def decoder(self) -> Any:
        """The language model decoding runs on: the LM itself, or its copy cast to `decode_dtype`
        with LoRA adapters merged (`genaisys.core.precision.decoding_copy`; ``merge_adapters``).

        The copy is kept while the LM is the same object with the same weights (the parameters'
        version counters, which every in-place update bumps); a training step or a LoRA wrap since
        the last call makes a fresh one, so decoding never reads stale weights.
        """
        from genaisys.core.precision import decoding_copy

        lm = self.lm()
        merge = self.chat.merge_adapters and hasattr(lm, "merge_and_unload")  # peft LoRA: merged in a copy
        if lm.get_input_embeddings().weight.dtype == self.chat.decode_dtype and not merge:
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
        """Decode ``prompt`` (with ``images``) token by token, alone; ``usage`` is filled as it goes.

        Greedy at ``temperature=0``, else temperature + top-p. ``vcd`` contrasts each step's logits
        with a distorted-image row; ``grammar`` guides a tool call (or JSON) token by token, from
        the first token when ``force_call``; ``no_call`` refuses to open a call; projected signal
        tokens are appended to ``signals``. Each step's token is chosen by a `DecodeRow`, as in
        the continuous batch (`genaisys.core.batching`). The caller holds `lock`.
        """
        import torch

        lm = self.decoder()
        row = DecodeRow(self.chat, lm, prompt, images, max_new_tokens=max_new_tokens, temperature=temperature,
                        top_p=top_p, seed=seed, usage=usage, grammar=grammar, force_call=force_call, no_call=no_call)
        use_vcd = vcd is not None and self.chat.core is not None and bool(images)
        usage["vcd"] = int(use_vcd)
        native = getattr(self.chat.core, "is_native", False)
        with torch.no_grad():
            if native:
                prep = self._native_inputs(prompt, images, vcd if use_vcd else None, row.generator)
                usage["input_tokens"] = int(prep["attention_mask"][0].sum())
            elif use_vcd:
                from genaisys.core.vcd import distort_images

                # Row 0 sees the real images, row 1 the distorted ones: one batch, one cache.
                pixel_values = self.chat.core.preprocess_images(images)
                distorted = distort_images(pixel_values, vcd.noise_step, row.generator)
                prep = embeds_as(self.chat.core.prepare_inputs(row.ids.repeat(2, 1),  # (2, L)
                                                               pixel_values=torch.cat([pixel_values, distorted])), lm)
                usage["input_tokens"] = int(prep["attention_mask"][0].sum())
            else:
                prep = row.inputs()
        # (B, L'), (B, L'); B = 2 with VCD. Native models place their own positions (pos = None).
        mask, pos = prep["attention_mask"], prep.get("position_ids")
        cache_kw, prefill_kw = forward_kwargs(lm)
        # Signal tokens (NExT-GPT): the first one of a modality forces the rest (as GILL does);
        # each one's last hidden state is captured when it is fed back, then projected.
        captured: dict[str, list[Any]] = {}
        extra = {"output_hidden_states": True} if row.signal_of else {}
        with torch.no_grad():
            out = self._prefill(lm, row.prompt_ids, prep, {**prefill_kw, **extra}, reuse=not images and not use_vcd)
            while not row.done:
                # (V,), float32: bf16 logits tie and round before softmax and argmax
                logits = out.logits[0, -1].to(torch.float32, copy=True)
                if use_vcd:
                    from genaisys.core.vcd import contrast_logits

                    logits = contrast_logits(logits, out.logits[1, -1], alpha=vcd.alpha, beta=vcd.beta)
                nxt = row.pick(logits)
                if nxt is None:
                    return
                yield nxt
                if row.done:
                    return
                mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], dim=1)
                step: dict[str, Any] = {cache_kw: cache_of(out), **extra}
                if pos is not None:
                    pos = pos[:, -1:] + 1
                    step["position_ids"] = pos
                out = lm(input_ids=torch.full((mask.shape[0], 1), nxt, device=mask.device), attention_mask=mask,
                         use_cache=True, **step)
                if nxt in row.signal_of:
                    modality = row.signal_of[nxt]
                    got = captured.setdefault(modality, [])
                    got.append(out.hidden_states[-1][0, -1])  # (d,)
                    if len(got) == len(row.signal_ids[modality]) and signals is not None:
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
            return embeds_as(self.chat.core.prepare_inputs(ids, pixel_values=pixel_values), lm)

        def prefill(prompt_ids: list[int], prep: dict[str, Any], kw: dict[str, Any]) -> Any:
            return self._prefill(lm, prompt_ids, prep, kw, reuse=not images)

        with torch.no_grad():
            return score_tool_options(lm, self.chat.tokenizer, prompt, names, prepare=prepare, prefill=prefill)

    def _prefill_reusing_prefix(self, lm: Any, prompt_ids: list[int], prep: dict[str, Any], cache_kw: str,
                                kw: dict[str, Any]) -> Any:
        """Prefill a text-only prompt, starting from the KV cache of the longest prefix it shares
        with one of the last `_PREFIXES_KEPT` such prompts (the system prompt and tool list of a
        session, earlier turns; several, so that concurrent sessions in one batch each find theirs).

        The cache is keyed by the model object and its parameters' version counters, so weights
        changed in place (a training step) are never served stale keys and values.
        """
        version = self._fresh_prefixes(lm)
        best, n = self._best_prefix(prompt_ids)
        if best is not None:
            out = lm(inputs_embeds=prep["inputs_embeds"][:, n:], attention_mask=prep["attention_mask"],
                     position_ids=prep["position_ids"][:, n:], use_cache=True,
                     **{cache_kw: _cropped(best, n)}, **kw)
        else:
            out = lm(**prep, use_cache=True, **kw)
        self._keep_prefix(lm, version, prompt_ids, cache_of(out), best, n)
        self.prefix_hits.append(n)
        del self.prefix_hits[:-64]
        return out

    def _fresh_prefixes(self, lm: Any) -> int:
        """Drop cached prefixes of another model or older weights; the weights' version now."""
        version = sum(p._version for p in lm.parameters())
        self._prefixes = [e for e in self._prefixes if e[0] is lm and e[1] == version]
        return version

    def _best_prefix(self, prompt_ids: list[int]) -> tuple[Any, int]:
        """The kept prefix sharing the most leading tokens with ``prompt_ids`` (at least `_MIN_PREFIX`,
        at most all but the last token) and that count; ``(None, 0)`` when none serves."""
        n, best = 0, None
        for entry in self._prefixes:
            old, limit, k = entry[2], min(len(entry[2]), len(prompt_ids) - 1), 0  # feed at least one token
            while k < limit and old[k] == prompt_ids[k]:
                k += 1
            if k > n:
                n, best = k, entry
        return (best, n) if n >= _MIN_PREFIX else (None, 0)

    def _keep_prefix(self, lm: Any, version: int, prompt_ids: list[int], cache: Any, used: Any, n: int) -> None:
        """Keep a prompt's KV cache (a copy) for later prompts; it replaces the prefix it extends."""
        if not hasattr(cache, "crop"):
            return
        if used is not None and used in self._prefixes and (n == len(used[2]) or used[2] == prompt_ids):
            self._prefixes.remove(used)
        self._prefixes.append((lm, version, prompt_ids, copy.deepcopy(cache)))
        del self._prefixes[:-_PREFIXES_KEPT]

    def _padded_inputs(self, lm: Any, seqs: list[list[int]], images: list[Any]) -> dict[str, Any]:
        """Token sequences left-padded into one batch, as model inputs (a core splices ``images``,
        all the rows' images in order, into their placeholders)."""
        ids, mask = _left_padded(seqs, self.chat.tokenizer)
        if self.chat.core is not None:
            pixel_values = self.chat.core.preprocess_images(images) if images else None
            return embeds_as(self.chat.core.prepare_inputs(ids, mask, pixel_values, padding_side="left"), lm)
        embed = lm.get_input_embeddings()
        ids, mask = ids.to(embed.weight.device), mask.to(embed.weight.device)
        return {"inputs_embeds": embed(ids), "attention_mask": mask, "position_ids": (mask.cumsum(-1) - 1).clamp(min=0)}

    def prefill_rows(self, lm: Any, rows: list[DecodeRow]) -> list[tuple[list[int], Any, Any, Any]]:
        """Prefill several rows together, a forward pass per group; the caller holds `lock`.

        Text-only rows that share a cached prefix (the prefix cache's same entry) start from it
        together: the prefix's KV cache repeated per row, their remaining tokens left-padded after
        it (the padding masked). The other rows — no cached prefix, or images — are left-padded
        into one plain pass. Each group's longest text-only prompt is kept in the prefix cache.

        Returns:
            per group: (the rows' indices in ``rows``, the forward output with the first-token
            logits ``(B, 1, V)``, the attention mask ``(B, T)``, each row's last position ``(B, 1)``).
        """
        import torch

        cache_kw, prefill_kw = forward_kwargs(lm)
        version = self._fresh_prefixes(lm)
        groups: dict[int, tuple[Any, list[tuple[int, int]]]] = {}  # id(prefix entry) → (entry or None, [(row, n)])
        for i, row in enumerate(rows):
            entry, n = self._best_prefix(row.prompt_ids) if not row.images and self.chat.prefix_cache else (None, 0)
            groups.setdefault(id(entry), (entry, []))[1].append((i, n))
        done = []
        for entry, members in groups.values():  # entries were chosen before any is added or dropped
            idx = [i for i, _ in members]
            shared = min(n for _, n in members)
            tails = [rows[i].prompt_ids[shared:] for i in idx]
            if entry is None:
                prep, kw = self._padded_inputs(lm, tails, [im for i in idx for im in rows[i].images]), {}
            else:
                ids, tail_mask = _left_padded(tails, self.chat.tokenizer)
                cache = _cropped(entry, shared)
                cache.batch_repeat_interleave(len(idx))
                prep = {"inputs_embeds": lm.get_input_embeddings()(ids),
                        "attention_mask": torch.cat([torch.ones((len(idx), shared), dtype=torch.long), tail_mask], 1),
                        "position_ids": shared + (tail_mask.cumsum(-1) - 1).clamp(min=0)}
                kw = {cache_kw: cache}
            out = lm(**prep, use_cache=True, **prefill_kw, **kw)
            mask = prep["attention_mask"]
            for b, i in enumerate(idx):
                rows[i].usage["input_tokens"] = int(mask[b].sum())
            self.prefix_hits.extend([shared] * len(idx))
            del self.prefix_hits[:-64]
            texts = [b for b, i in enumerate(idx) if not rows[i].images]
            cache = cache_of(out)
            if texts and self.chat.prefix_cache and hasattr(cache, "batch_select_indices"):
                longest = max(texts, key=lambda b: len(tails[b]))  # no padding in its row
                kept = copy.deepcopy(cache)
                kept.batch_select_indices(torch.tensor([longest]))
                self._keep_prefix(lm, version, rows[idx[longest]].prompt_ids, kept, entry, shared)
            done.append((idx, out, mask, prep["position_ids"][:, -1:]))
        return done

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
        B = len(encoded)
        prep = self._padded_inputs(lm, encoded, [im for row in images for im in row])
        pad = tok.pad_token_id if tok.pad_token_id is not None else 0
        mask, pos = prep["attention_mask"], prep["position_ids"]  # (B, L'), (B, L')
        n_in = [int(n) for n in mask.sum(1)]
        eos = eos_ids(lm, tok)
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
                nxt = pad if ended[b] else sample(logits[b], temperature, top_p, generator)
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


def _left_padded(seqs: list[list[int]], tokenizer: Any) -> tuple[Any, Any]:
    """Token sequences left-padded to one length: ``ids`` (B, L) and ``mask`` (B, L), 0 on padding."""
    import torch

    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for b, seq in enumerate(seqs):
        ids[b, width - len(seq):] = torch.tensor(seq, dtype=torch.long)
        mask[b, width - len(seq):] = 1
    return ids, mask


def _cropped(entry: Any, n: int) -> Any:
    """A copy of a kept prefix's KV cache, cut to its first ``n`` tokens."""
    cache = copy.deepcopy(entry[3])
    if n < len(entry[2]):
        cache.crop(n - len(entry[2]))  # transformers 5 crops by a negative count of tokens to drop
    return cache


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
