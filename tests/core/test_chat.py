"""ChatCore: LangChain face over a local core — text, streaming, async, tools, images, stops."""

from __future__ import annotations

import asyncio
import base64
import io
from pathlib import Path

import pytest
import torch
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.utils.function_calling import convert_to_openai_tool
from PIL import Image

from genaisys.core.chat import ChatCore
from genaisys.core.media import load_image_block
from genaisys.errors import CoreError, MediaError

from .conftest import CHATML_TOOLS, SCHEMA, GetWeather, calc, get_time, make_lm, make_tokenizer


def _png(size=(8, 6), color="blue") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()




def test_invoke_returns_the_text_with_usage_and_uses_the_kv_cache(scripted_chat):
    chat = scripted_chat("A cat sits on a red mat.")
    msg = chat.invoke("What is in the picture?")
    assert msg.content == "A cat sits on a red mat."
    assert msg.response_metadata["finish_reason"] == "stop"
    n_prompt = len(chat.tokenizer.apply_chat_template([{"role": "user", "content": "What is in the picture?"}],
                                                      tokenize=True, add_generation_prompt=True)["input_ids"])
    assert msg.usage_metadata["input_tokens"] == n_prompt
    assert msg.usage_metadata["output_tokens"] == len(chat.tokenizer("A cat sits on a red mat.")["input_ids"])
    calls = chat.language_model.calls
    assert calls[0] == n_prompt and set(calls[1:]) == {1}  # prompt once, then one token per step


def test_stream_yields_token_chunks_that_add_up_to_invoke(scripted_chat):
    chat = scripted_chat("One two three four five.")
    chunks = list(chat.stream("Count."))
    texts = [c.content for c in chunks if c.content]
    assert len(texts) > 2
    assert "".join(texts) == "One two three four five."
    total = sum(chunks[1:], chunks[0])
    assert total.usage_metadata["output_tokens"] > 2


def test_async_invoke_and_stream(scripted_chat):
    chat = scripted_chat("The weather in Paris is sunny.")

    async def go():
        msg = await chat.ainvoke("Weather?")
        parts = [c.content async for c in chat.astream("Weather?")]
        return msg, parts

    msg, parts = asyncio.run(go())
    assert msg.content == "The weather in Paris is sunny."
    assert "".join(parts) == msg.content and len([p for p in parts if p]) > 1


def test_stop_sequences_and_max_new_tokens(scripted_chat):
    chat = scripted_chat("One two three STOP four five.")
    assert chat.invoke("Count.", stop=["STOP"]).content == "One two three "
    assert "".join(c.content for c in chat.stream("Count.", stop=["STOP"])) == "One two three "
    short = chat.invoke("Count.", max_new_tokens=2)
    assert short.response_metadata["finish_reason"] == "length"
    assert short.usage_metadata["output_tokens"] == 2


@pytest.mark.parametrize("tools", [[GetWeather], [calc], [get_time], [SCHEMA], [GetWeather, calc, get_time, SCHEMA]])
def test_bind_tools_accepts_every_tool_form_and_lists_them_in_the_prompt(scripted_chat, tools):
    chat = scripted_chat("ok")
    bound = chat.bind_tools(tools)
    prompt, _ = chat._render([HumanMessage("hi")], bound.kwargs["tools"], None)
    for spec in bound.kwargs["tools"]:
        assert f'- {spec["function"]["name"]}(' in prompt  # one signature line per tool
    assert "<tool_call>" in prompt and prompt.startswith("<|im_start|>system\nYou are a helpful assistant.")


def test_tool_calls_come_back_as_tool_calls_in_invoke_and_stream(scripted_chat):
    text = 'Let me check.<tool_call>{"name": "GetWeather", "arguments": {"city": "Paris"}}</tool_call>'
    bound = scripted_chat(text).bind_tools([GetWeather, calc])
    msg = bound.invoke("Weather in Paris?")
    assert msg.content == "Let me check."
    assert [(c["name"], c["args"]) for c in msg.tool_calls] == [("GetWeather", {"city": "Paris"})]
    assert msg.tool_calls[0]["id"].startswith("call_")
    assert msg.response_metadata["finish_reason"] == "tool_calls"
    chunks = list(bound.stream("Weather in Paris?"))
    assert all("<tool_call>" not in c.content for c in chunks)  # raw call text never leaks
    total = sum(chunks[1:], chunks[0])
    assert total.content == "Let me check."
    assert [(c["name"], c["args"]) for c in total.tool_calls] == [("GetWeather", {"city": "Paris"})]


