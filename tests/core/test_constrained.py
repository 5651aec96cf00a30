"""Grammar-constrained tool calls (outlines-core): once a call opens, it can only be valid."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel

from genaisys.core.chat import ChatCore

from .conftest import make_lm, make_tokenizer

pytest.importorskip("outlines_core", reason="grammar-constrained decoding needs outlines-core==0.2.14")


class SetAlarm(BaseModel):
    """Set an alarm."""

    hour: Literal["six", "seven"]
    loud: bool


class Lights(BaseModel):
    """Switch the lights."""

    on: bool


def test_a_demanded_call_from_a_random_model_is_always_valid():
    tok = make_tokenizer()
    chat = ChatCore(language_model=make_lm(len(tok)), tokenizer=tok, max_new_tokens=160, temperature=1.0,
                    constrain_tool_calls=True)
    bound = chat.bind_tools([SetAlarm, Lights], tool_choice="any")
    for seed in range(4):
        msg = bound.invoke("Wake me up.", seed=seed)
        assert msg.invalid_tool_calls == []
        assert len(msg.tool_calls) >= 1, msg
        call = msg.tool_calls[0]
        model = {"SetAlarm": SetAlarm, "Lights": Lights}[call["name"]]
        model(**call["args"])  # validates against the schema
    named = chat.bind_tools([SetAlarm, Lights], tool_choice="Lights").invoke("Lights!", seed=1)
    assert [c["name"] for c in named.tool_calls] == ["Lights"]
    # A forced call is decoded under the grammar whatever constrain_tool_calls says …
    forced = chat.bind_tools([SetAlarm], tool_choice="any").invoke("x", seed=0, constrain_tool_calls=False)
    assert [c["name"] for c in forced.tool_calls] == ["SetAlarm"] and forced.invalid_tool_calls == []
    SetAlarm(**forced.tool_calls[0]["args"])
    # … while a free choice, unconstrained, is the model's: a random one writes no call by itself.
    free = chat.bind_tools([SetAlarm]).invoke("x", seed=0, constrain_tool_calls=False)
    assert free.tool_calls == []


def test_a_forced_call_ends_within_a_tight_budget():
    # Free strings under a grammar can run on for ever; the budget steers the call to its end.
    tok = make_tokenizer()
    chat = ChatCore(language_model=make_lm(len(tok)), tokenizer=tok, max_new_tokens=60, temperature=1.0)
    for seed in range(3):
        msg = chat.bind_tools([SetAlarm], tool_choice="SetAlarm").invoke("Wake me.", seed=seed)
        assert msg.invalid_tool_calls == [] and msg.response_metadata["finish_reason"] == "tool_calls", msg
        assert msg.usage_metadata["output_tokens"] <= 60
        SetAlarm(**msg.tool_calls[0]["args"])


def test_a_json_response_format_is_valid_json_matching_the_schema():
    import json

    tok = make_tokenizer()
    chat = ChatCore(language_model=make_lm(len(tok)), tokenizer=tok, max_new_tokens=60, temperature=1.0)
    schema = {"type": "object", "properties": {"hour": {"type": "integer"}, "label": {"type": "string"}},
              "required": ["hour", "label"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "alarm", "schema": schema}}
    for seed in range(3):
        out = chat.invoke("Alarm?", seed=seed, response_format=fmt)
        value = json.loads(out.content)
        assert set(value) == {"hour", "label"} and isinstance(value["hour"], int)
    assert isinstance(json.loads(chat.invoke("Any JSON", response_format={"type": "json_object"}).content), dict)


def test_a_call_the_model_opens_is_completed_validly_then_text_resumes(scripted_chat):
    # The scripted model opens a call and then writes garbage; the grammar overrules the garbage.
    chat = scripted_chat('Sure. <tool_call>{"nam garbage, more garbage here and there', max_new_tokens=80,
                         constrain_tool_calls=True)
    msg = chat.bind_tools([Lights]).invoke("Lights on?")
    assert msg.content == "Sure."
    assert [(c["name"], set(c["args"])) for c in msg.tool_calls] == [("Lights", {"on"})]
    streamed = list(chat.bind_tools([Lights]).stream("Lights on?"))
    total = sum(streamed[1:], streamed[0])
    assert [c["name"] for c in total.tool_calls] == ["Lights"]
    free = scripted_chat('Sure. <tool_call>{"nam garbage', max_new_tokens=30).bind_tools([Lights]).invoke("?")
    assert free.tool_calls == [] and len(free.invalid_tool_calls) == 1  # the same text without constraints


def test_batch_with_constraints_falls_back_to_per_input_calls(scripted_chat):
    chat = scripted_chat('<tool_call>{"nam garbage', max_new_tokens=80, constrain_tool_calls=True)
    out = chat.bind_tools([Lights]).batch(["a", "b"])
    assert [[c["name"] for c in m.tool_calls] for m in out] == [["Lights"], ["Lights"]]


def test_structured_output_through_a_forced_constrained_call():
    tok = make_tokenizer()
    chat = ChatCore(language_model=make_lm(len(tok)), tokenizer=tok, max_new_tokens=120, constrain_tool_calls=True)
    result = chat.with_structured_output(Lights).invoke("Turn the lights on.")
    assert isinstance(result, Lights)


def test_grammar_caches_keep_only_the_last_few_grammars():
    # A new tool set per request (a server, an evaluation) must not grow memory without bound.
    from genaisys.core import constrained

    tok = make_tokenizer()
    for i in range(constrained._MAX_GRAMMARS + 4):
        schema = {"type": "object", "properties": {f"p{i}": {"type": "boolean"}}, "required": [f"p{i}"]}
        grammar = constrained.JsonGrammar(tok, schema)
        grammar.finish_within(grammar.new_guide(whole=True), [0], 1, whole=True)  # builds the distances
    assert len(constrained._index_cache) <= constrained._MAX_GRAMMARS
    assert len(constrained._distance_cache) <= constrained._MAX_GRAMMARS
    newest = next(reversed(constrained._index_cache))
    assert f"p{constrained._MAX_GRAMMARS + 3}" in newest[1]  # the latest stays


def test_long_string_bounds_are_left_to_the_tools_validation():
    # maxLength=2000 compiles to 2000 counted states (a 2.5 GB index for SmolLM2's vocabulary);
    # short bounds stay in the grammar.
    from genaisys.core.constrained import _MAX_COUNTED, _without_long_bounds

    schema = {"type": "object", "properties": {
        "query": {"type": "string", "minLength": 1, "maxLength": 2000},
        "tag": {"anyOf": [{"type": "string", "maxLength": _MAX_COUNTED}, {"type": "null"}]}}}
    relaxed = _without_long_bounds(schema)
    assert relaxed["properties"]["query"] == {"type": "string", "minLength": 1}
    assert relaxed["properties"]["tag"] == schema["properties"]["tag"]
    assert schema["properties"]["query"]["maxLength"] == 2000  # the tool's own schema is untouched
