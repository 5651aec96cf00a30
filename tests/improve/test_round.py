"""`genaisys improve`: one round on a tiny core — evaluate, gather, retrain, re-evaluate, report."""

from __future__ import annotations

import json
import sqlite3

import pytest
import torch
import yaml
from PIL import Image
from typer.testing import CliRunner

from genaisys.errors import ConfigError
from genaisys.improve.round import LoopReport, _pair_row, default_replay, improvement_round
from genaisys.eval.metrics import accuracy
from genaisys.eval.parsing import normalize
from genaisys.eval.task import BaseTask, EvalItem
from tests.train.conftest import tiny_chat

_COLOURS = ("red", "green")


class ColourTask(BaseTask):
    """12 solid 32×32 images, red and green in turn: "Colour?" → the colour word (first word counts)."""

    name = "colours"

    def __init__(self, folder) -> None:
        self.folder = folder

    def load(self, *, limit=None, seed=0):
        items = []
        for i in range(12):
            path = self.folder / f"img{i}.png"
            if not path.exists():
                Image.new("RGB", (32, 32), _COLOURS[i % 2]).save(path)
            items.append(EvalItem(id=f"c{i}", prompt="Colour?", images=(str(path),), reference=_COLOURS[i % 2]))
        return items[:limit] if limit is not None else items

    def score(self, item, prediction):
        words = normalize(prediction.text).split()
        return {"id": item.id, "correct": bool(words) and words[0] == item.reference}

    def metrics(self, records):
        return {"accuracy": accuracy([r["correct"] for r in records])}


_TRAIN = {"loop.lr": 1e-2, "loop.batch_size": 4}


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def _round(tmp_path, core, **kw):
    kw.setdefault("train_overrides", {**_TRAIN, "stage_options.feature_dir": str(tmp_path / "features")})
    return improvement_round(core, tasks=[ColourTask(tmp_path)], out_dir=tmp_path / "loop", limit=6, holdout=6,
                             steps=30, replay_records=[], n_resamples=200, **kw)


def test_one_round_fixes_the_adversarial_set_and_reports_it(tmp_path):
    report = _round(tmp_path, tiny_chat(init=0.2))
    assert isinstance(report, LoopReport) and report.round_dir.name == "round-001"
    adv_rows = [json.loads(x) for x in (tmp_path / "loop" / "adversarial.jsonl").read_text().splitlines()]
    # the random core got every probe item wrong: all six were gathered with their references
    assert len(adv_rows) == 6 and {r["source"] for r in adv_rows} == {"eval"}
    assert sorted(r["origin"] for r in adv_rows) == sorted(f"colours/c{i}" for i in range(6))
    assert report.adversarial_set["added"] == 6 and report.training["records"] == {
        "failures": 6, "contrast": 0, "sessions": 0, "session_weight": 1, "balance_added": 0, "balance_dropped": 0,
        "replay": 0, "total": 6}
    assert report.training["labels"]["groups"] == {}  # colour answers are not yes/no: nothing to balance
    assert report.training["steps"] == 30 and report.training["final_loss"] < report.training["first_loss"]
    # before: 0/6 on the adversarial set (by construction); after: learnt
    adv = report.adversarial
    assert adv["n"] == 6 and adv["before"]["accuracy"]["value"] == 0.0
    assert adv["after"]["accuracy"]["value"] >= 5 / 6
    assert adv["compare"]["accuracy"]["beyond_noise"] is True
    slices = report.tasks["colours"]
    assert set(slices) == {"probe", "heldout", "adversarial"} and slices["heldout"]["n"] == 6
    # the held-out items (never trained on) are solid colours too, so the fix carries over here
    held = slices["heldout"]
    assert held["before"]["accuracy"]["value"] == 0.0 and held["after"]["accuracy"]["value"] >= 5 / 6
    assert held["compare"]["accuracy"]["delta"] == pytest.approx(held["after"]["accuracy"]["value"])
    # the written report says the same, with the leakage note
    data = json.loads((report.round_dir / "loop_report.json").read_text())
    assert data["adversarial"]["after"]["accuracy"]["value"] == adv["after"]["accuracy"]["value"]
    md = (report.round_dir / "loop_report.md").read_text()
    assert "Leakage" in md and "held-out" in md and "| colours | heldout | 6 | accuracy | 0.000" in md
    # per-slice results and the trained core are on disk; the after core answers from the cache
    assert (report.round_dir / "after" / "heldout" / "colours" / "result.json").is_file()
    assert (report.core_after / "genaisys_core.json").is_file()
    cached = [json.loads(x) for x in (tmp_path / "loop" / "predictions.jsonl").read_text().splitlines()]
    assert {r["model_id"] for r in cached} == {report.model_before, report.model_after}
    assert len(cached) == 24  # 12 items × 2 models: the adversarial slice reused the probe answers

    # round 2 starts from round 1's core; the set keeps round 1's rows (nothing new failed or few did)
    second = _round(tmp_path, str(report.core_after), max_new_tokens=4)
    assert second.round_dir.name == "round-002" and second.model_before.startswith(str(report.core_after))
    assert second.adversarial_set["total"] == 6 + second.adversarial_set["added"]
    assert second.adversarial["before"]["accuracy"]["value"] == adv["after"]["accuracy"]["value"]


