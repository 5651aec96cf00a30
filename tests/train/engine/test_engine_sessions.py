"""Sessions → data with a real SqliteSaver: two recorded threads, user feedback, SFT + DPO + failures."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition

from genaisys.errors import ConfigError
from genaisys.train.data import to_messages, to_preference, validate_record
from genaisys.train.engine.feedback import FeedbackStore
from genaisys.train.engine.sessions import sessions_to_records, thread_messages

_CALC = [{"name": "calculator", "args": {"expression": "6*7"}, "id": "c1", "type": "tool_call"}]


@pytest.fixture
def recorded(tmp_path):
    """Two threads of a think → tools → think graph with a scripted model, in a real SqliteSaver."""
    from genaisys.tools import get_tool

    calc = get_tool("builtin:calculator")
    model = FakeMessagesListChatModel(responses=[
        AIMessage("Paris."),                                    # thread a, turn 1
        AIMessage("", tool_calls=_CALC), AIMessage("It is 41."),  # thread a, turn 2 (wrong final)
        AIMessage("Berlin is in Spain."),                        # thread b, turn 1 (wrong)
        AIMessage("Blue, usually."),                             # thread b, turn 2
    ])

    def think(state: MessagesState) -> dict:
        return {"messages": [model.invoke(state["messages"])]}

    g = StateGraph(MessagesState)
    g.add_node("think", think)
    g.add_node("tools", ToolNode([calc]))
    g.add_edge(START, "think")
    g.add_conditional_edges("think", tools_condition, {"tools": "tools", END: END})
    g.add_edge("tools", "think")
    conn = sqlite3.connect(tmp_path / "threads.sqlite", check_same_thread=False)
    saver = SqliteSaver(conn)
    graph = g.compile(checkpointer=saver)
    for tid, questions in (("a", ["Capital of France?", "What is 6 times 7?"]),
                           ("b", ["Where is Berlin?", "What colour is the sky?"])):
        for q in questions:
            graph.invoke({"messages": [HumanMessage(q)]}, {"configurable": {"thread_id": tid}, "recursion_limit": 10})
    yield saver
    conn.close()


def _ai(saver, tid):
    return [m for m in thread_messages(saver, tid) if m.type == "ai"]


def test_sessions_become_sft_dpo_and_failures(recorded, tmp_path):
    a, b = _ai(recorded, "a"), _ai(recorded, "b")
    assert [m.content for m in a] == ["Paris.", "", "It is 41."]
    store = FeedbackStore(tmp_path / "fb.sqlite")
    store.record("a", a[0].id, "accept")
    store.record("a", a[2].id, "edit", edited="6 × 7 = 42.")
    store.record("b", b[0].id, "reject", note="wrong country")
    store.record("b", b[1].id, "reject", edited="The sky is blue.")
    store.record("a", a[1].id, "accept")  # the tool call itself was right
    sft, dpo, failures = sessions_to_records(recorded, store, tools=["builtin:calculator"])

    by_msg = {r["meta"]["message_id"]: r for r in sft}
    assert set(by_msg) == {a[0].id, a[1].id, a[2].id, b[1].id}
    first = by_msg[a[0].id]["conversations"]
    assert [t["from"] for t in first] == ["human", "gpt"] and first[-1]["value"] == "Paris."
    assert {r["train_on"] for r in sft} == {"last"}  # earlier answers in a prompt were not approved
    edited = by_msg[a[2].id]["conversations"]
    assert [t["from"] for t in edited] == ["human", "gpt", "human", "gpt", "tool", "gpt"]
    assert edited[4]["value"] == "42" and edited[-1]["value"] == "6 × 7 = 42."  # the real tool result, the edit
    assert by_msg[a[1].id]["conversations"][-1]["tool_calls"][0]["arguments"] == {"expression": "6*7"}
    # b's second answer is learnt after the (rejected, uncorrected) first exchange as it happened
    assert by_msg[b[1].id]["conversations"][-1]["value"] == "The sky is blue."

    assert {d["meta"]["message_id"] for d in dpo} == {a[2].id, b[1].id}
    pair = next(d for d in dpo if d["meta"]["message_id"] == a[2].id)
    assert pair["chosen"] == {"value": "6 × 7 = 42."} and pair["rejected"] == {"value": "It is 41."}
    assert pair["conversations"][-1]["from"] == "tool"
    _, chosen, rejected, tools = to_preference(pair)
    assert chosen.content == "6 × 7 = 42." and rejected.content == "It is 41." and tools[0].name == "calculator"

    assert len(failures) == 1
    fail = failures[0]
    assert fail["origin"] == f"b#{b[0].id}" and fail["prompt"] == "Where is Berlin?"
    assert fail["rejected"] == "Berlin is in Spain." and fail["reference"] is None and fail["note"] == "wrong country"
    assert fail["record"]["conversations"][-1]["from"] == "human"
    for rec in [*sft, *dpo]:
        validate_record(rec)
        to_messages(rec)


def test_an_edited_tool_call_drops_its_results_from_later_prompts(recorded):
    a = _ai(recorded, "a")
    store = FeedbackStore()
    store.record("a", a[1].id, "edit", edited="42.")  # answer directly instead of calling the tool
    store.record("a", a[2].id, "accept")
    sft, dpo, _ = sessions_to_records(recorded, store, thread_ids=["a"])
    later = next(r for r in sft if r["meta"]["message_id"] == a[2].id)["conversations"]
    assert [t["from"] for t in later] == ["human", "gpt", "human", "gpt", "gpt"]
    assert later[3]["value"] == "42." and "tool_calls" not in later[3]
    assert dpo[0]["rejected"]["tool_calls"][0]["name"] == "calculator"


def test_stale_feedback_is_skipped_and_unknown_threads_are_errors(recorded, caplog):
    store = FeedbackStore()
    store.record("a", "no-such-message", "accept")
    human_id = thread_messages(recorded, "a")[0].id
    store.record("a", human_id, "accept")
    with caplog.at_level(logging.WARNING):
        assert sessions_to_records(recorded, store) == ([], [], [])
    assert "no such message" in caplog.text and "not an assistant answer" in caplog.text
    with pytest.raises(ConfigError, match="not in the checkpointer"):
        thread_messages(recorded, "zzz")
    store.record("zzz", "m", "accept")
    with pytest.raises(ConfigError, match="not in the checkpointer"):
        sessions_to_records(recorded, store)


def test_feedback_store_rules(tmp_path):
    store = FeedbackStore(tmp_path / "x" / "fb.sqlite")
    with pytest.raises(ConfigError, match="verdict must be one of"):
        store.record("t", "m", "like")
    with pytest.raises(ConfigError, match="edited answer text"):
        store.record("t", "m", "edit")
    with pytest.raises(ConfigError, match="use verdict='edit'"):
        store.record("t", "m", "accept", edited="x")
    store.record("t", "m", "reject")
    store.record("t", "m", "accept")  # the later verdict wins
    assert store.get("t", "m").verdict == "accept" and len(store.all()) == 1
    store.close()
    with FeedbackStore(tmp_path / "x" / "fb.sqlite") as again:  # persisted
        assert again.threads() == ["t"] and again.get("t", "nope") is None


class _ScriptedCore(FakeMessagesListChatModel):
    """A scripted CPU for the assistant graph (tools are bound but the script decides)."""

    def bind_tools(self, tools, **kwargs):
        return self


def test_the_assistant_graph_with_images_in_the_blob_store(tmp_path):
    """genaisys's own assistant graph: an image moves to the blob store, the record gets its file."""
    import base64

    from PIL import Image

    from genaisys.graphs.assistant import build_assistant_graph
    from genaisys.graphs.checkpoint import sqlite_checkpointer
    from genaisys.memory.blobs import BlobStore

    png = tmp_path / "red.png"
    Image.new("RGB", (8, 8), "red").save(png)
    blobs = BlobStore(tmp_path / "blobs")
    saver = sqlite_checkpointer(tmp_path / "cp.sqlite")
    core = _ScriptedCore(responses=[AIMessage("A red square.")])
    graph = build_assistant_graph(core, tools=["builtin:calculator"], blobs=blobs, checkpointer=saver)
    image = {"type": "image", "base64": base64.b64encode(png.read_bytes()).decode(), "mime_type": "image/png"}
    graph.invoke({"messages": [HumanMessage([image, {"type": "text", "text": "What is this?"}])]},
                 {"configurable": {"thread_id": "img"}})
    answer = _ai(saver, "img")[-1]
    store = FeedbackStore()
    store.record("img", answer.id, "accept")
    (rec,), dpo, failures = sessions_to_records(saver, store, tools=["builtin:calculator"], blobs=blobs)
    assert not dpo and not failures
    assert rec["conversations"][0]["value"] == "<image>\nWhat is this?"
    assert Path(rec["images"][0]).read_bytes() == png.read_bytes()  # the blob's file
    msgs, tools = to_messages(rec)
    assert msgs[0].content[0]["url"] == rec["images"][0] and tools[0].name == "calculator"


def test_session_failures_join_the_adversarial_set_and_come_back_as_data(recorded, tmp_path):
    from genaisys.improve.failures import append_adversarial, failures_to_records

    b = _ai(recorded, "b")
    store = FeedbackStore()
    store.record("b", b[0].id, "reject")
    _, _, failures = sessions_to_records(recorded, store)
    adv = tmp_path / "adv.jsonl"
    assert append_adversarial(adv, failures) == {"added": 1, "already_there": 0, "total": 1}
    assert append_adversarial(adv, failures)["added"] == 0
    assert failures_to_records(adv) == []  # no reference yet: nothing to learn
    row = {**failures[0], "id": "fixed", "reference": "Berlin is in Germany."}  # someone wrote the answer
    append_adversarial(adv, [row])
    (rec,) = failures_to_records(adv)
    assert rec["conversations"] == [{"from": "human", "value": "Where is Berlin?"},
                                    {"from": "gpt", "value": "Berlin is in Germany."}]
