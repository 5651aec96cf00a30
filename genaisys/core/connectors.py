"""Connectors: map vision features into the language model's embedding space.

One registry, LLaVA-style names (docs/architecture.md, "References", LLaVA):

* ``identity`` — pass-through; needs ``in_dim == out_dim``.
* ``linear`` — one ``nn.Linear`` (LLaVA-1).
* ``mlp{N}x_gelu`` — ``Linear → (GELU → Linear) × (N-1)``, matched by ``^mlp(\\d+)x_gelu$``
  (LLaVA-1.5 uses ``mlp2x_gelu``).
* ``resampler{Q}[x{depth}]`` — a perceiver resampler / Q-Former-style stack: ``Q`` learned
  queries cross-attend to the image features and give a fixed ``Q``-token summary whatever
  the resolution (BLIP-2, Flamingo). ``resampler`` alone means 32 queries, one layer;
  ``resampler64x3`` means 64 queries, three layers. ``gated_resampler…`` scales every
  attention and feed-forward output by ``tanh(gate)``, the gate starting at 0 (Flamingo's
  gating): at init it returns its learned queries only, and the image path opens in training.
  (The gated cross-attention *into the LM* is `genaisys.core.cross_attention`.)

Every connector maps ``(B, n_in, in_dim) → (B, n_out, out_dim)``. An optional ``n_tokens``
average-pools the token axis to a chosen count first (``adaptive_avg_pool1d``), so a 7×7 grid
can become, say, 16 image tokens. Unknown names raise `UnknownNameError` listing the known ones.

Example:
    >>> import torch
    >>> from genaisys.core.connectors import build_connector
    >>> conn = build_connector("mlp2x_gelu", 1280, 576, n_tokens=16)
    >>> conn(torch.zeros(2, 49, 1280)).shape
    torch.Size([2, 16, 576])
"""

from __future__ import annotations

import re
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from genaisys._registry import Registry
from genaisys.errors import ConfigError

__all__ = [
    "CONNECTOR_NAMES",
    "IdentityConnector",
    "LinearConnector",
    "MLPConnector",
    "ResamplerConnector",
    "build_connector",
    "register_connector",
]

# The built-in names (families as patterns); `register_connector` adds more to the registry below.
CONNECTOR_NAMES = ("identity", "linear", "mlp{N}x_gelu", "resampler{Q}[x{depth}]",
                   "gated_resampler{Q}[x{depth}]")
_MLP_RE = re.compile(r"^mlp(\d+)x_gelu$")
_RESAMPLER_RE = re.compile(r"^(gated_)?resampler(\d*)(?:x(\d+))?$")


class _Connector(nn.Module):
    """Shared token pooling for every connector; subclasses implement `project`."""

    def __init__(self, in_dim: int, out_dim: int, n_tokens: int | None) -> None:
        super().__init__()
        if n_tokens is not None and n_tokens < 1:
            raise ConfigError(f"n_tokens must be >= 1 or None (keep the encoder's count), got {n_tokens}")
        self.in_dim, self.out_dim, self.n_tokens = in_dim, out_dim, n_tokens

    def output_tokens(self, n_in: int) -> int:
        """How many tokens come out for ``n_in`` tokens in."""
        return self.n_tokens if self.n_tokens is not None else n_in

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, n_in, d) → (B, n_tokens, d); average over neighbouring tokens
        if self.n_tokens is None or self.n_tokens == x.shape[1]:
            return x
        return F.adaptive_avg_pool1d(x.transpose(1, 2), self.n_tokens).transpose(1, 2)

    def project(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if features.dim() != 3 or features.shape[-1] != self.in_dim:
            raise ConfigError(
                f"{type(self).__name__} expects features shaped (B, n_tokens, {self.in_dim}), got "
                f"{tuple(features.shape)}; build the connector with in_dim = the encoder's hidden_size"
            )
        return self.project(self.pool(features))  # (B, n_out, out_dim)


class IdentityConnector(_Connector):
    """Pass features through unchanged (``in_dim`` must equal ``out_dim``)."""

    def __init__(self, in_dim: int, out_dim: int, n_tokens: int | None = None) -> None:
        if in_dim != out_dim:
            raise ConfigError(
                f"connector 'identity' needs in_dim == out_dim, got {in_dim} and {out_dim}; "
                "use 'linear' or 'mlp2x_gelu' to change the width"
            )
        super().__init__(in_dim, out_dim, n_tokens)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        return x


class LinearConnector(_Connector):
    """One linear projection (LLaVA-1)."""

    def __init__(self, in_dim: int, out_dim: int, n_tokens: int | None = None) -> None:
        super().__init__(in_dim, out_dim, n_tokens)
        self.proj = nn.Linear(in_dim, out_dim)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)  # (B, n, out_dim)


class MLPConnector(_Connector):
    """``Linear → (GELU → Linear) × (depth-1)`` (LLaVA-1.5's ``mlp2x_gelu`` for depth 2)."""

    def __init__(self, in_dim: int, out_dim: int, n_tokens: int | None = None, *, depth: int = 2) -> None:
        super().__init__(in_dim, out_dim, n_tokens)
        if depth < 1:
            raise ConfigError(f"mlp{{N}}x_gelu needs N >= 1, got {depth}")
        layers: list[nn.Module] = [nn.Linear(in_dim, out_dim)]
        for _ in range(depth - 1):
            layers += [nn.GELU(), nn.Linear(out_dim, out_dim)]
        self.mlp = nn.Sequential(*layers)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x)  # (B, n, out_dim)


