"""Training the core: stages, the one loop, data and the data engine (DESIGN.md §6).

Nothing heavy loads at import; the names below import on first use.
"""

from __future__ import annotations

from genaisys._lazy import lazy_exports

_LAZY: dict[str, str] = {
    "Stage": "genaisys.train.stage",
}

__all__ = list(_LAZY)
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
