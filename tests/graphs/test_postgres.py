"""The Postgres checkpointer against a real PostgreSQL server on loopback.

The server is ``$GENAISYS_TEST_POSTGRES_DSN`` when set; otherwise a throwaway one is started
from the system's PostgreSQL binaries (``initdb`` + ``pg_ctl``, as the ``postgres`` user when
run as root) for this test session. Where neither works, the tests skip and say why.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage

from genaisys.errors import GraphError
from genaisys.graphs import build_assistant_graph, postgres_checkpointer, run_turn
from tests.graphs.fakes import ScriptedChatModel, call

pytest.importorskip(
    "langgraph.checkpoint.postgres",
    reason="pip install 'langgraph-checkpoint-postgres>=3.2' 'psycopg[binary]>=3.3' 'psycopg-pool>=3.3'",
)

REPO = Path(__file__).resolve().parents[2]


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


@pytest.fixture(scope="module")
def postgres_dsn():
    if os.environ.get("GENAISYS_TEST_POSTGRES_DSN"):
        yield os.environ["GENAISYS_TEST_POSTGRES_DSN"]
        return
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("no PostgreSQL server: set GENAISYS_TEST_POSTGRES_DSN or install postgresql (initdb, pg_ctl)")
    prefix: list[str] = []
    root = tempfile.mkdtemp(prefix="genaisys-pg-")
    if os.geteuid() == 0:  # initdb refuses to run as root
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the PostgreSQL server as")
        if not shutil.which("runuser"):
            pytest.skip("running as root without runuser to start PostgreSQL as the 'postgres' user")
        os.chown(root, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data = os.path.join(root, "data")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    init = subprocess.run(
        [*prefix, initdb, "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"],
        capture_output=True, text=True, timeout=120,
    )
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"initdb failed, no PostgreSQL server for these tests: {init.stderr[-500:]}")
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    start = subprocess.run(
        [*prefix, pg_ctl, "-D", data, "-l", os.path.join(root, "log"), "-o", opts, "-w", "-t", "60", "start"],
        capture_output=True, text=True, timeout=120,
    )
    if start.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"PostgreSQL did not start: {start.stdout[-300:]} {start.stderr[-300:]}")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", data, "-m", "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


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
