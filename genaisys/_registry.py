"""`Registry`: the one name → factory map behind every pluggable part (tools, decoders, textualizers,
embeddings, vision encoders, connectors, eval tasks).

A name (``"builtin:calculator"``, ``"image:shapes"``, ``"hashing"``) maps to a factory, given either
as a callable or as a lazy ``"module:attribute"`` path imported on first use, so registering costs
nothing at import time. Each entry may carry settings (a tool's default safety, a task's preset
options). Families of names that follow a pattern (``mlp{N}x_gelu``) are one entry matched by a
regular expression. An unknown name raises `UnknownNameError` listing the known ones; the registry
is also the allow-list for names read back from configs and checkpoints. Reads and writes take a
lock, so graphs on several threads may build parts while a user registers one.

Example:
    >>> shapes = Registry("shape", {"square": "builtins:str"}, pattern=r"[a-z]+", hint="'square'")
    >>> shapes.register("circle", lambda: "a circle")
    >>> sorted(shapes), shapes.build("circle")
    (['circle', 'square'], 'a circle')
    >>> shapes.build("triangle")
    Traceback (most recent call last):
    ...
    genaisys.errors.UnknownNameError: unknown shape 'triangle'; known: circle, square
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from genaisys.errors import ConfigError, UnknownNameError

__all__ = ["Registry"]


class Registry(Mapping[str, Any]):
    """A thread-safe registry of factories; read it like a mapping of name → factory.

    Args:
        what: what the entries are, for messages (``"tool"``, ``"decoder"``).
        entries: the built-in entries: name → factory, or name → ``(factory, settings)`` when
            ``settings=True``.
        pattern: the form every name must have (a regular expression, matched in full).
        hint: how a good name looks, for the message a bad one gets.
        settings: entries carry a settings dict beside their factory.
    """

    def __init__(self, what: str, entries: Mapping[str, Any] | None = None, *, pattern: str | None = None,
                 hint: str = "", settings: bool = False) -> None:
        self.what = what
        self._pattern = re.compile(pattern) if pattern else None
        self._hint = hint
        self._entries: dict[str, tuple[Callable[..., Any] | str, dict[str, Any]]] = {}
        self._families: list[tuple[re.Pattern[str], str, Callable[..., Any] | str]] = []
        self._lock = threading.RLock()
        for name, value in (entries or {}).items():
            factory, extra = value if settings else (value, {})
            self._entries[name] = (factory, dict(extra))

    # ------------------------------------------------------------------ writing
    def register(self, name: str, factory: Callable[..., Any] | str, *, replace: bool = False,
                 settings: Mapping[str, Any] | None = None) -> None:
        """Add ``factory`` under ``name``.

        Raises:
            ConfigError: a malformed name, a taken one without ``replace``, or a factory that is
                neither callable nor a ``"module:attribute"`` path.
        """
        if not isinstance(name, str) or not name or (self._pattern and not self._pattern.fullmatch(name)):
            raise ConfigError(f"{self.what} names look like {self._hint or 'a non-empty string'}; got {name!r}")
        if not (callable(factory) or (isinstance(factory, str) and ":" in factory)):
            raise ConfigError(f"factory for {name!r} must be a callable or a 'module:attribute' path; got {factory!r}")
        with self._lock:
            if name in self._entries and not replace:
                raise ConfigError(f"{self.what} {name!r} is already registered; pass replace=True to overwrite it")
            self._entries[name] = (factory, dict(settings or {}))

    def register_family(self, pattern: str, label: str, factory: Callable[..., Any] | str) -> None:
        """Add a family of names matching ``pattern`` (shown as ``label``); its factory gets the name first."""
        with self._lock:
            self._families.append((re.compile(pattern), label, factory))

    def unregister(self, name: str) -> None:
        """Remove an entry (an unknown name raises `UnknownNameError`)."""
        with self._lock:
            if name not in self._entries:
                raise UnknownNameError(self.what, name, self.names())
            del self._entries[name]

    # ------------------------------------------------------------------ reading
    def names(self, kind: str | None = None) -> list[str]:
        """The registered names, sorted (only those of ``kind`` in ``"kind:name"``), then the families."""
        with self._lock:
            names = sorted(self._entries)
            labels = [label for _, label, _ in self._families]
        return [n for n in names if kind is None or n.split(":", 1)[0] == kind] + (labels if kind is None else [])

    def resolve(self, name: str) -> tuple[Callable[..., Any], dict[str, Any]]:
        """The factory registered as ``name`` (imported if lazy) and its settings.

        A name of a family resolves to its factory with the name bound as the first argument.

        Raises:
            UnknownNameError: ``name`` is not registered (the message lists the known ones).
        """
        with self._lock:
            entry = self._entries.get(name)
            families = list(self._families)
        if entry is not None:
            return _load(entry[0]), dict(entry[1])
        for regex, _, factory in families:
            if regex.fullmatch(name):
                loaded = _load(factory)
                return (lambda *args, **kwargs: loaded(name, *args, **kwargs)), {}
        raise UnknownNameError(self.what, name, self.names())

    def build(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """``factory(*args, **kwargs)`` for the factory registered as ``name``."""
        return self.resolve(name)[0](*args, **kwargs)

    # ------------------------------------------------------------------ Mapping: name → factory as registered
    def __getitem__(self, name: str) -> Any:
        with self._lock:
            return self._entries[name][0]

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._entries

    def __repr__(self) -> str:
        return f"Registry({self.what!r}, {self.names()})"


def _load(factory: Callable[..., Any] | str) -> Callable[..., Any]:
    if callable(factory):
        return factory
    module, _, attr = factory.partition(":")
    return getattr(importlib.import_module(module), attr)