class GuardTask(ColourTask):
    """Scored like `ColourTask`, but its failures may never train (a held-out suite's guard)."""

    name = "guard"
    failures_trainable = False


class GraphColourTask(ColourTask):
    """`ColourTask` run the way the held-out suites run: ``run(model, items=...)``, not ``run_eval``."""

    name = "graph-colours"
    drives_graphs = True

    def __init__(self, folder) -> None:
        super().__init__(folder)
        self.runs: list[list[str]] = []

    def prepare_model(self, model):
        raise ConfigError("graph-driven: use run()")

    def run(self, chat, *, items, seed, model_id, folder):
        from genaisys.eval.heldout._common import finish
        from genaisys.eval.task import Prediction

        self.runs.append([i.id for i in items])
        replies = chat.batch([self.build_messages(i) for i in items])
        return finish(self, items, [Prediction(text=r.content) for r in replies], model_id=model_id, seed=seed,
                      n_resamples=50)


def test_guards_and_graph_suites_take_part_without_training(tmp_path):
    for sub in ("g", "gr"):
        (tmp_path / sub).mkdir()
    guard, graph = GuardTask(tmp_path / "g"), GraphColourTask(tmp_path / "gr")
    report = improvement_round(
        tiny_chat(init=0.2), tasks=[ColourTask(tmp_path), guard, graph], out_dir=tmp_path / "loop",
        limit={"colours": 6, "guard": 4, "graph-colours": 2}, holdout={"colours": 2, "guard": 3, "graph-colours": 5},
        steps=2, replay_records=[], n_resamples=50,
        train_overrides={**_TRAIN, "stage_options.feature_dir": str(tmp_path / "features")})
    # per-task slices: the guard is evaluated on its probe and held-out items, before and after
    assert report.tasks["guard"]["probe"]["n"] == 4 and report.tasks["guard"]["heldout"]["n"] == 3
    assert report.tasks["colours"]["heldout"]["n"] == 2
    # the graph-driven task ran through its own run(): probe, held-out and its failures, before and after
    assert sorted(map(len, graph.runs)) == [2, 2, 2, 2, 5, 5] and report.tasks["graph-colours"]["heldout"]["n"] == 5
    # only the trainable tasks' failures were gathered and trained on; the guard is named in the notes
    rows = [json.loads(x) for x in (tmp_path / "loop" / "adversarial.jsonl").read_text().splitlines()]
    assert {r["task"] for r in rows} == {"colours", "graph-colours"}
    assert report.training["records"]["failures"] == len(rows) == 8
    assert "adversarial" not in report.tasks["guard"]
    assert any("guard" in n and "never trained on" in n for n in report.notes)
    with pytest.raises(ConfigError, match="names no count"):
        improvement_round(tiny_chat(), tasks=[ColourTask(tmp_path), guard], out_dir=tmp_path / "l2",
                          limit={"colours": 2}, n_resamples=10)


