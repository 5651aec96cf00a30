"""Dual vision encoders, Mini-Gemini style: high-res detail refines low-res tokens, no new tokens.

A low-resolution tower gives the visual tokens the LM sees; a high-resolution tower gives
detail. *Patch info mining* lets every low-res token attend to the high-res features of its own
image region (docs/architecture.md, "References", Mini-Gemini)::

    T' = T_low + W_o · softmax(q(T_low) k(F_high)ᵀ / √d) v(F_high)

With both towers on square grids and the high grid an integer multiple ``r`` of the low one,
a low token attends only to its ``r×r`` high-res sub-patches; otherwise it attends to all of
them. ``W_o`` starts at zero, so at init the dual tower equals the low-res tower; the mining
layers (``.mining``) are trained even when both towers stay frozen.

The pixels fed in are the high-res ones; the low-res input is made from them (bicubic
down-sampling, then the low tower's own normalisation).

Example:
    >>> from genaisys.core.encoders import build_vision_encoder
    >>> enc = build_vision_encoder({"name": "dual",
    ...     "low": {"name": "efficientnet-lite0", "pretrained": False},
    ...     "high": {"name": "efficientnet-lite0", "pretrained": False, "image_size": 448}})
    >>> enc.n_tokens, enc.image_size, enc.mining.region
    (49, 448, 2)
"""

from __future__ import annotations

import math

import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

__all__ = ["DualVisionEncoder", "PatchInfoMining"]


def _grid(n_tokens: int) -> int | None:
    g = math.isqrt(n_tokens)
    return g if g * g == n_tokens else None


class PatchInfoMining(nn.Module):
    """Low-res tokens (queries) gather detail from high-res features (keys/values)."""

    def __init__(self, d_low: int, d_high: int, n_low: int, n_high: int) -> None:
        super().__init__()
        self.q = nn.Linear(d_low, d_low)
        self.k = nn.Linear(d_high, d_low)
        self.v = nn.Linear(d_high, d_low)
        self.out = nn.Linear(d_low, d_low)
        nn.init.zeros_(self.out.weight)  # at init: the low-res tokens unchanged
        nn.init.zeros_(self.out.bias)
        g_low, g_high = _grid(n_low), _grid(n_high)
        self.g_low = g_low
        self.region = g_high // g_low if g_low and g_high and g_high % g_low == 0 else None

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        # low: (B, N_l, d), high: (B, N_h, d_h) → (B, N_l, d)
        B, N, d = low.shape
        q = self.q(low)
        k, v = self.k(high), self.v(high)  # (B, N_h, d)
        if self.region is not None:
            g, r = self.g_low, self.region
            assert g is not None

            def regions(x: torch.Tensor) -> torch.Tensor:
                # (B, (g·r)², d) → (B, g², r², d): the r×r high-res patches under each low token
                x = x.view(B, g, r, g, r, d).permute(0, 1, 3, 2, 4, 5)
                return x.reshape(B, g * g, r * r, d)

            k, v = regions(k), regions(v)  # (B, N_l, r², d)
            mined = F.scaled_dot_product_attention(q.unsqueeze(2), k, v).squeeze(2)  # (B, N_l, d)
        else:
            mined = F.scaled_dot_product_attention(q, k, v)  # (B, N_l, d)
        return low + self.out(mined)


class DualVisionEncoder(nn.Module):
    """Low-res tower + high-res tower fused by `PatchInfoMining`; as many tokens as the low tower."""

    def __init__(self, low: nn.Module, high: nn.Module) -> None:
        super().__init__()
        self.low, self.high = low, high
        self.hidden_size = low.hidden_size
        self.image_size = high.image_size
        self.n_tokens = low.n_tokens
        self.image_mean, self.image_std = high.image_mean, high.image_std
        self.mining = PatchInfoMining(low.hidden_size, high.hidden_size, low.n_tokens, high.n_tokens)

    def preprocess(self, images: list[Image.Image]) -> torch.Tensor:
        """PIL images → high-res pixel values ``(N, 3, H_high, W_high)``."""
        return self.high.preprocess(images)

    def _low_pixels(self, pixel_values: torch.Tensor) -> torch.Tensor:
        def stats(values: tuple[float, ...]) -> torch.Tensor:
            return torch.tensor(values, dtype=pixel_values.dtype, device=pixel_values.device).view(1, 3, 1, 1)

        raw = pixel_values * stats(self.high.image_std) + stats(self.high.image_mean)  # back to [0, 1]
        size = (self.low.image_size, self.low.image_size)
        small = F.interpolate(raw, size=size, mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)
        return (small - stats(self.low.image_mean)) / stats(self.low.image_std)  # (B, 3, h, w)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        low = self.low(self._low_pixels(pixel_values))  # (B, N_l, d)
        high = self.high(pixel_values)  # (B, N_h, d_h)
        return self.mining(low, high)  # (B, N_l, d)
