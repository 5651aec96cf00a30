"""Grammar-constrained tool calls: once a call opens, only valid calls can be decoded.

A 135M-parameter model writes broken JSON often; `parse_tool_calls` repairs much of it, but
some calls stay unusable. With constraints on (``ChatCore(constrain_tool_calls=True)`` or
``invoke(..., constrain_tool_calls=True)``), the moment the model writes ``<tool_call>`` the
decoder switches to a token mask that only admits ::

    {"name": "<a bound tool>", "arguments": <JSON matching that tool's schema>}</tool_call>

and switches back to free text after the closing tag. With ``tool_choice`` demanding a call,
the opener is forced at the start, so the answer *is* a valid call.

The masks come from ``outlines-core`` (Rust): JSON schema → regex → a token-level index over
the tokenizer's vocabulary (built once per tokenizer and tool set, ~0.1 s for SmolLM2's 49k
tokens). ``xgrammar`` was the other candidate; it was not taken because installing it pulls
``triton`` and ``apache-tvm-ffi`` onto CPU-only machines.

Example:
    >>> grammar = ToolCallGrammar(tokenizer, tools)  # doctest: +SKIP
    >>> guide = grammar.new_guide(); guide.get_tokens()[:3]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from genaisys._optional import require
from genaisys.core.toolcall import TOOL_CALL_CLOSE, TOOL_CALL_OPEN
from genaisys.errors import ConfigError

__all__ = ["ToolCallGrammar"]

_PIN = "outlines-core==0.2.14"
_WS = r"[ ]?"
_vocab_cache: dict[int, tuple[Any, Any]] = {}  # id(tokenizer) → (tokenizer, outlines Vocabulary)
_index_cache: dict[tuple[int, str], Any] = {}
_lock = threading.Lock()


def _byte_decoder() -> dict[str, int]:
    # GPT-2 byte-level BPE writes every byte as a printable character; this is the inverse map.
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs, strict=True)}


def _vocabulary(tokenizer: Any) -> Any:
    """The tokenizer's vocabulary as outlines-core wants it: raw token bytes → ids."""
    oc = require("outlines_core", _PIN, feature="grammar-constrained tool calls")
    with _lock:
        hit = _vocab_cache.get(id(tokenizer))
        if hit is not None and hit[0] is tokenizer:
            return hit[1]
    decoder = _byte_decoder()
    special, added = set(tokenizer.all_special_ids), set(tokenizer.get_added_vocab())
    table: dict[bytes, list[int]] = {}
    for token, idx in tokenizer.get_vocab().items():
        if idx in special or token in added:
            continue
        if all(ch in decoder for ch in token):  # byte-level BPE token
            raw = bytes(decoder[ch] for ch in token)
        else:  # SentencePiece-style: "▁" is a space
            raw = tokenizer.convert_tokens_to_string([token]).encode("utf-8")
            if token.startswith("▁") and not raw.startswith(b" "):
                raw = b" " + raw
        if raw:
            table.setdefault(raw, []).append(idx)
    vocab = oc.Vocabulary(tokenizer.eos_token_id, table)
    with _lock:
        _vocab_cache[id(tokenizer)] = (tokenizer, vocab)
    return vocab


class ToolCallGrammar:
    """Token masks for one genaisys tool call over a set of bound tools.

    Args:
        tokenizer: the model's tokenizer.
        tools: OpenAI-style tool dicts (as ``bind_tools`` stores them).

    Raises:
        ConfigError: a tool's JSON schema cannot be turned into a grammar.
        MissingDependencyError: ``outlines-core`` is not installed.
    """

    def __init__(self, tokenizer: Any, tools: list[dict[str, Any]]) -> None:
        oc = require("outlines_core", _PIN, feature="grammar-constrained tool calls")
        self.tokenizer = tokenizer
        alternatives = []
        for tool in tools:
            fn = tool.get("function", tool)
            schema = fn.get("parameters") or {"type": "object", "properties": {}}
            try:
                args = oc.json_schema.build_regex_from_schema(json.dumps(schema))
            except (ValueError, TypeError, RuntimeError) as exc:
                raise ConfigError(f"the schema of tool {fn.get('name')!r} cannot be constrained ({exc}); "
                                  "call without constrain_tool_calls or simplify the schema") from exc
            name = re.escape(json.dumps(fn["name"]))
            alternatives.append(rf"\{{{_WS}\"name\"{_WS}:{_WS}{name}{_WS},{_WS}\"arguments\"{_WS}:{_WS}{args}{_WS}\}}")
        self.regex = "(" + "|".join(alternatives) + ")" + re.escape(TOOL_CALL_CLOSE)
        key = (id(tokenizer), self.regex)
        with _lock:
            index = _index_cache.get(key)
        if index is None:
            index = oc.Index(self.regex, _vocabulary(tokenizer))
            with _lock:
                _index_cache[key] = index
        self._oc, self.index = oc, index
        self.opener_ids: list[int] = tokenizer(TOOL_CALL_OPEN, add_special_tokens=False)["input_ids"]

    def new_guide(self) -> Any:
        """A fresh guide at the start of a call's JSON (right after ``<tool_call>``)."""
        return self._oc.Guide(self.index)
