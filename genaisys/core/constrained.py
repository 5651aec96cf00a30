"""Grammar-constrained tool calls: once a call opens, only valid calls can be decoded.

A 135M-parameter model writes broken JSON often; `parse_tool_calls` repairs much of it, but
some calls stay unusable. With constraints on (``ChatCore(constrain_tool_calls=True)`` or
``invoke(..., constrain_tool_calls=True)``), the moment the model writes ``<tool_call>`` the
decoder switches to a token mask that only admits ::

    {"name": "<a bound tool>", "arguments": <JSON matching that tool's schema>}</tool_call>

and switches back to free text after the closing tag. With ``tool_choice`` demanding a call
(``"any"``, ``"required"`` or a tool's name), the mask is on from the first token, whatever
``constrain_tool_calls`` says, and admits only ``<tool_call>`` + a valid call, so the answer *is*
a valid call (the model still picks its own tokenization of the opener, ``>{"`` as one token say). `JsonGrammar` does the
same for a whole answer: JSON matching a schema (``response_format`` / ``with_structured_output``).

Budget: a constrained answer must also *end* within ``max_new_tokens``. `finish_within` keeps,
once the budget runs short, only the tokens from which the rest of the grammar still fits (the
fewest tokens from every state to an end state, computed once per grammar), so a forced call or a
JSON answer is cut short only when its budget cannot hold even the shortest valid completion.

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
from collections import OrderedDict
from typing import Any

from genaisys._optional import require
from genaisys.core.toolcall import TOOL_CALL_CLOSE, TOOL_CALL_OPEN
from genaisys.errors import ConfigError

__all__ = ["JsonGrammar", "ToolCallGrammar"]

_PIN = "outlines-core==0.2.14"
_WS = r"[ ]?"
_SLACK = 16  # tokens of budget kept in hand before the mask starts steering towards the end
_vocab_cache: dict[int, tuple[Any, Any]] = {}  # id(tokenizer) → (tokenizer, outlines Vocabulary)
# Indexes and their distances are kept for the last few grammars only: a server or an evaluation
# that binds a new set of tools per request grew past 24 GB when nothing was ever evicted.
_MAX_GRAMMARS = 16
_MAX_COUNTED = 64  # string length bounds above this are left to the tool's own validation
_index_cache: OrderedDict[tuple[int, str], Any] = OrderedDict()
_distance_cache: OrderedDict[int, tuple[Any, dict[int, int]]] = OrderedDict()  # id(index) → (index, distances)
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


def _index(tokenizer: Any, regex: str) -> Any:
    oc = require("outlines_core", _PIN, feature="grammar-constrained decoding")
    key = (id(tokenizer), regex)
    with _lock:
        index = _index_cache.get(key)
        if index is not None:
            _index_cache.move_to_end(key)
    if index is None:
        index = oc.Index(regex, _vocabulary(tokenizer))
        with _lock:
            _index_cache[key] = index
            _evict(_index_cache)
    return index


def _evict(cache: OrderedDict[Any, Any]) -> None:
    while len(cache) > _MAX_GRAMMARS:
        cache.popitem(last=False)


def _without_long_bounds(schema: Any) -> Any:
    """The schema less string length bounds over `_MAX_COUNTED` characters.

    A bound of n characters compiles to n counted states: ``memory_search``'s ``max_length=2000``
    query made a 2.5 GB index that took 143 s to build. A call's arguments are validated against
    the tool's own schema afterwards, so a string over its bound is still refused, as an invalid call.
    """
    if isinstance(schema, dict):
        return {k: _without_long_bounds(v) for k, v in schema.items()
                if not (k == "maxLength" and isinstance(v, int) and v > _MAX_COUNTED)}
    if isinstance(schema, list):
        return [_without_long_bounds(v) for v in schema]
    return schema


def _schema_regex(schema: dict[str, Any], what: str) -> str:
    oc = require("outlines_core", _PIN, feature="grammar-constrained decoding")
    try:
        return oc.json_schema.build_regex_from_schema(json.dumps(_without_long_bounds(schema)))
    except (ValueError, TypeError, RuntimeError) as exc:
        raise ConfigError(f"the schema of {what} cannot be constrained ({exc}); "
                          "call without constraints or simplify the schema") from exc


def _distances(index: Any) -> dict[int, int]:
    """Fewest tokens from each state to an end state.

    Only these distances are kept: the full transition table (state → token → state) of a grammar
    with free strings holds ~10^7 Python ints (0.7 GB for ``current_time``'s schema), so it is read
    once here and dropped; `_Grammar.finish_within` asks the index for the few edges it needs.
    """
    with _lock:
        hit = _distance_cache.get(id(index))
        if hit is not None and hit[0] is index:
            _distance_cache.move_to_end(id(index))
            return hit[1]
    incoming: dict[int, set[int]] = {}
    for state, edges in index.get_transitions().items():
        for nxt in set(edges.values()):
            incoming.setdefault(nxt, set()).add(state)
    dist = {state: 0 for state in index.get_final_states()}
    frontier = list(dist)
    while frontier:  # breadth-first over reversed edges
        nxt_frontier = []
        for state in frontier:
            for prev in incoming.get(state, ()):
                if prev not in dist:
                    dist[prev] = dist[state] + 1
                    nxt_frontier.append(prev)
        frontier = nxt_frontier
    with _lock:
        _distance_cache[id(index)] = (index, dist)
        _evict(_distance_cache)
    return dist


def _next_state(index: Any, state: int, token: int) -> int:
    nxt = index.get_next_state(state, token)
    return -1 if nxt is None else nxt


class _Grammar:
    """What both grammars share: a guide per answer, and staying within the token budget.

    ``index`` admits the constrained text after an opener the model wrote itself; ``whole_index``
    admits a whole answer from its first token (the opener included, where there is one).
    """

    index: Any
    whole_index: Any

    def new_guide(self, *, whole: bool = False) -> Any:
        """A fresh guide: at the start of the answer (``whole``) or right after the opener."""
        return self._oc.Guide(self.whole_index if whole else self.index)

    def finish_within(self, guide: Any, allowed: list[int], budget: int, *, whole: bool = False) -> list[int]:
        """Of ``allowed``, the tokens after which the grammar can still end in ``budget - 1`` tokens.

        Returns ``allowed`` itself while the budget is ample; an empty list when nothing fits.
        """
        index = self.whole_index if whole else self.index
        dist = _distances(index)
        state = guide.get_state()
        if dist.get(state, budget) + _SLACK < budget - 1:
            return allowed  # ample: one token moves the end only a few tokens further away
        far = budget + 1
        return [t for t in allowed if dist.get(_next_state(index, state, t), far) <= budget - 1]


class JsonGrammar(_Grammar):
    """Token masks for an answer that is one JSON value matching ``schema`` (any object by default).

    Args:
        tokenizer: the model's tokenizer.
        schema: a JSON schema; ``None`` admits any JSON object (OpenAI's ``json_object`` mode).

    Raises:
        ConfigError: the schema cannot be turned into a grammar.
        MissingDependencyError: ``outlines-core`` is not installed.

    Example:
        >>> grammar = JsonGrammar(tokenizer, {"type": "object", "properties": {"a": {"type": "integer"}}})  # doctest: +SKIP
    """

    def __init__(self, tokenizer: Any, schema: dict[str, Any] | None = None) -> None:
        self._oc = require("outlines_core", _PIN, feature="grammar-constrained decoding")
        self.tokenizer = tokenizer
        self.regex = _schema_regex(schema or {"type": "object"}, "the response format")
        self.index = self.whole_index = _index(tokenizer, self.regex)


class ToolCallGrammar(_Grammar):
    """Token masks for one genaisys tool call over a set of bound tools.

    Args:
        tokenizer: the model's tokenizer.
        tools: OpenAI-style tool dicts (as ``bind_tools`` stores them).

    Raises:
        ConfigError: a tool's JSON schema cannot be turned into a grammar.
        MissingDependencyError: ``outlines-core`` is not installed.
    """

    def __init__(self, tokenizer: Any, tools: list[dict[str, Any]]) -> None:
        self._oc = require("outlines_core", _PIN, feature="grammar-constrained tool calls")
        self.tokenizer = tokenizer
        alternatives = []
        for tool in tools:
            fn = tool.get("function", tool)
            schema = fn.get("parameters") or {"type": "object", "properties": {}}
            args = _schema_regex(schema, f"tool {fn.get('name')!r}")
            name = re.escape(json.dumps(fn["name"]))
            alternatives.append(rf"\{{{_WS}\"name\"{_WS}:{_WS}{name}{_WS},{_WS}\"arguments\"{_WS}:{_WS}{args}{_WS}\}}")
        self.regex = "(" + "|".join(alternatives) + ")" + re.escape(TOOL_CALL_CLOSE)
        self.index = _index(tokenizer, self.regex)
        self.whole_index = _index(tokenizer, re.escape(TOOL_CALL_OPEN) + self.regex)