def test_unusable_tool_calls_are_invalid_with_a_message(scripted_chat):
    bound = scripted_chat('<tool_call>{"name": "rm_rf", "arguments": {}}</tool_call>').bind_tools([calc])
    msg = bound.invoke("go")
    assert msg.tool_calls == [] and len(msg.invalid_tool_calls) == 1
    assert "no tool named 'rm_rf'" in msg.invalid_tool_calls[0]["error"]
    chunks = list(bound.stream("go"))
    total = sum(chunks[1:], chunks[0])
    assert total.tool_calls == [] and "rm_rf" in total.invalid_tool_calls[0]["args"]


def test_braces_in_plain_answers_still_stream_out(scripted_chat):
    bound = scripted_chat("Use {x} here.").bind_tools([calc])
    assert "".join(c.content for c in bound.stream("?")) == "Use {x} here."
    assert bound.invoke("?").content == "Use {x} here."


def test_tool_turns_are_rendered_back_into_the_prompt(scripted_chat):
    chat = scripted_chat("ok")
    history = [SystemMessage("Be brief."), HumanMessage("2+2?"),
               AIMessage("", tool_calls=[{"name": "calc", "args": {"expression": "2+2"}, "id": "call_1"}]),
               ToolMessage("4", tool_call_id="call_1")]
    prompt, _ = chat._render(history, [{"type": "function", "function": {"name": "calc"}}], None)
    assert prompt.startswith("<|im_start|>system\nBe brief.\n\n# Tools")
    assert '<|im_start|>assistant\n<tool_call>{"name": "calc", "arguments": {"expression": "2+2"}}</tool_call>' in prompt
    assert '<|im_start|>tool\n<tool_response>{"name": "calc", "content": "4"}</tool_response>' in prompt


def test_tool_choice_and_native_templates(scripted_chat):
    tools = [{"type": "function", "function": {"name": "calc"}}]
    chat = scripted_chat("ok")
    assert "You must answer with at least one tool call" in chat._render([HumanMessage("x")], tools, "any")[0]
    assert "You must call the tool 'calc'" in chat._render([HumanMessage("x")], tools, "calc")[0]
    assert "# Tools" not in chat._render([HumanMessage("x")], tools, "none")[0]
    native = scripted_chat("ok", template=CHATML_TOOLS)
    prompt = native._render([HumanMessage("x")], tools, None)[0]
    assert "TOOLS:calc;" in prompt and "# Tools" not in prompt  # the template's own tool rendering


def test_greedy_decoding_matches_transformers_generate():
    tok = make_tokenizer()
    lm = make_lm(len(tok))
    chat = ChatCore(language_model=lm, tokenizer=tok, max_new_tokens=6)
    msg = chat.invoke("One two")
    ids = tok.apply_chat_template([{"role": "user", "content": "One two"}], tokenize=True,
                                  add_generation_prompt=True, return_tensors="pt")["input_ids"]
    ref = lm.generate(ids, max_new_tokens=6, do_sample=False, pad_token_id=tok.pad_token_id)
    assert msg.content == tok.decode(ref[0, ids.shape[1]:], skip_special_tokens=True)


def test_sampling_is_reproducible_with_a_seed():
    tok = make_tokenizer()
    chat = ChatCore(language_model=make_lm(len(tok)), tokenizer=tok, max_new_tokens=8, temperature=1.5, seed=7)
    a, b = chat.invoke("One").content, chat.invoke("One").content
    assert a == b
    assert chat.invoke("One", seed=8).content != a or chat.invoke("One", seed=9).content != a


class _Blobs:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, blob_id: str) -> Path:
        p = self.root / blob_id
        if not p.is_file():
            raise KeyError(blob_id)
        return p


def test_every_image_block_form_reaches_the_core(tiny_core, tmp_path):
    png = _png()
    (tmp_path / "a.png").write_bytes(png)
    (tmp_path / "blob123").write_bytes(png)
    b64 = base64.b64encode(png).decode()
    blocks = [
        {"type": "image", "base64": b64, "mime_type": "image/png"},
        {"type": "image", "url": f"data:image/png;base64,{b64}"},
        {"type": "image", "url": (tmp_path / "a.png").as_uri()},
        {"type": "image", "url": str(tmp_path / "a.png")},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64}"}},
        {"type": "image", "file_id": "blob123"},
        {"type": "image", "source_type": "base64", "data": b64, "mime_type": "image/png"},
    ]
    chat = ChatCore(core=tiny_core, blobs=_Blobs(tmp_path), max_new_tokens=3)
    msg = HumanMessage(content=[{"type": "text", "text": "Compare"}, *blocks, {"type": "text", "text": "please"}])
    prompt, images = chat._render([msg], None, None)
    assert len(images) == 7 and all(im.size == (8, 6) for im in images)
    assert prompt.count("<image>") == 7 and "Compare<image>" in prompt and "<image>please" in prompt
    out = chat.invoke([msg])
    assert isinstance(out.content, str)
    assert out.usage_metadata["input_tokens"] >= 7 * tiny_core.n_image_tokens


