"""Flamingo-style gated cross-attention from the LM's hidden states to the image tokens.

Instead of (or besides) splicing image tokens into the sequence, a `GatedCrossAttentionBlock`
after every ``every``-th decoder layer lets each text position attend to the image tokens of
its own row::

    y = y + tanh(a_attn) · XAttn(LN(y), v)
    y = y + tanh(a_ff)   · FFW(LN(y))

Both gates start at 0, so at init the model *is* the frozen LM (docs/architecture.md, "References", Flamingo);
training opens the gates. Simplification against Flamingo: every text position sees all
images of its row (Flamingo limits a token to the image just before it).

The blocks attach to an unmodified transformers model through forward hooks on its decoder
layers (`attach_cross_attention`), and read the image context from a holder that
`MultimodalCore.prepare_inputs` fills — so ``generate`` and KV-cached decoding work unchanged:
each new position attends to the same, fixed image context.

Example:
    >>> import torch
    >>> block = GatedCrossAttentionBlock(16, n_heads=4)
    >>> y = torch.randn(2, 5, 16)
    >>> torch.equal(block(y, torch.randn(2, 3, 16), torch.ones(2, 3, dtype=torch.bool)), y)
    True
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genaisys.errors import ConfigError

__all__ = ["CrossAttentionContext", "GatedCrossAttentionBlock", "attach_cross_attention", "decoder_layers"]


class GatedCrossAttentionBlock(nn.Module):
    """One tanh-gated cross-attention + feed-forward block (gates start closed)."""

    def __init__(self, d_model: int, *, n_heads: int = 4, ff_mult: int = 4) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ConfigError(f"cross-attention width {d_model} is not divisible by n_heads={n_heads}")
        self.norm_attn = nn.LayerNorm(d_model)
        self.attn = nn.MultiheadAttention(d_model, n_heads, batch_first=True)
        self.norm_ff = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, ff_mult * d_model), nn.GELU(), nn.Linear(ff_mult * d_model, d_model))
        self.gate_attn = nn.Parameter(torch.zeros(1))
        self.gate_ff = nn.Parameter(torch.zeros(1))

    def forward(self, y: torch.Tensor, images: torch.Tensor, image_mask: torch.Tensor) -> torch.Tensor:
        # y: (B, L, d) text hidden states; images: (B, N, d); image_mask: (B, N) True = real token
        has_image = image_mask.any(dim=1)  # (B,)
        # A row without images would attend to nothing (NaN): give it one dummy key, zero its output.
        key_padding = ~image_mask.clone()
        key_padding[~has_image, 0] = False
        attended, _ = self.attn(self.norm_attn(y), images.to(y.dtype), images.to(y.dtype),
                                key_padding_mask=key_padding, need_weights=False)  # (B, L, d)
        attended = attended * has_image.view(-1, 1, 1).to(y.dtype)
        y = y + torch.tanh(self.gate_attn).to(y.dtype) * attended
        ff = self.ff(self.norm_ff(y)) * has_image.view(-1, 1, 1).to(y.dtype)
        return y + torch.tanh(self.gate_ff).to(y.dtype) * ff


class CrossAttentionContext:
    """The image tokens the blocks attend to, set per batch by the core (``None``: text only)."""

    def __init__(self) -> None:
        self.images: torch.Tensor | None = None  # (B, N, d)
        self.mask: torch.Tensor | None = None  # (B, N)

    def set(self, images: torch.Tensor | None, mask: torch.Tensor | None) -> None:
        self.images, self.mask = images, mask


def decoder_layers(language_model: nn.Module) -> nn.ModuleList:
    """The decoder layer list of a transformers causal LM (``model.layers`` in Llama-likes)."""
    decoder = language_model.get_decoder() if hasattr(language_model, "get_decoder") else None
    layers = getattr(decoder, "layers", None)
    if not isinstance(layers, nn.ModuleList):
        raise ConfigError(f"cannot find the decoder layers of {type(language_model).__name__} to attach "
                          "cross-attention to; use image splicing (cross_attention_every=None) for this model")
    return layers


def attach_cross_attention(language_model: nn.Module, blocks: nn.ModuleList, context: CrossAttentionContext,
                           every: int) -> list[Any]:
    """Hook ``blocks[i]`` after decoder layer ``(i+1)·every - 1``; return the hook handles."""
    layers = decoder_layers(language_model)
    targets = list(range(every - 1, len(layers), every))
    if len(targets) != len(blocks):
        raise ConfigError(f"{len(blocks)} cross-attention blocks for {len(targets)} target layers")
    handles = []
    for block, idx in zip(blocks, targets, strict=True):
        def hook(module: nn.Module, args: Any, output: Any, block: nn.Module = block) -> Any:
            if context.images is None:
                return output
            if isinstance(output, tuple):  # older layer API: (hidden_states, ...)
                return (block(output[0], context.images, context.mask), *output[1:])
            return block(output, context.images, context.mask)

        handles.append(layers[idx].register_forward_hook(hook))
    return handles
