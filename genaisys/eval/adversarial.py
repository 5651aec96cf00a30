"""The adversarial set: where the model failed, gathered as training material (Dynabench-style).

Two sources feed one JSONL file:

- **evaluation failures** — every record of an `EvalResult` whose ``correct`` is false (unreadable
  answers included): the prompt, images and reference the item had, and the model's answer;
- **rejected answers from recorded sessions** — a JSONL of sessions, one per line, either
  ``{"session_id": "s1", "messages": [{"role": "user", "content": "..."}, {"role": "assistant",
  "content": "..."}], "feedback": [{"index": 1, "rating": -1, "correction": "..."}]}`` (``index``
  points at the assistant message; a rating of ``-1``, ``0``, ``"down"``, ``"bad"`` or
  ``"reject"`` rejects it; the user message before it is the prompt), or the flat form
  ``{"prompt": "...", "answer": "...", "rating": "down", "correction": "..."}``.

Each output line: ``{"id", "source": "eval"|"session", "origin", "task", "model_id", "prompt",
"images", "reference", "rejected"}`` — ``reference`` is the right answer where one is known (the
eval reference, or the user's correction), so the line is a ready SFT example and, with
``rejected``, a DPO pair. Ids are content hashes: gathering twice adds nothing twice.

Turning this file into training data (`genaisys.improve.failures`) and retraining the core
(`genaisys.train.run`) is one round of `genaisys.improve.round.improvement_round` (``genaisys improve``).

Example:
    >>> n = gather_adversarial("runs/adversarial.jsonl", results=["runs/pope/result.json"])  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from genaisys.errors import ConfigError
from genaisys.eval.runner import EvalResult

__all__ = ["eval_failures", "gather_adversarial", "session_rejections"]

_REJECT = {"-1", "0", "down", "bad", "reject", "rejected", "thumbs_down", "no", "false"}
_ROLES_USER = {"user", "human"}
_ROLES_AI = {"assistant", "ai"}


def _id(prompt: str, images: Sequence[str], rejected: str) -> str:
    return hashlib.sha256(json.dumps([prompt, list(images), rejected]).encode()).hexdigest()[:16]


def eval_failures(result: EvalResult) -> Iterator[dict[str, Any]]:
    """Adversarial rows for the failed records of one result."""
    for rec in result.records:
        if rec.get("correct"):
            continue
        asked = rec.get("input")
        if not isinstance(asked, Mapping):
            raise ConfigError(f"the {result.task} result has records without their input; rerun it with this "
                              "genaisys version (records now keep prompt, images and reference)")
        prompt, images = str(asked.get("prompt", "")), list(asked.get("images") or [])
        rejected = str(rec.get("prediction", ""))
        yield {"id": _id(prompt, images, rejected), "source": "eval", "origin": f"{result.task}/{rec.get('id')}",
               "task": result.task, "model_id": result.model_id, "prompt": prompt, "images": images,
               "reference": asked.get("reference"), "rejected": rejected}


def _rejects(rating: Any) -> bool:
    return str(rating).strip().lower() in _REJECT


def _content(content: Any) -> tuple[str, list[str]]:
    if isinstance(content, str):
        return content, []
    text, images = [], []
    for block in content or []:
        if isinstance(block, Mapping):
            if block.get("type") == "text":
                text.append(str(block.get("text", "")))
            elif block.get("type") == "image" and isinstance(block.get("url") or block.get("file_id"), str):
                images.append(str(block.get("url") or block.get("file_id")))
    return "".join(text), images


def session_rejections(path: str | Path) -> Iterator[dict[str, Any]]:
    """Adversarial rows for the rejected assistant answers in a sessions JSONL (formats in the module doc)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"no sessions file at {p}; pass a JSONL of recorded sessions")
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{p}:{n} is not JSON ({exc.msg}); one session object per line") from exc
        if "messages" in row:
            messages = row["messages"]
            for fb in row.get("feedback") or []:
                idx = fb.get("index")
                if not _rejects(fb.get("rating")):
                    continue
                if not isinstance(idx, int) or not 0 <= idx < len(messages) or \
                        messages[idx].get("role") not in _ROLES_AI:
                    raise ConfigError(f"{p}:{n}: feedback index {idx!r} does not point at an assistant message")
                user = next((m for m in reversed(messages[:idx]) if m.get("role") in _ROLES_USER), None)
                if user is None:
                    continue  # nothing was asked: no prompt to learn from
                prompt, images = _content(user.get("content"))
                rejected, _ = _content(messages[idx].get("content"))
                yield {"id": _id(prompt, images, rejected), "source": "session",
                       "origin": f"{row.get('session_id', p.name + ':' + str(n))}#{idx}", "task": None,
                       "model_id": row.get("model_id"), "prompt": prompt, "images": images,
                       "reference": fb.get("correction"), "rejected": rejected}
        elif "prompt" in row and "answer" in row:
            if _rejects(row.get("rating")):
                images = list(row.get("images") or [])
                yield {"id": _id(row["prompt"], images, row["answer"]), "source": "session",
                       "origin": f"{row.get('session_id', p.name + ':' + str(n))}", "task": None,
                       "model_id": row.get("model_id"), "prompt": row["prompt"], "images": images,
                       "reference": row.get("correction"), "rejected": row["answer"]}
        else:
            raise ConfigError(f"{p}:{n}: a session needs 'messages' (+ 'feedback') or 'prompt' and 'answer'")


def gather_adversarial(
    out: str | Path,
    *,
    results: Iterable[EvalResult | str | Path] = (),
    sessions: Iterable[str | Path] = (),
) -> dict[str, int]:
    """Append new adversarial rows from eval results and session files to ``out`` (JSONL).

    Returns:
        ``{"added": n, "already_there": n, "total": n}``.
    """
    path = Path(out)
    seen: set[str] = set()
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                seen.add(json.loads(line)["id"])
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
    rows: list[dict[str, Any]] = []
    for r in results:
        rows.extend(eval_failures(r if isinstance(r, EvalResult) else EvalResult.load(r)))
    for s in sessions:
        rows.extend(session_rejections(s))
    added, dup = 0, 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        for row in rows:
            if row["id"] in seen:
                dup += 1
                continue
            seen.add(row["id"])
            fh.write(json.dumps(row, default=str) + "\n")
            added += 1
    return {"added": added, "already_there": dup, "total": len(seen)}