def test_early_stopping_scores_segments_on_a_validation_cut(tmp_path):
    guard_dir = tmp_path / "g"
    guard_dir.mkdir()
    report = improvement_round(
        tiny_chat(init=0.2), tasks=[ColourTask(tmp_path), GuardTask(guard_dir)], out_dir=tmp_path / "loop",
        limit={"colours": 8, "guard": 2}, holdout=2, steps=5, select_every=2, validation=0.25, replay_records=[],
        n_resamples=50, train_overrides={**_TRAIN, "stage_options.feature_dir": str(tmp_path / "features")})
    sel = report.training["selection"]
    # 5 steps in segments of 2: 2, 4, 5; each scored on the colour task's validation cut and the guard's probe
    assert [seg["steps"] for seg in sel["segments"]] == [2, 4, 5]
    assert sel["checked"] == {"colours": "validation", "guard": "probe"}
    # each segment draws its own batches (a seed of its own), not the first batches again
    seeds = [yaml.safe_load((report.round_dir / "train" / f"segment-{k:02d}" / "train_config.yaml").read_text())
             ["loop"]["seed"] for k in (1, 2, 3)]
    assert seeds == [0, 1, 2]
    assert all(set(seg["validation"]) == {"colours", "guard"} for seg in sel["segments"])
    kept = sel["index"]
    assert report.core_after == tmp_path / "loop" / "round-001" / "train" / f"segment-{kept + 1:02d}" / "final"
    assert report.training["steps"] == sel["segments"][kept]["steps"]
    # the validation cut (the probe slice's last 2 items) is reported and was never gathered
    colours = report.tasks["colours"]
    assert colours["probe"]["n"] == 6 and colours["validation"]["n"] == 2
    rows = [json.loads(x) for x in (tmp_path / "loop" / "adversarial.jsonl").read_text().splitlines()]
    assert {r["origin"] for r in rows} <= {f"colours/c{i}" for i in range(6)}
    md = (report.round_dir / "loop_report.md").read_text()
    assert "Early stopping" in md and "**kept**" in md
    with pytest.raises(ConfigError, match="select_every"):
        improvement_round(tiny_chat(), tasks=[ColourTask(tmp_path)], out_dir=tmp_path / "x", select_every=0)


def test_choose_segment_falls_back_to_the_closest_to_its_band():
    from genaisys.improve.select import choose_segment

    before = {"t": {"accuracy": 0.5, "yes_ratio": 0.5}}
    out = choose_segment([{"t": {"accuracy": 0.9, "yes_ratio": 0.95}}, {"t": {"accuracy": 0.6, "yes_ratio": 0.7}}],
                         before)
    assert out["index"] == 1 and out["eligible"] == [False, False] and "closest" in out["reason"]
    # inside the band, the better score wins; a tie keeps the earlier segment
    out = choose_segment([{"t": {"accuracy": 0.7, "yes_ratio": 0.5}}, {"t": {"accuracy": 0.7, "yes_ratio": 0.4}}],
                         before)
    assert out["index"] == 0 and out["before_score"] == 0.5
    with pytest.raises(ValueError):
        choose_segment([], before)


def test_a_task_can_write_its_own_training_answers(tmp_path):
    class Spoken(ColourTask):
        def training_answer(self, item):
            return f"{item.reference}, I see it"  # what a held-out suite gives: the answer as the core says it

    report = improvement_round(
        tiny_chat(init=0.2), tasks=[Spoken(tmp_path)], out_dir=tmp_path / "loop", limit=4, holdout=1, steps=1,
        replay_records=[], n_resamples=20, train_overrides={**_TRAIN, "stage_options.feature_dir": str(tmp_path / "f")})
    trained = [json.loads(x) for x in (report.round_dir / "data" / "train.jsonl").read_text().splitlines()]
    assert trained and all(r["conversations"][-1]["value"].endswith(", I see it") for r in trained)


