"""Deprecated path: the evaluate → retrain loop moved to `genaisys.improve.round`.

It uses training as much as evaluation, so it lives a layer above both. Its names still resolve
here, with a `DeprecationWarning`.
"""

from __future__ import annotations

from genaisys._lazy import moved_exports

__all__: list[str] = []

__getattr__, __dir__ = moved_exports(__name__, dict.fromkeys(("LoopReport", "default_replay", "improvement_round"),
                                                             "genaisys.improve.round"))
