"""Closed-set tool choice: the scores are the LM's own log-probabilities, and the choice binds."""

from __future__ import annotations

import math

import pytest
import torch
from langchain_core.messages import HumanMessage
from pydantic import BaseModel

from genaisys.core.chat import ChatCore
from genaisys.core.tool_choice import NO_TOOL, choose_tool

from .conftest import make_lm, make_tokenizer

pytest.importorskip("outlines_core", reason="a chosen tool's call decodes under its grammar (outlines-core)")


class Lights(BaseModel):
    """Switch the lights."""

    on: bool


class Weather(BaseModel):
    """The weather in a city."""

    city: str


def _chat(**kwargs):
    tok = make_tokenizer()
    return ChatCore(language_model=make_lm(len(tok)), tokenizer=tok, max_new_tokens=40, **kwargs)


def _full_logprob(chat: ChatCore, prompt: str, continuation: str, drop_last: int = 0) -> float:
    """log P(continuation | prompt) from one uncached pass over the whole text (less its last
    ``drop_last`` tokens)."""
    tok = chat.tokenizer
    p = tok(prompt, add_special_tokens=False)["input_ids"]
    ids = tok(prompt + continuation, add_special_tokens=False)["input_ids"]
    assert ids[:len(p)] == p
    with torch.no_grad():
        logp = torch.log_softmax(chat.language_model(torch.tensor([ids])).logits[0].float(), -1)
    return float(sum(logp[i - 1, ids[i]] for i in range(len(p), len(ids) - drop_last)))


def test_scores_are_the_lms_log_probabilities_of_each_option():
    chat = _chat()
    bound = chat.bind_tools([Lights, Weather])
    tools = bound.kwargs["tools"]
    prompt, images = chat._render([HumanMessage("Is it raining in Paris?")], tools, None)
    scores = chat.engine.tool_scores(prompt, images, ["Lights", "Weather"])
    for name in ("Lights", "Weather"):
        opening = f'<tool_call>{{"name": "{name}", "arguments"'
        assert scores[name] == pytest.approx(_full_logprob(chat, prompt, opening, drop_last=1), abs=1e-3)
    p_open = math.exp(_full_logprob(chat, prompt, "<tool_call>"))
    assert scores[NO_TOOL] == pytest.approx(math.log(1 - p_open), abs=1e-4)
    assert math.exp(scores["Lights"]) + math.exp(scores["Weather"]) <= p_open + 1e-6


def test_choose_tool_takes_the_best_option_and_the_bias_moves_it():
    scores = {NO_TOOL: -1.0, "a": -1.5, "b": -3.0}
    assert choose_tool(scores) == NO_TOOL
    assert choose_tool(scores, no_tool_bias=-0.6) == "a"
    assert choose_tool({NO_TOOL: -1.0, "a": -1.0}) == NO_TOOL  # a tie answers without a tool


def test_a_chosen_tool_is_called_validly_and_no_tool_answers_in_text():
    # A random LM never opens a call by itself; a bias against "no tool" makes the choice a call,
    # whose arguments then decode under the chosen tool's grammar.
    eager = _chat(scored_tool_choice=True, no_tool_bias=-1e9).bind_tools([Lights, Weather])
    msg = eager.invoke("Is it raining in Paris?", seed=0)
    assert len(msg.tool_calls) == 1 and msg.invalid_tool_calls == []
    call = msg.tool_calls[0]
    {"Lights": Lights, "Weather": Weather}[call["name"]](**call["args"])
    shy = _chat(scored_tool_choice=True, no_tool_bias=1e9).bind_tools([Lights, Weather])
    assert shy.invoke("Is it raining in Paris?", seed=0).tool_calls == []
    # per call, as other ChatCore options
    assert _chat().bind_tools([Lights]).invoke("x", seed=0, scored_tool_choice=True,
                                                no_tool_bias=-1e9).tool_calls[0]["name"] == "Lights"


def test_the_decode_after_scoring_starts_from_the_scored_prompts_cache():
    chat = _chat(scored_tool_choice=True, no_tool_bias=1e9)
    prompt, _ = chat._render([HumanMessage("Is it raining in Paris?")], chat.bind_tools([Lights]).kwargs["tools"], None)
    n_prompt = len(chat.tokenizer(prompt, add_special_tokens=False)["input_ids"])
    chat.bind_tools([Lights]).invoke("Is it raining in Paris?", seed=0)
    # scoring prefilled the prompt; the decode reused all of it but the last token
    assert chat.engine.prefix_hits[-2:] == [0, n_prompt - 1]


def test_a_no_tool_choice_binds_even_when_the_model_opens_a_call(scripted_chat):
    text = '<tool_call>{"name": "Lights", "arguments": {"on": true}}</tool_call>'
    free = scripted_chat(text).bind_tools([Lights]).invoke("Lights on?")
    assert [c["name"] for c in free.tool_calls] == ["Lights"]  # the model itself calls
    bound = scripted_chat(text, scored_tool_choice=True, no_tool_bias=1e9).bind_tools([Lights]).invoke("Lights on?")
    assert bound.tool_calls == [] and bound.invalid_tool_calls == []
    assert "<tool_call>" not in bound.text