def test_heldout_shapes_trains_on_what_the_image_shows_then_the_verdict(tmp_path):
    from genaisys.eval.heldout.shapes import HeldoutShapesTask
    from genaisys.improve.balance import record_label
    from genaisys.improve.failures import failures_to_records

    task = HeldoutShapesTask(n_images=3, folder=tmp_path)
    for item in task.load(seed=0):
        truth = item.meta["image"]
        answer = task.training_answer(item)
        assert truth["colour"] in answer if item.meta["kind"] != "which_shape" else truth["shape"] in answer
        rec = failures_to_records([{"id": item.id, "task": task.name, "prompt": item.prompt,
                                    "images": list(item.images), "reference": item.reference, "answer": answer}])[0]
        assert rec["conversations"][-1]["value"] == answer
        if item.meta["yes_no"]:  # label balance reads the verdict said last
            assert answer.endswith(f"so {item.reference}.") and record_label(rec) == item.reference
            other = task.contrast(item)  # the same image, the same property, the other answer
            prop = "shape" if item.meta["kind"] == "has_shape" else "colour"
            assert other.images == item.images and other.reference != item.reference
            assert (other.meta["asked"] == truth[prop]) == (other.reference == "yes")
            assert task.training_answer(other).endswith(f"so {other.reference}.")
        else:
            assert task.contrast(item) is None


def test_each_failure_is_trained_beside_its_contrast(tmp_path):
    class Contrasted(ColourTask):
        def contrast(self, item):  # the same image asked the other way
            return EvalItem(id=f"{item.id}-x", prompt="Is it blue?", images=item.images, reference="no")

    report = improvement_round(
        tiny_chat(init=0.2), tasks=[Contrasted(tmp_path)], out_dir=tmp_path / "loop", limit=4, holdout=1, steps=1,
        replay_records=[], n_resamples=20, balance_on=(), contrast=True,
        train_overrides={**_TRAIN, "stage_options.feature_dir": str(tmp_path / "f")})
    trained = [json.loads(x) for x in (report.round_dir / "data" / "train.jsonl").read_text().splitlines()]
    contrast = [r for r in trained if r["meta"]["source"] == "contrast"]
    assert report.training["records"]["contrast"] == len(contrast) == report.training["records"]["failures"] == 4
    assert {r["conversations"][0]["value"].split("\n")[-1] for r in contrast} == {"Is it blue?"}
    assert all(r["conversations"][-1]["value"] == "no" and r["id"].startswith("contrast-") for r in contrast)


def test_a_cut_never_splits_a_group():
    from genaisys.improve.round import _group_end

    items = [EvalItem(id=f"t{t}-{n}", prompt="?", group=f"t{t}") for t, turns in enumerate((2, 3, 1))
             for n in range(turns)]
    assert [_group_end(items, n) for n in range(7)] == [0, 2, 2, 5, 5, 5, 6]


def test_replay_is_sampled_from_a_records_file(tmp_path):
    from genaisys.improve.round import sample_records

    f = tmp_path / "train.jsonl"
    f.write_text("".join(json.dumps({"id": str(i)}) + "\n" for i in range(10)) + "\n")
    picked = [r["id"] for r in sample_records(f, 4, seed=3)]
    assert len(set(picked)) == 4 and picked == sorted(picked, key=int)  # file order kept
    assert len(sample_records(f, 50)) == 10
    (tmp_path / "bad.jsonl").write_text('{"id": 1}\nnot json\n')
    with pytest.raises(ConfigError, match="record 2 is not JSON"):
        sample_records(tmp_path / "bad.jsonl", 2)
    with pytest.raises(ConfigError, match="no training records"):
        sample_records(tmp_path / "none.jsonl", 2)


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="together"):
        improvement_round("nano", tasks=["easy-vqa"], out_dir=tmp_path, sessions=tmp_path / "x.sqlite")
    with pytest.raises(ConfigError, match="at least one task"):
        improvement_round("nano", tasks=[], out_dir=tmp_path)
    with pytest.raises(ConfigError, match="limit"):
        improvement_round("nano", tasks=["easy-vqa"], out_dir=tmp_path, limit=0)
    with pytest.raises(ConfigError, match="no sessions database"):
        improvement_round(tiny_chat(), tasks=[ColourTask(tmp_path)], out_dir=tmp_path / "l", limit=2, holdout=0,
                          sessions=tmp_path / "none.sqlite", feedback=tmp_path / "fb.sqlite", n_resamples=10)


