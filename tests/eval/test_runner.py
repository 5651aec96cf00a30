from __future__ import annotations

import base64
import json

import pytest
from langchain_core.messages import AIMessage

from genaisys.errors import ConfigError
from genaisys.eval.runner import EvalResult, PredictionCache, model_identity, run_eval
from genaisys.eval.tasks import get_task


@pytest.fixture
def oracle(tiny_vqa, tiny_truth):
    """An answerer that knows each tiny image's colour and shape (by its bytes), and says "yes" to
    every POPE question about a red object — a biased model with a known score."""
    by_bytes = {base64.b64encode((tiny_vqa / "test" / "images" / f"{i}.png").read_bytes()).decode(): v
                for i, v in tiny_truth.items()}

    def answer(text: str, images: list[str]) -> str:
        color, shape = by_bytes[images[0]]
        q = text.lower()
        if q.startswith("is there a "):
            obj = q[len("is there a "):].split(" in the image")[0]
            return "Yes, there is." if obj == f"{color} {shape}" or obj.startswith("red") else "No."
        if "color of" in q:
            return f"It is {color}."
        if "shape?" in q and q.startswith("what"):
            return shape
        return "yes" if (shape in q or color in q) else "no"

    return answer


def test_resume_after_interruption_gives_the_same_result(scripted, oracle, tiny_vqa, tmp_path) -> None:
    task = get_task("pope-random", root=tiny_vqa)
    full = run_eval(task, scripted(answer=oracle), cache=tmp_path / "a.jsonl", batch_size=3, n_resamples=200)
    # Interrupted: the model dies after 7 answers; the first two batches (6 items) are cached.
    cache = tmp_path / "b.jsonl"
    dying = scripted(answer=oracle, fail_after=7)
    with pytest.raises(RuntimeError, match="interrupted"):
        run_eval(task, dying, cache=cache, batch_size=3, n_resamples=200)
    assert len(PredictionCache(cache)) == 6
    fresh = scripted(answer=oracle)
    resumed = run_eval(task, fresh, cache=cache, batch_size=3, n_resamples=200)
    assert fresh.calls == 12 - 6 and resumed.meta["n_cached"] == 6
    assert resumed.metrics == full.metrics
    assert [r["pred"] for r in resumed.records] == [r["pred"] for r in full.records]
    assert resumed.meta["data_sha256"] == full.meta["data_sha256"]
    # 6 images: all present objects answered yes; absent red objects also get a yes.
    m = full.metrics
    assert m["recall"]["value"] == 1.0 and m["yes_ratio"]["value"] > 0.5
    assert m["accuracy"]["ci_low"] <= m["accuracy"]["value"] <= m["accuracy"]["ci_high"]
    # A third run asks nothing at all.
    idle = scripted(answer=oracle)
    again = run_eval(task, idle, cache=cache, batch_size=3, n_resamples=200)
    assert idle.calls == 0 and again.metrics == full.metrics


def test_torn_cache_line_and_changed_prompt_are_asked_again(scripted, oracle, tiny_vqa, tmp_path) -> None:
    cache = tmp_path / "c.jsonl"
    task = get_task("easy-vqa", root=tiny_vqa)
    run_eval(task, scripted(answer=oracle), cache=cache, limit=4, n_resamples=10)
    with cache.open("a") as fh:
        fh.write('{"task": "easy-vqa", "item_id": "test-0", "mod')  # died mid-write
    model = scripted(answer=oracle)
    run_eval(task, model, cache=cache, limit=4, n_resamples=10)
    assert model.calls == 0
    # Same ids, other questions (another seed's POPE negatives) → not reused.
    lines = [json.loads(x) for x in cache.read_text().splitlines()[:4]]
    for row in lines:
        row["value"]["input_sha256"] = "different"
    cache.write_text("".join(json.dumps(r) + "\n" for r in lines))
    model = scripted(answer=oracle)
    run_eval(task, model, cache=cache, limit=4, n_resamples=10)
    assert model.calls == 4


