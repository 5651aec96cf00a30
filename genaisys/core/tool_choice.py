"""Closed-set tool choice: the LM scores "no tool" and each bound tool before any argument is written.

A small core decides whether to call a tool by its first generated token, in competition with
every word of a plain answer. Scored choice (``ChatCore(scored_tool_choice=True)``) asks the
question as a closed set instead: for each bound tool ``T`` it reads the log-probability of the
call's opening ``<tool_call>{"name": "T", "arguments"`` under the rendered prompt; "no tool"
gets the rest of the probability mass, ``log(1 - P(<tool_call>))``, plus ``no_tool_bias`` nats.
The best option wins; a chosen tool then has its arguments decoded under that tool's grammar
(a forced, constrained call). The choice binds both ways: after "no tool" the answer is text,
and a token that would complete a call's ``<tool_call>`` opener is refused.

Cost: one prefill of the prompt, through the chat's prefix cache for text-only prompts (so the
decode that follows starts from it), and one short pass per tool over its name's tokens, from a
copy of the prompt's KV cache.

Example:
    >>> from genaisys.core.tool_choice import choose_tool
    >>> choose_tool({"": -0.2, "calculator": -2.3, "clock": -4.0}, no_tool_bias=0.0)
    ''
    >>> choose_tool({"": -0.9, "calculator": -0.7}, no_tool_bias=0.0)
    'calculator'
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from genaisys.core.forward import cache_of, forward_kwargs
from genaisys.core.toolcall import TOOL_CALL_OPEN

__all__ = ["choose_tool", "score_tool_options"]

NO_TOOL = ""


def choose_tool(scores: Mapping[str, float], *, no_tool_bias: float = 0.0) -> str:
    """The best option of `score_tool_options`' scores (``""``: no tool; ties go to no tool)."""
    best, best_score = NO_TOOL, scores[NO_TOOL] + no_tool_bias
    for name, score in scores.items():
        if name != NO_TOOL and score > best_score:
            best, best_score = name, score
    return best


def score_tool_options(lm: Any, tokenizer: Any, prompt: str, names: Sequence[str], *,
                       prepare: Callable[[Any], dict[str, Any]],
                       prefill: Callable[[list[int], dict[str, Any], dict[str, Any]], Any]) -> dict[str, float]:
    """Log-probabilities (nats) of answering without a tool (key ``""``) and of calling each tool.

    Run it under ``torch.no_grad()``; `ChatCore` calls it with its own inputs and prefix cache.

    Args:
        lm: the language model (a peft wrapper is fine).
        tokenizer: its tokenizer.
        prompt: the rendered prompt, ending where the answer starts.
        names: the bound tools' names.
        prepare: ``ids (1, L) -> inputs`` for ``lm`` (``inputs_embeds``, ``attention_mask``,
            ``position_ids``; image features spliced in where the prompt has images).
        prefill: ``(prompt_ids, inputs, forward_kwargs) -> output`` of the prompt's prefill.
    """
    import torch

    cache_kw, last = forward_kwargs(lm)
    head = f'{TOOL_CALL_OPEN}{{"name": "'
    encode = lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    prompt_ids = encode(prompt)
    # Up to the arguments' key, less its last token: a tokenizer merges a quote with what follows
    # ('",' and '":' in SmolLM2's), so only a token followed by more text is surely the model's own.
    options = {name: encode(f'{prompt}{head}{name}", "arguments"')[:-1] for name in names}
    opener = encode(prompt + TOOL_CALL_OPEN)
    shared = len(prompt_ids)  # the prompt ends with the assistant header; check the split held
    if any(ids[:shared] != prompt_ids for ids in (opener, *options.values())):
        raise ValueError("the prompt's tokens change when a tool call follows it; cannot score tool choice")
    prep = prepare(torch.tensor([prompt_ids]))
    out = prefill(prompt_ids, prep, last)
    cache = cache_of(out)
    first = torch.log_softmax(out.logits[0, -1].float(), -1)
    start = int(prep["position_ids"][0, -1]) + 1
    embed = lm.get_input_embeddings()

    def continuation(rest: list[int]) -> float:
        """log P(rest | prompt): the first token from the prefill, the others from one pass."""
        total = float(first[rest[0]])
        if len(rest) > 1:
            x = torch.tensor([rest[:-1]])
            mask = torch.ones(1, prep["attention_mask"].shape[1] + x.shape[1], dtype=torch.long)
            pos = torch.arange(start, start + x.shape[1]).unsqueeze(0)
            step = lm(inputs_embeds=embed(x), attention_mask=mask, position_ids=pos,
                      use_cache=True, **{cache_kw: copy.deepcopy(cache)})
            logp = torch.log_softmax(step.logits[0].float(), -1)
            total += float(logp[torch.arange(len(rest) - 1), torch.tensor(rest[1:])].sum())
        return total

    scores = {name: continuation(ids[shared:]) for name, ids in options.items()}
    p_open = math.exp(continuation(opener[shared:]))
    scores[NO_TOOL] = math.log(max(1.0 - p_open, 1e-12))
    return scores
