"""Decoding precision: which dtype a core's language model decodes in, and whether this CPU does bf16.

``ChatCore(dtype=...)`` and ``load_core(..., dtype=...)`` take one of `PRECISIONS`:

* ``"float32"`` — the weights as loaded or trained.
* ``"bfloat16"`` (``"bf16"``) — decoding runs on a bf16 copy of the language model's weights
  (`decoding_copy`). The vision tower and the connector stay float32 (their output, the prompt's
  embeddings, is cast to bf16 at the seam), and logits are read in float32 before sampling,
  scoring and contrast.
* ``"auto"`` (the default) — bf16 where `AUTO_BF16` allows it and the language model runs on a
  CPU with native bf16 (`native_bf16`: AVX512-BF16 or AMX), else float32. GPUs decode in the
  dtype they were loaded in (float32 unless asked), and "auto" never casts weights loaded in
  bf16/fp16 up. `AUTO_BF16` is off: ``bench/precision.py`` on the nano core (SmolLM2-135M, 2
  cores with AVX512-BF16, torch 2.13) measured bf16 1.35x faster than float32 decoding (17.0 vs
  12.6 tokens/s; float32 ``generate`` 13.1), but only 37 of 60 greedy answers identical (62%;
  45/60 agree on the first 16 tokens; heldout-text accuracy 13/40 vs 14/40). On 2 AVX2 cores
  without native bf16 (2026-12-06) bf16 was no faster than merged float32 (13.0 vs 13.9
  tokens/s; its emulated prefill is slow) and again changed 22 of 60 answers. Changing more
  than a fifth of the answers is too much for a default; ask for ``"bfloat16"`` to trade them
  for speed.

A language model with LoRA adapters (peft; the nano core's) decodes on a copy with the adapters
merged into its weights (`decoding_copy`, ``ChatCore(merge_adapters=True)``, the default), in
float32 too: on the AVX2 machine that made decoding 1.26x faster than through peft's wrapper
(13.9 vs 11.0 tokens/s; 1.39x float32 ``generate`` on the wrapped model) with all 60 greedy
answers identical.

The decoding weights are a *copy*, made on the first decode and rebuilt when the source
weights change (a training step bumps their version counters), so training never sees them:
the trained model stays float32, with its adapters, whatever the chat model decodes on. The
copy costs the language model's size in its dtype (nano: 540 MB merged float32, 270 MB bf16);
a model without adapters decoding in its own dtype, or ``merge_adapters=False``, needs none.

Example:
    >>> from genaisys.core.precision import resolve_dtype
    >>> resolve_dtype("bf16")
    torch.bfloat16
    >>> resolve_dtype("float32")
    torch.float32
"""

from __future__ import annotations

import copy
import platform
from typing import Any

from genaisys.errors import ConfigError

__all__ = ["AUTO_BF16", "PRECISIONS", "decoding_copy", "dtype_name", "native_bf16", "precision_name", "resolve_dtype"]

PRECISIONS = ("auto", "float32", "bfloat16")
_ALIASES = {"auto": "auto", "float32": "float32", "fp32": "float32", "bfloat16": "bfloat16", "bf16": "bfloat16"}
# Whether "auto" picks bf16 on a CPU with native bf16. Off: bf16 was 1.35x faster on the nano core
# but changed 23 of 60 greedy answers (bench/precision.py; the module docstring has the figures).
AUTO_BF16 = False


def native_bf16() -> bool:
    """True when this CPU computes bf16 natively: AVX512-BF16 or AMX on x86, oneDNN's bf16 check elsewhere (Arm).

    Without it, bf16 on the CPU is emulated and runs several times slower than float32 (a Linear
    ran 6.7x slower on an AVX2 EPYC), for decoding and for training's autocast alike. oneDNN's own
    check alone is not enough on x86: it also says yes on AVX512 CPUs without the bf16 extension.
    """
    import torch

    try:
        if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
            return False
    except (AttributeError, RuntimeError):  # a torch built without oneDNN
        return False
    if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686"):
        return True
    cpu = getattr(torch, "cpu", None)
    checks = [getattr(cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    if not any(callable(c) for c in checks):
        return True  # a torch without the finer checks: trust oneDNN's
    return any(bool(c()) for c in checks if callable(c))


def precision_name(precision: str) -> str:
    """The canonical name (one of `PRECISIONS`) of ``precision``; ``"bf16"`` → ``"bfloat16"``.

    Raises:
        ConfigError: ``precision`` is not a known name.
    """
    name = _ALIASES.get(precision.strip().lower()) if isinstance(precision, str) else None
    if name is None:
        raise ConfigError(f"unknown dtype {precision!r} for decoding; use one of {', '.join(PRECISIONS)} "
                          "('auto' picks bfloat16 on a CPU with native bf16, else float32)")
    return name


def resolve_dtype(precision: str, *, device: Any = "cpu") -> Any:
    """A precision name → the ``torch.dtype`` the language model decodes in.

    Args:
        precision: one of `PRECISIONS` (``"fp32"``, ``"bf16"`` are accepted too).
        device: where the language model runs; ``"auto"`` considers bf16 on the CPU only.

    Raises:
        ConfigError: ``precision`` is not a known name.
    """
    import torch

    name = precision_name(precision)
    if name == "auto":
        on_cpu = torch.device(device).type == "cpu"
        name = "bfloat16" if AUTO_BF16 and on_cpu and native_bf16() else "float32"
    return torch.bfloat16 if name == "bfloat16" else torch.float32


def dtype_name(dtype: Any) -> str:
    """``torch.bfloat16`` → ``"bfloat16"``."""
    return str(dtype).removeprefix("torch.")


def decoding_copy(model: Any, dtype: Any) -> Any:
    """A copy of ``model`` for inference only: LoRA adapters merged, floating parameters ``dtype``.

    A peft-wrapped model (the nano core's LoRA) is copied in float32, its adapters merged into the
    base weights (``merge_and_unload``: one matmul per layer instead of three), then cast, so the
    merge rounds once. Otherwise parameters are cast one by one while copying (the float32 model is
    never copied whole). Tied weights stay tied, and buffers keep their dtype (rotary frequencies
    stay float32). The copy needs no gradients; ``model`` itself is left as it is.
    """
    import torch

    if hasattr(model, "merge_and_unload"):
        merged = copy.deepcopy(model).merge_and_unload()
        for p in merged.parameters():  # unique parameters: a tied weight is cast once
            if p.is_floating_point():
                p.data = p.data.to(dtype)
            p.requires_grad_(False)
        return merged
    memo: dict[int, Any] = {}
    for p in model.parameters():
        if id(p) not in memo:
            data = p.detach().to(dtype) if p.is_floating_point() else p.detach().clone()
            memo[id(p)] = torch.nn.Parameter(data, requires_grad=False)
    return copy.deepcopy(model, memo)
