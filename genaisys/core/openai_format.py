"""The one mapping between OpenAI chat-completions messages and LangChain messages.

Two places speak the OpenAI protocol: `genaisys.core.remote.RemoteCore` (a client: LangChain
messages out, OpenAI answers in) and `genaisys.serve` (a server: OpenAI requests in, LangChain
answers out). Both translate tool calls, their JSON arguments and token usage with these
functions, so a call that leaves one genaisys reads the same when it reaches another.

Example:
    >>> calls = [{"name": "calculator", "args": {"expression": "6*7"}, "id": "call_1", "type": "tool_call"}]
    >>> wire = tool_calls_to_openai(calls)
    >>> wire[0]["function"]
    {'name': 'calculator', 'arguments': '{"expression": "6*7"}'}
    >>> tool_calls_from_openai(wire)[0] == calls
    True
    >>> usage_to_openai(usage_from_openai({"prompt_tokens": 3, "completion_tokens": 2}))
    {'prompt_tokens': 3, 'completion_tokens': 2, 'total_tokens': 5}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from genaisys.core.toolcall import TOOL_CALL_ERROR_TEMPLATE, new_tool_call_id

__all__ = ["FINISH_REASONS", "finish_reason", "parse_arguments", "tool_calls_from_openai", "tool_calls_to_openai",
           "usage_from_openai", "usage_to_openai"]

FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter")


def tool_calls_to_openai(tool_calls: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """LangChain tool calls → OpenAI ``tool_calls`` (arguments as a JSON string; a missing id gets one)."""
    return [{"id": tc.get("id") or new_tool_call_id(), "type": "function",
             "function": {"name": tc["name"], "arguments": json.dumps(tc["args"], ensure_ascii=False)}}
            for tc in tool_calls]


def parse_arguments(raw: Any) -> dict[str, Any]:
    """An OpenAI call's ``arguments`` (a JSON string, or already an object) as a dict.

    Raises:
        json.JSONDecodeError: the string is not JSON.
        ValueError: the JSON is not an object.
    """
    args = json.loads(raw or "{}") if isinstance(raw, str) or raw is None else raw
    if not isinstance(args, dict):
        raise ValueError("arguments are not a JSON object")
    return args


def tool_calls_from_openai(raw_calls: Iterable[Mapping[str, Any]] | None) -> tuple[list[dict[str, Any]],
                                                                                   list[dict[str, Any]]]:
    """OpenAI ``tool_calls`` → LangChain ``(tool_calls, invalid_tool_calls)``; unreadable arguments
    make an invalid call whose ``error`` is the text the model is shown."""
    calls, invalid = [], []
    for tc in raw_calls or []:
        fn = tc.get("function") or {}
        raw = fn.get("arguments") or "{}"
        try:
            args = parse_arguments(raw)
        except ValueError as exc:
            invalid.append({"name": fn.get("name"), "args": raw if isinstance(raw, str) else json.dumps(raw),
                            "id": tc.get("id") or new_tool_call_id(), "type": "invalid_tool_call",
                            "error": TOOL_CALL_ERROR_TEMPLATE.format(error=str(exc))})
            continue
        calls.append({"name": fn.get("name", ""), "args": args, "id": tc.get("id") or new_tool_call_id(),
                      "type": "tool_call"})
    return calls, invalid


def usage_from_openai(usage: Mapping[str, Any] | None) -> dict[str, int] | None:
    """OpenAI ``usage`` → LangChain ``usage_metadata`` (``None`` when the server sent none)."""
    if not usage:
        return None
    n_in, n_out = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
    return {"input_tokens": n_in, "output_tokens": n_out, "total_tokens": int(usage.get("total_tokens", n_in + n_out))}


def usage_to_openai(usage_metadata: Mapping[str, Any] | None) -> dict[str, int]:
    """LangChain ``usage_metadata`` → OpenAI ``usage``."""
    meta = usage_metadata or {}
    prompt, completion = int(meta.get("input_tokens", 0)), int(meta.get("output_tokens", 0))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def finish_reason(message: Any) -> str:
    """An answer's OpenAI ``finish_reason``: ``tool_calls`` when it calls tools, else what the core said
    (``stop`` when that is not an OpenAI reason)."""
    if getattr(message, "tool_calls", None):
        return "tool_calls"
    reason = (getattr(message, "response_metadata", None) or {}).get("finish_reason")
    return reason if reason in FINISH_REASONS else "stop"
