from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from langchain_core.messages import AIMessage

from genaisys.errors import ConfigError, UnknownNameError
from genaisys.eval.task import EvalItem, Prediction
from genaisys.eval.tasks import get_task, list_tasks, register_task, unregister_task
from genaisys.eval.tasks.easy_vqa import image_attributes
from genaisys.eval.tasks.mc_circular import rotations
from genaisys.eval.tasks.pope import OBJECTS


def test_registry_lists_known_names_and_takes_new_tasks() -> None:
    assert {"easy-vqa", "pope", "pope-random", "pope-popular", "pope-adversarial", "mc-circular", "tool-routing",
            "rag-qa", "judge"} <= set(list_tasks())
    with pytest.raises(UnknownNameError, match="known: .*easy-vqa"):
        get_task("easy-vqa2")
    with pytest.raises(ConfigError, match="cannot take options"):
        get_task("easy-vqa", colour="red")
    register_task("my-vqa", "genaisys.eval.tasks.easy_vqa:EasyVQATask", split="train")
    try:
        assert get_task("my-vqa").split == "train"
        with pytest.raises(ConfigError, match="already registered"):
            register_task("my-vqa", lambda: None)
    finally:
        unregister_task("my-vqa")
    assert "my-vqa" not in list_tasks()


def test_image_attributes_from_questions(tiny_vqa, tiny_truth) -> None:
    assert image_attributes("test", tiny_vqa) == tiny_truth


def test_easy_vqa_items_and_scoring(tiny_vqa) -> None:
    task = get_task("easy-vqa", root=tiny_vqa)
    items = task.load(seed=0)
    assert len(items) == 24 and len({i.id for i in items}) == 24
    assert [i.id for i in items] == [i.id for i in task.load(seed=0)]  # seeded order
    assert [i.id for i in items] != [i.id for i in task.load(seed=1)]
    assert [i.id for i in task.load(limit=5)] == [i.id for i in items[:5]]
    yn = next(i for i in items if i.reference == "yes")
    op = next(i for i in items if i.reference == "circle")
    assert task.score(yn, Prediction("Yes, there is."))["correct"]
    assert not task.score(yn, Prediction("No."))["correct"]
    assert task.score(op, Prediction("It is a circle."))["pred"] == "circle"
    assert task.score(op, Prediction("circle or triangle"))["pred"] is None
    neg = EvalItem(id="n", prompt="x", reference="yes", meta={"kind": "yes/no", "question": "is there not a circle?"})
    assert task.score(neg, Prediction("There is no circle."))["pred"] is None  # ambiguous: not read
    assert task.score(neg, Prediction("Yes."))["correct"]
    col = EvalItem(id="c", prompt="x", reference="red", meta={"kind": "open", "question": "what color is the circle?"})
    assert task.score(col, Prediction("The circle is red."))["correct"]
    msgs = task.build_messages(op)
    assert msgs[0].content[0]["type"] == "image" and msgs[0].content[-1]["text"] == op.prompt
    recs = [{"correct": True, "pred": "yes", "kind": "yes/no"}, {"correct": False, "pred": None, "kind": "open"},
            {"correct": True, "pred": "circle", "kind": "open"}, {"correct": False, "pred": "no", "kind": "yes/no"}]
    assert task.metrics(recs) == {"accuracy": 0.5, "accuracy_yes_no": 0.5, "accuracy_open": 0.5,
                                  "yes_ratio": 0.5, "unparsed": 0.25}


@pytest.mark.parametrize("setting", ["random", "popular", "adversarial"])
def test_pope_settings(tiny_vqa, tiny_truth, setting: str) -> None:
    task = get_task(f"pope-{setting}", root=tiny_vqa)
    assert task.name == f"pope-{setting}"
    items = task.load(seed=0)
    assert len(items) == 12 and sum(i.reference == "yes" for i in items) == 6
    for item in items:
        img = int(item.id.split("-")[1])
        present = " ".join(tiny_truth[img])
        obj = item.meta["object"]
        assert obj in OBJECTS and item.prompt.startswith(f"Is there a {obj} in the image?")
        assert (obj == present) == (item.reference == "yes")
        if item.reference == "no" and setting == "adversarial":  # shares colour or shape
            assert obj.split()[0] == present.split()[0] or obj.split()[1] == present.split()[1]
        if item.reference == "no" and setting == "popular":  # red circle is the most frequent (2 images)
            assert obj == ("red circle" if present != "red circle" else "blue triangle")
    with pytest.raises(ConfigError, match="setting"):
        get_task("pope", setting="hard")


