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
import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports", "moved_exports"]


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


def moved_exports(package: str, moved: Mapping[str, str],
                  exports: Mapping[str, str] | None = None) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Like `lazy_exports`, plus names that moved to another module: each still resolves, with a
    `DeprecationWarning` that names its new home.

    A name moves *up* when a layer above took it over (the evaluate → retrain loop left
    ``genaisys.eval`` for ``genaisys.improve``); its old path keeps working for existing code, and
    the import happens only on first use, so the layers still import only downwards at load time.

    Example:
        >>> import types, sys, warnings
        >>> mod = types.ModuleType("old_pkg"); sys.modules["old_pkg"] = mod
        >>> mod.__getattr__, mod.__dir__ = moved_exports("old_pkg", {"dumps": "json"})
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     mod.dumps([1]), str(caught[0].message)
        ('[1]', 'old_pkg.dumps moved to json.dumps; import it from there')
    """
    current = lazy_exports(package, exports or {})

    def __getattr__(name: str) -> Any:
        if name in moved:
            warnings.warn(f"{package}.{name} moved to {moved[name]}.{name}; import it from there",
                          DeprecationWarning, stacklevel=2)
            return getattr(importlib.import_module(moved[name]), name)  # not cached: every use warns
        return current[0](name)

    def __dir__() -> list[str]:
        return sorted(set(current[1]()) | set(moved))

    return __getattr__, __dir__