@pytest.mark.parametrize(("block", "match"), [
    ({"type": "image", "base64": "!!notbase64!!", "mime_type": "image/png"}, "base64 image data .* corrupt"),
    ({"type": "image", "base64": base64.b64encode(b"GIF89a garbage").decode()}, "cannot be decoded"),
    ({"type": "image", "base64": base64.b64encode(_png()[:40]).decode()}, "cannot be decoded"),
    ({"type": "image", "base64": ""}, "empty"),
    ({"type": "image", "url": "https://example.com/cat.png"}, "does not fetch remote images"),
    ({"type": "image", "url": "/nonexistent/cat.png"}, "does not exist"),
    ({"type": "image", "url": "data:image/png,rawbytes"}, "base64 encoded"),
    ({"type": "image", "file_id": "nope"}, "not in the blob store"),
    ({"type": "image"}, "needs one of"),
])
def test_bad_images_raise_media_errors(tmp_path, block, match):
    with pytest.raises(MediaError, match=match):
        load_image_block(block, _Blobs(tmp_path))


def test_blob_ids_without_a_store_and_images_for_text_only_cores(scripted_chat):
    with pytest.raises(MediaError, match="no blob store"):
        load_image_block({"type": "image", "file_id": "x"})
    chat = scripted_chat("ok")
    with pytest.raises(CoreError, match="cannot see images"):
        chat.invoke([HumanMessage(content=[{"type": "image", "base64": base64.b64encode(_png()).decode(),
                                            "mime_type": "image/png"}])])
    with pytest.raises(CoreError, match="audio"):
        chat.invoke([HumanMessage(content=[{"type": "audio", "base64": "AAAA"}])])
    with pytest.raises(ValueError, match="core="):  # pydantic wraps the ConfigError
        ChatCore()


def test_multimodal_chat_streams_with_an_image(tiny_core):
    chat = ChatCore(core=tiny_core, max_new_tokens=4)
    msg = HumanMessage(content=[{"type": "image", "base64": base64.b64encode(_png()).decode(), "mime_type": "image/png"},
                                {"type": "text", "text": "What is it?"}])
    torch.manual_seed(0)
    streamed = "".join(c.content for c in chat.stream([msg]))
    assert streamed == chat.invoke([msg]).content


def test_leaving_an_async_stream_early_stops_decoding(scripted_chat):
    text = " ".join(["word"] * 40)
    chat = scripted_chat(text)
    chat.language_model.delay = 0.01  # 40 tokens would take 0.4 s

    async def go():
        stream = chat.astream("Talk.")
        async for chunk in stream:
            if chunk.content:
                break
        await stream.aclose()
        await asyncio.sleep(0.2)  # let the worker notice
        return await chat.ainvoke("Talk.", max_new_tokens=3)

    again = asyncio.run(go())
    assert again.usage_metadata["output_tokens"] == 3  # the model lock was released
    first_run_steps = chat.language_model.calls.index(chat.language_model.calls[0], 1)
    assert first_run_steps < 30  # the abandoned stream did not decode all ~40 tokens


def test_batch_decodes_rows_together_and_equals_separate_invokes():
    tok = make_tokenizer()
    chat = ChatCore(language_model=make_lm(len(tok)), tokenizer=tok, max_new_tokens=6)
    prompts = ["One", "The weather in Paris is sunny today", "What is in the picture? A cat"]
    batched = chat.batch(prompts)
    single = [chat.invoke(p) for p in prompts]
    assert [m.content for m in batched] == [m.content for m in single]
    assert [m.usage_metadata for m in batched] == [m.usage_metadata for m in single]
    assert [m.content for m in asyncio.run(chat.abatch(prompts))] == [m.content for m in single]


def test_batch_with_images_errors_tools_and_stops(tiny_core, scripted_chat):
    chat = ChatCore(core=tiny_core, max_new_tokens=4)
    b64 = base64.b64encode(_png()).decode()
    img = {"type": "image", "base64": b64, "mime_type": "image/png"}
    rows = [[HumanMessage("no image")], [HumanMessage(content=[img, {"type": "text", "text": "one"}])],
            [HumanMessage(content=[img, img, {"type": "text", "text": "two"}])],
            [HumanMessage(content=[{"type": "image", "base64": "!!", "mime_type": "image/png"}])]]
    out = chat.batch_generate(rows, return_exceptions=True)
    assert isinstance(out[3], MediaError)
    assert [m.content for m in out[:3]] == [chat.invoke(r).content for r in rows[:3]]
    with pytest.raises(MediaError):
        chat.batch_generate(rows)
    text = 'Sure.<tool_call>{"name": "calc", "arguments": {"expression": "1+1"}}</tool_call>'
    bound = scripted_chat(text).bind_tools([calc])
    calls = bound.batch(["a", "b, longer prompt"])
    assert [[(c["name"], c["args"]) for c in m.tool_calls] for m in calls] == [[("calc", {"expression": "1+1"})]] * 2
    assert [m.content for m in scripted_chat("One two STOP three").batch(["x", "yy"], stop=["STOP"])] == ["One two "] * 2


