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
