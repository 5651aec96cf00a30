"""The tool registry: ``"kind:name"`` → a lazily imported tool factory (a `genaisys._registry.Registry`).

Kinds: ``builtin:`` (shipped with genaisys), ``mcp:<server>/<tool>`` (added when an MCP server's
tools are loaded, see `genaisys.tools.mcp`), and any kind a user registers. `get_tool` builds
the tool, hands it the resources it asks for (``memory=...``, ``roots=...``), and returns it
inside the safety wrapper (`genaisys.tools.safety.safe_tool`). The registry is also the
allow-list for tool names read back from configs or checkpoints.

Example:
    >>> from genaisys.tools import get_tool, list_tools
    >>> "builtin:calculator" in list_tools()
    True
    >>> get_tool("builtin:calculator", safety={"idempotent_cache": None}).invoke({"expression": "6 * 7"})
    '42'
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from genaisys._registry import Registry
from genaisys.errors import ConfigError

__all__ = ["get_tool", "list_tools", "register_tool", "unregister_tool"]

# name -> (factory or "module:attr", default safety settings)
_REGISTRY = Registry("tool", {
    "builtin:calculator": ("genaisys.tools.calculator:build_calculator_tool", {"timeout_s": 5.0}),
    "builtin:memory_search": ("genaisys.tools.memory_tools:build_memory_search_tool", {}),
    "builtin:memory_write": ("genaisys.tools.memory_tools:build_memory_write_tool", {}),
    "builtin:clock": ("genaisys.tools.clock:build_clock_tool", {"timeout_s": 5.0}),
    "builtin:file_reader": ("genaisys.tools.file_reader:build_file_reader_tool", {"timeout_s": 10.0}),
    # The fetcher keeps its own total-time limit (15 s); the wrapper's is a backstop above it.
    "builtin:http_fetch": ("genaisys.tools.http_fetch:build_http_fetch_tool", {"timeout_s": 30.0}),
}, pattern=r"[a-z][a-z0-9_]*:[A-Za-z0-9_][A-Za-z0-9_.\-/]*", hint="'kind:name' (e.g. 'builtin:calculator')",
    settings=True)


def register_tool(
    name: str,
    factory: Callable[..., Any] | str,
    *,
    safety: dict[str, Any] | None = None,
    replace: bool = False,
) -> None:
    """Add a tool factory under ``"kind:name"``.

    Args:
        name: ``"kind:name"``, e.g. ``"my:weather"`` or ``"mcp:files/read_file"``.
        factory: A callable returning a LangChain tool or a typed function (it may take resources
            as keyword arguments), or a ``"module:attribute"`` import path loaded on first use.
        safety: Default `safe_tool` settings for this tool (``timeout_s``, ``require_approval`` …);
            the caller of `get_tool` can still override them.
        replace: Overwrite an existing entry instead of refusing.

    Raises:
        ConfigError: A malformed name, a name already taken (without ``replace``), or a factory
            that is neither callable nor an import path.

    Example:
        >>> def weather(city: str) -> str:
        ...     '''Today's weather in a city.'''
        ...     return f"sunny in {city}"
        >>> register_tool("demo:weather", lambda: weather, replace=True)
        >>> get_tool("demo:weather", safety={"idempotent_cache": None}).invoke({"city": "Oslo"})
        'sunny in Oslo'
    """
    _REGISTRY.register(name, factory, replace=replace, settings=safety)


def unregister_tool(name: str) -> None:
    """Remove a registered tool (an unknown name raises `UnknownNameError`)."""
    _REGISTRY.unregister(name)


def list_tools(kind: str | None = None) -> list[str]:
    """The registered tool names, sorted; only those of ``kind`` (e.g. ``"mcp"``) if given.

    Example:
        >>> list_tools("builtin")[:2]
        ['builtin:calculator', 'builtin:clock']
    """
    return _REGISTRY.names(kind)


def get_tool(name: str, *, safe: bool = True, safety: dict[str, Any] | None = None, **resources: Any) -> Any:
    """Build the tool registered as ``name``, wrapped in the safety wrapper.

    Args:
        name: A registered ``"kind:name"`` (see `list_tools`).
        safe: Wrap the tool in the safety wrapper (default). ``False`` returns the plain
            LangChain tool the factory built (a registered `SafeTool`, such as an MCP tool,
            is unwrapped): no time limit, output cap, validation text or idempotency cache.
        safety: `safe_tool` settings overriding the tool's defaults, e.g.
            ``{"timeout_s": 5, "require_approval": True, "idempotent_cache": "/tmp/calls.sqlite"}``.
        **resources: What the tool needs, passed to its factory: ``memory=`` for
            ``builtin:memory_search``/``builtin:memory_write``, ``roots=`` for ``builtin:file_reader``,
            ``allow_hosts=`` for ``builtin:http_fetch``…

    Returns:
        A `genaisys.tools.safety.SafeTool` (a LangChain ``BaseTool``) that ``ToolNode`` runs;
        with ``safe=False`` the unwrapped ``BaseTool``.

    Raises:
        UnknownNameError: ``name`` is not registered; the message lists the known names.
        ConfigError: A resource the factory does not take, or one it needs is missing; or
            ``safety`` settings with ``safe=False`` (there is no wrapper to apply them to).

    Example:
        >>> get_tool("builtin:nope")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        genaisys.errors.UnknownNameError: unknown tool 'builtin:nope'; known: builtin:calculator, ...
    """
    from genaisys.tools.safety import SafeTool, _unwrapped_tool, safe_tool

    if not safe and safety:
        raise ConfigError(f"safety settings {sorted(safety)} need the safety wrapper; "
                          f"drop safety= or call get_tool({name!r}) with safe=True")
    factory, defaults = _REGISTRY.resolve(name)
    params = inspect.signature(factory).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    unknown = [k for k in resources if k not in params and not takes_any]
    if unknown:
        accepted = [p for p, v in params.items() if v.kind is not inspect.Parameter.VAR_POSITIONAL]
        raise ConfigError(
            f"tool {name!r} does not take {', '.join(unknown)}; it accepts: {', '.join(accepted) or 'nothing'}"
        )
    missing = [
        p
        for p, v in params.items()
        if v.default is inspect.Parameter.empty
        and v.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        and p not in resources
    ]
    if missing:
        raise ConfigError(f"tool {name!r} needs {', '.join(missing)}: get_tool({name!r}, {missing[0]}=...)")
    tool = factory(**resources)
    if not safe:
        return _unwrapped_tool(tool)
    settings = {**defaults, **(safety or {})}
    if isinstance(tool, SafeTool) and not settings:
        return tool
    return safe_tool(tool, **settings)
