"""The held-out suites: their data, their scorers (each can pass and fail), the renderer, the harness."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from genaisys.errors import ConfigError
from genaisys.eval.heldout import SUITES, material, run_heldout
from genaisys.eval.heldout._common import GraphPrediction, TurnClock, answer_holds, declines
from genaisys.eval.heldout.followups import THREADS, HeldoutFollowupsTask, gold_now
from genaisys.eval.heldout.photos import QUESTIONS as PHOTO_QUESTIONS
from genaisys.eval.heldout.photos import HeldoutPhotosTask
from genaisys.eval.heldout.rag import DOCS_DIR, QUESTIONS, UNANSWERABLE, HeldoutRagTask
from genaisys.eval.heldout.shapes import BACKGROUNDS, HeldoutShapesTask, read_answer, render_shape
from genaisys.eval.heldout.text import HeldoutTextTask
from genaisys.eval.heldout.tools import REQUESTS, TOOL_NAMES, HeldoutToolsTask, key_argument_ok
from genaisys.eval.task import EvalItem, Prediction
from genaisys.eval.tasks import get_task, list_tasks


class MessagesChat(BaseChatModel):
    """A scripted chat model that sees the whole prompt: ``reply(messages) -> str | AIMessage``."""

    reply: Callable[[list[BaseMessage]], Any]

    @property
    def _llm_type(self) -> str:
        return "messages-scripted"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": "messages-scripted"}

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        out = self.reply(messages)
        msg = out if isinstance(out, AIMessage) else AIMessage(content=str(out))
        return ChatResult(generations=[ChatGeneration(message=msg)])

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self.bind(tools=[t.name for t in tools])


def _user(messages: list[BaseMessage]) -> str:
    msg = next(m for m in reversed(messages) if isinstance(m, HumanMessage))
    if isinstance(msg.content, str):
        return msg.content
    return "".join(b.get("text", "") for b in msg.content if isinstance(b, dict) and b.get("type") == "text")


def _call(name: str, args: dict[str, Any]) -> AIMessage:
    return AIMessage("", tool_calls=[{"name": name, "args": args, "id": f"call_{name}", "type": "tool_call"}])


def _hashing() -> Any:
    from genaisys.memory import HashingEmbedding

    return HashingEmbedding(dim=256)


# --------------------------------------------------------------------------------- data
def test_registered_and_sized_as_asked() -> None:
    assert {f"heldout-{s}" for s in SUITES} <= set(list_tasks())
    m = material()
    assert len(m["tools"]) >= 80 and len(set(m["tools"])) == len(m["tools"])
    assert len(QUESTIONS) >= 36 and len(UNANSWERABLE) >= 15
    docs = sorted(p.name for p in DOCS_DIR.iterdir())
    assert 8 <= len(docs) <= 12 and {Path(d).suffix for d in docs} == {".md", ".txt"}
    assert {q[3] for q in QUESTIONS} <= set(docs)
    assert len(THREADS) >= 15 and sum(len(t) - 1 for _, t in THREADS) >= 30
    assert len(PHOTO_QUESTIONS) >= 24 and len(m["text"]) >= 60
    assert all(isinstance(s, str) and s.strip() for strings in m.values() for s in strings)
    assert "Lumen charges over its USB-C port." in m["rag_documents"]
    assert "`harbor init` writes its settings to `~/.config/harbor/harbor.toml`." in m["rag_documents"]


def test_tool_sets_vary_and_are_seeded() -> None:
    items = HeldoutToolsTask().load()
    sizes = Counter(len(i.meta["tools"]) for i in items)
    assert min(sizes) == 0 and max(sizes) == 7
    for item in items:
        needed, tools = item.reference["needed"], item.meta["tools"]
        assert set(tools) <= set(TOOL_NAMES) and len(set(tools)) == len(tools)
        if item.meta["kind"] == "tool":
            assert needed in tools and item.reference["tool"] == needed
        elif item.meta["kind"] == "absent":
            assert needed not in tools and item.reference["tool"] is None
    assert [i.meta["tools"] for i in HeldoutToolsTask().load()] == [i.meta["tools"] for i in items]
    assert [i.meta["tools"] for i in HeldoutToolsTask().load(seed=1)] != [i.meta["tools"] for i in items]


def test_graph_suites_refuse_one_call_per_item() -> None:
    for name in ("heldout-tools", "heldout-rag", "heldout-followups", "heldout-photos"):
        with pytest.raises(ConfigError, match="genaisys eval heldout"):
            get_task(name).prepare_model(object())


def test_matching_helpers() -> None:
    assert answer_holds("It listens on port 7,420.", "7420") and not answer_holds("port 74200", "7420")
    assert answer_holds("Quillpad 4.1.0 added it", "4.1.0") and not answer_holds("version 4.1", "4.1.0")
    assert answer_holds("Use ORCHARD_HOME", "orchard_home") and answer_holds("a GREY box", "gray")
    assert declines("I don't know: nothing in my memory supports an answer to this question.")
    assert declines("The documents do not mention its weight.") and not declines("It weighs 2 kg [1].")


# -------------------------------------------------------------------------------- tools
def _tools_item(task: HeldoutToolsTask, item_id: str) -> EvalItem:
    return next(i for i in task.load() if i.id == item_id)


def test_tools_scorer_passes_and_fails(tmp_path: Path) -> None:
    task = HeldoutToolsTask()
    task.build_tools(tmp_path, embedding=_hashing())
    calc = _tools_item(task, "calc-01")  # 4387 * 26
    right = task.score(calc, Prediction("", [{"name": "calculator", "args": {"expression": "4387*26"}}]))
    assert right["correct"] and right["args_valid"] and right["args_match"]
    wrong_value = task.score(calc, Prediction("", [{"name": "calculator", "args": {"expression": "4387+26"}}]))
    assert not wrong_value["correct"] and wrong_value["args_valid"] and wrong_value["args_match"] is False
    wrong_tool = task.score(calc, Prediction("", [{"name": "current_time", "args": {}}]))
    assert not wrong_tool["correct"] and wrong_tool["pred"] == "current_time"
    bad_args = task.score(calc, Prediction("", [{"name": "calculator", "args": {"expr": 1}}]))
    assert not bad_args["correct"] and bad_args["args_valid"] is False
    no_call = task.score(calc, Prediction("114062"))
    assert not no_call["correct"] and no_call["pred"] == "(none)"
    chat = _tools_item(task, "none-03")
    assert task.score(chat, Prediction("Leonardo da Vinci."))["correct"]
    assert not task.score(chat, Prediction("", [{"name": "http_fetch", "args": {"url": "https://x.org"}}]))["correct"]
    absent = _tools_item(task, "calc-05")
    assert task.score(absent, Prediction("I have no calculator here, but 3^11 = 177147."))["correct"]
    invalid = task.score(calc, GraphPrediction("", [], extra={"invalid_tool_calls": [{"name": "calculator"}]}))
    assert invalid["pred"] == "(invalid)" and not invalid["correct"]
    assert key_argument_ok(("timezone", "oneof", ("UTC",)), {})  # current_time's default
    assert key_argument_ok(("path", "path", "todo.md"), {"path": "./todo.md"})
    assert not key_argument_ok(("path", "path", "todo.md"), {"path": "todo.txt"})
    assert key_argument_ok(("text", "holds_all", ("dentist", "tuesday")), {"text": "Dentist on Tuesday 9:30"})


def _tool_oracle(messages: list[BaseMessage]) -> Any:
    text = _user(messages)
    for item_id, request, tool, check in REQUESTS:
        if request == text and tool == "calculator":
            return _call("calculator", {"expression": {114062: "4387*26", -473: "983-1456"}.get(check[2], "1+1")})
    return "Happy to help."


def test_tools_suite_reads_the_first_decision_from_the_interrupt(tmp_path: Path) -> None:
    task = HeldoutToolsTask()
    result = task.run(MessagesChat(reply=_tool_oracle), limit=12, folder=tmp_path, embedding=_hashing())
    by_id = {r["id"]: r for r in result.records}
    assert len(by_id) == 12 and set(result.metrics) >= {"accuracy", "no_tool_accuracy", "recall_calculator"}
    for rec in by_id.values():
        if rec["kind"] == "none":
            assert rec["correct"] and rec["pred"] == "(none)"
        elif rec["needed"] == "calculator" and rec["kind"] == "tool":
            assert rec["pred"] == "calculator"  # the call was pending when the graph paused: nothing ran
        elif rec["kind"] == "tool":
            assert not rec["correct"]
    assert result.meta["labels"][-1] == "(none)" and result.meta["data_sha256"]


def test_tools_suite_scores_an_unusable_call_even_when_the_turn_ends_in_words(tmp_path: Path) -> None:
    # The model calls a tool that is not bound, every time: after the repair the graph asks it once
    # more without tools and the turn ends in words. The suite still scores the choice it made.
    from genaisys.graphs.nodes import NO_ANSWER_TEXT

    def reply(messages: list[BaseMessage]) -> AIMessage:
        return AIMessage("", invalid_tool_calls=[{"name": "teleport", "args": "{}", "id": "t", "error": "no such tool",
                                                  "type": "invalid_tool_call"}])

    task = HeldoutToolsTask()
    item = _tools_item(task, "calc-05")  # the calculator is absent here
    result = task.run(MessagesChat(reply=reply), items=[item], folder=tmp_path, embedding=_hashing())
    (rec,) = result.records
    assert rec["pred"] == "(invalid)" and not rec["correct"] and rec["prediction"] == NO_ANSWER_TEXT


# ---------------------------------------------------------------------------------- rag
_GOLD = {q: (gold, file) for _, q, gold, file in QUESTIONS}
_CONTEXT_LINE = re.compile(r"^\[(\d+)\] \(source: ([^)#]+)[^)]*\)", re.M)


def _rag_oracle(messages: list[BaseMessage]) -> str:
    """Answers with the gold phrase and cites the numbered chunk that comes from the gold file."""
    question = _user(messages)
    if question not in _GOLD:
        return "I don't know; the documents do not say."
    gold, file = _GOLD[question]
    system = "\n".join(m.content for m in messages if isinstance(m, SystemMessage) and isinstance(m.content, str))
    chunks = {Path(src).name: n for n, src in _CONTEXT_LINE.findall(system)}
    if not chunks:  # the RAG graph numbers its chunks in the human turn's system text too
        chunks = {Path(src).name: n for n, src in re.findall(r"\[(\d+)\] \(source: ([^)#]+)", str(messages))}
    cite = f" [{chunks[file]}]" if file in chunks else ""
    return gold.split("|")[0].replace("&", ", ") + cite


def test_rag_scorer_passes_and_fails() -> None:
    task = HeldoutRagTask()
    item = next(i for i in task.load() if i.id == "harbor-3")
    ctx = ["/x/docs/nimbus-plans-and-limits.txt#chars=0-700", "/x/docs/harbor-README.md#chars=0-999"]
    ok = task.score(item, GraphPrediction("Port 7420 [2].", extra={"via": "assistant", "context": ctx}))
    assert ok["correct"] and ok["cite_ok"] and ok["answer_ok"] and ok["retrieval_hit"]
    uncited = task.score(item, GraphPrediction("Port 7420.", extra={"via": "assistant", "context": ctx}))
    assert uncited["answer_ok"] and not uncited["cite_ok"] and not uncited["correct"]
    wrong_src = task.score(item, GraphPrediction("Port 7420 [1].", extra={"via": "assistant", "context": ctx}))
    assert not wrong_src["correct"] and wrong_src["cited"] == ["nimbus-plans-and-limits.txt"]
    wrong = task.score(item, GraphPrediction("Port 8080 [2].", extra={"via": "assistant", "context": ctx}))
    assert wrong["cite_ok"] and not wrong["correct"]
    via_tool = task.score(item, GraphPrediction("It is 7420 [1].", extra={
        "via": "assistant", "context": [], "tool_hits": {"1": "harbor-README.md#chars=0-999"}}))
    assert via_tool["correct"]
    rag = task.score(item, GraphPrediction("7420 [1].", extra={"via": "rag", "context": ctx[1:],
                                                                "citations": ctx[1:]}))
    assert rag["correct"]
    unknown = next(i for i in task.load() if not i.meta["answerable"])
    assert task.score(unknown, GraphPrediction("I don't know.", extra={"via": "rag", "abstained": True}))["correct"]
    assert not task.score(unknown, GraphPrediction("It costs 12 dollars.", extra={"via": "rag"}))["correct"]


def test_rag_suite_runs_both_graphs(tmp_path: Path) -> None:
    result = HeldoutRagTask().run(MessagesChat(reply=_rag_oracle), limit=8, folder=tmp_path, embedding=_hashing())
    assert Counter(r["via"] for r in result.records) == {"assistant": 8, "rag": 8}
    assert result.metrics["assistant_abstention"]["value"] == 1.0  # the oracle declines what it cannot answer
    assert result.metrics["assistant_answer"]["value"] == 1.0
    # citations resolve through the context the turn really had: right whenever retrieval found the file
    for rec in result.records:
        if rec["answerable"] and rec["via"] == "assistant":
            assert rec["cite_ok"] == rec["retrieval_hit"]


# ---------------------------------------------------------------------------- follow-ups
def test_followup_gold_and_scorer() -> None:
    monday = dt.datetime(2026, 1, 5, 12, tzinfo=dt.timezone.utc)
    assert gold_now("weekday:Asia/Tokyo", monday) == "monday" and gold_now("weekend:UTC", monday) == "no"
    task = HeldoutFollowupsTask()
    items = {i.id: i for i in task.load()}
    assert len({i.group for i in task.load(limit=2)}) == 2 and len(task.load(limit=2)) == 6  # limit counts threads
    assert task.score(items["subtract-2"], Prediction("You asked about 1250 minus 378."))["correct"]
    assert not task.score(items["subtract-2"], Prediction("You asked about 1250."))["correct"]
    day = task.score(items["tokyo-day-1"], GraphPrediction("It was Monday.", extra={"at": monday.isoformat()}))
    assert day["correct"] and day["gold"] == "monday"
    assert not task.score(items["tokyo-day-2"], GraphPrediction("Yes.", extra={"at": monday.isoformat()}))["correct"]
    assert task.score(items["name-city-0"], Prediction("Nice to meet you."))["correct"] is None


def _thread_oracle(messages: list[BaseMessage]) -> str:
    text = _user(messages)
    now = dt.datetime.now(dt.timezone.utc)
    for _, turns in THREADS:
        for turn, gold in turns:
            if turn == text:
                if gold is None:
                    return "Noted."
                if ":" in gold and gold.split(":")[0] in {"weekday", "weekend", "year", "years_until"}:
                    return gold_now(gold, now)
                return gold.split("|")[0].replace("&", " ")
    return "?"


def test_followups_suite_runs_threads_on_one_checkpointed_graph(tmp_path: Path) -> None:
    task = HeldoutFollowupsTask()
    good = task.run(MessagesChat(reply=_thread_oracle), limit=3, folder=tmp_path, embedding=_hashing())
    assert good.metrics["followup_accuracy"]["value"] == 1.0
    bad = task.run(MessagesChat(reply=lambda m: "no idea"), limit=3, folder=tmp_path, embedding=_hashing())
    assert bad.metrics["followup_accuracy"]["value"] == 0.0
    assert {r["group"] for r in good.records} == {i.group for i in task.load(limit=3)}

    def history(messages: list[BaseMessage]) -> str:  # the graph carries earlier turns in the thread
        return str(sum(isinstance(m, HumanMessage) for m in messages))

    seen = task.run(MessagesChat(reply=history), limit=1, folder=tmp_path, embedding=_hashing())
    assert [r["prediction"] for r in seen.records] == ["1", "2", "3"]


# ------------------------------------------------------------------------------ shapes
def test_renderer_draws_the_declared_shape_and_colour() -> None:
    rng = np.random.default_rng(3)
    for shape in ("circle", "rectangle", "triangle"):
        for size in (48, 97, 160):
            image, (cy, cx) = render_shape(shape, (10, 200, 30), (250, 246, 228), size, rng=rng)
            assert image.shape == (size, size, 3) and image.dtype == np.uint8
            assert tuple(image[cy, cx]) == (10, 200, 30)
            assert tuple(image[0, 0]) == (250, 246, 228) and tuple(image[-1, -1]) == (250, 246, 228)
            share = (image == (10, 200, 30)).all(axis=2).mean()
            assert 0.03 < share < 0.6
    circle, _ = render_shape("circle", (0, 0, 0), (255, 255, 255), 120, rng=np.random.default_rng(1))
    triangle, _ = render_shape("triangle", (0, 0, 0), (255, 255, 255), 120, rng=np.random.default_rng(1))
    assert (circle == 0).all(axis=2).sum() > (triangle == 0).all(axis=2).sum()  # same circumcircle, less area
    with pytest.raises(ValueError, match="shape must be"):
        render_shape("star", (0, 0, 0), (255, 255, 255), 64, rng=rng)


def test_shape_items_are_balanced_and_match_their_images(tmp_path: Path) -> None:
    from PIL import Image

    task = HeldoutShapesTask(folder=tmp_path)
    items = task.load()
    assert len(items) >= 400
    for n in (8, 40, len(items)):
        yn = [i.reference for i in items[:n] if i.meta["yes_no"]]
        assert yn.count("yes") == yn.count("no") == len(yn) // 2
    for item in items[::37]:
        truth = item.meta["image"]
        image = np.asarray(Image.open(item.images[0]).convert("RGB"))
        assert image.shape[0] == truth["size"] and 48 <= truth["size"] <= 160
        assert list(image[tuple(truth["centre"])]) == truth["rgb"]
        assert list(image[0, 0]) == list(BACKGROUNDS[truth["background"]])
        if item.meta["kind"] == "which_shape":
            assert item.reference == truth["shape"]
    assert len({i.meta["image"]["background"] for i in items}) >= 8
    again = HeldoutShapesTask(folder=tmp_path / "again").load()
    assert [i.prompt for i in again] == [i.prompt for i in items]
    assert Path(again[0].images[0]).read_bytes() == Path(items[0].images[0]).read_bytes()


def test_shape_answers_are_read_by_category() -> None:
    assert read_answer("No, it is blue.", "is_colour", "red") == "no"
    assert read_answer("The shape is red.", "is_colour", "red") == "yes"
    assert read_answer("A triangle.", "has_shape", "circle") == "no"
    assert read_answer("I am not sure.", "has_shape", "circle") == "no"  # a negation reads as no
    assert read_answer("maybe", "has_shape", "circle") is None
    assert read_answer("It's a grey square.", "which_colour") == "gray"
    assert read_answer("circle or triangle", "which_shape") is None


def test_shapes_suite_direct_and_graph(tmp_path: Path) -> None:
    task = HeldoutShapesTask(folder=tmp_path / "img", graph_items=4)
    result = task.run(MessagesChat(reply=lambda m: "Yes."), limit=8, folder=tmp_path)
    m = {k: v["value"] for k, v in result.metrics.items()}
    assert m["yes_ratio"] == 1.0 and m["accuracy_yes_no"] == 0.5  # balanced by construction
    assert m["graph_yes_ratio"] == 1.0 and m["accuracy_open"] == 0.0
    graph = [r for r in result.records if r["via"] == "graph"]
    assert len(graph) == 4 and all(r["perception"] == ["native"] for r in graph)


def test_shapes_task_runs_under_run_eval(tmp_path: Path, scripted: Any) -> None:
    from genaisys.eval.runner import run_eval

    answers = iter(["yes", "no", "circle", "red"] * 4)
    result = run_eval(HeldoutShapesTask(folder=tmp_path), scripted(answer=lambda t, imgs: next(answers)), limit=8)
    assert "graph_accuracy" not in result.metrics and result.metrics["yes_ratio"]["value"] == 0.5


# ------------------------------------------------------------------------------ photos
def test_photos_load_score_and_run(tmp_path: Path) -> None:
    task = HeldoutPhotosTask(describe=False)
    items = task.load(folder=tmp_path)
    assert len(items) >= 24 and all(Path(i.images[0]).is_file() for i in items)
    cat = next(i for i in items if i.id == "chelsea-animal")
    assert task.score(cat, Prediction("A tabby cat."))["correct"]
    assert not task.score(cat, Prediction("A red circle."))["correct"]
    no_cat = next(i for i in items if i.id == "rocket-cat")
    assert task.score(no_cat, Prediction("No, there is no cat."))["correct"]
    assert not task.score(no_cat, Prediction("There is a red circle."))["correct"]  # names no cat: unread
    result = task.run(MessagesChat(reply=lambda m: "No."), limit=3, folder=tmp_path)
    assert result.metrics["native_ratio"]["value"] == 1.0
    assert set(result.meta["perception"]) <= {i.meta["photo"] for i in items}


# -------------------------------------------------------------------------------- text
def test_text_kept_lost_gained(scripted: Any) -> None:
    task = HeldoutTextTask(base=scripted(answer=lambda t, i: "Ottawa." if "Canada" in t else "no idea"))
    items = [i for i in task.load() if i.id in {"t02", "t03", "t05"}]  # Ottawa, Canberra, hexagon
    preds = [Prediction({"t02": "Toronto", "t03": "Canberra", "t05": "six"}.get(i.id, "")) for i in items]
    records = task.score_all(items, preds)
    assert Counter(r["change"] for r in records) == {"lost": 1, "gained": 2}
    m = task.metrics(records)
    assert m["lost"] == 1 and m["gained"] == 2 and m["kept"] == 0 and m["delta"] == pytest.approx(1 / 3)


# ------------------------------------------------------------------------------ harness
def test_run_heldout_writes_results_and_report(tmp_path: Path) -> None:
    def reply(messages: list[BaseMessage]) -> str:
        return _rag_oracle(messages) if _user(messages) in _GOLD else "Yes."

    payload = run_heldout(MessagesChat(reply=reply), tmp_path, limit=2, embedding=_hashing(),
                          base=MessagesChat(reply=lambda m: "Paris"), plots=False)
    assert set(payload["suites"]) == set(SUITES)
    saved = json.loads((tmp_path / "results.json").read_text())
    # the cold turn is the process's first graph turn: an earlier test in this process may have had it
    assert "first_turn_s" in saved["latency"] and saved["latency"]["warm"]["n"] > 0
    report = (tmp_path / "report.md").read_text()
    for suite in SUITES:
        assert f"## heldout-{suite}" in report and (tmp_path / suite / "result.json").is_file()
    assert "95% CI" in report and "first graph turn of the process" in report
    with pytest.raises(ConfigError, match="unknown held-out suite"):
        run_heldout(MessagesChat(reply=reply), tmp_path, suites=["nope"])


def test_run_heldout_resume_keeps_a_finished_suite_of_the_same_run(tmp_path: Path) -> None:
    calls: list[int] = []

    def reply(messages: list[BaseMessage]) -> str:
        calls.append(1)
        return "Yes."

    first = run_heldout(MessagesChat(reply=reply), tmp_path, suites=["tools"], limit=2, plots=False)
    ran = len(calls)
    assert ran > 0
    kept = run_heldout(MessagesChat(reply=reply), tmp_path, suites=["tools"], limit=2, plots=False, resume=True)
    assert len(calls) == ran  # nothing asked again
    assert kept["suites"]["tools"]["metrics"] == first["suites"]["tools"]["metrics"]
    assert kept["latency"]["kept_suites"] == ["tools"] and first["latency"]["kept_suites"] == []
    # another limit is another run: the suite runs again; so does a run without resume
    run_heldout(MessagesChat(reply=reply), tmp_path, suites=["tools"], limit=1, plots=False, resume=True)
    assert len(calls) > ran
    (tmp_path / "tools" / "result.json").write_text("{not json")  # a result cut off mid-write
    before = len(calls)
    run_heldout(MessagesChat(reply=reply), tmp_path, suites=["tools"], limit=1, plots=False, resume=True)
    assert len(calls) > before


def test_turn_clock_marks_one_cold_turn() -> None:
    clock = TurnClock()
    clock.turns += [{"suite": "a", "seconds": 3.0, "cold": True}, {"suite": "a", "seconds": 1.0, "cold": False},
                    {"suite": "b", "seconds": 2.0, "cold": False}]
    s = clock.summary()
    assert s["first_turn_s"] == 3.0 and s["warm"]["n"] == 2 and s["per_suite"]["b"]["median_s"] == 2.0


def test_cli_heldout_help_and_bad_suite(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from genaisys.eval.cli import eval_app

    res = CliRunner().invoke(eval_app, ["heldout", "--help"])
    assert res.exit_code == 0 and "--suites" in res.output and "--limit" in res.output
    res = CliRunner().invoke(eval_app, ["heldout", "--suites", "nope", "--out", str(tmp_path)])
    assert res.exit_code == 1 and "unknown held-out suite" in res.output


# ------------------------------------------------------------------------- packaged
# two halves of every suite, in two test files, so that two test workers (a file each) share them;
# the second half runs in test_heldout_real_nano.py
HALVES = (("tools", "rag", "shapes"), ("followups", "photos", "text"))


def test_the_halves_cover_every_suite() -> None:
    assert sorted(s for half in HALVES for s in half) == sorted(SUITES)


def every_suite_on_the_real_nano(tmp_path: Path, suites: tuple[str, ...]) -> None:
    """Run ``suites`` on the packaged nano through ``genaisys eval heldout`` and check the results."""
    from typer.testing import CliRunner

    from genaisys.eval.cli import eval_app

    res = CliRunner().invoke(eval_app, ["heldout", "--core", "nano", "--out", str(tmp_path), "--limit", "1",
                                        "--suites", ",".join(suites), "--threads", "1", "--no-plots"])
    assert res.exit_code == 0, res.output
    saved = json.loads((tmp_path / "results.json").read_text())
    assert set(saved["suites"]) == set(suites) and saved["model_id"].startswith("nano@")
    for suite in saved["suites"].values():
        assert suite["records"] and all(isinstance(r["prediction"], str) for r in suite["records"])
        for name, m in suite["metrics"].items():
            if name not in {"kept", "lost", "gained", "delta"}:
                assert 0.0 <= m["ci_low"] <= m["value"] <= m["ci_high"] <= 1.0
    # the first turn is the process's: an earlier test in this process may have taken it
    first = saved["latency"]["first_turn_s"]
    assert (first is None or first > 0) and saved["latency"]["core_load_s"] > 0 and saved["latency"]["warm"]["n"] > 0
    if "photos" in suites:
        photos = saved["suites"]["photos"]["meta"]
        assert photos["perception"] and photos["textualizer"]


@pytest.mark.packaged
def test_the_first_half_of_the_suites_on_the_real_nano(tmp_path: Path) -> None:
    every_suite_on_the_real_nano(tmp_path, HALVES[0])


@pytest.mark.parametrize("module", ["_common", "tools", "rag", "followups", "shapes", "photos", "text",
                                    "run", "__init__"])
def test_docstring_examples_run(module: str) -> None:
    import doctest
    import importlib

    name = "genaisys.eval.heldout" + ("" if module == "__init__" else f".{module}")
    failed, _ = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert failed == 0
