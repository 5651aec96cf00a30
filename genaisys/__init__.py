"""genaisys: multimodal assistants whose trainable MLLM is the CPU of a LangGraph microcontroller.

The package imports nothing heavy: torch, transformers, chromadb and friends load on first use
of the names below (PEP 562 ``__getattr__``).

Example:
    >>> import genaisys
    >>> genaisys.__version__
    '0.1.0'
"""

from __future__ import annotations

import os as _os
from typing import TYPE_CHECKING

# In a source checkout, `tools/`, `graphs/` and `memory/` live beside this folder but belong to
# this package (docs/architecture.md, "Packaging"). When run from the repo root with a non-editable install, this
# shim keeps `genaisys.tools` & co. resolvable from the checkout instead of shadowing them.
_root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if _os.path.isfile(_os.path.join(_root, "pyproject.toml")):
    for _sub in ("tools", "graphs", "memory"):
        if _os.path.isdir(_os.path.join(_root, _sub)) and _root not in __path__:
            __path__.append(_root)  # `genaisys.tools` → <root>/tools
            break

__version__ = "0.1.0"

from genaisys._lazy import lazy_exports

_LAZY = {
    "load_core": "genaisys.core.loading",
    "ChatCore": "genaisys.core.chat",
    "MultimodalCore": "genaisys.core.multimodal",
    "GenaisysError": "genaisys.errors",
}

__all__ = ["__version__", *_LAZY]

if TYPE_CHECKING:
    from genaisys.core.chat import ChatCore
    from genaisys.core.loading import load_core
    from genaisys.core.multimodal import MultimodalCore
    from genaisys.errors import GenaisysError


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
