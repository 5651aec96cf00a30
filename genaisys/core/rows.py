"""One prompt's decoding state, step by step: what token comes next given this step's logits.

A `DecodeRow` is everything about one call that is not the forward pass: its prompt and images
turned into model inputs, its own sampling settings and random generator, the tool grammar that
guides a call token by token, a binding "no tool" choice, forced signal tokens, end of text, and
the usage it reports. The forward pass belongs to whoever drives the row — the solo loop of
`genaisys.core.generation.GenerationEngine.token_stream`, or the running batch of
`genaisys.core.batching.ContinuousBatcher`, where many rows share one forward pass per token.
Since both call the same `DecodeRow.pick`, a row decodes the same tokens alone or in a batch.

Example:
    >>> import torch
    >>> from genaisys.core.rows import sample
    >>> sample(torch.tensor([0.1, 2.0, 0.3]), temperature=0.0, top_p=1.0, generator=None)
    1
"""

from __future__ import annotations

from typing import Any

from genaisys.core.forward import text_inputs
from genaisys.core.toolcall import TOOL_CALL_OPEN

__all__ = ["DecodeRow", "embeds_as", "eos_ids", "guide_after", "sample"]


def sample(logits: Any, temperature: float, top_p: float, generator: Any) -> int:
    """The next token from ``logits`` (V,): greedy at ``temperature=0``, else temperature + top-p."""
    import torch

    if temperature <= 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    if top_p < 1.0:
        sorted_p, idx = torch.sort(probs, descending=True)
        keep = torch.cumsum(sorted_p, 0) - sorted_p < top_p  # always keeps the top token
        probs = torch.zeros_like(probs).scatter(0, idx[keep], sorted_p[keep])
    return int(torch.multinomial(probs / probs.sum(), 1, generator=generator))


def eos_ids(lm: Any, tokenizer: Any) -> set[int]:
    """The token ids that end a text: the model's generation config and the tokenizer's EOS."""
    eos: set[int] = set()
    for src in (getattr(getattr(lm, "generation_config", None), "eos_token_id", None), tokenizer.eos_token_id):
        eos.update(src if isinstance(src, list) else [src] if src is not None else [])
    return eos


def embeds_as(prep: dict[str, Any], lm: Any) -> dict[str, Any]:
    """A core's spliced inputs with ``inputs_embeds`` in the decoding LM's dtype (its float32 embeddings
    and image features meet a bf16 decoding copy here)."""
    dtype = lm.get_input_embeddings().weight.dtype
    if prep["inputs_embeds"].dtype != dtype:
        prep = {**prep, "inputs_embeds": prep["inputs_embeds"].to(dtype)}
    return prep


def guide_after(grammar: Any, tokenizer: Any, text: str) -> Any:
    """A fresh call guide advanced over ``text``; ``None`` if that text already breaks the grammar."""
    guide = grammar.new_guide()
    for token in tokenizer(text, add_special_tokens=False)["input_ids"] if text else []:
        if token not in guide.get_tokens():
            return None  # left to the tolerant parser
        guide.advance(token)
    return guide


