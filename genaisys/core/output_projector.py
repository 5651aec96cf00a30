"""Output projector: signal-token hidden states → a diffusion decoder's conditioning (NExT-GPT).

The core can emit signal tokens (``[IMG0]…[IMG3]`` for images; docs/architecture.md, "References", NExT-GPT).
Their last-layer hidden states ``(B, k, d_lm)`` go through a small transformer whose learned
queries attend to them and give ``(B, out_tokens, out_dim)`` — for Stable Diffusion 1.5, the
``77 × 768`` ``prompt_embeds`` its UNet is conditioned on. Trained by decoder-side alignment:
LM loss + scale × L2 distance to the caption embedding from the decoder's own text encoder
(`MultimodalCore.decoder_alignment_loss`).

Example:
    >>> import torch
    >>> proj = OutputProjector(32, OutputProjectorConfig(out_tokens=5, out_dim=8))
    >>> proj(torch.randn(2, 4, 32)).shape
    torch.Size([2, 5, 8])
"""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

__all__ = ["OutputProjector", "OutputProjectorConfig"]


class OutputProjectorConfig(BaseModel):
    """Shape of one modality's output projector.

    Attributes:
        out_tokens / out_dim: the decoder's conditioning shape (77 × 768 for SD 1.5).
        d_model: the projector's width (default: ``min(out_dim, 512)``).
        n_layers / n_heads: transformer decoder layers and heads.
    """

    model_config = ConfigDict(extra="forbid")

    out_tokens: int = Field(default=77, ge=1)
    out_dim: int = Field(default=768, ge=1)
    d_model: int | None = None
    n_layers: int = Field(default=2, ge=1)
    n_heads: int = Field(default=4, ge=1)


class OutputProjector(nn.Module):
    """Learned queries cross-attend to signal hidden states: ``(B, k, d_lm) → (B, out_tokens, out_dim)``."""

    def __init__(self, d_lm: int, config: OutputProjectorConfig) -> None:
        super().__init__()
        d = config.d_model or min(config.out_dim, 512)
        d -= d % config.n_heads  # the attention width must split evenly into heads
        self.config = config
        self.in_proj = nn.Linear(d_lm, d)
        self.queries = nn.Parameter(torch.randn(config.out_tokens, d) * d**-0.5)  # (out_tokens, d)
        layer = nn.TransformerDecoderLayer(d, config.n_heads, dim_feedforward=4 * d, dropout=0.0, batch_first=True,
                                           norm_first=True)
        self.decoder = nn.TransformerDecoder(layer, config.n_layers)
        self.norm = nn.LayerNorm(d)
        self.out_proj = nn.Linear(d, config.out_dim)

    def forward(self, signal_hidden: torch.Tensor) -> torch.Tensor:
        memory = self.in_proj(signal_hidden)  # (B, k, d)
        q = self.queries.unsqueeze(0).expand(signal_hidden.shape[0], -1, -1)  # (B, out_tokens, d)
        return self.out_proj(self.norm(self.decoder(q, memory)))  # (B, out_tokens, out_dim)
