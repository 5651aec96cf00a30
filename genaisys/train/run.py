"""`run_stage`: one `TrainConfig` → a trained core (what ``genaisys train <stage>`` runs).

It loads the core named by ``config.core`` (``"nano"``, a saved core's folder …), adds LoRA
adapters when the config asks and the core has none, reads the records, builds the stage,
caches frozen vision features when the tower is frozen, checks one batch (`preflight`) and runs
the loop (`genaisys.train.loop.train`). The trained parts land in ``loop.output_dir/final`` as a
`MultimodalCore.save_pretrained` folder — loadable with ``load_core(path)`` and usable as the
``core`` of the next stage.

``stage_options`` by stage:

* all: ``train`` (parts; defaults below), ``features`` (cache vision features: default true when
  the tower is frozen), ``feature_dir`` (default ``<genaisys cache>/features``), ``max_length``,
  ``group_by_length`` (batches of similar length, in a seeded random order: a 700-token tool
  conversation then never pads a batch of 50-token questions; default false), ``max_batch_tokens``
  (instead of a fixed ``batch_size``: micro-batches of similar length packed up to this many padded
  tokens, `pack_by_tokens` — the loop then takes one group per micro-batch).
* ``align``: trains ``[connector]``; ``sft``: ``[connector, lora]`` and ``train_on`` (``all``/``turn``/``last``).
  Both take ``frozen_context`` (tokens before the first label that keep gradients; the prompt
  before them runs as a gradient-free cache — long tool and context prompts train ~2× faster).
* ``dpo``: ``beta`` (0.1), ``sft_weight`` (0), trains ``[connector, lora]``.
* ``decoder``: ``decoder`` (``"shapes"`` — the shipped shape decoder — or a folder of one; its
  ``encode_prompt`` gives the conditioning), ``modality`` (``image``), ``scale`` (1.0),
  ``frozen_context`` (as for ``sft``); trains ``[output_projectors]``.

Example:
    >>> from genaisys.train.config import load_config
    >>> result = run_stage(load_config("genaisys/train/configs/sft.yaml"))  # doctest: +SKIP
    >>> result.output_dir / "final"  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from genaisys.errors import ConfigError

__all__ = ["RowGroup", "build_stage", "group_by_length", "pack_by_tokens", "run_stage"]

_DEFAULT_TRAIN = {"align": ("connector",), "sft": ("connector", "lora"), "dpo": ("connector", "lora"),
                  "decoder": ("output_projectors",)}
_COMMON = {"train", "features", "feature_dir", "max_length", "group_by_length", "max_batch_tokens"}
_CONVERSATION = _COMMON | {"train_on", "frozen_context"}
_ALLOWED = {"align": _CONVERSATION, "sft": _CONVERSATION, "dpo": _COMMON | {"beta", "sft_weight"},
            "decoder": _COMMON | {"decoder", "modality", "scale", "frozen_context"}}


def _conditioner(name: str) -> Callable[[list[str]], Any]:
    """The text encoder of the decoder to align with: ``"shapes"`` (genaisys's own shape decoder,
    shipped) or a folder holding a trained shape decoder."""
    from genaisys.tools.decoders.shapes import ShapeImageDecoder

    decoder = ShapeImageDecoder() if name == "shapes" else ShapeImageDecoder(name)
    return decoder.encode_prompt


def build_stage(stage: str, chat: Any, records: list[Any], options: Mapping[str, Any], *,
                features: Any = None) -> Any:
    """The `Stage` object for ``stage`` with ``options`` (see the module doc)."""
    from genaisys.train.stages import ConversationStage, DecoderAlignmentStage, DPOStage

    unknown = sorted(set(options) - _ALLOWED[stage])
    if unknown:
        raise ConfigError(f"unknown stage_options for {stage!r}: {unknown}; allowed: {sorted(_ALLOWED[stage])}")
    train = tuple(options.get("train") or _DEFAULT_TRAIN[stage])
    if stage in ("align", "sft"):
        return ConversationStage(chat, name=stage, train=train, features=features,
                                 train_on=options.get("train_on", "all"), max_length=options.get("max_length"),
                                 frozen_context=options.get("frozen_context"))
    if stage == "dpo":
        return DPOStage(chat, records, beta=float(options.get("beta", 0.1)), train=train, features=features,
                        sft_weight=float(options.get("sft_weight", 0.0)))
    if "decoder" not in options:
        raise ConfigError("the decoder stage needs stage_options.decoder: the decoder whose conditioning to learn")
    return DecoderAlignmentStage(chat, _conditioner(str(options["decoder"])), modality=options.get("modality", "image"),
                                 scale=float(options.get("scale", 1.0)), train=train, features=features,
                                 frozen_context=options.get("frozen_context"))


def _encodings(stage: Any, row: Any) -> list[Any]:
    from genaisys.train.stages import DPOStage

    if isinstance(stage, DPOStage):
        return list(stage.pair(row))
    encode = stage.encode if hasattr(stage, "encode") else stage._conversations.encode
    return [encode(row)]


def _image_blocks(stage: Any, records: list[Any]) -> list[dict[str, Any]]:
    return [b for r in records for enc in _encodings(stage, r) for b in enc.images]


def group_by_length(rows: list[Any], length: Callable[[Any], int], batch_size: int, seed: int) -> list[Any]:
    """Reorder ``rows`` so that consecutive ``batch_size`` runs have similar lengths, the runs in
    a seeded random order (train with the loop's ``shuffle`` off).

    Example:
        >>> group_by_length([5, 1, 4, 2, 3, 6], lambda r: r, 2, seed=0)
        [1, 2, 5, 6, 3, 4]
    """
    import random

    order = sorted(range(len(rows)), key=lambda i: length(rows[i]))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    random.Random(seed).shuffle(batches)
    return [rows[i] for batch in batches for i in batch]


class RowGroup(list):
    """Rows trained as one micro-batch (`pack_by_tokens`); the loop counts its rows."""

    @property
    def n_rows(self) -> int:
        return len(self)


class _PackedStage:
    """A stage over `RowGroup` rows: each group is collated as one batch of its rows."""

    def __init__(self, stage: Any) -> None:
        self.stage, self.name = stage, stage.name

    def setup(self, model: Any) -> list[Any]:
        return self.stage.setup(model)

    def collate(self, rows: list[Any]) -> Any:
        return self.stage.collate([r for group in rows for r in group])

    def loss(self, model: Any, batch: Any) -> Any:
        return self.stage.loss(model, batch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stage, name)


def pack_by_tokens(rows: list[Any], length: Callable[[Any], int], max_tokens: int, seed: int, *,
                   max_rows: int = 32) -> list[RowGroup]:
    """Group ``rows`` into micro-batches of similar length whose padded size (rows × longest)
    stays within ``max_tokens`` — one 1500-token conversation alone, sixteen 80-token questions
    together — in a seeded random order. A row longer than the budget is a group of its own.

    Example:
        >>> [list(g) for g in pack_by_tokens([30, 10, 12, 25, 11], lambda r: r, 40, seed=0)]
        [[10, 11, 12], [30], [25]]
    """
    import random

    order = sorted(range(len(rows)), key=lambda i: length(rows[i]))
    groups: list[RowGroup] = []
    current: list[int] = []
    for i in order:
        longest = length(rows[i])  # sorted: the newest row is the longest
        if current and (longest * (len(current) + 1) > max_tokens or len(current) >= max_rows):
            groups.append(RowGroup(rows[j] for j in current))
            current = []
        current.append(i)
    if current:
        groups.append(RowGroup(rows[j] for j in current))
    random.Random(seed).shuffle(groups)
    return groups


def run_stage(config: Any, *, chat: Any = None, records: list[Any] | None = None) -> Any:
    """Run one training stage end to end; returns the loop's `TrainResult`.

    Args:
        config: a `genaisys.train.config.TrainConfig`.
        chat: an already loaded `ChatCore` to train instead of loading ``config.core``.
        records: rows to train on instead of reading ``config.data``.

    Raises:
        ConfigError: a core that is not a trainable `MultimodalCore`, bad stage options.
        PreflightError: the first batch is broken (see `genaisys.train.preflight`).
    """
    from genaisys.assets import cache_dir
    from genaisys.core.multimodal import MultimodalCore
    from genaisys.train.data import load_records
    from genaisys.train.features import VisionFeatureCache
    from genaisys.train.loop import train
    from genaisys.train.preflight import make_preflight

    if chat is None:
        from genaisys.core.loading import load_core

        chat = load_core(config.core)
    core = chat.core
    if not isinstance(core, MultimodalCore):
        raise ConfigError(f"core {config.core!r} is not a genaisys MultimodalCore; training supports the "
                          "encoder → connector → LM cores (load_core('nano') or a saved core folder)")
    if config.lora is not None and not getattr(core.language_model, "peft_config", None):
        import torch

        with torch.random.fork_rng(devices=[]):  # the adapters' init depends on the run's seed only
            torch.manual_seed(config.loop.seed)
            core.add_lora(r=config.lora.r, alpha=config.lora.alpha, dropout=config.lora.dropout,
                          target_modules=config.lora.target_modules)
    rows = list(records) if records is not None else load_records(config.data)
    options = dict(config.stage_options)
    want_features = options.pop("features", core.config.freeze_vision)
    feature_dir = options.pop("feature_dir", None)
    features = None
    if want_features:
        features = VisionFeatureCache(core, Path(feature_dir) if feature_dir else cache_dir() / "features",
                                      blobs=chat.blobs)
    grouped = bool(options.pop("group_by_length", False))
    max_tokens = options.pop("max_batch_tokens", None)
    stage = build_stage(config.stage, chat, rows, options, features=features)
    if features is not None:
        features.build(_image_blocks(stage, rows), progress=config.loop.progress)
    loop = config.loop
    n_tokens = core.n_image_tokens

    def length(row: Any) -> int:
        return max(len(e.input_ids) + len(e.images) * (n_tokens - 1) for e in _encodings(stage, row))

    if max_tokens is not None:
        rows = pack_by_tokens(rows, length, int(max_tokens), loop.seed)
        stage = _PackedStage(stage)
        loop = loop.model_copy(update={"batch_size": 1, "shuffle": False})
    elif grouped:
        rows = group_by_length(rows, length, loop.batch_size * loop.grad_accum, loop.seed)
        loop = loop.model_copy(update={"shuffle": False})
    output = Path(config.loop.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    (output / "train_config.yaml").write_text(config.to_yaml())

    def save(model: Any, path: Path) -> None:
        from genaisys.train.stages._common import core_of

        core_of(model).save_pretrained(path)

    return train(core, rows, stage, loop, save_fn=save, preflight=make_preflight(stage, chat),
                 resume=config.resume)
