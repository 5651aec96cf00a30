"""PEP 562 lazy exports for package ``__init__`` files, so `import genaisys.x` stays light.

Example:
    >>> import types, sys
    >>> mod = types.ModuleType("demo_pkg"); sys.modules["demo_pkg"] = mod
    >>> mod.__getattr__, mod.__dir__ = lazy_exports("demo_pkg", {"dumps": "json"})
    >>> mod.dumps([1])
    '[1]'
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return ``(__getattr__, __dir__)`` that import ``name`` from ``exports[name]`` on first use.

    The value is cached in the package's namespace, so later lookups cost nothing.
    """

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
