"""NativeCore: an existing Hugging Face MLLM behind the same face as `MultimodalCore`.

LLaVA, SmolVLM, Idefics, Qwen-VL … load through ``AutoModelForImageTextToText`` and
``AutoProcessor`` (docs/architecture.md, "The CPU"). The model does its own image splicing; the
processor expands its image placeholder. `ChatCore` drives a `NativeCore` with the same
KV-cached loop, streaming, tools and stop sequences as a composed core.

Preprocessing stays torchvision-free: without torchvision installed, ``AutoProcessor`` picks
the ``*ImageProcessorPil`` classes. Whatever extra inputs a processor returns (LLaVA-NeXT's
``image_sizes``, Idefics3's ``pixel_attention_mask``) go to the model's prefill as they are.
Tested with tiny random LLaVA, LLaVA-NeXT and Idefics3 (SmolVLM) folders; Qwen2-VL's processor
also wants a video processor, which needs torchvision.

Example:
    >>> from genaisys.core.native import NativeCore
    >>> core = NativeCore.from_pretrained("/models/llava-1.5-7b-hf")  # doctest: +SKIP
    >>> from genaisys.core.chat import ChatCore
    >>> chat = ChatCore(core=core)  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from genaisys.errors import ConfigError, CoreError

__all__ = ["NativeCore", "is_native_mllm"]


def is_native_mllm(ref: str) -> bool:
    """True when ``ref`` (a folder or id) holds a model ``AutoModelForImageTextToText`` can load."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    try:
        config = AutoConfig.from_pretrained(ref)
    except (OSError, ValueError):
        return False
    return config.model_type in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES


class NativeCore(nn.Module):
    """A native HF MLLM and its processor.

    Attributes:
        model: the ``AutoModelForImageTextToText`` model (also exposed as ``language_model``,
            the module `ChatCore` runs step by step).
        processor: its ``AutoProcessor``; ``tokenizer`` is the processor's tokenizer.
        image_token / image_token_id: the processor's image placeholder.
    """

    is_native = True

    def __init__(self, model: nn.Module, processor: Any) -> None:
        super().__init__()
        self.model = model.eval()
        self.processor = processor
        self.tokenizer = getattr(processor, "tokenizer", None)
        if self.tokenizer is None:
            raise ConfigError(f"{type(processor).__name__} has no tokenizer; a native MLLM needs a text processor")
        self.image_token = getattr(processor, "image_token", None) or "<image>"
        self.image_token_id = self._image_token_id(model, self.tokenizer, self.image_token)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    @staticmethod
    def _image_token_id(model: nn.Module, tokenizer: Any, image_token: str) -> int:
        """The tokenizer's single id for ``image_token``, checked against the id the model splices
        image features at (``config.image_token_id``: LLaVA, LLaVA-NeXT, Qwen2-VL, Idefics3 …)."""
        found = tokenizer.convert_tokens_to_ids(image_token)
        unk = getattr(tokenizer, "unk_token_id", None)
        if found is None or (unk is not None and found == unk and image_token != tokenizer.unk_token):
            raise ConfigError(f"the tokenizer has no {image_token!r} token, which the processor writes for "
                              "images; add it as a special token (tokenizer.add_tokens) and size the model's "
                              "embeddings to the tokenizer")
        expected = getattr(getattr(model, "config", None), "image_token_id", None)
        if isinstance(expected, int) and expected != found:
            raise ConfigError(f"the processor's image token {image_token!r} is id {found} but the model splices "
                              f"images at id {expected}; save the model and processor from the same checkpoint")
        return int(found)

    @property
    def language_model(self) -> nn.Module:
        return self.model

    @classmethod
    def from_pretrained(cls, ref: str | Path, **model_kwargs: Any) -> NativeCore:
        """Load model and processor from a local folder (or a hub id where a hub is reachable)."""
        from transformers import AutoModelForImageTextToText, AutoProcessor

        try:
            processor = AutoProcessor.from_pretrained(str(ref))
            model = AutoModelForImageTextToText.from_pretrained(str(ref), **model_kwargs)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot load a native MLLM from {str(ref)!r}: {exc}") from exc
        return cls(model, processor)

    def render(self, turns: list[dict[str, Any]], *, add_generation_prompt: bool = True, **template_kwargs: Any) -> str:
        """Chat turns (text with ``image_token`` where images go) → the prompt, via the
        processor's chat template (content as typed parts) or else the tokenizer's."""
        template = getattr(self.processor, "chat_template", None)
        if template:
            parts_turns = []
            for turn in turns:
                pieces = turn["content"].split(self.image_token)
                parts: list[dict[str, Any]] = []
                for i, piece in enumerate(pieces):
                    if i:
                        parts.append({"type": "image"})
                    if piece:
                        parts.append({"type": "text", "text": piece})
                parts_turns.append({**turn, "content": parts})
            return self.processor.apply_chat_template(parts_turns, add_generation_prompt=add_generation_prompt,
                                                      tokenize=False, **template_kwargs)
        return self.tokenizer.apply_chat_template(turns, add_generation_prompt=add_generation_prompt, tokenize=False,
                                                  **template_kwargs)

    def prepare_inputs(self, prompts: list[str], images: list[Any]) -> dict[str, torch.Tensor]:
        """Prompts and their images (in order) → the model's inputs, via the processor."""
        # The chat template already wrote the special tokens: do not add a second BOS.
        kwargs: dict[str, Any] = {"text": prompts, "return_tensors": "pt", "padding": len(prompts) > 1,
                                  "add_special_tokens": False}
        if images:
            kwargs["images"] = images
        try:
            inputs = self.processor(**kwargs)
        except ValueError as exc:
            raise CoreError(f"the {type(self.processor).__name__} refused the input: {exc}") from exc
        device = next(self.model.parameters()).device
        return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}

    def forward(self, **inputs: Any) -> Any:
        return self.model(**inputs)

    @torch.no_grad()
    def generate(self, **kwargs: Any) -> torch.Tensor:
        """The model's own ``generate`` (returns prompt + new tokens, as transformers does)."""
        return self.model.generate(**kwargs)
