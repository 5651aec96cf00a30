"""Training the core: stages, the one loop, data and the data engine (docs/training.md).

- ``stage.py`` the `Stage` contract; ``stages/`` align, sft, dpo, decoder
- ``loop.py`` the one Accelerate loop (checkpoint/resume, metrics); ``config.py`` YAML configs
- ``run.py`` `run_stage(config)`; ``nano.py`` the nano recipe (`train_nano`; its evaluation is
  `genaisys.improve.nano`)
- ``data.py`` the conversation format; ``engine/`` the data engine
- ``encoding.py``, ``features.py``, ``preflight.py`` what the stages share

Nothing heavy loads at import; the names below import on first use.

Example:
    >>> from genaisys.train import TrainConfig
    >>> TrainConfig(stage="align", data=["d.jsonl"]).loop.output_dir.as_posix()
    'runs/align'
"""

from __future__ import annotations

from genaisys._lazy import moved_exports

_LAZY: dict[str, str] = {
    "Stage": "genaisys.train.stage",
    "LoopConfig": "genaisys.train.loop",
    "TrainResult": "genaisys.train.loop",
    "train": "genaisys.train.loop",
    "TrainConfig": "genaisys.train.config",
    "load_config": "genaisys.train.config",
    "run_stage": "genaisys.train.run",
    "load_records": "genaisys.train.data",
    "write_records": "genaisys.train.data",
    "to_messages": "genaisys.train.data",
    "NanoRecipe": "genaisys.train.nano",
    "train_nano": "genaisys.train.nano",
}
# Moved a layer up (they use the evaluation too); the old names still resolve, with a DeprecationWarning.
_MOVED: dict[str, str] = {"evaluate_nano": "genaisys.improve.nano"}

__all__ = list(_LAZY)
__getattr__, __dir__ = moved_exports(__name__, _MOVED, _LAZY)
