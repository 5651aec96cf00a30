"""genaisys's tool-call format: rendering, tolerant parsing, never raising."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genaisys.core.toolcall import (
    parse_tool_calls,
    render_tool_call,
    render_tool_result,
    render_tools_prompt,
)

KNOWN = ["get_weather", "calc"]


def test_prompt_lists_every_tool_as_a_signature_and_teaches_the_format():
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city.\n\nMore.",
                                                "parameters": {"type": "object", "required": ["city"],
                                                               "properties": {"city": {"type": "string"},
                                                                              "unit": {"enum": ["C", "F"],
                                                                                       "default": "C"},
                                                                              "days": {"type": "array",
                                                                                       "items": {"type": "integer"}},
                                                                              "note": {"anyOf": [{"type": "string"},
                                                                                                 {"type": "null"}],
                                                                                       "default": None}}}}},
             {"name": "calc", "description": "Arithmetic"}]
    lines = [line for line in render_tools_prompt(tools).splitlines() if line.startswith("- ")]
    assert lines == ['- get_weather(city: string, unit?: "C"|"F" = "C", days?: list[integer], note?: string): '
                     "Weather for a city.", "- calc(): Arithmetic"]
    assert '<tool_call>{"name": "<tool name>", "arguments":' in render_tools_prompt(tools)


def test_prompt_keeps_nested_schemas_and_cuts_long_descriptions():
    nested = {"type": "object", "properties": {"a": {"type": "integer"}}}
    tool = {"name": "f", "description": "x" * 500, "parameters": {"type": "object", "properties": {"opts": nested}}}
    line = render_tools_prompt([tool]).splitlines()[3]
    assert json.dumps(nested) in line and line.endswith("…") and len(line) < 330


def test_rendered_call_round_trips():
    text = "Checking." + render_tool_call("calc", {"expression": "2+2", "nested": {"a": [1, 2]}})
    content, calls, invalid = parse_tool_calls(text, KNOWN)
    assert content == "Checking."
    assert [(c["name"], c["args"]) for c in calls] == [("calc", {"expression": "2+2", "nested": {"a": [1, 2]}})]
    assert calls[0]["id"].startswith("call_") and calls[0]["type"] == "tool_call"
    assert invalid == []
    assert render_tool_result("calc", "4") == '<tool_response>{"name": "calc", "content": "4"}</tool_response>'


@pytest.mark.parametrize(("text", "args"), [
    ('<tool_call>{"name": "calc", "arguments": {"x": 1}}', {"x": 1}),  # missing closing tag
    ("<tool_call>{'name': 'calc', 'arguments': {'x': 'a'}}</tool_call>", {"x": "a"}),  # single quotes
    ('<tool_call>{"name": "calc", "arguments": {"x": 1,},}</tool_call>', {"x": 1}),  # trailing commas
    ('<tool_call>{"name": "calc", "args": {"x": 1}}</tool_call>', {"x": 1}),
    ('<tool_call>{"name": "calc", "parameters": {"x": 1}}</tool_call>', {"x": 1}),
    ('<tool_call>\n```json\n{"name": "calc", "arguments": {"x": 1}}\n```\n</tool_call>', {"x": 1}),  # fenced
    ('<tool_call>{"name": "calc", "arguments": {"x": 1}</tool_call>', {"x": 1}),  # missing brace
    ('<tool_call>{"name": "calc", "arguments": "{\\"x\\": 1}"}</tool_call>', {"x": 1}),  # JSON string args
    ('<tool_call>{"function": {"name": "calc", "arguments": {"x": 1}}}</tool_call>', {"x": 1}),  # OpenAI nesting
    ("<tool_call>{'name': 'calc', 'arguments': {'flag': True, 'n': None}}</tool_call>", {"flag": True, "n": None}),
    ('<TOOL_CALL>{"name": "calc"}</TOOL_CALL>', {}),  # case, no arguments
    ('Sure:\n```json\n{"name": "calc", "arguments": {"x": 1}}\n```', {"x": 1}),  # bare fenced object
    ('I will call {"name": "calc", "arguments": {"x": 1}} now', {"x": 1}),  # bare object
])
def test_common_damage_is_repaired(text, args):
    content, calls, invalid = parse_tool_calls(text, KNOWN)
    assert invalid == []
    assert [(c["name"], c["args"]) for c in calls] == [("calc", args)]
    assert "calc" not in content and "{" not in content


def test_several_calls_and_a_list_payload():
    text = ('<tool_call>{"name": "calc", "arguments": {"x": 1}}</tool_call>\n'
            '<tool_call>[{"name": "get_weather", "arguments": {"city": "Oslo"}}, {"name": "calc"}]</tool_call>')
    _, calls, invalid = parse_tool_calls(text, KNOWN)
    assert [c["name"] for c in calls] == ["calc", "get_weather", "calc"]
    assert len({c["id"] for c in calls}) == 3 and invalid == []


@pytest.mark.parametrize(("text", "needle"), [
    ("<tool_call>not json at all</tool_call>", "invalid JSON"),
    ('<tool_call>{"name": "launch_rockets", "arguments": {}}</tool_call>', "no tool named 'launch_rockets'"),
    ('<tool_call>{"arguments": {"x": 1}}</tool_call>', "no 'name'"),
    ('<tool_call>{"name": "calc", "arguments": [1, 2]}</tool_call>', "must be a JSON object"),
    ("<tool_call></tool_call>", "empty"),
])
def test_unrepairable_calls_become_invalid_with_a_message_for_the_model(text, needle):
    content, calls, invalid = parse_tool_calls(text, KNOWN)
    assert calls == [] and len(invalid) == 1
    assert needle in invalid[0]["error"]
    assert '<tool_call>{"name": "<tool name>"' in invalid[0]["error"]  # how to write it
    assert invalid[0]["type"] == "invalid_tool_call" and isinstance(invalid[0]["args"], str)


def test_plain_text_and_unknown_bare_objects_are_not_calls():
    text = 'The JSON {"name": "Bob", "age": 3} describes a person.'
    assert parse_tool_calls(text, KNOWN) == (text, [], [])
    assert parse_tool_calls("Hello!", None) == ("Hello!", [], [])


# Cheap strategies (one `binary` draw per string, mapped through a 256-entry table of call
# fragments and ASCII characters) so that thousands of strings run in a few seconds; hypothesis's
# per-character `text` draws cost ~2 ms a string, the parser itself ~40 µs.
_PIECES = ["<tool_call>", "</tool_call>", "<TOOL_CALL>", "{", "}", "[", "]", '"name"', '"arguments"', ":", ",", "'",
           '"', "calc", "get_weather", "arguments", "args", "parameters", "function", "```json\n", "```", "True",
           "null", "\\", "\\u00e9", "\n", " ", "1", "-2.5e3", "é", "\u2028", "\ufffd", "😀", "\x00"]
_FRAGS = _PIECES + [chr(c) for c in range(32, 127)]
_FRAGS += _FRAGS[: 256 - len(_FRAGS)]
_CALLS = [render_tool_call("calc", {"expression": "2+2"}),
          render_tool_call("get_weather", {"city": "Paris", "n": [1, {"a": None}]}),
          "Sure." + render_tool_call("calc", {}) + "\n" + render_tool_call("nope", {"x": 1}),
          '```json\n{"name": "calc", "arguments": {"x": 1}}\n```',
          '{"function": {"name": "calc", "arguments": "{\\"x\\": 1}"}}']


def _damage(args: tuple[int, int, bytes]) -> str:
    """A well-formed call with junk spliced in (and up to two characters cut) at one place."""
    i, cut, junk = args
    text = _CALLS[i % len(_CALLS)]
    at = cut % (len(text) + 1)
    return text[:at] + "".join(_FRAGS[x] for x in junk) + text[at + len(junk) % 3:]


_fragment_soup = st.binary(max_size=80).map(lambda b: "".join(_FRAGS[x] for x in b))
_damaged_calls = st.tuples(st.integers(0, 255), st.integers(0, 400), st.binary(max_size=6)).map(_damage)


@settings(max_examples=2500, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(st.one_of(_fragment_soup, _damaged_calls, st.text(max_size=40)))
def test_parser_never_raises(text):
    content, calls, invalid = parse_tool_calls(text, KNOWN)
    assert isinstance(content, str)
    for c in calls:
        assert c["name"] in KNOWN and isinstance(c["args"], dict)
    for c in invalid:
        assert isinstance(c["error"], str) and c["error"]


def test_a_python_literal_json_cannot_carry_is_invalid_not_repaired():
    content, calls, invalid = parse_tool_calls("<tool_call>{'name': 'calc', 'arguments': {'anyOf': [{'x'}]}}",
                                               KNOWN)
    assert calls == [] and len(invalid) == 1
    json.dumps(invalid)  # what a stream's last chunk serialises