def test_pope_metrics_use_predicted_yes_ratio(tiny_vqa) -> None:
    task = get_task("pope-random", root=tiny_vqa)
    recs = [{"pred": "yes", "ref": "yes"}, {"pred": "yes", "ref": "no"}, {"pred": None, "ref": "yes"},
            {"pred": "no", "ref": "no"}]
    m = task.metrics(recs)
    assert m["yes_ratio"] == 0.5 and m["precision"] == 0.5 and m["recall"] == 0.5 and m["unparsed"] == 0.25


def test_circular_eval_needs_every_rotation(tiny_vqa, tmp_path) -> None:
    assert rotations("abcd")[3] == ["d", "a", "b", "c"]
    task = get_task("mc-circular", root=tiny_vqa)
    items = task.load(limit=2, seed=0)
    groups = {i.group for i in items}
    assert len(groups) == 2 and len(items) == sum(len(i.meta["options"]) for i in items if i.meta["rotation"] == 0)
    # the right answer visits every letter
    for g in groups:
        letters = sorted(i.reference for i in items if i.group == g)
        assert letters == sorted("ABCD"[:len(letters)])
    # Always "A": right on exactly one rotation per question → vanilla may be lucky, circular is 0.
    recs = [task.score(i, Prediction("A")) for i in items]
    m = task.metrics(recs)
    assert m["circular_accuracy"] == 0.0 and m["rotation_accuracy"] == pytest.approx(2 / len(items))
    oracle = [task.score(i, Prediction(f"The answer is {i.reference}.")) for i in items]
    assert task.metrics(oracle) == {"circular_accuracy": 1.0, "vanilla_accuracy": 1.0, "rotation_accuracy": 1.0}
    # One rotation wrong sinks its question.
    oracle[0]["correct"] = False
    assert task.metrics(oracle)["circular_accuracy"] == 0.5
    data = tmp_path / "mc.jsonl"
    data.write_text(json.dumps({"id": "q", "question": "2+2?", "options": ["3", "4"], "answer": "4"}) + "\n")
    own = get_task("mc-circular", data=data).load()
    assert [i.reference for i in own] == ["B", "A"]
    data.write_text(json.dumps({"id": "q", "question": "2+2?", "options": ["3", "5"], "answer": "4"}) + "\n")
    with pytest.raises(ConfigError, match="one of the options"):
        get_task("mc-circular", data=data).load()


def _call(name: str, **args):
    return Prediction("", tool_calls=[{"name": name, "args": args}])


def test_tool_routing_scoring() -> None:
    task = get_task("tool-routing")
    items = {i.id: i for i in task.load()}
    assert len(items) == 16
    assert task.labels == ("calculator", "current_time", "http_fetch", "read_file", "(none)")
    r = task.score(items["calc-1"], _call("calculator", expression="37 * 49"))
    assert r["right_tool"] and r["args_valid"] and r["args_match"] and r["correct"]
    r = task.score(items["calc-1"], _call("calculator", expr="37*49"))  # missing required argument
    assert r["right_tool"] and r["args_valid"] is False and not r["correct"]
    r = task.score(items["clock-1"], _call("calculator", expression="1"))
    assert not r["right_tool"] and not r["correct"]
    r = task.score(items["none-1"], Prediction("I'm fine, thanks!"))
    assert r["correct"] and r["args_valid"] is None
    r = task.score(items["none-2"], _call("http_fetch", url="https://x.org"))
    assert not r["correct"]
    recs = [task.score(items["calc-1"], _call("calculator", expression="37*49")),
            task.score(items["calc-2"], _call("calculator", x=1)),
            task.score(items["none-1"], Prediction("hi")),
            task.score(items["none-2"], _call("calculator", expression="1"))]
    assert task.metrics(recs) == {"accuracy": 0.5, "routing_accuracy": 0.75, "args_valid": 2 / 3,
                                  "tool_recall": 1.0, "no_tool_accuracy": 0.5}


@dataclass
class _Hit:
    text: str
    source: str


class FakeMemory:
    """Keyword 'retrieval' over a few passages: what rag-qa needs from a memory, no embeddings."""

    def __init__(self) -> None:
        from genaisys.eval.tasks.rag_qa import pydoc_passages

        self.passages = [_Hit(t, s) for s, t in pydoc_passages()]

    def search(self, query: str, k: int = 4):
        words = {w.strip("?'.,").lower() for w in query.split() if len(w) > 3}
        return sorted(self.passages, key=lambda h: (-sum(w in h.text.lower() for w in words), h.source))[:k]