class DecodeRow:
    """One call's decoding state; `pick` turns a step's logits into its next token.

    Args:
        chat: the `ChatCore` whose core and tokenizer the row reads.
        lm: the language model the row decodes on (`GenerationEngine.decoder`).
        prompt / images: the rendered prompt and its images.
        max_new_tokens / temperature / top_p / seed: this row's own limits and sampling.
        usage: filled as the row goes (``input_tokens``, ``output_tokens``, ``finish``).
        grammar / force_call / no_call: the tool grammar, whether a call is demanded from the
            first token, and whether a "no tool" choice binds.

    Attributes:
        done: the row has ended (end of text, a demanded call closed, or the token limit).
        prompt_ids: the prompt's token ids (what the prefix cache compares).
    """

    def __init__(self, chat: Any, lm: Any, prompt: str, images: list[Any], *, max_new_tokens: int,
                 temperature: float, top_p: float, seed: int | None, usage: dict[str, int],
                 grammar: Any = None, force_call: bool = False, no_call: bool = False) -> None:
        import torch

        self.chat, self.lm, self.prompt, self.images = chat, lm, prompt, images
        self.max_new_tokens, self.temperature, self.top_p, self.usage = max_new_tokens, temperature, top_p, usage
        self.grammar, self.force_call, self.no_call = grammar, force_call, no_call
        tok = chat.tokenizer
        self.ids = tok(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]  # (1, L)
        self.prompt_ids: list[int] = self.ids[0].tolist()
        self.generator = torch.Generator().manual_seed(
            seed if seed is not None else int(torch.randint(0, 2**31 - 1, (1,))))
        self.eos = eos_ids(lm, tok)
        self.banned = [chat.core.image_token_id] if chat.core is not None else []
        # Grammar-constrained text: while `guide` is set only tokens continuing valid text are
        # allowed. A demanded call or JSON answer is guided from the first token (`whole`); a call
        # the model opens itself from right after its opener. `forced` tokens (signal tokens) are
        # emitted as they are.
        self.whole = grammar is not None and force_call
        self.guide = grammar.new_guide(whole=True) if self.whole else None
        self.forced: list[int] = []
        self.recent: list[int] = []
        self.tail_ids: list[int] = []  # the last tokens, when a call's opener is refused (no_call)
        core = chat.core
        self.signal_ids = {} if core is None or getattr(core, "is_native", False) else \
            getattr(core, "signal_token_ids", {})
        self.signal_of = {t: m for m, ids in self.signal_ids.items() for t in ids}
        self.done = max_new_tokens <= 0

    def inputs(self) -> dict[str, Any]:
        """The prompt's model inputs: a `MultimodalCore`'s spliced image features, or plain text.

        ``inputs_embeds`` (1, L'), ``attention_mask`` (1, L') and ``position_ids`` (1, L').
        """
        import torch

        with torch.no_grad():
            if self.chat.core is not None:
                pixel_values = self.chat.core.preprocess_images(self.images) if self.images else None
                prep = embeds_as(self.chat.core.prepare_inputs(self.ids, pixel_values=pixel_values), self.lm)
            else:
                prep = text_inputs(self.lm, self.ids)
        self.usage["input_tokens"] = int(prep["attention_mask"][0].sum())
        return prep

    def pick(self, logits: Any) -> int | None:
        """The next token from this step's ``logits`` (V,), float32 (changed in place); ``None`` when
        the text ended without one (end of text). Sets `done` once nothing more may follow."""
        import torch

        usage, grammar, tok = self.usage, self.grammar, self.chat.tokenizer
        if self.banned:
            logits[self.banned] = float("-inf")
        if self.forced:
            nxt = self.forced.pop(0)
        else:
            if self.guide is not None:
                tokens = self.guide.get_tokens()
                budget = self.max_new_tokens - usage.get("output_tokens", 0)
                tokens = grammar.finish_within(self.guide, tokens, budget, whole=self.whole) or tokens
                allowed = torch.tensor(tokens, dtype=torch.long, device=logits.device)
                masked = torch.full_like(logits, float("-inf"))
                masked[allowed] = logits[allowed]
                logits = masked
            nxt = sample(logits, self.temperature, self.top_p, self.generator)
            # no_call: a "no tool" choice binds; a token that would complete a call's opener is
            # refused and another drawn in its place
            for _ in range(8 if self.no_call else 0):
                if TOOL_CALL_OPEN not in tok.decode(self.tail_ids + [nxt]):
                    break
                logits[nxt] = float("-inf")
                nxt = sample(logits, self.temperature, self.top_p, self.generator)
            if self.no_call:
                self.tail_ids = (self.tail_ids + [nxt])[-8:]
            if self.guide is not None:
                self.guide.advance(nxt)
                if self.guide.is_finished():
                    self.guide = None  # the call is closed: free text again …
                    if self.force_call:  # … unless the call was demanded: then it is the answer
                        usage["output_tokens"] = usage.get("output_tokens", 0) + 1
                        usage["finish"] = 1
                        self.done = True
                        return nxt
            elif grammar is not None:
                self.recent = (self.recent + [nxt])[-16:]
                tail = tok.decode(self.recent)
                if (at := tail.rfind(TOOL_CALL_OPEN)) >= 0:
                    # The token that closed the opener may carry the call's first
                    # characters ('>{"'): start the guide past them.
                    self.guide, self.recent = guide_after(grammar, tok, tail[at + len(TOOL_CALL_OPEN):]), []
                    self.whole = False
        if nxt in self.eos:
            usage["finish"] = 1
            self.done = True
            return None
        if nxt in self.signal_of and self.signal_ids[self.signal_of[nxt]][0] == nxt and not self.forced:
            self.forced = list(self.signal_ids[self.signal_of[nxt]][1:])
        usage["output_tokens"] = usage.get("output_tokens", 0) + 1
        self.done = usage["output_tokens"] >= self.max_new_tokens
        return nxt
