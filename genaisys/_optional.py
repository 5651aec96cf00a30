"""Import an optional dependency, or fail with the exact `pip install` that fixes it."""

from __future__ import annotations

import importlib
from types import ModuleType

from genaisys.errors import MissingDependencyError

__all__ = ["require"]


def require(module: str, pip_spec: str | None = None, *, feature: str = "") -> ModuleType:
    """Return ``importlib.import_module(module)``; raise `MissingDependencyError` when absent.

    Example:
        >>> require("json").dumps([1])
        '[1]'
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.split(".")[0] != exc.name.split(".")[0]:
            raise  # the module exists but one of *its* imports is broken: show that
        raise MissingDependencyError(module, pip_spec or module.split(".")[0], feature) from exc
