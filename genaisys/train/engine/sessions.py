"""Sessions → data: recorded graph threads plus user feedback become SFT records and DPO pairs.

This is the loop by which a deployed assistant learns from its use (docs/training.md). A graph run
with a checkpointer (``SqliteSaver`` by default) keeps every thread's messages; users judge the
answers in a `FeedbackStore` (``accept`` / ``reject`` / ``edit``, keyed by thread id and message
id). For each judged answer, the conversation before it is the prompt:

======================  ==========================================  ===============================
verdict                 SFT record                                  DPO pair (chosen ≻ rejected)
======================  ==========================================  ===============================
``accept``              prompt + the answer                          —
``edit``                prompt + the edited answer                   edited ≻ original
``reject`` + edited     prompt + the correction                      correction ≻ original
``reject`` alone        —                                            — (a *failure*, see below)
======================  ==========================================  ===============================

Earlier answers that were edited appear edited in later prompts, so the model learns from the
corrected conversation; SFT records carry ``"train_on": "last"``, since earlier answers in the
prompt were not necessarily approved. Rejected answers without a correction are returned as *failures*, rows
in the adversarial-set format of `genaisys.eval.adversarial` (``id``, ``source``, ``origin``,
``prompt``, ``images``, ``reference``, ``rejected``) plus ``record``, the prompt as a record,
ready for a teacher (`genaisys.train.engine.self_instruct`) or a person to answer.

`export_sessions` writes all three to a folder (``sft.jsonl``, ``dpo.jsonl``, ``failures.jsonl``)
and counts what it wrote and what it skipped; ``genaisys feedback export`` is that call.

Example:
    >>> sft, dpo, failures = sessions_to_records(saver, store)  # doctest: +SKIP
    >>> export_sessions(saver, store, "runs/feedback")  # doctest: +SKIP
    {'sft': 2, 'dpo': 1, 'failures': 1, 'skipped': 0, 'ratings': 3, ...}
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from genaisys.errors import ConfigError
from genaisys.train.data import from_messages, write_records
from genaisys.train.engine.feedback import Feedback, FeedbackStore

__all__ = ["export_sessions", "sessions_to_records", "thread_messages"]

_log = logging.getLogger(__name__)


def _thread_ids(checkpointer: Any) -> list[str]:
    seen: dict[str, None] = {}
    for tup in checkpointer.list(None):
        tid = tup.config.get("configurable", {}).get("thread_id")
        if tid is not None:
            seen.setdefault(str(tid), None)
    return sorted(seen)


def thread_messages(checkpointer: Any, thread_id: str, *, key: str = "messages") -> list[Any]:
    """The messages of a thread's latest checkpoint (the root graph's, not a subgraph's).

    Raises:
        ConfigError: the thread is unknown or its state has no ``key`` list.

    Example:
        >>> thread_messages(saver, "thread-1")  # doctest: +SKIP
    """
    tup = checkpointer.get_tuple({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}})
    if tup is None:
        raise ConfigError(f"thread {thread_id!r} is not in the checkpointer; known: {_thread_ids(checkpointer)[:10]}")
    values = tup.checkpoint.get("channel_values", {})
    messages = values.get(key)
    if not isinstance(messages, list):
        raise ConfigError(f"thread {thread_id!r} has no {key!r} list in its state (keys: {sorted(values)}); "
                          "pass key= the state key holding the conversation")
    return messages


def _answer(msg: Any) -> dict[str, Any]:
    """An AI message as a preference side ``{"value", "tool_calls"}``."""
    side: dict[str, Any] = {"value": msg.content if isinstance(msg.content, str) else "".join(
        b.get("text", "") for b in msg.content if isinstance(b, dict) and b.get("type") == "text")}
    if msg.tool_calls:
        side["tool_calls"] = [{"name": tc["name"], "arguments": dict(tc.get("args") or {}), "id": tc.get("id")}
                              for tc in msg.tool_calls]
    return side


def _hash(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


def sessions_to_records(
    checkpointer: Any,
    feedback: FeedbackStore,
    thread_ids: Iterable[str] | None = None,
    *,
    tools: Sequence[str | dict[str, Any]] | None = None,
    key: str = "messages",
    image_dir: str | Path | None = None,
    blobs: Any = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Turn judged answers in recorded threads into ``(sft, dpo, failures)`` (see the module table).

    Args:
        checkpointer: a LangGraph checkpointer holding the threads (``SqliteSaver``, ``PostgresSaver`` …).
        feedback: the verdicts.
        thread_ids: threads to read; default every thread that has feedback.
        tools: the tools the graph offered (registry names or OpenAI dicts), stored in each record
            so the answer is learnt with the same tool section it was given.
        key: the state key holding the messages.
        image_dir: where inline (base64) images from the threads are written as files.
        blobs: the blob store for image blocks that reference blob ids.

    Returns:
        SFT records, preference records, and failure rows (rejected without a correction).

    Raises:
        ConfigError: a thread is unknown or its messages cannot be stored as records.
    """
    ids = list(thread_ids) if thread_ids is not None else feedback.threads()
    sft: list[dict[str, Any]] = []
    dpo: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for tid in ids:
        verdicts = feedback.for_thread(tid)
        if not verdicts:
            continue
        messages = thread_messages(checkpointer, tid, key=key)
        by_id = {getattr(m, "id", None): i for i, m in enumerate(messages)}
        for mid in verdicts:
            if mid not in by_id:
                _log.warning("feedback on message %s of thread %s: no such message in the thread; skipped", mid, tid)
            elif getattr(messages[by_id[mid]], "type", None) != "ai":
                _log.warning("feedback on message %s of thread %s: not an assistant answer; skipped", mid, tid)
        corrected = _corrected(messages, verdicts)
        for i, msg in enumerate(messages):
            fb = verdicts.get(getattr(msg, "id", None))
            if fb is None or getattr(msg, "type", None) != "ai":
                continue
            prompt = [m for m in corrected[:i] if m is not None]
            if not any(getattr(m, "type", None) == "human" for m in prompt):
                _log.warning("answer %s of thread %s has no user turn before it; skipped", msg.id, tid)
                continue
            rid = f"session-{tid}-{msg.id}"
            meta = {"source": "session", "thread_id": tid, "message_id": msg.id, "verdict": fb.verdict,
                    **({"note": fb.note} if fb.note else {})}
            kw = {"image_dir": image_dir, "blobs": blobs}
            if fb.verdict == "accept":
                sft.append(from_messages([*prompt, msg], tools, id=rid, train_on="last", meta=meta, **kw))
                continue
            if fb.edited:
                sft.append(from_messages([*prompt, corrected[i]], tools, id=rid, train_on="last", meta=meta, **kw))
                dpo.append(from_messages(prompt, tools, id=f"{rid}-pref", chosen={"value": fb.edited},
                                         rejected=_answer(msg), meta=meta, **kw))
                continue
            record = from_messages(prompt, tools, id=rid, meta=meta, require_answer=False, **kw)
            last_human = next(t for t in reversed(record["conversations"]) if t["from"] == "human")
            rejected = _answer(msg)
            rejected_text = rejected["value"] or json.dumps(rejected.get("tool_calls"))
            failures.append({"id": _hash(record["conversations"], rejected_text), "source": "session",
                             "origin": f"{tid}#{msg.id}", "task": None, "model_id": None,
                             "prompt": last_human["value"].replace("<image>\n", "").replace("<image>", ""),
                             "images": record.get("images", []), "reference": None, "rejected": rejected_text,
                             "note": fb.note, "record": record})
    return sft, dpo, failures


