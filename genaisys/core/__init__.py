"""The CPU of genaisys: the multimodal core and its LangChain chat face (docs/architecture.md, "The CPU").

One component per file:

* ``encoders.py`` — vision towers (EfficientNet-Lite0, any HF ViT/CLIP/SigLIP) + registry;
  ``dual_encoder.py`` — Mini-Gemini low-res + high-res fusion.
* ``connectors.py`` — ``identity``, ``linear``, ``mlp{N}x_gelu``, ``[gated_]resampler{Q}``.
* ``cross_attention.py`` — Flamingo tanh-gated cross-attention (gates start at 0).
* ``multimodal.py`` — `MultimodalCore`: splicing, label masking, LoRA, save/load of trained parts.
* ``native.py`` — `NativeCore`: HF MLLMs (LLaVA, SmolVLM …) behind the same face.
* ``toolcall.py`` — genaisys's tool-call format and its tolerant parser;
  ``constrained.py`` — grammar-constrained calls (outlines-core);
  ``tool_choice.py`` — closed-set tool choice scored by the LM before arguments are written.
* ``output_projector.py`` — NExT-GPT signal tokens → a decoder's conditioning.
* ``chat.py`` — `ChatCore`: a local core as a LangChain chat model (stream, async, tools,
  images, batches, concurrent sessions); ``vcd.py`` — visual contrastive decoding.
* ``media.py`` — image content blocks (base64, data/file URLs, paths, blob ids) → PIL.
* ``remote.py`` — `RemoteCore`: an OpenAI-compatible server as the CPU.
* ``loading.py`` — `load_core("nano" | folder | id)`; ``precision.py`` — the decoding dtype
  (``"auto"``, ``"float32"``, ``"bfloat16"``) and the native-bf16 CPU check training shares.

Nothing heavy loads at import: each name below imports its submodule on first use (PEP 562).

Example:
    >>> import genaisys.core
    >>> sorted(genaisys.core.__all__)[:3]
    ['ChatCore', 'MultimodalCore', 'MultimodalCoreConfig']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from genaisys._lazy import lazy_exports

_LAZY = {
    "ChatCore": "genaisys.core.chat",
    "MultimodalCore": "genaisys.core.multimodal",
    "MultimodalCoreConfig": "genaisys.core.multimodal",
    "VisionEncoderConfig": "genaisys.core.encoders",
    "build_connector": "genaisys.core.connectors",
    "build_vision_encoder": "genaisys.core.encoders",
    "register_connector": "genaisys.core.connectors",
    "register_vision_encoder": "genaisys.core.encoders",
    "load_core": "genaisys.core.loading",
    "NativeCore": "genaisys.core.native",
    "RemoteCore": "genaisys.core.remote",
    "VCDConfig": "genaisys.core.vcd",
    "parse_tool_calls": "genaisys.core.toolcall",
    "render_tools_prompt": "genaisys.core.toolcall",
}

__all__ = sorted(_LAZY)

if TYPE_CHECKING:
    from genaisys.core.chat import ChatCore
    from genaisys.core.connectors import build_connector, register_connector
    from genaisys.core.encoders import VisionEncoderConfig, build_vision_encoder, register_vision_encoder
    from genaisys.core.loading import load_core
    from genaisys.core.multimodal import MultimodalCore, MultimodalCoreConfig
    from genaisys.core.native import NativeCore
    from genaisys.core.remote import RemoteCore
    from genaisys.core.toolcall import parse_tool_calls, render_tools_prompt
    from genaisys.core.vcd import VCDConfig


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
