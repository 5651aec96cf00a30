"""Stage 4: decoder-side alignment (NExT-GPT): the signal-token output projector learns to
produce what a decoder is conditioned on.

A row is a conversation whose assistant turn ends with a modality's signal tokens
(``[IMG0]…[IMG3]`` — `genaisys.core.multimodal.signal_token_names`) plus ``target_caption``,
the text the decoder would have been prompted with. The decoder's own text encoder
(``conditioner``: captions → ``(B, out_tokens, out_dim)``) embeds the caption once (cached), and
the loss is the LM loss on the assistant turn + ``scale`` × the mean squared distance between the
projected signal tokens and that embedding. By default the output projector and the new
only the projector trains (``train=("output_projectors",)``); add
``"lora"`` to let the LM learn when to emit the signal tokens.

Example:
    >>> stage = DecoderAlignmentStage(chat, conditioner=decoder.encode_prompt, modality="image")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F

from genaisys.errors import ConfigError
from genaisys.train.stages._common import image_inputs, pad_batch, select_trainable
from genaisys.train.stages.conversation import ConversationStage

__all__ = ["DecoderAlignmentStage"]


class DecoderAlignmentStage:
    """LM loss + ``scale`` × L2 to the decoder's conditioning of ``target_caption``.

    Args:
        chat: the `ChatCore` over a core with signal tokens and an output projector for ``modality``.
        conditioner: the decoder's text encoder, ``list[str] -> Tensor (B, out_tokens, out_dim)``.
        modality: ``"image"``, ``"audio"`` or ``"video"``.
        scale: weight of the L2 term.
        train: parts to train.
        features: a `VisionFeatureCache` for input images (if rows have any).
        base_dir: folder that relative image paths in records resolve against.
    """

    name = "decoder"

    def __init__(self, chat: Any, conditioner: Callable[[list[str]], torch.Tensor], *, modality: str = "image",
                 scale: float = 1.0, train: Sequence[str] = ("output_projectors",), features: Any = None,
                 base_dir: str | Path | None = None) -> None:
        core = chat.core
        if modality not in getattr(core, "output_projectors", {}):
            raise ConfigError(f"the core has no output projector for {modality!r}; build it with "
                              f"signal_tokens={{{modality!r}: k}} and output_projectors={{{modality!r}: ...}}")
        self.chat, self.conditioner, self.modality, self.scale = chat, conditioner, modality, scale
        self.train, self.features = tuple(train), features
        self._conversations = ConversationStage(chat, name="decoder", train=train, features=features,
                                                train_on="last", base_dir=base_dir)
        self._targets: dict[str, torch.Tensor] = {}

    def setup(self, model: Any) -> list[Any]:
        return select_trainable(model, self.train)

    def _target(self, captions: list[str]) -> torch.Tensor:
        todo = [c for c in dict.fromkeys(captions) if c not in self._targets]
        if todo:
            with torch.no_grad():
                embedded = self.conditioner(todo)  # (n, out_tokens, out_dim)
            for caption, emb in zip(todo, embedded):
                self._targets[caption] = emb.detach().to("cpu", torch.float32)
        return torch.stack([self._targets[c] for c in captions])

    def collate(self, rows: Sequence[Any]) -> dict[str, Any]:
        captions = []
        for row in rows:
            caption = row.get("target_caption") if isinstance(row, Mapping) else None
            if not caption:
                raise ConfigError("a decoder-alignment row needs 'target_caption' (the text the decoder embeds)")
            captions.append(str(caption))
        encoded = [self._conversations.encode(r) for r in rows]
        batch = pad_batch(encoded, self.chat.tokenizer.pad_token_id)
        batch.update(image_inputs(self.chat.core, [b for e in encoded for b in e.images], self.features,
                                  self.chat.blobs))
        batch["target"] = self._target(captions)
        return batch

    def loss(self, model: Any, batch: Mapping[str, Any]) -> tuple[Any, dict[str, float]]:
        inputs = {k: v for k, v in batch.items() if k != "target"}
        scores = model(**inputs, score_labels=True, signal_modality=self.modality)
        target = batch["target"].to(scores.signals.device)
        if target.shape[1:] != scores.signals.shape[1:]:
            raise ConfigError(f"the decoder's conditioning is {tuple(target.shape[1:])} per caption but the output "
                              f"projector makes {tuple(scores.signals.shape[1:])}; set the projector's out_tokens "
                              "and out_dim to the decoder's")
        l2 = F.mse_loss(scores.signals.float(), target.float())
        return scores.loss + self.scale * l2, {"lm": float(scores.loss.detach()), "l2": float(l2.detach())}
