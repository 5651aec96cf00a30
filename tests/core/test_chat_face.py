"""ChatCore's LangChain face end to end: every tool form through a real call,
every ``tool_choice``, ``with_structured_output``, usage metadata and stop sequences in every path."""

from __future__ import annotations

import asyncio
import json

import pytest
import torch
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from genaisys.core.chat import ChatCore

from .conftest import SCHEMA, GetWeather, calc, get_time, make_lm, make_tokenizer


OPENAI_TOOL = {"type": "function", "function": {"name": "search", "description": "Search the web.",
                                                "parameters": {"type": "object",
                                                               "properties": {"query": {"type": "string"}}}}}


def _call(name: str, args: dict) -> str:
    return "<tool_call>" + json.dumps({"name": name, "arguments": args}) + "</tool_call>"


@pytest.mark.parametrize(("form", "name", "args"), [
    (GetWeather, "GetWeather", {"city": "Paris"}),  # a pydantic model
    (calc, "calc", {"expression": "2+2"}),  # a plain function
    (get_time, "get_time", {"zone": "UTC"}),  # a LangChain tool
    (SCHEMA, "lookup", {"word": "cat"}),  # a bare JSON schema
    (OPENAI_TOOL, "search", {"query": "cats"}),  # an OpenAI tool dict
])
def test_every_tool_form_gets_its_call_back(scripted_chat, form, name, args):
    chat = scripted_chat(_call(name, args))
    bound = chat.bind_tools([form])
    msg = bound.invoke("go")
    assert [(c["name"], c["args"]) for c in msg.tool_calls] == [(name, args)]
    total = None
    for chunk in bound.stream("go"):
        total = chunk if total is None else total + chunk
    assert [(c["name"], c["args"]) for c in total.tool_calls] == [(name, args)]
    assert [(c["name"], c["args"]) for c in bound.batch(["go"])[0].tool_calls] == [(name, args)]


def _prompt_tokens(chat: ChatCore) -> int:
    return chat.language_model.calls[0]


def test_tool_choice_none_hides_the_tools_and_returns_no_calls(scripted_chat):
    chat = scripted_chat(_call("calc", {"expression": "1+1"}))
    msg = chat.bind_tools([calc], tool_choice="none").invoke("go")
    assert msg.tool_calls == [] and msg.invalid_tool_calls == []
    assert '"calc"' in msg.content  # the text stays text
    assert chat.bind_tools([calc], tool_choice="none").batch(["go"])[0].tool_calls == []
    assert "".join(c.content for c in chat.bind_tools([calc], tool_choice="none").stream("go")) == msg.content
    plain = scripted_chat("x")
    plain.invoke("go")
    assert _prompt_tokens(chat) == _prompt_tokens(plain)  # the prompt has no tool section


@pytest.mark.parametrize("choice", [None, "auto", "any", "required", "calc"])
def test_tool_choice_auto_any_required_and_named(scripted_chat, choice):
    chat = scripted_chat(_call("calc", {"expression": "1+1"}))
    msg = chat.bind_tools([calc, GetWeather], tool_choice=choice).invoke("go")
    assert [c["name"] for c in msg.tool_calls] == ["calc"]
    prompt = chat.render_prompt([HumanMessage("go")], tools=[calc, GetWeather], tool_choice=choice)[0]
    if choice in ("any", "required"):
        assert "You must answer with at least one tool call now." in prompt
    elif choice == "calc":
        assert "You must call the tool 'calc' now." in prompt
    else:
        assert "You must" not in prompt


def test_a_named_tool_choice_with_constraints_calls_that_tool_from_a_random_model():
    pytest.importorskip("outlines_core")
    tok = make_tokenizer()
    torch.manual_seed(0)
    chat = ChatCore(language_model=make_lm(len(tok)), tokenizer=tok, max_new_tokens=120, constrain_tool_calls=True)
    for choice in ("GetWeather", "calc"):
        msg = chat.bind_tools([calc, GetWeather], tool_choice=choice).invoke("go", seed=3)
        assert [c["name"] for c in msg.tool_calls] == [choice]


def test_structured_output_with_a_pydantic_model_a_json_schema_and_include_raw(scripted_chat):
    chat = scripted_chat(_call("GetWeather", {"city": "Oslo"}))
    assert chat.with_structured_output(GetWeather).invoke("Oslo?") == GetWeather(city="Oslo")
    as_dict = scripted_chat(_call("lookup", {"word": "owl"})).with_structured_output(SCHEMA).invoke("owl?")
    assert as_dict == {"word": "owl"}
    raw = chat.with_structured_output(GetWeather, include_raw=True).invoke("Oslo?")
    assert raw["parsed"] == GetWeather(city="Oslo") and raw["parsing_error"] is None
    assert raw["raw"].usage_metadata["output_tokens"] > 0
    # A call the token limit cuts off is an invalid call with the reason, never a repaired one.
    cut = scripted_chat(_call("GetWeather", {"city": "Oslo"}), max_tokens=4)
    missing = cut.with_structured_output(GetWeather, include_raw=True).invoke("Oslo?")
    assert missing["parsed"] is None and missing["raw"].tool_calls == []
    assert missing["raw"].response_metadata["finish_reason"] == "length"
    assert "cut off by the token limit" in missing["raw"].invalid_tool_calls[0]["error"]
    assert asyncio.run(chat.with_structured_output(GetWeather).ainvoke("Oslo?")) == GetWeather(city="Oslo")