def test_nothing_to_train_on_is_an_error(tmp_path):
    class Always(ColourTask):
        def score(self, item, prediction):  # every answer counts as right: no failure to learn from
            return {"id": item.id, "correct": True}

    with pytest.raises(ConfigError, match="nothing to train on"):
        improvement_round(tiny_chat(), tasks=[Always(tmp_path)], out_dir=tmp_path / "loop", limit=2, holdout=0,
                          replay_records=[], n_resamples=10)


def test_default_replay_follows_the_tasks():
    assert default_replay(["judge"], 4) == []
    assert default_replay(["easy-vqa"], 0) == []
    with pytest.raises(ConfigError):
        default_replay(["easy-vqa"], -1)


@pytest.fixture
def recorded(tmp_path):
    """Three answers in a real SqliteSaver and verdicts in a real FeedbackStore (files on disk)."""
    from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
    from langchain_core.messages import AIMessage, HumanMessage
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.graph import END, START, MessagesState, StateGraph

    from genaisys.train.engine.feedback import FeedbackStore

    model = FakeMessagesListChatModel(responses=[AIMessage("Paris."), AIMessage("Berlin is in Spain."),
                                                 AIMessage("It is 41.")])

    def think(state: MessagesState) -> dict:
        return {"messages": [model.invoke(state["messages"])]}

    g = StateGraph(MessagesState)
    g.add_node("think", think)
    g.add_edge(START, "think")
    g.add_edge("think", END)
    db = tmp_path / "threads.sqlite"
    conn = sqlite3.connect(db, check_same_thread=False)
    graph = g.compile(checkpointer=SqliteSaver(conn))
    for tid, q in (("a", "Capital of France?"), ("b", "Where is Berlin?"), ("c", "What is 6 times 7?")):
        graph.invoke({"messages": [HumanMessage(q)]}, {"configurable": {"thread_id": tid}, "recursion_limit": 5})
    answers = {tid: graph.get_state({"configurable": {"thread_id": tid}}).values["messages"][-1].id for tid in "abc"}
    conn.close()
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    store.record("a", answers["a"], "accept")
    store.record("b", answers["b"], "reject", note="wrong country")          # a failure: no correction
    store.record("c", answers["c"], "reject", edited="42")                   # a DPO pair + an SFT record
    return db, tmp_path / "feedback.sqlite"


