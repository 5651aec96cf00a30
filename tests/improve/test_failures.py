"""Eval failures → SFT records / DPO pairs with the reference answer, from real eval runs."""

from __future__ import annotations

import json

import pytest

from genaisys.errors import ConfigError
from genaisys.eval.adversarial import gather_adversarial
from genaisys.eval.runner import run_eval
from genaisys.eval.tasks import get_task
from genaisys.train.data import to_messages, to_preference, validate_record
from genaisys.improve.failures import failures_to_pairs, failures_to_records
from tests.eval.conftest import ScriptedChat


def test_tool_routing_failures_become_validated_tool_calls(tmp_path):
    task = get_task("tool-routing")
    result = run_eval(task, ScriptedChat(answer=lambda text, images: "Sure!"), n_resamples=10)
    failed = [r for r in result.records if not r["correct"]]
    assert len(failed) == 11  # every item that needs a tool
    recs = failures_to_records(result)
    assert len(recs) == 11
    schemas = {t.name: t.args_schema for t in task.tools}
    for rec in recs:
        validate_record(rec)
        call = rec["conversations"][1]["tool_calls"][0]
        schemas[call["name"]].model_validate(call["arguments"])
        msgs, tools = to_messages(rec)
        assert len(tools) == 4 and msgs[1].tool_calls[0]["name"] == call["name"]
    by_prompt = {r["conversations"][0]["value"]: r for r in recs}
    assert by_prompt["What time is it now in Tokyo?"]["conversations"][1]["tool_calls"][0]["arguments"] == {
        "timezone": "Asia/Tokyo"}
    # the same from the saved result file and from the gathered adversarial set
    path = result.save(tmp_path / "result.json")
    assert failures_to_records(path) == recs
    gather_adversarial(tmp_path / "adv.jsonl", results=[result])
    assert {r["conversations"][0]["value"] for r in failures_to_records(tmp_path / "adv.jsonl")} == set(by_prompt)


def test_no_tool_failures_use_the_curated_answer_or_are_skipped():
    rows = [{"id": "a", "task": "tool-routing", "prompt": "Tell me a joke.", "images": [],
             "reference": {"tool": None, "args": {}}, "rejected": ""},
            {"id": "b", "task": "tool-routing", "prompt": "Hello! How are you today?", "images": [],
             "reference": {"tool": None, "args": {}}, "rejected": ""}]
    recs = failures_to_records(rows)
    assert len(recs) == 1 and recs[0]["conversations"][1]["value"].startswith("Why did the scarecrow")


@pytest.mark.packaged
def test_easy_vqa_and_pope_failures_answer_like_the_generators(tmp_path):
    evqa = run_eval(get_task("easy-vqa"), ScriptedChat(answer=lambda t, i: "circle"), limit=12, n_resamples=10)
    pope = run_eval(get_task("pope-random"), ScriptedChat(answer=lambda t, i: "yes"), limit=12, n_resamples=10)
    wrong = {r["id"] for r in evqa.records if not r["correct"]}
    recs = failures_to_records([evqa, pope])
    ev = [r for r in recs if r["meta"]["task"] == "easy-vqa"]
    assert len(ev) == len(wrong) > 0
    for rec in ev:
        human, gpt = rec["conversations"]
        assert human["value"].startswith("<image>\n") and human["value"].endswith("\nAnswer with a single word.")
        assert gpt["value"] != "circle" and " " not in gpt["value"]
    po = [r for r in recs if r["meta"]["task"] == "pope-random"]
    assert po and {r["conversations"][1]["value"] for r in po} == {"No"}
    msgs, _ = to_messages(po[0], inline_images=True)  # what the eval sent: image block then the prompt
    item = next(i for i in get_task("pope-random").load(limit=12) if i.prompt in msgs[0].content[1]["text"])
    assert msgs[0].content == get_task("pope-random").build_messages(item)[0].content
    pairs = failures_to_pairs(pope)
    assert pairs and all(p["chosen"] == {"value": "No"} and p["rejected"] == "yes" for p in pairs)
    _, chosen, rejected, _ = to_preference(pairs[0])
    assert (chosen.content, rejected.content) == ("No", "yes")


def test_session_rows_and_bad_sources(tmp_path):
    adv = tmp_path / "adv.jsonl"
    adv.write_text("\n".join(json.dumps(r) for r in [
        {"id": "s1", "source": "session", "origin": "t#1", "task": None, "prompt": "What is 2+2?", "images": [],
         "reference": "4", "rejected": "5"},
        {"id": "s2", "source": "session", "origin": "t#3", "task": None, "prompt": "Capital of Italy?",
         "images": [], "reference": None, "rejected": "Paris"}]) + "\n")
    recs = failures_to_records(adv)
    assert [r["conversations"][1]["value"] for r in recs] == ["4"]  # no reference: skipped
    assert failures_to_pairs(adv)[0]["rejected"] == "5"
    with pytest.raises(ConfigError, match="no eval result"):
        failures_to_records(tmp_path / "missing.json")
    (tmp_path / "bad.jsonl").write_text("{oops\n")
    with pytest.raises(ConfigError, match=r"bad\.jsonl:1"):
        failures_to_records(tmp_path / "bad.jsonl")


def test_docstring_examples_run():
    import doctest

    import genaisys.improve.failures as module

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