@pytest.mark.parametrize("method", ["json_schema", "json_mode"])
def test_structured_output_as_json_is_decoded_under_the_schema(scripted_chat, method):
    chat = scripted_chat('{"city": "Oslo"}')
    assert chat.with_structured_output(GetWeather, method=method).invoke("Oslo?") == GetWeather(city="Oslo")
    assert chat.with_structured_output(SCHEMA, method=method).invoke("x") is not None
    raw = chat.with_structured_output(GetWeather, method=method, include_raw=True).invoke("Oslo?")
    assert raw["raw"].content == '{"city": "Oslo"}' and raw["parsing_error"] is None
    streamed = list(chat.with_structured_output(GetWeather, method=method).stream("Oslo?"))
    assert streamed[-1] == GetWeather(city="Oslo")


def test_a_tool_call_cut_off_by_the_limit_is_invalid_and_finishes_with_length(scripted_chat):
    chat = scripted_chat("Let me see. " + _call("calc", {"expression": "1+1"}), max_tokens=24)
    msg = chat.bind_tools([calc]).invoke("go")
    assert msg.tool_calls == [] and msg.content == "Let me see."
    assert msg.response_metadata["finish_reason"] == "length"
    (bad,) = msg.invalid_tool_calls
    assert bad["name"] == "calc" and "cut off by the token limit" in bad["error"]
    # Streamed, the same call stays invalid once the chunks are added up.
    total = None
    for chunk in chat.bind_tools([calc]).stream("go"):
        total = chunk if total is None else total + chunk
    assert total.tool_calls == [] and total.invalid_tool_calls[0]["name"] == "calc"


def test_standard_constructor_parameters_max_tokens_and_stop_are_honoured(scripted_chat):
    chat = scripted_chat("One two three four five six seven eight nine ten.", max_tokens=3)
    assert chat.max_new_tokens == 3
    out = chat.invoke("count")
    assert out.usage_metadata["output_tokens"] == 3 and out.response_metadata["finish_reason"] == "length"
    assert chat.invoke("count", max_tokens=2).usage_metadata["output_tokens"] == 2
    stopped = scripted_chat("One two three four five.", stop=["three"]).invoke("count")
    assert stopped.content == "One two " and stopped.response_metadata["finish_reason"] == "stop"
    assert scripted_chat("One two three.", stop=["three"]).invoke("count", stop=["two"]).content == "One "
    params = chat._get_ls_params()
    assert params["ls_max_tokens"] == 3 and params["ls_provider"] == "genaisys"
    with pytest.raises(ValueError, match="two names of one setting"):
        scripted_chat("x", max_tokens=3, max_new_tokens=5)


def test_ai_turns_with_tool_use_and_thinking_blocks_render(scripted_chat):
    chat = scripted_chat("ok")
    history = [HumanMessage("What is 1 + 2"),
               AIMessage([{"type": "thinking", "thinking": "add them"}, {"type": "text", "text": "some text"},
                          {"type": "tool_use", "id": "abc", "name": "calc", "input": {"expression": "1+2"}}],
                         tool_calls=[{"name": "calc", "args": {"expression": "1+2"}, "id": "abc", "type": "tool_call"}]),
               ToolMessage("3", tool_call_id="abc", name="calc")]
    prompt, _ = chat.render_prompt(history, tools=[calc])
    assert "some text" in prompt and '"expression": "1+2"' in prompt and "add them" not in prompt
    assert chat.bind_tools([calc]).invoke(history).content == "ok"


def test_usage_metadata_and_stops_agree_across_invoke_stream_async_and_batch(scripted_chat):
    chat = scripted_chat("One two three STOP four five.")
    ref = chat.invoke("Count.", stop=["STOP"])
    assert ref.content == "One two three "
    usage = ref.usage_metadata
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0
    streamed = None
    for chunk in chat.stream("Count.", stop=["STOP"]):
        streamed = chunk if streamed is None else streamed + chunk
    assert streamed.content == ref.content and streamed.usage_metadata == usage

    async def go():
        msg = await chat.ainvoke("Count.", stop=["STOP"])
        parts = [c.content async for c in chat.astream("Count.", stop=["STOP"])]
        return msg, "".join(parts)

    amsg, atext = asyncio.run(go())
    assert amsg.content == atext == ref.content and amsg.usage_metadata == usage
    batched = chat.batch(["Count.", "Count."], stop=["STOP"])
    assert [m.content for m in batched] == [ref.content] * 2
    assert batched[0].usage_metadata == usage
    bound = chat.bind(stop=["three"])  # stops bound like any other kwarg
    assert bound.invoke("Count.").content == "One two "


def test_a_bound_model_batches_in_one_padded_decode(scripted_chat):
    chat = scripted_chat(_call("calc", {"expression": "1+1"}))
    out = chat.bind_tools([calc]).batch(["a", "bb", "ccc"])
    assert [[c["name"] for c in m.tool_calls] for m in out] == [["calc"]] * 3
    assert max(chat.language_model.batch_sizes) == 3  # one batch, not three threads of one row


def test_an_unreadable_image_in_a_tool_result_becomes_a_note_for_the_model(tiny_core):
    import base64

    from genaisys.errors import MediaError

    chat = ChatCore(core=tiny_core, max_new_tokens=2)
    broken = {"type": "image", "base64": base64.b64encode(b"\x89PNG\r\n\x1a\nnot really").decode(),
              "mime_type": "image/png"}
    history = [HumanMessage("Show me."),
               AIMessage("", tool_calls=[{"name": "camera", "args": {}, "id": "c1", "type": "tool_call"}]),
               ToolMessage(content=[{"type": "text", "text": "snapshot:"}, broken], tool_call_id="c1", name="camera")]
    prompt, images = chat.render_prompt(history)
    assert images == [] and "the tool returned an image that cannot be read" in prompt
    assert chat.invoke(history).usage_metadata["output_tokens"] <= 2
    with pytest.raises(MediaError):  # the user's own broken image is still refused
        chat.invoke([HumanMessage(content=[broken])])
