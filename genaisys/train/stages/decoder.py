"""Stage 4: decoder-side alignment (NExT-GPT): the signal-token output projector learns to
produce what a decoder is conditioned on.

A row is a conversation whose assistant turn holds a modality's signal tokens (``[IMG0]…[IMG3]``
— `genaisys.core.multimodal.signal_token_names`; a ``generate_image`` call carrying a
``signal_embeddings`` reference renders as them) plus ``target_caption``, the text the decoder
would have been prompted with. The decoder's own text encoder (``conditioner``: captions →
``(B, out_tokens, out_dim)``) embeds the caption once (cached), and the loss is the LM loss on the
assistant turns + ``scale`` × the mean squared distance between the projected signal tokens and
that embedding. Rows without signal tokens and caption take the LM loss only: mixed in, they
teach the core when *not* to emit them. By default only the projector trains
(``train=("output_projectors",)``); add ``"lora"`` to let the LM learn when to emit the tokens.

Example:
    >>> stage = DecoderAlignmentStage(chat, conditioner=decoder.encode_prompt, modality="image")  # doctest: +SKIP
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F

from genaisys.errors import ConfigError
from genaisys.train.stages._common import image_inputs, pad_batch, select_trainable
from genaisys.train.stages.conversation import ConversationStage

__all__ = ["DecoderAlignmentStage", "fit_output_projector"]


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
        frozen_context: as in `ConversationStage`: prompt tokens more than this many before the
            first label run as a gradient-free cache (``None``: all train).
    """

    name = "decoder"

    def __init__(self, chat: Any, conditioner: Callable[[list[str]], torch.Tensor], *, modality: str = "image",
                 scale: float = 1.0, train: Sequence[str] = ("output_projectors",), features: Any = None,
                 base_dir: str | Path | None = None, frozen_context: int | None = None) -> None:
        core = chat.core
        if modality not in getattr(core, "output_projectors", {}):
            raise ConfigError(f"the core has no output projector for {modality!r}; build it with "
                              f"signal_tokens={{{modality!r}: k}} and output_projectors={{{modality!r}: ...}}")
        self.chat, self.conditioner, self.modality, self.scale = chat, conditioner, modality, scale
        self.train, self.features, self.frozen_context = tuple(train), features, frozen_context
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
        captions = [str(row.get("target_caption") or "") if isinstance(row, Mapping) else "" for row in rows]
        encoded = [self._conversations.encode(r) for r in rows]
        first = self.chat.core.signal_token_ids[self.modality][0]
        for i, (caption, enc) in enumerate(zip(captions, encoded)):
            if bool(caption) != (first in enc.input_ids):
                raise ConfigError(
                    f"decoder-alignment row {rows[i].get('id', i) if isinstance(rows[i], Mapping) else i}: "
                    + ("has 'target_caption' but no signal tokens (a generate_" + self.modality + " call with a "
                       "signal_embeddings reference renders as them)" if caption else
                       "holds signal tokens but no 'target_caption' (the text the decoder embeds)"))
        batch = pad_batch(encoded, self.chat.tokenizer.pad_token_id)
        batch.update(image_inputs(self.chat.core, [b for e in encoded for b in e.images], self.features,
                                  self.chat.blobs))
        with_caption = [c for c in captions if c]
        if with_caption:
            batch["target"] = self._target(with_caption)
        return batch

    def loss(self, model: Any, batch: Mapping[str, Any]) -> tuple[Any, dict[str, float]]:
        inputs = {k: v for k, v in batch.items() if k != "target"}
        scores = model(**inputs, score_labels=True, signal_modality=self.modality, frozen_context=self.frozen_context)
        if scores.signals is None:  # no row of this batch asks for the modality: LM loss alone
            return scores.loss, {"lm": float(scores.loss.detach())}
        target = batch["target"].to(scores.signals.device)
        if target.shape[1:] != scores.signals.shape[1:]:
            raise ConfigError(f"the decoder's conditioning is {tuple(target.shape[1:])} per caption but the output "
                              f"projector makes {tuple(scores.signals.shape[1:])}; set the projector's out_tokens "
                              "and out_dim to the decoder's")
        l2 = F.mse_loss(scores.signals.float(), target.float())
        return scores.loss + self.scale * l2, {"lm": float(scores.loss.detach()), "l2": float(l2.detach())}


