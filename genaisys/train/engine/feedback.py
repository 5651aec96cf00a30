"""User feedback on an assistant's answers, kept in one small SQLite file.

Each verdict is keyed by the graph thread and the id of the answer's message (LangGraph's
``add_messages`` gives every message an id): ``accept`` (a good answer), ``reject`` (a bad one,
optionally with the right answer in ``edited``), or ``edit`` (the user's corrected text, which
replaces the answer). A later verdict on the same message replaces the earlier one.
`genaisys.train.engine.sessions.sessions_to_records` turns the verdicts and the recorded threads
into SFT records and DPO pairs.

**Where the store lives.** Next to the thread's checkpoints (`feedback_path_for`): a SQLite
checkpointer in ``DIR/NAME.sqlite`` keeps its feedback in the sibling ``DIR/NAME.feedback.sqlite``
(a file of its own, so a feedback write never waits on a checkpoint write's lock); an in-memory
checkpointer keeps it in memory; a PostgreSQL (or any other) checkpointer has no file to sit beside,
so its feedback goes to ``$GENAISYS_HOME/graphs/feedback.sqlite`` on the machine that took it.

Example:
    >>> store = FeedbackStore(":memory:")
    >>> store.record("thread-1", "msg-7", "edit", edited="Paris is the capital of France.").verdict
    'edit'
    >>> sorted(store.for_thread("thread-1"))
    ['msg-7']
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from genaisys.errors import ConfigError

__all__ = ["FALLBACK_NAME", "VERDICTS", "Feedback", "FeedbackStore", "feedback_path_for"]

VERDICTS = ("accept", "reject", "edit")

FALLBACK_NAME = "feedback.sqlite"
"""The store's file under ``$GENAISYS_HOME/graphs`` when the checkpointer has no file (PostgreSQL)."""

_SCHEMA = """CREATE TABLE IF NOT EXISTS feedback (
    thread_id TEXT NOT NULL, message_id TEXT NOT NULL, verdict TEXT NOT NULL, edited TEXT, note TEXT,
    created_at REAL NOT NULL, PRIMARY KEY (thread_id, message_id))"""


class Feedback(BaseModel):
    """One verdict on one answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    thread_id: str = Field(min_length=1)
    message_id: str = Field(min_length=1)
    verdict: Literal["accept", "reject", "edit"]
    edited: str | None = None
    note: str | None = None
    created_at: float = 0.0


def feedback_path_for(checkpointer: Any) -> str:
    """Where the feedback on a checkpointer's threads is kept (see the module docstring).

    Args:
        checkpointer: a LangGraph saver, or a checkpointer spec as graphs take it: a SQLite path,
            ``":memory:"``, a ``postgresql://`` DSN, or ``None`` (the default SQLite file,
            ``$GENAISYS_HOME/graphs/checkpoints.sqlite``).

    Returns:
        A SQLite path, or ``":memory:"``.

    Example:
        >>> feedback_path_for("runs/threads.sqlite")
        'runs/threads.feedback.sqlite'
        >>> feedback_path_for(":memory:")
        ':memory:'
    """
    from genaisys.assets import cache_dir

    fallback = str(cache_dir() / "graphs" / FALLBACK_NAME)
    if checkpointer is None:
        checkpointer = cache_dir() / "graphs" / "checkpoints.sqlite"
    if isinstance(checkpointer, (str, os.PathLike)):
        target = str(checkpointer)
        if target == ":memory:":
            return target
        if target.startswith(("postgresql://", "postgres://")):
            return fallback
        path = Path(target).expanduser()
        return str(path.with_name(f"{path.stem}.feedback{path.suffix or '.sqlite'}"))
    conn = getattr(checkpointer, "conn", None)
    if isinstance(conn, sqlite3.Connection):  # a SqliteSaver: beside its database file
        rows = conn.execute("PRAGMA database_list").fetchall()
        file = next((r[2] for r in rows if r[1] == "main"), "")
        return feedback_path_for(file) if file else ":memory:"
    if type(checkpointer).__name__ == "InMemorySaver":
        return ":memory:"
    return fallback


class FeedbackStore:
    """Verdicts in a SQLite file (or ``":memory:"``); safe to share between threads of one process.

    Args:
        path: the database file (its folder is created), or ``":memory:"``.
    """

    def __init__(self, path: str | Path = ":memory:") -> None:
        target = str(path)
        if target != ":memory:":
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        self.path = target
        self._lock = threading.Lock()
        self._db = sqlite3.connect(target, check_same_thread=False)
        with self._lock, self._db:
            self._db.execute(_SCHEMA)

    @classmethod
    def beside(cls, checkpointer: Any) -> FeedbackStore:
        """The store next to a checkpointer's threads (`feedback_path_for`).

        Example:
            >>> FeedbackStore.beside(":memory:").path
            ':memory:'
        """
        return cls(feedback_path_for(checkpointer))

    def record(self, thread_id: str, message_id: str, verdict: str, edited: str | None = None,
               note: str | None = None) -> Feedback:
        """Store a verdict (replacing an earlier one on the same message) and return it.

        Raises:
            ConfigError: an unknown verdict, an ``edit`` without ``edited`` text, or empty ids.
        """
        if verdict not in VERDICTS:
            raise ConfigError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
        if verdict == "edit" and not (edited or "").strip():
            raise ConfigError("an 'edit' verdict needs the edited answer text (edited=...)")
        if verdict == "accept" and edited is not None:
            raise ConfigError("an 'accept' verdict takes no edited text; use verdict='edit' to correct an answer")
        if not thread_id or not message_id:
            raise ConfigError("feedback needs a thread_id and a message_id")
        fb = Feedback(thread_id=thread_id, message_id=message_id, verdict=verdict,  # type: ignore[arg-type]
                      edited=edited if (edited or "").strip() else None, note=note, created_at=time.time())
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO feedback VALUES (?, ?, ?, ?, ?, ?)",
                             (fb.thread_id, fb.message_id, fb.verdict, fb.edited, fb.note, fb.created_at))
        return fb

    def get(self, thread_id: str, message_id: str) -> Feedback | None:
        """The verdict on one message, or ``None``."""
        rows = self._rows("WHERE thread_id = ? AND message_id = ?", (thread_id, message_id))
        return rows[0] if rows else None

    def for_thread(self, thread_id: str) -> dict[str, Feedback]:
        """``{message_id: Feedback}`` for one thread."""
        return {f.message_id: f for f in self._rows("WHERE thread_id = ?", (thread_id,))}

    def threads(self) -> list[str]:
        """Thread ids that have feedback, sorted."""
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT DISTINCT thread_id FROM feedback ORDER BY thread_id")]

    def all(self) -> list[Feedback]:
        """Every verdict, oldest first."""
        return self._rows("", ())

    def _rows(self, where: str, args: tuple[str, ...]) -> list[Feedback]:
        with self._lock:
            rows = self._db.execute(f"SELECT thread_id, message_id, verdict, edited, note, created_at FROM feedback "
                                    f"{where} ORDER BY created_at, thread_id, message_id", args).fetchall()
        return [Feedback(thread_id=t, message_id=m, verdict=v, edited=e, note=n, created_at=c)
                for t, m, v, e, n, c in rows]

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> FeedbackStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