def test_result_records_provenance_and_uses_batch(scripted, oracle, tiny_vqa, tmp_path) -> None:
    model = scripted(answer=oracle, name_="oracle-v1")
    result = run_eval(get_task("easy-vqa", root=tiny_vqa), model, limit=10, batch_size=4, seed=3, n_resamples=20)
    assert model.batch_calls == 3  # 4 + 4 + 2
    meta = result.meta
    assert result.model_id == model_identity(model)[0] and result.model_id.startswith("scripted:oracle-v1:")
    assert len(meta["data_sha256"]) == 64 and meta["seed"] == 3 and meta["n_items"] == 10
    assert meta["genaisys_version"] == "0.1.0" and "git_commit" in meta and meta["labels"][0] == "circle"
    assert result.metrics["accuracy"]["value"] == 1.0
    rec = result.records[0]
    assert set(rec["input"]) == {"prompt", "images", "reference"} and "prediction" in rec
    path = result.save(tmp_path / "r.json")
    assert EvalResult.load(path).to_dict() == json.loads(json.dumps(result.to_dict()))
    with pytest.raises(ConfigError, match="batch_size"):
        run_eval(get_task("easy-vqa", root=tiny_vqa), model, batch_size=0)
    with pytest.raises(ConfigError, match="no eval result"):
        EvalResult.load(tmp_path / "missing.json")


def test_a_graph_as_system_under_test(scripted) -> None:
    from langgraph.graph import END, START, MessagesState, StateGraph

    model = scripted(answer=lambda text, images: AIMessage(
        content="", tool_calls=[{"name": "calculator", "args": {"expression": "37*49"}, "id": "c1"}])
        if "37" in text else "Hello there.")

    def think(state: MessagesState) -> dict:
        return {"messages": [model.invoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("think", think)
    builder.add_edge(START, "think")
    builder.add_edge("think", END)
    graph = builder.compile()
    task = get_task("tool-routing")
    result = run_eval(task, graph, limit=13, n_resamples=20)
    assert result.model_id.startswith("graph:")
    by_id = {r["id"]: r for r in result.records}
    assert by_id["calc-1"]["correct"] and by_id["calc-1"]["args_match"]
    assert not by_id["calc-2"]["correct"] and by_id["none-1"]["correct"]


def test_tool_routing_binds_tools_on_a_chat_model(scripted) -> None:
    seen = {}

    def answer(text, images):
        return AIMessage(content="", tool_calls=[{"name": "current_time", "args": {"timezone": "Asia/Tokyo"},
                                                  "id": "1"}]) if "Tokyo" in text else "no tool needed"

    model = scripted(answer=answer)
    task = get_task("tool-routing")
    bound = task.prepare_model(model)
    seen["kwargs"] = bound.kwargs
    assert sorted(seen["kwargs"]["tools"]) == ["calculator", "current_time", "http_fetch", "read_file"]
    result = run_eval(task, model, n_resamples=20)
    m = result.metrics
    assert m["no_tool_accuracy"]["value"] == 1.0 and m["tool_recall"]["value"] == pytest.approx(1 / 11)
    assert m["args_valid"]["value"] == 1.0


def test_judge_verdicts_are_cached(scripted, tiny_vqa, tmp_path) -> None:
    judge = scripted(answer=lambda t, i: "Score: 4", name_="j")
    task = get_task("judge", judge=judge, root=tiny_vqa)
    sut = scripted(answer=lambda t, i: "A red circle.")
    first = run_eval(task, sut, limit=3, cache=tmp_path / "p.jsonl", n_resamples=20)
    assert judge.calls == 3 and first.metrics["pass_rate"]["value"] == 1.0
    second = run_eval(task, sut, limit=3, cache=tmp_path / "p.jsonl", n_resamples=20)
    assert judge.calls == 3 and second.metrics == first.metrics
    assert second.meta["task_options"]["judge_prompt_sha256"] == first.records[0]["judge_prompt_sha256"]