class _ResamplerLayer(nn.Module):
    """One perceiver layer: latents attend to [features; latents], then a feed-forward, both residual."""

    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.norm_q = nn.LayerNorm(d)
        self.norm_kv = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.norm_ff = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, latents: torch.Tensor, feats: torch.Tensor, gate: torch.Tensor | None) -> torch.Tensor:
        # latents: (B, Q, d), feats: (B, n_in, d)
        q = self.norm_q(latents)
        kv = torch.cat([self.norm_kv(feats), q], dim=1)  # Flamingo: keys/values = features + latents
        attended, _ = self.attn(q, kv, kv, need_weights=False)  # (B, Q, d)
        if gate is not None:
            attended = torch.tanh(gate) * attended
        latents = latents + attended
        ff = self.ff(self.norm_ff(latents))
        if gate is not None:
            ff = torch.tanh(gate) * ff
        return latents + ff  # (B, Q, d)


class ResamplerConnector(_Connector):
    """Learned queries cross-attend to the image features: a fixed ``n_queries``-token output.

    A perceiver resampler (Flamingo) / Q-Former-style stack (BLIP-2): ``n_queries`` learned
    latents in the LM width attend (multi-head) to the projected image features together with
    themselves, then a feed-forward layer, both residual, ``depth`` times. With ``gated=True``
    every attention and feed-forward output is scaled by ``tanh(gate)`` with ``gate`` starting
    at 0 (Flamingo's gating), so at init the output is the learned queries alone — the image
    reaches the LM only as training opens the gate. ``n_tokens`` pooling is not used: the query
    count fixes the output length. Names: ``resampler{Q}`` or ``resampler{Q}x{depth}``.
    """

    def __init__(self, in_dim: int, out_dim: int, n_tokens: int | None = None, *, n_queries: int = 32,
                 depth: int = 1, n_heads: int | None = None, gated: bool = False) -> None:
        super().__init__(in_dim, out_dim, None)
        if n_queries < 1 or depth < 1:
            raise ConfigError(f"resampler needs at least one query and one layer, got {n_queries} and {depth}")
        if n_tokens is not None and n_tokens != n_queries:
            raise ConfigError(f"resampler{n_queries} always gives {n_queries} tokens; got n_tokens={n_tokens} "
                              f"— name the connector 'resampler{n_tokens}' instead")
        heads = n_heads or next(h for h in (8, 4, 2, 1) if out_dim % h == 0)
        self.n_queries, self.depth, self.gated = n_queries, depth, gated
        self.queries = nn.Parameter(torch.randn(n_queries, out_dim) * out_dim**-0.5)  # (Q, d)
        self.kv_proj = nn.Linear(in_dim, out_dim)
        self.layers = nn.ModuleList(_ResamplerLayer(out_dim, heads) for _ in range(depth))
        self.gate = nn.Parameter(torch.zeros(1)) if gated else None

    def output_tokens(self, n_in: int) -> int:
        return self.n_queries

    def project(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.kv_proj(x)  # (B, n_in, d)
        latents = self.queries.unsqueeze(0).expand(x.shape[0], -1, -1)  # (B, Q, d)
        for layer in self.layers:
            latents = layer(latents, feats, self.gate)
        return latents  # (B, Q, d)


def _mlp(name: str, in_dim: int, out_dim: int, n_tokens: int | None) -> _Connector:
    return MLPConnector(in_dim, out_dim, n_tokens, depth=int(_MLP_RE.match(name).group(1)))


def _resampler(name: str, in_dim: int, out_dim: int, n_tokens: int | None) -> _Connector:
    m = _RESAMPLER_RE.match(name)
    return ResamplerConnector(in_dim, out_dim, n_tokens, n_queries=int(m.group(2) or 32), depth=int(m.group(3) or 1),
                              gated=bool(m.group(1)))


# The allow-list (also for names read back from a saved config): exact names, then regex families.
_REGISTRY = Registry("connector", {"identity": IdentityConnector, "linear": LinearConnector},
                     pattern=r"[a-z][a-z0-9_]*", hint="'linear' or 'my_connector'")
_REGISTRY.register_family(_MLP_RE.pattern, "mlp{N}x_gelu", _mlp)
_REGISTRY.register_family(r"^resampler(\d*)(?:x(\d+))?$", "resampler{Q}[x{depth}]", _resampler)
_REGISTRY.register_family(r"^gated_resampler(\d*)(?:x(\d+))?$", "gated_resampler{Q}[x{depth}]", _resampler)


def register_connector(name: str, factory: Callable[..., nn.Module], *, replace: bool = False) -> None:
    """Add a connector family member: ``factory(in_dim, out_dim, n_tokens)`` → an ``nn.Module`` mapping
    ``(B, n_img_tokens, in_dim)`` vision features to ``(B, n_tokens, out_dim)`` LM embeddings.

    Raises:
        ConfigError: a malformed name, or a taken one without ``replace``.
    """
    _REGISTRY.register(name, factory, replace=replace)


def build_connector(name: str, in_dim: int, out_dim: int, *, n_tokens: int | None = None) -> _Connector:
    """Build a connector by registry name.

    Args:
        name: ``identity``, ``linear``, ``mlp{N}x_gelu``, ``resampler{Q}`` or ``gated_resampler{Q}``
            (or a name given to `register_connector`).
        in_dim: width of the vision features.
        out_dim: hidden size of the language model.
        n_tokens: pool the image tokens to this count (``None`` keeps the encoder's count).

    Raises:
        UnknownNameError: ``name`` is not in the registry (the message lists the known names).

    Example:
        >>> build_connector("linear", 8, 4)(__import__("torch").zeros(1, 3, 8)).shape
        torch.Size([1, 3, 4])
    """
    return _REGISTRY.build(name, in_dim, out_dim, n_tokens)