def test_rag_qa_on_a_fake_memory() -> None:
    task = get_task("rag-qa", memory=FakeMemory(), k=3)
    items = task.load(limit=3)
    assert [i.id for i in items] == ["raise", "pass", "break"]
    item = items[1]
    assert "[1] (pydoc:" in item.prompt and len(item.meta["sources"]) == 3
    gold_n = next((n for n, s in enumerate(item.meta["sources"], 1) if s in item.meta["gold"]), None)
    wrong_n = next(n for n, s in enumerate(item.meta["sources"], 1) if s not in item.meta["gold"])
    cite = f"[{gold_n}]" if gold_n else ""
    r = task.score(item, Prediction(f"The pass statement. {cite}[{wrong_n}][9]"))  # [9] is out of range: ignored
    assert r["correct"] and r["n_cited"] == (2 if gold_n else 1) and r["n_cited_gold"] == (1 if gold_n else 0)
    recs = [{"correct": True, "n_cited": 2, "n_cited_gold": 1, "retrieval_hit": True},
            {"correct": False, "n_cited": 0, "n_cited_gold": 0, "retrieval_hit": False},
            {"correct": True, "n_cited": 1, "n_cited_gold": 1, "retrieval_hit": True}]
    assert task.metrics(recs) == {"answer_accuracy": 2 / 3, "citation_precision": 2 / 3, "cited_ratio": 2 / 3,
                                  "retrieval_hit": 2 / 3}


def test_judge_with_a_scripted_judge(scripted, tiny_vqa) -> None:
    from genaisys.eval.tasks.judge import JUDGE_PROMPT

    def verdict(text: str, images) -> str:  # fair judge: 5 when the reference's words are in the answer
        ref = text.split("Reference answer: ")[1].split("\n")[0].strip(". ").lower().split()[1:]
        ans = text.split("Answer to grade: ")[1].split("\n")[0].lower()
        return "Score: 5\nmatches" if all(w in ans for w in ref) else "**Score:** 1 - wrong"

    judge = scripted(answer=verdict, name_="fair-judge")
    task = get_task("judge", judge=judge, root=tiny_vqa)
    items = task.load(limit=4)
    preds = [Prediction(i.reference) if n % 2 == 0 else Prediction("A purple star.") for n, i in enumerate(items)]
    recs = task.score_all(items, preds)
    assert [r["score"] for r in recs] == [5, 1, 5, 1]
    import hashlib

    for r, item, p in zip(recs, items, preds):
        assert r["judge_id"].startswith("scripted:fair-judge:")
        assert r["judge_prompt_sha256"] == hashlib.sha256(JUDGE_PROMPT.encode()).hexdigest()
        rendered = JUDGE_PROMPT.format(question=item.prompt, reference=item.reference, answer=p.text)
        assert r["judge_input_sha256"] == hashlib.sha256(rendered.encode()).hexdigest()
    assert task.metrics(recs) == {"mean_score": 3.0, "pass_rate": 0.5, "unparsed": 0.0}
    assert task.options()["judge_id"] == recs[0]["judge_id"]
    with pytest.raises(ConfigError, match="needs a judge"):
        get_task("judge", root=tiny_vqa).score_all(items, preds)
    with pytest.raises(ConfigError, match="must contain"):
        get_task("judge", prompt="Rate {answer}")


def test_user_task_in_one_file(scripted) -> None:
    from genaisys.eval.metrics import accuracy
    from genaisys.eval.parsing import normalize
    from genaisys.eval.runner import run_eval
    from genaisys.eval.task import BaseTask

    class CapitalsTask(BaseTask):
        name = "capitals"

        def load(self, *, limit=None, seed=0):
            return [EvalItem(id="fr", prompt="Capital of France?", reference="Paris"),
                    EvalItem(id="de", prompt="Capital of Germany?", reference="Berlin")][:limit]

        def score(self, item, prediction):
            return {"correct": normalize(item.reference) in normalize(prediction.text).split()}

        def metrics(self, records):
            return {"accuracy": accuracy([r["correct"] for r in records])}

    model = scripted(answer=lambda t, i: "Paris." if "France" in t else AIMessage(content="Munich"))
    result = run_eval(CapitalsTask(), model, n_resamples=50)
    assert result.metrics["accuracy"]["value"] == 0.5
