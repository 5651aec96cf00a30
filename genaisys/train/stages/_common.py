"""What the stages share: records → messages, padding, image inputs, freezing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from genaisys.errors import ConfigError
from genaisys.train.encoding import IGNORE_INDEX, Encoded
from genaisys.types import BlobReader

__all__ = ["TRAINABLE_PARTS", "as_messages", "core_of", "image_inputs", "pad_batch", "select_trainable"]

# What a stage may train: LLaVA's names for the parts.
TRAINABLE_PARTS = ("connector", "lora", "output_projectors", "signal_rows", "cross_attention", "language_model",
                   "vision_tower")


def core_of(model: Any) -> Any:
    """The `MultimodalCore` inside a wrapper (DDP, Accelerate) or the model itself."""
    while hasattr(model, "module") and not hasattr(model, "prepare_inputs"):
        model = model.module
    return model


def as_messages(row: Any, base_dir: Any = None) -> tuple[list[Any], list[Any] | None]:
    """A dataset row → ``(messages, tools)``: a record dict (`genaisys.train.data`), a
    ``(messages, tools)`` pair, or a list of messages."""
    if isinstance(row, dict):
        from genaisys.train.data import to_messages

        return to_messages(row, base_dir=base_dir)
    if isinstance(row, tuple) and len(row) == 2:
        return list(row[0]), (list(row[1]) if row[1] else None)
    if isinstance(row, list):
        return row, None
    raise ConfigError(f"a training row must be a record dict, a (messages, tools) pair or a message list, "
                      f"got {type(row).__name__}")


def select_trainable(model: Any, parts: Sequence[str]) -> list[torch.nn.Parameter]:
    """Freeze everything, then unfreeze ``parts`` (names from `TRAINABLE_PARTS`); return them.

    ``lora`` means the peft adapters (`MultimodalCore.add_lora` first); ``language_model`` the whole LM;
    ``signal_rows`` the embedding rows of the signal tokens (the LM can only learn to emit a new
    token whose row can move: a frozen row starts at the mean of the others and no hidden state
    the adapters reach makes it the likeliest): the embedding matrices train, with a gradient
    mask that keeps every other row as it was.
    """
    core = core_of(model)
    unknown = sorted(set(parts) - set(TRAINABLE_PARTS))
    if unknown:
        raise ConfigError(f"unknown trainable part(s) {unknown}; choose from {', '.join(TRAINABLE_PARTS)}")
    core.requires_grad_(False)
    params: list[torch.nn.Parameter] = []
    for part in parts:
        if part == "lora":
            found = [p for n, p in core.language_model.named_parameters() if "lora_" in n]
            if not found:
                raise ConfigError("the stage trains 'lora' but the core has no LoRA adapters; "
                                  "call core.add_lora(...) first (or set lora: in the config)")
        elif part == "signal_rows":
            found = _signal_rows(core)
        else:
            module = getattr(core, part, None)
            found = list(module.parameters()) if module is not None else []
            if not found:
                raise ConfigError(f"the stage trains {part!r} but this core has none")
        params += found
    for p in params:
        p.requires_grad_(True)
    return params


def _signal_rows(core: Any) -> list[torch.nn.Parameter]:
    """The embedding matrices (input, and output when untied), their gradients masked to the signal rows."""
    ids = sorted(i for token_ids in getattr(core, "signal_token_ids", {}).values() for i in token_ids)
    if not ids:
        raise ConfigError("the stage trains 'signal_rows' but this core has no signal tokens; "
                          "add them with core.add_signal_tokens(...) first")
    lm = core.language_model
    weights = [lm.get_input_embeddings().weight]
    out = lm.get_output_embeddings()
    if out is not None and out.weight is not weights[0]:
        weights.append(out.weight)
    for weight in weights:
        weight.requires_grad_(True)
        if not getattr(weight, "_genaisys_signal_mask", False):  # one hook per matrix, however often selected
            mask = torch.zeros(weight.shape[0], 1, dtype=weight.dtype, device=weight.device)
            mask[ids] = 1.0
            weight.register_hook(lambda grad, mask=mask: grad * mask.to(grad.dtype))
            weight._genaisys_signal_mask = True
    return weights


def pad_batch(encoded: Sequence[Encoded], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad ids, labels and the attention mask: ``(B, L)`` each."""
    length = max(len(e.input_ids) for e in encoded)
    ids = torch.full((len(encoded), length), pad_id, dtype=torch.long)
    labels = torch.full((len(encoded), length), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(encoded), length), dtype=torch.long)
    for b, e in enumerate(encoded):
        n = len(e.input_ids)
        ids[b, :n] = torch.tensor(e.input_ids)
        labels[b, :n] = torch.tensor(e.labels)
        mask[b, :n] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def image_inputs(core: Any, blocks: Sequence[dict[str, Any]], features: Any = None,
                 blobs: BlobReader | None = None) -> dict[str, torch.Tensor]:
    """The batch's images as cached ``vision_features`` (when a cache is given) or ``pixel_values``."""
    if not blocks:
        return {}
    if features is not None:
        return {"vision_features": features.get(blocks)}  # (N, n_vis, d_vis)
    from genaisys.core.media import load_image_block

    return {"pixel_values": core.preprocess_images([load_image_block(b, blobs) for b in blocks])}  # (N, 3, H, W)