def test_concurrent_greedy_answers_equal_sequential_ones():
    from concurrent.futures import ThreadPoolExecutor

    tok = make_tokenizer()
    lm = make_lm(len(tok))
    prompts = ["One", "The weather in Paris", "What is in the picture?"]
    sequential = [ChatCore(language_model=lm, tokenizer=tok, max_new_tokens=5).invoke(p).content for p in prompts]
    chat = ChatCore(language_model=lm, tokenizer=tok, max_new_tokens=5, batch_window_ms=100)
    with ThreadPoolExecutor(3) as pool:
        assert list(pool.map(lambda p: chat.invoke(p).content, prompts)) == sequential


def test_images_returned_by_tools_are_seen_or_named(tiny_core, scripted_chat):
    img = {"type": "image", "base64": base64.b64encode(_png()).decode(), "mime_type": "image/png"}
    history = [HumanMessage("Show me."),
               AIMessage("", tool_calls=[{"name": "camera", "args": {}, "id": "call_9"}]),
               ToolMessage(content=[{"type": "text", "text": "snapshot:"}, img], tool_call_id="call_9")]
    prompt, images = ChatCore(core=tiny_core)._render(history, None, None)
    assert len(images) == 1 and '"content": "snapshot:<image>"' in prompt
    prompt, images = scripted_chat("ok")._render(history, None, None)
    assert images == [] and "text-only model cannot see" in prompt


def test_render_prompt_is_what_invoke_decodes_from(scripted_chat):
    chat = scripted_chat("ok")
    prompt, images = chat.render_prompt([HumanMessage("2+2?")], tools=[calc])
    assert images == [] and '- calc(expression: string)' in prompt and prompt.endswith("<|im_start|>assistant\n")
    chat.invoke("2+2?", tools=[convert_to_openai_tool(calc)])
    assert chat.language_model.calls[0] == len(chat.tokenizer(prompt, add_special_tokens=False)["input_ids"])


def test_the_prefill_projects_only_the_last_position_like_generate():
    tok = make_tokenizer()
    lm = make_lm(len(tok))
    seen = []
    lm.register_forward_hook(lambda m, args, kwargs, out: seen.append((kwargs.get("logits_to_keep"),
                                                                      out.logits.shape[1])), with_kwargs=True)
    chat = ChatCore(language_model=lm, tokenizer=tok, max_new_tokens=3)
    chat.invoke("One two three four")
    assert seen[0] == (1, 1)  # not (L, V) logits for the whole prompt
    seen.clear()
    chat.batch(["One", "One two three four"])
    assert seen[0] == (1, 1)


def test_a_shared_prompt_prefix_is_prefilled_once_and_answers_stay_the_same():
    tok = make_tokenizer()
    lm = make_lm(len(tok))
    system = SystemMessage("You are a helpful assistant. Answer the question about the image. " * 2)
    turns = [[system, HumanMessage("One two")], [system, HumanMessage("The weather in Paris")],
             [system, HumanMessage("One two")]]
    cached = ChatCore(language_model=lm, tokenizer=tok, max_new_tokens=6)
    fresh = ChatCore(language_model=lm, tokenizer=tok, max_new_tokens=6, prefix_cache=False)
    for msgs in turns:
        assert cached.invoke(msgs).content == fresh.invoke(msgs).content
        assert "".join(c.content for c in cached.stream(msgs)) == fresh.invoke(msgs).content
    assert cached.engine.prefix_hits[0] == 0 and min(cached.engine.prefix_hits[1:]) >= 16
    assert fresh.engine.prefix_hits == []
    with torch.no_grad():  # an in-place weight update (a training step) invalidates the cache
        lm.model.layers[0].mlp.up_proj.weight.mul_(1.5)
    assert cached.invoke(turns[0]).content == fresh.invoke(turns[0]).content
    assert cached.engine.prefix_hits[-1] == 0


def test_media_an_earlier_answer_carried_is_named_not_shown(scripted_chat):
    chat = scripted_chat("ok")
    answer = AIMessage([{"type": "text", "text": "Here it is."}, {"type": "audio", "file_id": "sha256:aa"},
                        {"type": "image", "file_id": "sha256:bb"}])
    prompt, images = chat.render_prompt([HumanMessage("Say hi"), answer, HumanMessage("Again?")])
    assert "Here it is.[audio attached][image attached]" in prompt and images == []
    assert chat.invoke([HumanMessage("Say hi"), answer, HumanMessage("Again?")]).content == "ok"