def test_sessions_feed_the_adversarial_set_and_the_training_data(tmp_path, recorded):
    db, fb = recorded
    report = _round(tmp_path, tiny_chat(init=0.2), sessions=db, feedback=fb)
    rows = [json.loads(x) for x in (tmp_path / "loop" / "adversarial.jsonl").read_text().splitlines()]
    session_rows = {r["prompt"]: r for r in rows if r["source"] == "session"}
    assert set(session_rows) == {"Where is Berlin?", "What is 6 times 7?"}
    assert session_rows["Where is Berlin?"]["reference"] is None  # nothing to train on or score against
    assert session_rows["What is 6 times 7?"]["reference"] == "42"
    assert session_rows["What is 6 times 7?"]["rejected"] == "It is 41."
    assert report.adversarial_set["sessions"] == {"sft": 2, "dpo": 1, "failures": 1}
    assert report.adversarial_set["by_source"] == {"eval": 6, "session": 2}
    assert report.adversarial_set["without_reference"] == 1
    assert report.training["records"]["sessions"] == 2  # the accepted answer and the correction
    train = [json.loads(x) for x in (report.round_dir / "data" / "train.jsonl").read_text().splitlines()]
    assert {r["conversations"][-1]["value"] for r in train if r["meta"]["source"] == "session"} == {"Paris.", "42"}
    # the corrected session answer is scored on the adversarial set as its own task
    sess = report.tasks["sessions"]["adversarial"]
    assert sess["n"] == 1 and sess["before"]["accuracy"]["value"] == 0.0
    assert report.adversarial["n"] == 7
    # gathering the same sessions again adds nothing twice; session_weight=3 trains each answer three times
    again = _round(tmp_path, str(report.core_after), sessions=db, feedback=fb, session_weight=3)
    assert again.adversarial_set["by_source"]["session"] == 2
    records = again.training["records"]
    assert (records["sessions"], records["session_weight"]) == (2, 3)
    train = [json.loads(x) for x in (again.round_dir / "data" / "train.jsonl").read_text().splitlines()]
    session_ids = sorted(r["id"] for r in train if r["meta"]["source"] == "session")
    assert len(session_ids) == 6 == len(set(session_ids)) and records["total"] == len(train)
    with pytest.raises(ConfigError, match="session_weight is a whole number"):
        _round(tmp_path, tiny_chat(init=0.2), sessions=db, feedback=fb, session_weight=0)


def test_pair_rows_keep_the_prompt_and_both_answers():
    row = _pair_row({"id": "p", "images": [], "conversations": [{"from": "human", "value": "<image>\nQ?"}],
                     "chosen": {"value": "A"}, "rejected": {"value": "B"},
                     "meta": {"thread_id": "t", "message_id": "m"}})
    assert (row["prompt"], row["reference"], row["rejected"], row["origin"]) == ("Q?", "A", "B", "t#m")
    assert "chosen" not in row["record"]


def test_cli_improve_runs_a_round_on_a_saved_core(tmp_path):
    from genaisys.cli import app
    from genaisys.eval.tasks import register_task, unregister_task

    core_dir = tmp_path / "core"
    tiny_chat(init=0.2).core.save_pretrained(core_dir)
    register_task("colours-test", lambda: ColourTask(tmp_path))
    try:
        res = CliRunner().invoke(app, [
            "improve", "--core", str(core_dir), "--tasks", "colours-test", "--limit", "6", "--holdout", "2",
            "--out", str(tmp_path / "loop"), "--steps", "30", "--replay", "0", "--max-new-tokens", "4",
            "--set", "loop.lr=1e-2", "--set", "loop.batch_size=4", "--set", f"stage_options.feature_dir={tmp_path}/f",
            "--balance", "red,green", "--json"])
        bad_limit = CliRunner().invoke(app, ["improve", "--core", str(core_dir), "--tasks", "colours-test",
                                             "--limit", "colours-test=x", "--out", str(tmp_path / "y")])
    finally:
        unregister_task("colours-test")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["adversarial"]["n"] == 6 and data["adversarial"]["before"]["accuracy"]["value"] == 0.0
    assert data["training"]["steps"] == 30 and data["tasks"]["colours"]["heldout"]["n"] == 2
    # --balance red,green: the six colour failures (3 red, 3 green) are balanced already
    assert data["training"]["labels"]["groups"]["colours"]["after"] == {"red": 3, "green": 3}
    assert (tmp_path / "loop" / "round-001" / "loop_report.md").is_file()
    assert bad_limit.exit_code == 1 and "task=n pairs" in bad_limit.output
    bad = CliRunner().invoke(app, ["eval", "loop", "--tasks", "no-such-task", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 1 and "no-such-task" in bad.output and "Traceback" not in bad.output
