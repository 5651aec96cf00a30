if __name__ != "genaisys.tools":  # a bare `import tools` from the repo root would load a second copy
    raise ImportError("import this package as genaisys.tools, not tools (docs/architecture.md, Packaging)")
__doc__ = """genaisys's peripherals: the tool contract and safety wrapper, the registry, hardened builtins, MCP.

Everything is exported lazily (PEP 562): ``import genaisys.tools`` loads neither LangChain nor
LangGraph; the first use of a name imports its module.

One component per file:

- ``registry.py``     ``"kind:name"`` → tool factory; `get_tool`, `list_tools`, `register_tool`
- ``safety.py``       `safe_tool`: timeout, output cap, validation text, approval, idempotency
- ``calculator.py``   ``builtin:calculator`` — AST arithmetic, bounded
- ``http_fetch.py``   ``builtin:http_fetch`` — SSRF-hardened fetch of web pages as text
- ``file_reader.py``  ``builtin:file_reader`` — text files confined to root folders
- ``memory_tools.py`` ``builtin:memory_search`` / ``builtin:memory_write`` over any memory
- ``clock.py``        ``builtin:clock`` — the current date and time in a timezone
- ``mcp_client.py``   MCP servers' tools as ``"mcp:<server>/<tool>"`` (`load_mcp_tools`, `MCPConnection`)
- ``mcp_server.py``   genaisys tools served over MCP (`serve_mcp`, ``genaisys mcp serve``)

Example:
    >>> from genaisys.tools import get_tool
    >>> calc = get_tool("builtin:calculator", safety={"idempotent_cache": None})
    >>> calc.invoke({"expression": "2 ** 8"})
    '256'
"""

from typing import TYPE_CHECKING

__all__ = [
    "IdempotencyCache",
    "MCPConnection",
    "SafeTool",
    "get_tool",
    "list_tools",
    "load_mcp_tools",
    "register_tool",
    "safe_tool",
    "serve_mcp",
    "unregister_tool",
]

from genaisys._lazy import lazy_exports

_EXPORTS = {
    "get_tool": "genaisys.tools.registry",
    "list_tools": "genaisys.tools.registry",
    "register_tool": "genaisys.tools.registry",
    "unregister_tool": "genaisys.tools.registry",
    "safe_tool": "genaisys.tools.safety",
    "SafeTool": "genaisys.tools.safety",
    "IdempotencyCache": "genaisys.tools.safety",
    "load_mcp_tools": "genaisys.tools.mcp_client",
    "MCPConnection": "genaisys.tools.mcp_client",
    "serve_mcp": "genaisys.tools.mcp_server",
}

if TYPE_CHECKING:
    from genaisys.tools.mcp_client import MCPConnection, load_mcp_tools
    from genaisys.tools.mcp_server import serve_mcp
    from genaisys.tools.registry import get_tool, list_tools, register_tool, unregister_tool
    from genaisys.tools.safety import IdempotencyCache, SafeTool, safe_tool


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
