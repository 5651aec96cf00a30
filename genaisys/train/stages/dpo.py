"""Stage 3: preference alignment with DPO against a frozen reference (Rafailov et al., 2023).

Each row is a prompt (a conversation ending on a user or tool turn) with a *chosen* and a
*rejected* assistant answer. The loss is
``-log σ(β · [(log π(c) − log π_ref(c)) − (log π(r) − log π_ref(r))])`` over the answer tokens.
The reference is the model as it is when training starts (usually the SFT result): its
log-probabilities are computed once, before the first step (`DPOStage.setup`), so the
reference costs one pass over the data and no second copy of the model.

Rows: preference records (`genaisys.train.data`: ``conversations`` + ``chosen`` + ``rejected``)
or ``(messages, chosen AIMessage, rejected AIMessage[, tools])`` tuples.

Example:
    >>> stage = DPOStage(chat, rows, beta=0.1)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F

from genaisys.errors import ConfigError
from genaisys.train.encoding import Encoded, encode_conversation
from genaisys.train.stages._common import core_of, image_inputs, pad_batch, select_trainable

__all__ = ["DPOStage"]


def _answer_message(value: Any) -> Any:
    from langchain_core.messages import AIMessage

    if isinstance(value, AIMessage):
        return value
    if isinstance(value, str):
        return AIMessage(content=value)
    if isinstance(value, Mapping):
        calls = [{"name": c["name"], "args": c.get("arguments", c.get("args", {})), "id": c.get("id") or f"call_{i}",
                  "type": "tool_call"} for i, c in enumerate(value.get("tool_calls") or [])]
        return AIMessage(content=str(value.get("value", "")), tool_calls=calls)
    raise ConfigError(f"a chosen/rejected answer must be a string, a gpt turn dict or an AIMessage, "
                      f"got {type(value).__name__}")


class DPOStage:
    """DPO on preference pairs.

    Args:
        chat: the `ChatCore` over the core to train.
        rows: the whole preference dataset (the reference log-probabilities are precomputed over it).
        beta: DPO temperature; larger keeps the policy closer to the reference.
        train: parts to train (default connector + LoRA).
        features: a `VisionFeatureCache` for the images.
        sft_weight: add this × the NLL of the chosen answer (keeps chosen likelihood from falling).
        reference_batch_size: rows per no-grad reference pass.
        base_dir: folder that relative image paths in records resolve against.
    """

    name = "dpo"

    def __init__(self, chat: Any, rows: Sequence[Any], *, beta: float = 0.1,
                 train: Sequence[str] = ("connector", "lora"), features: Any = None, sft_weight: float = 0.0,
                 reference_batch_size: int = 8, base_dir: str | Path | None = None) -> None:
        if beta <= 0:
            raise ConfigError(f"DPO beta must be > 0, got {beta}")
        self.chat, self.rows, self.beta, self.train = chat, list(rows), beta, tuple(train)
        self.features, self.sft_weight, self.base_dir = features, sft_weight, base_dir
        self.reference_batch_size = reference_batch_size
        self._pairs: dict[int, tuple[Any, tuple[Encoded, Encoded]]] = {}
        self._reference: dict[int, tuple[float, float]] = {}

    def pair(self, row: Any) -> tuple[Encoded, Encoded]:
        """A row → (chosen, rejected) encodings sharing the prompt."""
        key = id(row)
        if key not in self._pairs:
            if isinstance(row, Mapping):
                from genaisys.train.data import to_messages

                prompt_record = {k: v for k, v in row.items() if k not in ("chosen", "rejected")}
                messages, tools = to_messages(prompt_record, base_dir=self.base_dir)
                chosen, rejected = row.get("chosen"), row.get("rejected")
            else:
                messages, chosen, rejected, *rest = row
                tools = rest[0] if rest else None
            if chosen is None or rejected is None:
                raise ConfigError("a preference row needs both 'chosen' and 'rejected'")
            both = tuple(encode_conversation(self.chat, [*messages, _answer_message(a)], tools, train_on="last")
                         for a in (chosen, rejected))
            self._pairs[key] = (row, both)  # the row is kept alive so its id stays its own
        return self._pairs[key][1]

    def setup(self, model: Any) -> list[Any]:
        """Compute the reference log-probabilities (model as it is now), then unfreeze ``train``."""
        if not self._reference:
            core = core_of(model)
            was_training = core.training
            core.eval()
            with torch.no_grad():
                for start in range(0, len(self.rows), self.reference_batch_size):
                    chunk = self.rows[start:start + self.reference_batch_size]
                    logps = self._logps(model, self._inputs(chunk))
                    n = len(chunk)
                    for row, c, r in zip(chunk, logps[:n].tolist(), logps[n:].tolist()):
                        self._reference[id(row)] = (c, r)
            core.train(was_training)
        return select_trainable(model, self.train)

    def _inputs(self, rows: Sequence[Any]) -> dict[str, Any]:
        pairs = [self.pair(r) for r in rows]
        encoded = [p[0] for p in pairs] + [p[1] for p in pairs]  # chosen rows first, then rejected
        batch = pad_batch(encoded, self.chat.tokenizer.pad_token_id)
        batch.update(image_inputs(self.chat.core, [b for e in encoded for b in e.images], self.features,
                                  self.chat.blobs))
        return batch

    @staticmethod
    def _logps(model: Any, inputs: Mapping[str, Any]) -> torch.Tensor:
        return model(**inputs, score_labels=True).logps  # (2B,)

    def collate(self, rows: Sequence[Any]) -> dict[str, Any]:
        missing = [r for r in rows if id(r) not in self._reference]
        if missing:
            raise ConfigError("a DPO row has no reference log-probability: pass every row to DPOStage(rows=...) "
                              "and let the loop call setup() before training")
        batch = self._inputs(rows)
        batch["reference_logps"] = torch.tensor([self._reference[id(r)][0] for r in rows] +
                                                [self._reference[id(r)][1] for r in rows])
        return batch

    def loss(self, model: Any, batch: Mapping[str, Any]) -> tuple[Any, dict[str, float]]:
        inputs = {k: v for k, v in batch.items() if k != "reference_logps"}
        scores = model(**inputs, score_labels=True)
        n = scores.logps.shape[0] // 2
        ref = batch["reference_logps"].to(scores.logps.device)
        chosen = scores.logps[:n] - ref[:n]  # (B,) log π(c) − log π_ref(c)
        rejected = scores.logps[n:] - ref[n:]
        margin = self.beta * (chosen - rejected)
        loss = -F.logsigmoid(margin).mean()
        if self.sft_weight:
            loss = loss + self.sft_weight * (-scores.logps[:n] / scores.n_tokens[:n].clamp(min=1)).mean()
        return loss, {"reward_accuracy": float((margin > 0).float().mean()),
                      "reward_margin": float(margin.detach().mean() / self.beta),
                      "chosen_reward": float(chosen.detach().mean()), "rejected_reward": float(rejected.detach().mean())}
