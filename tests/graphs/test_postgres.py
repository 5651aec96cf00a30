"""The Postgres checkpointer against a real PostgreSQL server on loopback.

The server is ``$GENAISYS_TEST_POSTGRES_DSN`` when set; otherwise a throwaway one is started for
this module (`tests.loopback_servers.postgres_server`). Where neither works, the tests skip and
say why.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage

from genaisys.errors import GraphError
from genaisys.graphs import build_assistant_graph, postgres_checkpointer, run_turn
from tests.graphs.fakes import ScriptedChatModel, call
from tests.loopback_servers import postgres_server

pytest.importorskip(
    "langgraph.checkpoint.postgres",
    reason="pip install 'langgraph-checkpoint-postgres>=3.2' 'psycopg[binary]>=3.3' 'psycopg-pool>=3.3'",
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def postgres_dsn():
    with postgres_server() as dsn:
        yield dsn


def test_thread_on_postgres_is_shared_with_another_process(postgres_dsn):
    saver = postgres_checkpointer(postgres_dsn)
    try:
        def add(a: int, b: int) -> int:
            """Add two integers."""
            return a + b

        model = ScriptedChatModel(responses=[AIMessage("", tool_calls=[call("add", {"a": 2, "b": 2}, "c1")]), AIMessage("4")])
        graph = build_assistant_graph(model, tools=[add], checkpointer=saver)
        run_turn(graph, "2 + 2?", thread_id="pg-thread")
    finally:
        saver.conn.close()

    # another process, knowing only the DSN, continues the same conversation
    code = textwrap.dedent(
        f"""
        from langchain_core.messages import AIMessage
        from genaisys.graphs import build_assistant_graph, run_turn
        from tests.graphs.fakes import ScriptedChatModel
        model = ScriptedChatModel(responses=[AIMessage("still 4")])
        graph = build_assistant_graph(model, checkpointer={postgres_dsn!r})
        state = run_turn(graph, "and again?", thread_id="pg-thread")
        print("|".join(str(m.content) for m in state["messages"]))
        print(len(model.prompts[0]))
        graph.checkpointer.conn.close()
        """
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    assert lines[-2] == "2 + 2?||4|4|and again?|still 4"
    assert lines[-1] == "5"  # the second process's model saw the whole earlier conversation


def test_unreachable_postgres_raises_a_graph_error_naming_the_dsn():
    with pytest.raises(GraphError, match=r"cannot reach PostgreSQL at postgresql://someone@127\.0\.0\.1:1/db") as info:
        postgres_checkpointer("postgresql://someone:secret@127.0.0.1:1/db", timeout=0.5)
    assert "secret" not in str(info.value)


def test_servers_starting_together_create_the_tables_once(postgres_dsn):
    import threading

    import psycopg

    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS started_together")
        conn.execute("CREATE DATABASE started_together")
    fresh = postgres_dsn.rsplit("/", 1)[0] + "/started_together"
    savers, errors = [], []
    gate = threading.Barrier(4)

    def start() -> None:
        gate.wait()
        try:
            savers.append(postgres_checkpointer(fresh, max_size=2))
        except Exception as exc:  # noqa: BLE001 - every failure is reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert not errors, errors  # without the setup lock: UniqueViolation on checkpoint_migrations
        assert len(savers) == 4
        graph = build_assistant_graph(ScriptedChatModel(responses=[AIMessage("ok")]), checkpointer=savers[0])
        run_turn(graph, "hi", thread_id="together")
        assert [m.content for m in savers[3].get_tuple(
            {"configurable": {"thread_id": "together"}}).checkpoint["channel_values"]["messages"]] == ["hi", "ok"]
    finally:
        for saver in savers:
            saver.conn.close()
