"""Tool-use conversations: valid arguments, real results, distractors, no eval phrasing leaks."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from genaisys.errors import ConfigError
from genaisys.eval.parsing import normalize
from genaisys.eval.tasks.tool_routing import _ITEMS, ToolRoutingTask
from genaisys.train.data import to_messages, validate_record
from genaisys.train.engine.tool_use import DISTRACTORS, TEMPLATES, tool_conversations, tool_routing_items


def _words(text: str) -> list[str]:
    return normalize(text).split()


def _lcs(a: list[str], b: list[str]) -> int:
    row = [0] * (len(b) + 1)
    for x in a:
        prev = 0
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], (prev + 1 if x == y else max(row[j], row[j - 1]))
    return row[-1]


def _rouge_l(a: str, b: str) -> float:
    wa, wb = _words(a), _words(b)
    lcs = _lcs(wa, wb)
    return 0.0 if not lcs else 2 * lcs / (len(wa) + len(wb))


@pytest.fixture(scope="module")
def train():
    return tool_conversations(600, seed=0)


def test_every_tool_and_distractors_appear_and_args_validate(train):
    task = ToolRoutingTask()
    schemas = {t.name: t.args_schema for t in task.tools}
    kinds = Counter(r["meta"]["tool"] for r in train)
    assert set(kinds) == {"calculator", "current_time", "http_fetch", "read_file", None}
    assert 0.2 < kinds[None] / len(train) < 0.4
    for rec in train:
        validate_record(rec)
        assert rec["tools"] == ["builtin:calculator", "builtin:clock", "builtin:http_fetch", "builtin:file_reader"]
        gpt = rec["conversations"][1]
        if rec["meta"]["tool"] is None:
            assert "tool_calls" not in gpt and gpt["value"]
            continue
        call = gpt["tool_calls"][0]
        schemas[call["name"]].model_validate(call["arguments"])
        # the eval scorer itself accepts it as the right tool with valid args
        from genaisys.eval.task import EvalItem, Prediction

        item = EvalItem(id="x", prompt="", reference={"tool": call["name"], "args": call["arguments"]})
        assert task.score(item, Prediction(text="", tool_calls=[{"name": call["name"], "args": call["arguments"]}]))[
            "correct"]


def test_tool_results_are_real_and_answers_use_them(train):
    with_result = [r for r in train if len(r["conversations"]) == 4]
    assert len(with_result) > 100
    from genaisys.tools.calculator import evaluate

    for rec in with_result:
        _, call, result, answer = rec["conversations"]
        assert result["tool_call_id"] == call["tool_calls"][0]["id"] and result["name"] == call["tool_calls"][0]["name"]
        if result["name"] == "calculator":
            expr = call["tool_calls"][0]["arguments"]["expression"]
            assert float(result["value"]) == pytest.approx(float(evaluate(expr)))
            assert f"{float(result['value']):.10g}" in answer["value"]
        if result["name"] == "current_time":
            assert result["value"][11:16] in answer["value"]  # HH:MM from the clock's own output


def test_no_eval_request_or_near_copy_in_training_phrasings(train):
    eval_prompts = [p for _, p, _, _ in _ITEMS]
    train_prompts = {r["conversations"][0]["value"] for r in tool_conversations(3000, seed=1)} | {
        r["conversations"][0]["value"] for r in train}
    for p in train_prompts:
        for e in eval_prompts:
            assert normalize(p) != normalize(e)
            assert _rouge_l(p, e) < 0.8, (p, e)


def test_heldout_templates_and_distractors_are_disjoint_from_train():
    for tool, templates in TEMPLATES["heldout"].items():
        assert not set(templates) & set(TEMPLATES["train"][tool])
        for t in templates:
            assert max(_rouge_l(t, u) for u in TEMPLATES["train"][tool]) < 0.7, t
    train_d = {p for p, _ in DISTRACTORS["train"]}
    assert not train_d & {p for p, _ in DISTRACTORS["heldout"]}
    heldout_prompts = {i["prompt"] for i in tool_routing_items(150, seed=0)}
    train_prompts = {r["conversations"][0]["value"] for r in tool_conversations(3000, seed=0)}
    assert not heldout_prompts & train_prompts


def test_routing_items_load_in_the_eval_task(tmp_path):
    path = tmp_path / "heldout.jsonl"
    items = tool_routing_items(40, seed=0, path=path)
    assert len({i["prompt"] for i in items}) == 40
    assert json.loads(path.read_text().splitlines()[0]) == items[0]
    loaded = ToolRoutingTask(data=path).load()
    assert [i.id for i in loaded] == [i["id"] for i in items]
    assert {i.reference["tool"] for i in loaded} == {"calculator", "current_time", "http_fetch", "read_file", None}


def test_bad_arguments_are_refused():
    with pytest.raises(ConfigError, match="covers"):
        tool_conversations(2, tools=("builtin:nope",))
    with pytest.raises(ConfigError, match="split"):
        tool_conversations(2, split="test")
    with pytest.raises(ConfigError, match="between 0 and 1"):
        tool_conversations(2, distractor_ratio=2)
    only = tool_conversations(20, seed=0, tools=("builtin:calculator",), distractor_ratio=0)
    assert {r["conversations"][1]["tool_calls"][0]["name"] for r in only} == {"calculator"}


def test_same_seed_same_records():
    assert tool_conversations(30, seed=5) == tool_conversations(30, seed=5)


def test_records_render_with_a_tiny_core(chat, train):
    for rec in train[:12]:
        msgs, tools = to_messages(rec)
        prompt, images = chat.render_prompt(msgs, tools=tools)
        assert not images and "read_file" in prompt and rec["conversations"][0]["value"] in prompt
