"""One error hierarchy for genaisys. Every message says what was wrong and how to fix it.

::

    GenaisysError
    ├── ConfigError              a config or argument is invalid (unknown registry name, bad combination)
    │   └── UnknownNameError     a "kind:name" string is not in its registry; lists the known ones
    ├── MissingDependencyError   an optional package is absent; names the `pip install` that fixes it
    ├── AssetError               a packaged model or dataset is missing, corrupt, or cannot be fetched
    ├── CoreError                the MLLM core cannot run as asked
    │   └── ImageTokenMismatchError  image placeholders and image features disagree
    ├── ToolError                a tool failed in a way the caller must see (not the model-facing text)
    ├── MemoryStoreError         the vector memory or blob store cannot do what was asked
    ├── TrainingError            training cannot run or continue (bad checkpoint, diverged)
    │   └── PreflightError       the first batch proves the data or template wrong (all labels masked…)
    ├── GraphError               a graph cannot be built or run (recursion limit, bad state)
    └── MediaError               corrupt, empty or oversized media

Text that goes back to a *model* (a tool's validation error, say) is a template in the module
that produces it, not an exception message.
"""

from __future__ import annotations

__all__ = [
    "AssetError",
    "ConfigError",
    "CoreError",
    "GenaisysError",
    "GraphError",
    "ImageTokenMismatchError",
    "MediaError",
    "MemoryStoreError",
    "MissingDependencyError",
    "PreflightError",
    "ToolError",
    "TrainingError",
    "UnknownNameError",
]


class GenaisysError(Exception):
    """Root of every error genaisys raises on purpose."""


class ConfigError(GenaisysError, ValueError):
    """A config value or argument is invalid."""


class UnknownNameError(ConfigError, KeyError):
    """A registry name is unknown. The message lists the known names."""

    def __init__(self, kind: str, name: str, known: list[str] | tuple[str, ...]) -> None:
        self.kind, self.name, self.known = kind, name, list(known)
        super().__init__(f"unknown {kind} {name!r}; known: {', '.join(sorted(self.known)) or '(none)'}")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class MissingDependencyError(GenaisysError, ImportError):
    """An optional dependency is not installed. The message names the fix."""

    def __init__(self, module: str, pip_spec: str, feature: str = "") -> None:
        self.module, self.pip_spec = module, pip_spec
        what = f" for {feature}" if feature else ""
        super().__init__(f"{module!r} is needed{what} but is not installed: pip install '{pip_spec}'")


class AssetError(GenaisysError):
    """A packaged asset is missing, corrupt or cannot be fetched."""


class CoreError(GenaisysError):
    """The MLLM core cannot run as asked."""


class ImageTokenMismatchError(CoreError, ValueError):
    """The number of image placeholders does not match the image features given."""


class ToolError(GenaisysError):
    """A tool failed in a way its caller (not the model) must handle."""


class MemoryStoreError(GenaisysError):
    """The vector memory or the blob store cannot do what was asked."""


class TrainingError(GenaisysError):
    """Training cannot run or continue: a preflight check failed, a checkpoint is corrupt or mismatched."""


class PreflightError(TrainingError, ValueError):
    """The preflight check on one batch failed: labels all masked, placeholders and features
    disagree, or the chat template does not match the tokenizer. Nothing was trained."""


class GraphError(GenaisysError):
    """A graph cannot be built or run as asked."""


class MediaError(GenaisysError, ValueError):
    """Media is corrupt, empty, truncated or oversized."""
