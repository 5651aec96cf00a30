"""The forward-pass plumbing that decoding and scoring share: which keywords a model's
``forward`` takes, where its output keeps the KV cache, and a text prompt's plain inputs.

Example:
    >>> from genaisys.core.forward import cache_of
    >>> class Out:
    ...     past_key_values = "kv"
    >>> cache_of(Out())
    'kv'
"""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["PLAIN_INPUTS", "cache_of", "forward_kwargs", "text_inputs", "unwrapped"]

# the inputs of a text-only prompt; only these can start from a cached prefix
PLAIN_INPUTS = frozenset({"inputs_embeds", "attention_mask", "position_ids"})


def unwrapped(lm: Any) -> Any:
    """The model under a peft wrapper (whose ``forward`` hides the real signature)."""
    return lm.get_base_model() if hasattr(lm, "get_base_model") else lm


def forward_kwargs(model: Any) -> tuple[str, dict[str, Any]]:
    """The cache keyword of ``model.forward`` and extra prefill arguments it understands.

    transformers 5.24 renamed ``past_key_values`` to ``cache`` (the old name warns until 5.40).
    ``logits_to_keep=1`` makes the prefill project only the last position onto the vocabulary,
    as ``generate`` does: the full ``(L, V)`` logits of a long prompt cost as much as several
    decode steps and only the last row is read.
    """
    params = inspect.signature(unwrapped(model).forward).parameters
    cache_kw = "cache" if "cache" in params else "past_key_values"
    return cache_kw, ({"logits_to_keep": 1} if "logits_to_keep" in params else {})


def cache_of(out: Any) -> Any:
    """The KV cache a forward pass returned, under either name."""
    cache = getattr(out, "cache", None)
    return cache if cache is not None else getattr(out, "past_key_values", None)


def text_inputs(lm: Any, ids: Any) -> dict[str, Any]:
    """``inputs_embeds``, ``attention_mask`` and ``position_ids`` of one unpadded row ``ids`` (1, L)."""
    import torch

    embed = lm.get_input_embeddings()
    ids = ids.to(embed.weight.device)
    return {"inputs_embeds": embed(ids), "attention_mask": torch.ones_like(ids),
            "position_ids": torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)}
