"""Label balance of a round's training data: `balance_labels` on records, and a tiny-core round that
reports the counts and draws its before/after plot."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from genaisys.eval.metrics import accuracy
from genaisys.eval.task import BaseTask, EvalItem
from genaisys.improve.balance import balance_labels, record_label
from genaisys.improve.round import improvement_round
from tests.train.conftest import tiny_chat


def _rec(i, answer, task="pope-random"):
    meta = {"task": task} if task else {"source": "session"}
    return {"id": f"r{i}", "conversations": [{"from": "human", "value": f"Question {i}?"},
                                             {"from": "gpt", "value": answer}], "meta": meta}


def test_labels_are_read_from_short_answers_only():
    assert record_label(_rec(0, "Yes")) == "yes" and record_label(_rec(0, "No, there is not.")) == "no"
    assert record_label(_rec(0, "blue")) is None
    assert record_label(_rec(0, "no one knows what the shape in the picture is")) is None  # a sentence, not a label
    assert record_label(_rec(0, "blue"), labels=("blue", "red")) == "blue"
    tool = {"conversations": [{"from": "gpt", "value": "", "tool_calls": [{"name": "calculator", "arguments": {}}]}]}
    assert record_label(tool) is None and record_label({"conversations": []}) is None


def test_the_minority_label_is_topped_up_from_the_pool():
    records = [_rec(i, "Yes") for i in range(3)] + [_rec(3, "No")]
    pool = [_rec(10 + i, "No") for i in range(5)] + [_rec(20, "Yes")]
    out, counts = balance_labels(records, pool, seed=1)
    assert counts["groups"]["pope-random"] == {"before": {"yes": 3, "no": 1}, "after": {"yes": 3, "no": 3},
                                               "added": 2, "dropped": 0}
    assert [r["id"] for r in out[:4]] == ["r0", "r1", "r2", "r3"]  # kept records first, in order
    assert {r["id"] for r in out[4:]} <= {f"r{10 + i}" for i in range(5)}
    assert counts["added"] == 2 and counts["dropped"] == 0


def test_the_majority_is_downsampled_when_the_pool_runs_short():
    records = [_rec(i, "Yes") for i in range(6)]
    out, counts = balance_labels(records, [_rec(10, "no")])
    assert counts["groups"]["pope-random"]["after"] == {"yes": 1, "no": 1}
    assert counts["dropped"] == 5 and len(out) == 2
    # nothing to top up with at all: the biased records go (better none than a taught bias)
    out, counts = balance_labels(records, [])
    assert out == [] and counts["groups"]["pope-random"]["after"] == {"yes": 0, "no": 0}


def test_groups_are_per_task_and_other_answers_are_left_alone():
    records = [_rec(0, "Yes"), _rec(1, "No", task="easy-vqa"), _rec(2, "red", task="easy-vqa"), _rec(3, "Yes")]
    pool = [_rec(10, "No", task="easy-vqa"), _rec(11, "Yes", task="easy-vqa"), _rec(12, "No")]
    out, counts = balance_labels(records, pool)
    assert counts["groups"]["pope-random"] == {"before": {"yes": 2, "no": 0}, "after": {"yes": 1, "no": 1},
                                               "added": 1, "dropped": 1}
    # easy-vqa's yes/no answers are topped up from easy-vqa items only; its colour answer is not a label
    assert counts["groups"]["easy-vqa"]["after"] == {"yes": 1, "no": 1}
    ids = [r["id"] for r in out]
    assert "r2" in ids and "r11" in ids and "r10" not in ids and "r12" in ids


def test_session_answers_draw_from_any_task_and_nothing_is_added_twice():
    records = [_rec(0, "Yes", task=None), _rec(1, "Yes", task=None), _rec(2, "Yes")]
    pool = [_rec(10, "No"), _rec(11, "No", task="easy-vqa")]
    out, counts = balance_labels(records, pool)
    assert counts["groups"]["sessions"]["after"]["no"] + counts["groups"]["pope-random"]["after"]["no"] == 2
    assert len([r["id"] for r in out]) == len({r["id"] for r in out})
    assert balance_labels(records, pool, labels=())[0] == records  # nothing to balance


class YesNoTask(BaseTask):
    """12 items "Is it red?" on solid images; probe items c0–c3 say yes, c4–c5 no. Scoring stands in for a
    core biased to "no": every no-item counts as right and every yes-item as wrong."""

    name = "yes-no"
    labels = ("yes", "no")

    def __init__(self, folder) -> None:
        self.folder = folder

    def load(self, *, limit=None, seed=0):
        items = []
        for i in range(12):
            ref = "yes" if i < 4 or (i > 5 and i % 2) else "no"
            path = self.folder / f"yn{i}.png"
            if not path.exists():
                Image.new("RGB", (32, 32), "red" if ref == "yes" else "green").save(path)
            items.append(EvalItem(id=f"c{i}", prompt="Is it red? Answer yes or no.", images=(str(path),),
                                  reference=ref))
        return items[:limit] if limit is not None else items

    def score(self, item, prediction):
        return {"id": item.id, "pred": "no", "ref": item.reference, "correct": item.reference == "no"}

    def metrics(self, records):
        return {"accuracy": accuracy([r["correct"] for r in records]),
                "yes_ratio": sum(r["pred"] == "yes" for r in records) / len(records) if records else 0.0}


def test_a_round_balances_its_labels_reports_them_and_plots(tmp_path):
    torch.set_num_threads(1)
    report = improvement_round(tiny_chat(init=0.2), tasks=[YesNoTask(tmp_path)], out_dir=tmp_path / "loop", limit=6,
                               holdout=2, steps=2, replay_records=[], n_resamples=50,
                               train_overrides={"loop.batch_size": 4,
                                                "stage_options.feature_dir": str(tmp_path / "features")})
    # four yes-failures; the two no-items answered right are added, and two yes-failures dropped
    labels = report.training["labels"]
    assert labels["groups"]["yes-no"] == {"before": {"yes": 4, "no": 0}, "after": {"yes": 2, "no": 2},
                                          "added": 2, "dropped": 2}
    assert report.training["records"] == {"failures": 4, "contrast": 0, "sessions": 0, "session_weight": 1, "balance_added": 2,
                                          "balance_dropped": 2, "replay": 0, "total": 4}
    train = [json.loads(x) for x in (report.round_dir / "data" / "train.jsonl").read_text().splitlines()]
    assert sorted(r["conversations"][-1]["value"] for r in train) == ["no", "no", "yes", "yes"]
    added = [r for r in train if r["meta"]["source"] == "balance"]
    assert sorted(r["meta"]["origin"] for r in added) == ["yes-no/c4", "yes-no/c5"]  # probe items, never held-out
    data = json.loads((report.round_dir / "loop_report.json").read_text())
    assert data["training"]["labels"]["groups"]["yes-no"]["after"] == {"yes": 2, "no": 2}
    md = (report.round_dir / "loop_report.md").read_text()
    assert "### Answer labels trained on (yes / no)" in md and "| yes-no | yes | 4 | 2 |" in md
    assert "| yes-no | no | 0 | 2 |" in md
    # the before/after plot sits beside the report, linked from it
    png = report.round_dir / "loop_report.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    assert "![before and after per task and slice](loop_report.png)" in md and data["plot"] == "loop_report.png"
    # what the model card shows of the round: held-out before → after, the adversarial set, the decision
    from genaisys.improve.nano import _rounds_section, round_summary

    summary = round_summary(report.round_dir / "loop_report.json", name="Round 1", source="tiny", plot="r1.png")
    assert [(h["task"], h["metric"]) for h in summary["heldout"]] == [("yes-no", "accuracy"), ("yes-no", "yes_ratio")]
    assert summary["adversarial"]["n"] == 4 and summary["records"]["balance_added"] == 2
    section = _rounds_section([summary])
    assert "### Round 1" in section and "![Round 1: before → after](r1.png)" in section
    assert f"**Promotion: {summary['decision'].split(':')[0]}**" in section and "| yes-no | yes_ratio |" in section
    assert "rounds on this core" in section
    # once a new core ships, the rounds stay on its card as history of the core they ran on
    older = _rounds_section([{**summary, "core": "nano@9368c0c009"}])
    assert "rounds on the core shipped before this one (`nano@9368c0c009`)" in older and "### Round 1" in older


def test_the_plot_needs_something_to_draw(tmp_path):
    from genaisys.errors import ConfigError
    from genaisys.eval.report import plot_before_after

    with pytest.raises(ConfigError, match="nothing to plot"):
        plot_before_after({"t": {"probe": {"before": {"f1": {"value": 1.0}}, "after": None}}}, tmp_path / "x.png")
