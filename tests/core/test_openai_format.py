"""The one OpenAI <-> LangChain mapping both the client (RemoteCore) and the server (serve) use."""

from __future__ import annotations

import doctest
import json

import pytest

import genaisys.core.openai_format as fmt


def test_docstring_examples_run():
    result = doctest.testmod(fmt, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_unreadable_arguments_become_an_invalid_call_with_the_reason():
    calls, invalid = fmt.tool_calls_from_openai([{"id": "c1", "function": {"name": "f", "arguments": "{oops"}},
                                                 {"id": "c2", "function": {"name": "g", "arguments": "[1]"}}])
    assert calls == [] and [i["id"] for i in invalid] == ["c1", "c2"]
    assert "not a JSON object" in invalid[1]["error"]
    with pytest.raises(json.JSONDecodeError):
        fmt.parse_arguments("{oops")


def test_non_ascii_arguments_travel_as_written_and_the_finish_reason_is_openais():
    wire = fmt.tool_calls_to_openai([{"name": "say", "args": {"text": "grüß"}}])
    assert wire[0]["function"]["arguments"] == '{"text": "grüß"}' and wire[0]["id"].startswith("call_")

    class Answer:
        tool_calls: list = []
        response_metadata = {"finish_reason": "eos"}

    assert fmt.finish_reason(Answer()) == "stop"