def export_sessions(
    checkpointer: Any,
    feedback: FeedbackStore,
    out_dir: str | Path,
    *,
    tools: Sequence[str | dict[str, Any]] | None = None,
    key: str = "messages",
    blobs: Any = None,
) -> dict[str, Any]:
    """Write the data `sessions_to_records` makes from every rated thread into ``out_dir``.

    Files: ``sft.jsonl`` (SFT records), ``dpo.jsonl`` (preference records, chosen ≻ rejected),
    ``failures.jsonl`` (rejected answers without a correction, for a teacher or a person), and the
    answers' images under ``images/``. A rating is *skipped* when its thread is not in the
    checkpointer (another store, a deleted thread), its message is not an answer of the thread, or
    the answer has no user turn before it.

    Returns:
        ``{"sft", "dpo", "failures", "skipped", "ratings", "threads", "files": {name: path}}``.

    Example:
        >>> export_sessions(saver, store, "runs/feedback")["dpo"]  # doctest: +SKIP
        1
    """
    out = Path(out_dir)
    sft: list[dict[str, Any]] = []
    dpo: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    ratings = skipped = 0
    threads = feedback.threads()
    for tid in threads:
        n = len(feedback.for_thread(tid))
        ratings += n
        try:
            s, d, f = sessions_to_records(checkpointer, feedback, [tid], tools=tools, key=key,
                                          image_dir=out / "images", blobs=blobs)
        except ConfigError as exc:
            _log.warning("feedback on thread %s skipped: %s", tid, exc)
            skipped += n
            continue
        skipped += n - len(s) - len(f)  # every used rating makes one SFT record or one failure row
        sft += s
        dpo += d
        failures += f
    files = {"sft": write_records(out / "sft.jsonl", sft), "dpo": write_records(out / "dpo.jsonl", dpo)}
    files["failures"] = out / "failures.jsonl"
    files["failures"].write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in failures),
                                 encoding="utf-8")
    return {"sft": len(sft), "dpo": len(dpo), "failures": len(failures), "skipped": skipped, "ratings": ratings,
            "threads": len(threads), "files": files}


def _corrected(messages: Sequence[Any], verdicts: dict[str, Feedback]) -> list[Any | None]:
    """The thread as the user corrected it: an edited answer replaces the text and drops its tool
    calls, so the tool results that answered them drop out too (``None`` keeps indices aligned)."""
    from langchain_core.messages import AIMessage

    out: list[Any | None] = []
    dropped: set[str] = set()
    for msg in messages:
        fb = verdicts.get(getattr(msg, "id", None))
        if getattr(msg, "type", None) == "ai" and fb is not None and fb.edited:
            dropped.update(tc.get("id") for tc in msg.tool_calls if tc.get("id"))
            out.append(AIMessage(content=fb.edited, id=msg.id))
        elif getattr(msg, "type", None) == "tool" and msg.tool_call_id in dropped:
            out.append(None)
        else:
            out.append(msg)
    return out