def fit_output_projector(chat: Any, rows: Sequence[Mapping[str, Any]], conditioner: Callable[[list[str]], torch.Tensor],
                         *, modality: str = "image", epochs: int = 300, lr: float = 1e-3, batch_size: int = 64,
                         holdout: float = 0.1, seed: int = 0, base_dir: str | Path | None = None,
                         log: Callable[[str], None] | None = None) -> dict[str, float]:
    """Fit only the output projector, on the signal tokens' hidden states computed once.

    With the LM (and its LoRA) fixed, the hidden states at the signal tokens of each row with a
    ``target_caption`` do not change while the projector trains: they are computed in one
    gradient-free pass and the projector is fitted to the captions' conditioning in seconds, for
    as many epochs as it needs — after a `DecoderAlignmentStage` run whose joint steps moved the
    LM, say. The rows of a ``holdout`` share of the distinct captions (seeded) are left out of the
    fit and measure how well it carries to captions it never saw.

    Returns:
        ``{"rows", "epoch", "train_l2", "holdout_l2", "zero_l2"}``: the epoch kept (the one best on the
        captions left out; 0 = none bettered the projector it started from), mean squared error ×
        ``out_dim`` (the squared distance for unit targets) there, and that of predicting zeros
        (the scale to beat).
    """
    import random

    core = chat.core
    rows = [r for r in rows if r.get("target_caption")]
    if not rows:
        raise ConfigError("no row has a target_caption to fit the output projector to")
    stage = ConversationStage(chat, name="decoder", train=(), train_on="last", base_dir=base_dir)
    hidden, captions = [], []
    core.eval()
    with torch.no_grad():
        for row in rows:
            enc = stage.encode(row)
            batch = pad_batch([enc], chat.tokenizer.pad_token_id)
            batch.update(image_inputs(core, list(enc.images), None, chat.blobs))
            prep = core.prepare_inputs(batch["input_ids"], batch["attention_mask"], batch.get("pixel_values"),
                                       padding_side="right")
            out = core.language_model(**prep, output_hidden_states=True)
            hidden.append(core.signal_hidden_states(out.hidden_states[-1], batch["input_ids"], modality)[0].float())
            captions.append(str(row["target_caption"]))
        target = conditioner(captions).float()  # (N, out_tokens, out_dim)
    x = torch.stack(hidden)  # (N, k, d)
    distinct = sorted(set(captions))
    random.Random(seed).shuffle(distinct)
    unseen = set(distinct[:int(len(distinct) * holdout)]) if len(distinct) > 4 else set()
    test = [i for i, c in enumerate(captions) if c in unseen]
    train = [i for i, c in enumerate(captions) if c not in unseen]
    proj = core.output_projectors[modality]
    dtype = next(proj.parameters()).dtype
    scale = target.shape[-1]

    def l2(idx: list[int]) -> float:
        with torch.no_grad():
            return float(F.mse_loss(proj(x[idx].to(dtype)).float(), target[idx]) * scale) if idx else float("nan")

    # the epoch whose projector does best on the captions left out is kept (with none left out: the last)
    best, best_state, best_epoch = l2(test) if test else float("inf"), copy.deepcopy(proj.state_dict()), 0
    proj.requires_grad_(True).train()
    opt = torch.optim.AdamW(proj.parameters(), lr=lr, weight_decay=0.01)
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        perm = torch.tensor(train)[torch.randperm(len(train), generator=gen)]
        for i in range(0, len(perm), batch_size):
            idx = perm[i:i + batch_size]
            loss = F.mse_loss(proj(x[idx].to(dtype)).float(), target[idx]) * scale
            opt.zero_grad()
            loss.backward()
            opt.step()
        held = l2(test) if test else -float(epoch)
        if held < best:
            best, best_state, best_epoch = held, copy.deepcopy(proj.state_dict()), epoch + 1
        if log and (epoch + 1) % max(1, epochs // 5) == 0:
            log(f"output projector: epoch {epoch + 1}/{epochs}, train l2 {loss.item():.4f}, held-out l2 {held:.4f}")
    proj.load_state_dict(best_state)
    proj.eval().requires_grad_(False)
    return {"rows": len(rows), "epoch": best_epoch, "train_l2": round(l2(train), 4), "holdout_l2": round(l2(test), 4),
            "zero_l2": round(float((target ** 2).mean() * scale), 4)}
