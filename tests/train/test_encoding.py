"""Conversations → ids and labels through the inference renderer; only assistant turns learn."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from genaisys.errors import PreflightError
from genaisys.train.encoding import IGNORE_INDEX, encode_conversation, image_ref


@tool
def get_weather(city: str) -> str:
    """Weather in a city."""
    return "sunny"


def _label_text(chat, enc):
    return chat.tokenizer.decode([t for t in enc.labels if t != IGNORE_INDEX])


def test_only_the_assistant_turn_is_labelled(chat, images):
    msgs = [HumanMessage([images[0], {"type": "text", "text": "What colour?"}]), AIMessage("red")]
    enc = encode_conversation(chat, msgs)
    assert _label_text(chat, enc) == "red<|im_end|>\n"
    assert enc.images == [images[0]]
    assert enc.input_ids.count(chat.core.image_token_id) == 1
    # The prompt part is exactly what inference tokenises for the same question.
    prompt, _ = chat.render_prompt(msgs[:1])
    prompt_ids = chat.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert enc.input_ids[:len(prompt_ids)] == prompt_ids
    assert set(enc.labels[:len(prompt_ids)]) == {IGNORE_INDEX}


def test_tool_call_and_answer_turns_learn_the_tool_result_does_not(chat):
    msgs = [HumanMessage("Weather in Paris?"),
            AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "c1"}]),
            ToolMessage("sunny", tool_call_id="c1", name="get_weather"),
            AIMessage("It is sunny.")]
    enc = encode_conversation(chat, msgs, [get_weather])
    assert len(enc.spans) == 2
    first = chat.tokenizer.decode(enc.input_ids[slice(*enc.spans[0])])
    assert first.startswith("<tool_call>") and '"city": "Paris"' in first
    assert chat.tokenizer.decode(enc.input_ids[slice(*enc.spans[1])]) == "It is sunny.<|im_end|>\n"
    assert "sunny</tool_response>" not in _label_text(chat, enc)
    last = encode_conversation(chat, msgs, [get_weather], train_on="last")
    assert _label_text(chat, last) == "It is sunny.<|im_end|>\n"


def test_a_template_that_rewrites_history_is_refused(chat):
    # Renders earlier assistant turns differently from the generation prompt: prefixes disagree.
    chat.tokenizer.chat_template = (
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>bot\n' }}{% endif %}")
    with pytest.raises(PreflightError, match="continuation of the prompt"):
        encode_conversation(chat, [HumanMessage("Hi"), AIMessage("Hello")])


def test_no_assistant_turn_and_truncation(chat, images):
    with pytest.raises(PreflightError, match="no assistant turn"):
        encode_conversation(chat, [HumanMessage("Hi")])
    msgs = [HumanMessage([{"type": "text", "text": "One two three four five six seven"}, images[0]]),
            AIMessage("red")]
    cut = encode_conversation(chat, msgs, max_length=6)
    assert len(cut.input_ids) == 6 and cut.images == [] and set(cut.labels) == {IGNORE_INDEX}


def test_image_ref_is_stable_for_data_blocks():
    block = {"type": "image", "base64": "aGVsbG8=", "mime_type": "image/png"}
    assert image_ref(block) == image_ref(dict(block)) and image_ref(block).startswith("sha256:")
    assert image_ref({"type": "image_url", "image_url": {"url": "/x.png"}}) == "/x.png"
