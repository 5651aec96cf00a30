"""The preflight check: one batch proves labels, placeholders and the template line up before
any step runs (LLaVA's most-reported failure is a template that silently masks every label and
trains on a loss of 0; docs/architecture.md, "References").

Checks, each with a message that says what to fix:

1. every row has labelled tokens (not all -100);
2. the labels hold the tokenizer's end-of-turn token (else the template's end-of-turn marker is
   not a special token of this tokenizer and the core would never learn to stop);
3. ``<image>`` placeholders and the batch's images agree in number, and features have the size
   the connector expects;
4. one forward pass gives a finite, non-zero loss.

Example:
    >>> check = make_preflight(stage, chat)  # doctest: +SKIP
    >>> check(stage.collate(rows[:4]))  # doctest: +SKIP
    {'rows': 4, 'labelled_tokens': 23, 'images': 4, 'loss': 2.31}
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch

from genaisys.errors import PreflightError
from genaisys.train.encoding import IGNORE_INDEX
from genaisys.train.stages._common import core_of

__all__ = ["make_preflight", "preflight"]


def _stop_ids(tokenizer: Any) -> set[int]:
    ids = {tokenizer.eos_token_id}
    for name in ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "</s>"):
        tid = tokenizer.convert_tokens_to_ids(name)
        if isinstance(tid, int) and tid != tokenizer.unk_token_id:
            ids.add(tid)
    return {i for i in ids if i is not None}


def preflight(stage: Any, model: Any, batch: Mapping[str, Any], tokenizer: Any) -> dict[str, Any]:
    """Check one batch (see the module doc); return a few facts about it.

    Raises:
        PreflightError: the batch would train on nothing, on misplaced images or with a template
            that does not match the tokenizer.
    """
    core = core_of(model)
    ids, labels = batch["input_ids"], batch["labels"]
    labelled = (labels != IGNORE_INDEX).sum(1)  # (B,)
    empty = [int(i) for i in torch.nonzero(labelled == 0).flatten()]
    if empty:
        raise PreflightError(
            f"{len(empty)} of {ids.shape[0]} rows in the first batch have every label masked (rows {empty[:5]}): "
            "nothing would be learned from them. Usual causes: the chat template does not render the assistant "
            "turn, the conversation has no assistant turn, or max_length cuts the answer off")
    stops = _stop_ids(tokenizer)
    rows_without_stop = [b for b in range(ids.shape[0])
                         if not any(int(t) in stops for t in labels[b][labels[b] != IGNORE_INDEX])]
    if rows_without_stop:
        names = sorted(tokenizer.convert_ids_to_tokens(sorted(stops)))
        raise PreflightError(
            f"the labelled answer of row {rows_without_stop[0]} never contains an end-of-turn token {names}: the "
            "chat template's end-of-turn marker is not a special token of this tokenizer (template and tokenizer "
            "do not match), so the core would never learn to stop. Use the tokenizer's own chat_template")
    image_id = getattr(core, "image_token_id", None)
    n_placeholders = int((ids == image_id).sum()) if image_id is not None else 0
    images = batch.get("vision_features", batch.get("pixel_values"))
    n_images = 0 if images is None else int(images.shape[0])
    if n_placeholders != n_images:
        raise PreflightError(
            f"the first batch has {n_placeholders} image placeholder(s) but {n_images} image(s): every image "
            "needs exactly one <image> in its turn and every placeholder an image")
    features = batch.get("vision_features")
    if features is not None:
        want = (core.vision_tower.n_tokens, core.vision_tower.hidden_size)
        if tuple(features.shape[1:]) != want:
            raise PreflightError(f"cached vision features are {tuple(features.shape[1:])} per image but this "
                                 f"core's tower makes {want}; rebuild the feature cache for this tower")
    with torch.no_grad():
        loss, _ = stage.loss(model, batch)
    value = float(loss)
    if not math.isfinite(value) or value == 0.0:
        raise PreflightError(f"the first batch's loss is {value}: check the labels and the learning setup")
    return {"rows": int(ids.shape[0]), "labelled_tokens": int(labelled.sum()), "images": n_images,
            "loss": round(value, 4)}


def make_preflight(stage: Any, chat: Any, model: Any = None) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """``preflight`` bound to a stage and a core, as the loop's ``preflight(batch)`` hook."""
    target = model if model is not None else chat.core

    def check(batch: Mapping[str, Any]) -> dict[str, Any]:
        return preflight(stage, target, batch, chat.tokenizer)

    return check
