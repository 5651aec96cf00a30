"""`load_core`: one call from a name or a folder to a ready `ChatCore`.

Specs:

* ``"nano"`` — the embedded default (docs/architecture.md, "The embedded default"): packaged EfficientNet-Lite0 →
  ``mlp2x_gelu`` → packaged SmolLM2-135M-Instruct. When trained parts ship in the repo folder
  ``genaisys/core/nano/`` (the `MultimodalCore.save_pretrained` layout) they are loaded; until
  then the connector is freshly initialised with seed 0 — an *untrained* core that reads text
  well and images not at all.
* a folder holding ``genaisys_core.json`` — `MultimodalCore.from_pretrained` on it.
* a folder/id of a native Hugging Face MLLM (LLaVA, SmolVLM, Idefics, Qwen-VL …) — a `ChatCore`
  over a `NativeCore` (``AutoModelForImageTextToText`` + ``AutoProcessor``).
* ``"asset:smollm2"``, or any folder/id of a plain causal LM — a text-only `ChatCore` over it.

Example:
    >>> from genaisys.core.loading import load_core
    >>> chat = load_core("nano", max_new_tokens=32)  # doctest: +SKIP
    >>> chat.invoke("Say hi.").content  # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from genaisys.core.chat import ChatCore
from genaisys.core.encoders import VisionEncoderConfig
from genaisys.core.multimodal import CONFIG_NAME, MultimodalCore, MultimodalCoreConfig, resolve_model_ref
from genaisys.errors import ConfigError
from genaisys.types import BlobReader

__all__ = ["NANO_DIR", "hub_offline", "load_core", "nano_config"]

NANO_DIR = Path(__file__).parent / "nano"
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")  # 'name' or 'org/name'


def nano_config() -> MultimodalCoreConfig:
    """The nano core's architecture: EfficientNet-Lite0 (49×1280) → mlp2x_gelu → SmolLM2-135M (576-d)."""
    return MultimodalCoreConfig(vision=VisionEncoderConfig(name="efficientnet-lite0"), connector="mlp2x_gelu",
                                language_model="asset:smollm2", native_domain="shapes")


def hub_offline() -> bool:
    """True when the Hugging Face hub is switched off (``HF_HUB_OFFLINE`` set now or at import)."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}:
        return True
    try:
        from huggingface_hub import constants
    except ImportError:
        return False
    return bool(constants.HF_HUB_OFFLINE)


def _untrained_nano() -> MultimodalCore:
    import torch

    from genaisys.core.connectors import build_connector

    core = MultimodalCore(nano_config())
    # Seed only the connector's init, so it is the same whatever loaded before (and the caller's
    # RNG stream is left untouched).
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        core.connector = build_connector(core.config.connector, core.vision_tower.hidden_size,
                                         core.language_model.get_input_embeddings().weight.shape[1],
                                         n_tokens=core.config.n_image_tokens)
    return core


def load_core(spec: str = "nano", *, blobs: BlobReader | None = None, **chat_kwargs: Any) -> ChatCore:
    """Load a core by name or folder and wrap it as a LangChain chat model.

    Args:
        spec: ``"nano"``, a folder written by `MultimodalCore.save_pretrained`, ``"asset:smollm2"``,
            or a folder / id of a causal LM (text only).
        blobs: optional blob store for ``file_id`` image blocks (``.path(blob_id) -> Path``).
        **chat_kwargs: `ChatCore` fields (``max_new_tokens``, ``temperature``, ``system_prompt``,
            ``dtype`` — ``"auto"``, ``"float32"`` or ``"bfloat16"``, see `genaisys.core.precision` …).

    Raises:
        ConfigError: an unknown ``dtype``; ``spec`` is neither a known name nor a loadable folder/id;
            with the hub offline (``HF_HUB_OFFLINE=1``), a hub id that is not in the local cache says
            so (the loader's own error is kept as ``__cause__``).
    """
    name = chat_kwargs.pop("model_name", None)
    if spec == "nano":
        core = MultimodalCore.from_pretrained(NANO_DIR) if (NANO_DIR / CONFIG_NAME).is_file() else _untrained_nano()
        return ChatCore(core=core, blobs=blobs, model_name=name or "genaisys-nano", **chat_kwargs)
    path = Path(spec).expanduser()
    if (path / CONFIG_NAME).is_file():
        core = MultimodalCore.from_pretrained(path)
        return ChatCore(core=core, blobs=blobs, model_name=name or path.name, **chat_kwargs)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from genaisys.core.native import NativeCore, is_native_mllm

    ref = resolve_model_ref(spec)
    if not Path(ref).expanduser().exists() and not _HUB_ID.fullmatch(ref):
        raise ConfigError(f"cannot load core {spec!r}: it is not 'nano', and no folder exists at "
                          f"{Path(ref).expanduser()} (nor is it a hub id like 'org/name')")
    if not Path(ref).expanduser().exists() and hub_offline():
        from transformers import AutoConfig

        try:  # a hub model already in the local Hugging Face cache still loads offline
            AutoConfig.from_pretrained(ref)
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot load core {spec!r}: the model hub is offline here (HF_HUB_OFFLINE=1), and {spec!r} is "
                "neither a local folder nor in the local Hugging Face cache. Hub ids work only where a hub is "
                "reachable; use load_core('nano') (the packaged default) or a local folder (a saved core, a "
                "native MLLM or a causal LM) instead") from exc
    if is_native_mllm(ref):
        return ChatCore(core=NativeCore.from_pretrained(ref), blobs=blobs, model_name=name or Path(ref).name,
                        **chat_kwargs)
    try:
        tokenizer = AutoTokenizer.from_pretrained(ref)
        model = AutoModelForCausalLM.from_pretrained(ref)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load core {spec!r}: it is not 'nano', not a folder with {CONFIG_NAME}, and "
                          f"not a loadable causal LM ({exc})") from exc
    model.eval()
    return ChatCore(language_model=model, tokenizer=tokenizer, blobs=blobs, model_name=name or spec, **chat_kwargs)
