"""Checkpointers for genaisys graphs: SQLite by default, PostgreSQL for shared deployments.

A checkpointer makes a graph durable: every step's state is saved under the run's
``thread_id``, so a conversation continues across processes, a paused graph (``interrupt()``)
resumes from another process, and a crashed run resumes after its last finished step.

Every graph builder takes ``checkpointer=`` as a :data:`CheckpointerSpec`:

- ``None``: SQLite at :func:`default_checkpoint_path` (``$GENAISYS_HOME/graphs/checkpoints.sqlite``);
- a path (``str`` / ``PathLike``): SQLite in that file; ``":memory:"`` for a throwaway one;
- a ``postgresql://`` (or ``postgres://``) DSN: LangGraph's ``PostgresSaver`` over a connection
  pool (needs ``pip install 'langgraph-checkpoint-postgres>=3.2' 'psycopg[binary]>=3.3' 'psycopg-pool>=3.3'``);
- any LangGraph ``BaseCheckpointSaver``: used as is;
- ``False``: no checkpointer (no resume, no ``get_state``).

Example:
    >>> saver = make_checkpointer(":memory:")
    >>> type(saver).__name__
    'SqliteSaver'
    >>> make_checkpointer(False) is None
    True
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from genaisys.errors import ConfigError, GraphError

__all__ = [
    "CheckpointerSpec",
    "default_checkpoint_path",
    "make_checkpointer",
    "postgres_checkpointer",
    "rewind_thread",
    "sqlite_checkpointer",
    "thread_head",
]

CheckpointerSpec = BaseCheckpointSaver | str | os.PathLike | bool | None
"""What ``checkpointer=`` accepts; see the module docstring."""

_PG_PIP = "langgraph-checkpoint-postgres>=3.2 psycopg[binary]>=3.3 psycopg-pool>=3.3"


def default_checkpoint_path() -> Path:
    """Where the default SQLite checkpointer lives: ``$GENAISYS_HOME/graphs/checkpoints.sqlite``."""
    from genaisys.assets import cache_dir

    return cache_dir() / "graphs" / "checkpoints.sqlite"


def sqlite_checkpointer(path: str | os.PathLike = ":memory:") -> BaseCheckpointSaver:
    """A LangGraph ``SqliteSaver`` on ``path``, usable from LangGraph's worker threads.

    The connection is opened with ``check_same_thread=False`` (LangGraph runs nodes and
    checkpoint writes on other threads; the saver serialises access with its own lock) and the
    tables are created. Other processes may open the same file to read or resume threads.

    Args:
        path: The SQLite file (created with its folder), or ``":memory:"``.

    Example:
        >>> saver = sqlite_checkpointer(":memory:")
        >>> type(saver).__name__
        'SqliteSaver'
    """
    from langgraph.checkpoint.sqlite import SqliteSaver

    target = str(path)
    if target != ":memory:":
        file = Path(target).expanduser()
        file.parent.mkdir(parents=True, exist_ok=True)
        target = str(file)
    conn = sqlite3.connect(target, check_same_thread=False)
    saver = SqliteSaver(conn)
    saver.setup()
    return saver


_SETUP_LOCK = 0x67656E6169  # any fixed 64-bit key: 'genai'
_SETUP_WAIT_S = 120.0


def _setup_once(saver: Any, conn: Any, *, timeout: float) -> None:
    """``saver.setup()`` (create or migrate the tables) while no other process does.

    Servers started together would run the migrations at once and collide on the migrations
    table's key, so one migrates under an advisory lock while the others wait. They wait by
    polling ``pg_try_advisory_lock``, not in a blocking ``pg_advisory_lock``: a migration builds
    an index ``CONCURRENTLY``, which waits for every open statement, and a blocked lock call is
    one, so the two would deadlock.
    """
    import time

    deadline = time.monotonic() + timeout
    while not conn.execute("SELECT pg_try_advisory_lock(%s) AS taken", (_SETUP_LOCK,)).fetchone()["taken"]:
        if time.monotonic() > deadline:
            raise GraphError(f"another process has been creating the checkpoint tables for over {timeout:.0f} s; "
                             "check the PostgreSQL server's log and restart")
        time.sleep(0.05)
    try:
        saver.setup()
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK,))


def postgres_checkpointer(dsn: str, *, max_size: int = 8, **pool_kwargs: Any) -> BaseCheckpointSaver:
    """A LangGraph ``PostgresSaver`` over a ``psycopg_pool.ConnectionPool`` on ``dsn``.

    Several processes or machines running the same graphs share their threads through it.
    The tables are created on first use. Close the pool when done: ``saver.conn.close()``.

    Args:
        dsn: ``postgresql://user:password@host:port/dbname``.
        max_size: Most connections the pool opens (parallel graph branches each take one).
        **pool_kwargs: More ``ConnectionPool`` arguments (``timeout``, ``min_size``…).

    Raises:
        MissingDependencyError: The Postgres packages are not installed (the message names them).
        GraphError: The server cannot be reached; the message says which DSN was tried.

    Example:
        >>> postgres_checkpointer("postgresql://nobody@127.0.0.1:1/none", timeout=0.5)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        genaisys.errors.GraphError: cannot reach PostgreSQL at postgresql://nobody@127.0.0.1:1/none ...
    """
    from genaisys._optional import require

    pg = require("langgraph.checkpoint.postgres", _PG_PIP, feature="the Postgres checkpointer")
    pool_mod = require("psycopg_pool", _PG_PIP, feature="the Postgres checkpointer")
    rows = require("psycopg.rows", _PG_PIP, feature="the Postgres checkpointer")
    psycopg = require("psycopg", _PG_PIP, feature="the Postgres checkpointer")

    pool_kwargs.setdefault("timeout", 10.0)
    pool = pool_mod.ConnectionPool(
        dsn,
        min_size=1,
        max_size=max_size,
        # what PostgresSaver needs: autocommit, dict rows, no server-side prepared statements
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": rows.dict_row},
        open=False,
        **pool_kwargs,
    )
    try:
        pool.open(wait=True, timeout=pool_kwargs["timeout"])
        with pool.connection() as conn:
            _setup_once(pg.PostgresSaver(conn), conn, timeout=_SETUP_WAIT_S)
        saver = pg.PostgresSaver(pool)
    except (pool_mod.PoolTimeout, psycopg.OperationalError) as exc:
        pool.close()
        raise GraphError(
            f"cannot reach PostgreSQL at {_redact(dsn)} ({type(exc).__name__}: {exc}); check that the server "
            "runs and accepts TCP connections, and the DSN's user, password and database"
        ) from exc
    return saver


def _redact(dsn: str) -> str:
    """The DSN without its password."""
    if "@" in dsn and "://" in dsn:
        scheme, rest = dsn.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}@{host}"
    return dsn


def make_checkpointer(spec: CheckpointerSpec) -> BaseCheckpointSaver | None:
    """Turn a :data:`CheckpointerSpec` into a saver (or ``None`` for no checkpointing)."""
    if spec is False:
        return None
    if spec is None or spec is True:
        return sqlite_checkpointer(default_checkpoint_path())
    if isinstance(spec, BaseCheckpointSaver):
        return spec
    if isinstance(spec, str) and spec.startswith(("postgresql://", "postgres://")):
        return postgres_checkpointer(spec)
    if isinstance(spec, (str, os.PathLike)):
        return sqlite_checkpointer(spec)
    raise ConfigError(
        "checkpointer must be a LangGraph BaseCheckpointSaver, a SQLite path, a postgresql:// DSN, None "
        f"(default SQLite file) or False (none); got {type(spec).__name__}"
    )


def thread_head(graph: Any, config: dict[str, Any]) -> dict[str, Any] | None:
    """The config of the thread's latest checkpoint (``None``: no checkpointer, or a new thread).

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> from genaisys.graphs import build_assistant_graph
        >>> graph = build_assistant_graph(FakeListChatModel(responses=["a"]), checkpointer=":memory:")
        >>> thread_head(graph, {"configurable": {"thread_id": "new"}}) is None
        True
    """
    if getattr(graph, "checkpointer", None) in (None, False):
        return None
    snapshot = graph.get_state(config)
    head = (snapshot.config or {}).get("configurable", {})
    return snapshot.config if head.get("checkpoint_id") else None


def rewind_thread(graph: Any, config: dict[str, Any], head: dict[str, Any] | None) -> None:
    """Make ``head`` (from `thread_head`, taken before a turn) the thread's latest checkpoint again.

    A turn that fails still leaves its input in the thread (LangGraph checkpoints the input before
    the first node runs). Rewinding copies the checkpoint from before the turn on top, so the next
    turn starts from there; the failed turn stays visible in the history. A thread that had no
    checkpoint before is deleted.

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> from genaisys.graphs import build_assistant_graph
        >>> graph = build_assistant_graph(FakeListChatModel(responses=["a", "b"]), checkpointer=":memory:")
        >>> config = {"configurable": {"thread_id": "t"}}
        >>> _ = graph.invoke({"messages": [("user", "one")]}, config)
        >>> head = thread_head(graph, config)
        >>> _ = graph.invoke({"messages": [("user", "two")]}, config)
        >>> rewind_thread(graph, config, head)
        >>> [m.content for m in graph.get_state(config).values["messages"]]
        ['one', 'a']
    """
    saver = getattr(graph, "checkpointer", None)
    if saver in (None, False):
        return
    if head is None:
        saver.delete_thread(config["configurable"]["thread_id"])
        return
    graph.update_state(head, None, as_node="__copy__")

