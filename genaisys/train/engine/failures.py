"""Deprecated path: evaluation failures → training records moved to `genaisys.improve.failures`.

It reads evaluation results, so it lives a layer above training and evaluation. Its names still
resolve here, with a `DeprecationWarning`.
"""

from __future__ import annotations

from genaisys._lazy import moved_exports

__all__: list[str] = []

__getattr__, __dir__ = moved_exports(__name__, dict.fromkeys(
    ("append_adversarial", "failures_to_pairs", "failures_to_records"), "genaisys.improve.failures"))
