"""``POST /v1/feedback``: ratings of graph answers reach the `FeedbackStore` beside the thread's checkpoints."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.language_models import FakeListChatModel

from genaisys.graphs import build_assistant_graph
from genaisys.serve import create_app
from genaisys.train.engine.feedback import FeedbackStore, feedback_path_for

KEY = "sk-feedback-test"


def _call(app: Any, requests: list[tuple[str, str, Any]], key: str | None = KEY) -> list[httpx.Response]:
    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 4000))
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers) as client:
            return [await client.request(method, path, json=body) for method, path, body in requests]

    return asyncio.run(go())


@pytest.fixture()
def served(tmp_path: Path) -> tuple[Any, Path]:
    db = tmp_path / "threads" / "checkpoints.sqlite"
    graph = build_assistant_graph(FakeListChatModel(responses=["Paris.", "It is 41."]), checkpointer=db)
    return create_app(FakeListChatModel(responses=["x"]), api_key=KEY, graphs={"assistant": graph}), db


def test_ratings_reach_the_store_beside_the_checkpoints(served: tuple[Any, Path]) -> None:
    app, db = served
    first, second = _call(app, [("POST", "/v1/graphs/assistant/runs", {"input": "Capital of France?", "thread_id": "t1"}),
                                ("POST", "/v1/graphs/assistant/runs", {"input": "6 times 7?", "thread_id": "t1"})])
    run1, run2 = first.json(), second.json()
    # every message carries its id; the answer's id is message_id
    assert run1["message_id"] and run1["messages"][-1] == {"role": "assistant", "content": "Paris.",
                                                           "id": run1["message_id"]}
    assert all(m.get("id") for m in run2["messages"]) and run2["message_id"] != run1["message_id"]
    good, bad = _call(app, [
        ("POST", "/v1/feedback", {"thread_id": "t1", "message_id": run1["message_id"], "rating": "good"}),
        ("POST", "/v1/feedback", {"thread_id": "t1", "message_id": run2["message_id"], "rating": "bad",
                                  "edited": "It is 42.", "note": "arithmetic"})])
    assert good.status_code == 200 and good.json()["verdict"] == "accept"
    assert bad.status_code == 200 and bad.json()["verdict"] == "reject" and bad.json()["edited"] == "It is 42."
    path = Path(feedback_path_for(str(db)))
    assert path == db.with_name("checkpoints.feedback.sqlite") and path.is_file()
    with FeedbackStore(path) as store:
        got = {m: (f.verdict, f.edited, f.note) for m, f in store.for_thread("t1").items()}
    assert got == {run1["message_id"]: ("accept", None, None), run2["message_id"]: ("reject", "It is 42.", "arithmetic")}
    # a later rating of the same answer replaces the earlier one
    (edit,) = _call(app, [("POST", "/v1/feedback", {"thread_id": "t1", "message_id": run1["message_id"],
                                                   "rating": "edit", "edited": "Paris is the capital."})])
    assert edit.status_code == 200
    with FeedbackStore(path) as store:
        assert store.get("t1", run1["message_id"]).verdict == "edit"


def test_feedback_errors_are_clear(served: tuple[Any, Path]) -> None:
    app, _ = served
    (run,) = _call(app, [("POST", "/v1/graphs/assistant/runs", {"input": "hi", "thread_id": "t2"})])
    run = run.json()
    user_id = run["messages"][0]["id"]
    answer = {"thread_id": "t2", "message_id": run["message_id"]}
    cases = [
        ({"thread_id": "nope", "message_id": "m", "rating": "good"}, 404, "thread_not_found"),
        ({"thread_id": "t2", "message_id": "nope", "rating": "good"}, 404, "message_not_found"),
        ({"thread_id": "t2", "message_id": user_id, "rating": "good"}, 400, "not_an_answer"),
        ({**answer, "rating": "great"}, 400, "invalid_request"),
        ({**answer, "rating": "good", "edited": "better"}, 400, "invalid_feedback"),
        ({**answer, "rating": "edit"}, 400, "invalid_feedback"),
        ({**answer, "rating": "bad", "edited": "x" * 20_001}, 413, "feedback_too_large"),
        ({**answer, "rating": "good", "graph": "nope"}, 404, "graph_not_found"),
        ({"thread_id": "t2", "rating": "good"}, 400, "invalid_request"),
    ]
    responses = _call(app, [("POST", "/v1/feedback", body) for body, _, _ in cases])
    for (body, status, code), resp in zip(cases, responses):
        assert resp.status_code == status, (body, resp.text)
        error = resp.json()["error"]
        assert error["code"] == code and error["message"], (body, error)
    assert "great" in responses[3].json()["error"]["message"] or "good" in responses[3].json()["error"]["message"]
    assert "20000" in responses[6].json()["error"]["message"]
    (unauthorised,) = _call(app, [("POST", "/v1/feedback", {**answer, "rating": "good"})], key=None)
    assert unauthorised.status_code == 401
    (wrong,) = _call(app, [("POST", "/v1/feedback", {**answer, "rating": "good"})], key="sk-wrong")
    assert wrong.status_code == 401


def test_feedback_is_in_the_openapi_schema(served: tuple[Any, Path]) -> None:
    app, _ = served
    (resp,) = _call(app, [("GET", "/openapi.json", None)])
    op = resp.json()["paths"]["/v1/feedback"]["post"]
    assert {"200", "400", "401", "404", "413"} <= set(op["responses"]) and op["security"] == [{"bearer": []}]
    assert "FeedbackStore" in op["description"]
    schema = resp.json()["components"]["schemas"]["FeedbackRequest"]
    assert set(schema["required"]) == {"thread_id", "message_id", "rating"}
    assert schema["properties"]["rating"]["enum"] == ["good", "bad", "edit"]


def test_graphs_without_threads_cannot_be_rated() -> None:
    graph = build_assistant_graph(FakeListChatModel(responses=["a"]), checkpointer=False)
    app = create_app(FakeListChatModel(responses=["x"]), api_key=KEY, graphs={"plain": graph})
    (resp,) = _call(app, [("POST", "/v1/feedback", {"thread_id": "t", "message_id": "m", "rating": "good"})])
    assert resp.status_code == 404 and "checkpointer" in resp.json()["error"]["message"]


def test_feedback_path_follows_the_checkpointer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    from genaisys.graphs import sqlite_checkpointer

    monkeypatch.setenv("GENAISYS_HOME", str(tmp_path / "home"))
    saver = sqlite_checkpointer(tmp_path / "a" / "threads.db")
    assert feedback_path_for(saver) == str(tmp_path / "a" / "threads.feedback.db")
    assert feedback_path_for(sqlite_checkpointer(":memory:")) == ":memory:"
    assert feedback_path_for(InMemorySaver()) == ":memory:"
    assert feedback_path_for(None) == str(tmp_path / "home" / "graphs" / "checkpoints.feedback.sqlite")
    assert feedback_path_for("postgresql://u@h/db") == str(tmp_path / "home" / "graphs" / "feedback.sqlite")
