"""Stages 1 and 2: next-token loss on the assistant turns of conversations.

* ``align`` (pre-alignment, LLaVA stage 1): the connector only; encoder and LLM frozen; images
  usually come as cached vision features (`genaisys.train.features`). Data: image → caption.
* ``sft`` (instruction tuning, LLaVA stage 2): connector + LoRA on multimodal conversations,
  tool calls and tool results included; the loss covers assistant turns only.

Example:
    >>> stage = ConversationStage(chat, name="sft", train=("connector", "lora"))  # doctest: +SKIP
    >>> batch = stage.collate(records[:8])  # doctest: +SKIP
    >>> loss, extra = stage.loss(chat.core, batch)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from genaisys.train.encoding import Encoded, encode_conversation
from genaisys.train.stages._common import as_messages, image_inputs, pad_batch, select_trainable

__all__ = ["ConversationStage"]


class ConversationStage:
    """Assistant-turn language modelling (``align`` and ``sft``).

    Args:
        chat: the `ChatCore` over the `MultimodalCore` to train (its renderer defines the format).
        name: ``"align"`` or ``"sft"`` (any name; only used in logs and checkpoints).
        train: the parts to train (`genaisys.train.stages._common.TRAINABLE_PARTS`).
        features: a `VisionFeatureCache` to read images from (frozen tower only).
        train_on: ``"all"`` assistant turns or the ``"last"``.
        max_length: cut longer conversations (in tokens, images counted as one).
        base_dir: folder that relative image paths in records resolve against.
        frozen_context: run the prompt up to this many tokens before the first label without
            gradients (`MultimodalCore.forward`); ``None``: backpropagate through all of it.
    """

    def __init__(self, chat: Any, *, name: str = "sft", train: Sequence[str] = ("connector", "lora"),
                 features: Any = None, train_on: str = "all", max_length: int | None = None,
                 base_dir: str | Path | None = None, frozen_context: int | None = None) -> None:
        self.chat, self.name, self.train = chat, name, tuple(train)
        self.features, self.train_on, self.max_length, self.base_dir = features, train_on, max_length, base_dir
        self.frozen_context = frozen_context
        self._encoded: dict[int, tuple[Any, Encoded]] = {}  # id(row) → (row kept alive, its encoding)

    def encode(self, row: Any) -> Encoded:
        """One dataset row → ids, labels and image blocks (memoised per row object).

        A record's own ``"train_on"`` (sessions → data marks unapproved earlier answers so) wins
        over the stage's.
        """
        if isinstance(row, Encoded):
            return row
        key = id(row)
        if key not in self._encoded:
            messages, tools = as_messages(row, self.base_dir)
            train_on = row.get("train_on", self.train_on) if isinstance(row, dict) else self.train_on
            self._encoded[key] = (row, encode_conversation(self.chat, messages, tools, train_on=train_on,
                                                           max_length=self.max_length))
        return self._encoded[key][1]

    def image_blocks(self, rows: Sequence[Any]) -> list[dict[str, Any]]:
        """Every image block of ``rows`` (to build a feature cache over a dataset)."""
        return [b for row in rows for b in self.encode(row).images]

    def setup(self, model: Any) -> list[Any]:
        return select_trainable(model, self.train)

    def collate(self, rows: Sequence[Any]) -> dict[str, Any]:
        encoded = [self.encode(r) for r in rows]
        batch = pad_batch(encoded, self.chat.tokenizer.pad_token_id)
        blocks = [b for e in encoded for b in e.images]
        batch.update(image_inputs(self.chat.core, blocks, self.features, self.chat.blobs))
        return batch

    def loss(self, model: Any, batch: Mapping[str, Any]) -> tuple[Any, dict[str, float]]:
        extra = {"frozen_context": self.frozen_context} if self.frozen_context is not None else {}
        scores = model(**batch, score_labels=True, **extra)
        return scores.loss, {"tokens": float(scores.n_tokens.sum())}
