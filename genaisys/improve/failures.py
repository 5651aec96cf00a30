"""Evaluation failures → training records with the reference answer (the Dynabench-style loop).

Input: an `genaisys.eval.runner.EvalResult` (or its ``result.json``), an adversarial-set JSONL
written by `genaisys.eval.adversarial.gather_adversarial`, or its rows. Each failed item becomes an
SFT record that asks the same prompt, with the same images, and answers it the way the training
generators do, so a retrained model is scored on what it was taught:

- ``easy-vqa``: the one-word reference (``"blue"``);
- ``pope-*``: ``"Yes"`` / ``"No"`` (as `genaisys.train.engine.easy_vqa.pope_probes` answers);
- ``tool-routing``: a tool call with the reference arguments (validated against the tool's
  schema), the four builtin tools listed; a no-tool item is answered with the curated distractor
  answer when the prompt is one of `genaisys.train.engine.tool_use.DISTRACTORS` — else skipped;
- session rows (rejected answers with a user correction): the correction;
- a row with an ``answer`` (the round adds it from a task's ``training_answer(item)``, as
  ``heldout-shapes`` gives one: what the image shows, then the verdict): that answer;
- any other task whose reference is a plain string (multiple choice letters, …): that string.

Rows without a usable reference are skipped (logged). `append_adversarial` adds rows made
elsewhere (such as the *failures* of `genaisys.train.engine.sessions.sessions_to_records`) to an
adversarial-set file, skipping ids already there, as `gather_adversarial` does. With `failures_to_pairs` the same rows
become DPO pairs: chosen = the reference answer, rejected = what the model said.

Example:
    >>> recs = failures_to_records("runs/adversarial.jsonl")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from genaisys.errors import ConfigError
from genaisys.train.data import IMAGE_MARK, validate_record

__all__ = ["append_adversarial", "failures_to_pairs", "failures_to_records"]

_log = logging.getLogger(__name__)
_TOOLS = ["builtin:calculator", "builtin:clock", "builtin:http_fetch", "builtin:file_reader"]


def _rows(source: Any) -> list[Mapping[str, Any]]:
    from genaisys.eval.adversarial import eval_failures
    from genaisys.eval.runner import EvalResult

    if isinstance(source, EvalResult):
        return list(eval_failures(source))
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise ConfigError(f"no eval result or adversarial set at {path}")
        if path.suffix == ".jsonl":
            rows = []
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        raise ConfigError(f"{path}:{n}: invalid JSON ({exc.msg})") from exc
            return rows
        return list(eval_failures(EvalResult.load(path)))
    if isinstance(source, Iterable):
        out: list[Mapping[str, Any]] = []
        for item in source:
            out.extend(_rows(item) if isinstance(item, (EvalResult, str, Path)) else [item])
        return out
    raise ConfigError(f"failures_to_records takes an EvalResult, a result.json, an adversarial JSONL or rows; "
                      f"got {type(source).__name__}")


def _distractor_answer(prompt: str) -> str | None:
    from genaisys.train.engine.tool_use import DISTRACTORS

    for pairs in DISTRACTORS.values():
        for p, a in pairs:
            if p == prompt:
                return a
    return None


def _answer(row: Mapping[str, Any]) -> tuple[dict[str, Any] | None, list[str] | None]:
    """The gpt turn that answers a row right, and the tools the record lists (or ``(None, None)``)."""
    task, ref = str(row.get("task") or ""), row.get("reference")
    if row.get("answer"):  # the task's own training answer (a held-out suite's `training_answer`)
        return {"from": "gpt", "value": str(row["answer"])}, None
    if ref is None or ref == "":
        return None, None
    if task == "tool-routing" and isinstance(ref, Mapping):
        name, args = ref.get("tool"), dict(ref.get("args") or {})
        if name is None:
            text = _distractor_answer(str(row.get("prompt", "")))
            return ({"from": "gpt", "value": text} if text else None), _TOOLS
        from genaisys.train.engine.tool_use import _tools

        tool = _tools().get(name)
        if tool is None:
            return None, None
        try:
            tool.args_schema.model_validate(args)
        except ValueError:
            _log.warning("reference arguments %s do not validate for %s; skipped", args, name)
            return None, None
        return {"from": "gpt", "value": "", "tool_calls": [{"name": name, "arguments": args, "id": "call_0"}]}, _TOOLS
    if task.startswith("pope") and str(ref).lower() in ("yes", "no"):
        return {"from": "gpt", "value": str(ref).capitalize()}, None
    if isinstance(ref, str):
        return {"from": "gpt", "value": ref}, None
    return None, None


def _prompt_turn(row: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    images = [str(p) for p in row.get("images") or []]
    prompt = str(row.get("prompt", ""))
    if IMAGE_MARK in prompt:
        return {"from": "human", "value": prompt}, images
    return {"from": "human", "value": (IMAGE_MARK + "\n") * len(images) + prompt}, images  # as the eval sends it


def _records(source: Any, *, pairs: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    skipped = 0
    for row in _rows(source):
        answer, tools = _answer(row)
        if answer is None:
            skipped += 1
            continue
        human, images = _prompt_turn(row)
        rid = f"fail-{row.get('id')}" + ("-pref" if pairs else "")
        if rid in seen:
            continue
        seen.add(rid)
        rec: dict[str, Any] = {"id": rid, "images": images, "conversations": [human],
                               "meta": {"source": "failure", "origin": row.get("origin"), "task": row.get("task")}}
        if tools:
            rec["tools"] = tools
        if pairs:
            rejected = str(row.get("rejected") or "").strip()
            chosen = {k: v for k, v in answer.items() if k != "from"}
            if not rejected or (not chosen.get("tool_calls") and rejected == chosen["value"]):
                skipped += 1
                continue
            rec.update(chosen=chosen, rejected=rejected)
        else:
            rec["conversations"].append(answer)
        validate_record(rec, where=f"failure {row.get('origin')}")
        out.append(rec)
    if skipped:
        _log.info("%d failure rows had no usable reference (or no rejected answer) and were skipped", skipped)
    return out


def failures_to_records(source: Any) -> list[dict[str, Any]]:
    """SFT records that answer each failed item with its reference (see the module docstring).

    Args:
        source: an ``EvalResult``, a ``result.json`` path, an adversarial-set ``.jsonl`` path, rows
            in that format, or a list of any of these.

    Raises:
        ConfigError: a file is missing or not JSON.

    Example:
        >>> failures_to_records([{"id": "1", "task": "pope-random", "prompt": "Is there a red circle in the image? "
        ...     "Answer yes or no.", "images": ["/x/1.png"], "reference": "no", "rejected": "Yes"}])[0]["conversations"][1]
        {'from': 'gpt', 'value': 'No'}
    """
    return _records(source, pairs=False)


def failures_to_pairs(source: Any) -> list[dict[str, Any]]:
    """DPO records: chosen = the reference answer, rejected = the model's failed answer (when there is one).

    Example:
        >>> r = failures_to_pairs([{"id": "1", "task": "easy-vqa", "prompt": "What color is the shape?",
        ...     "images": ["/x/1.png"], "reference": "blue", "rejected": "red"}])[0]
        >>> r["chosen"], r["rejected"]
        ({'value': 'blue'}, 'red')
    """
    return _records(source, pairs=True)


def append_adversarial(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Append adversarial-set rows (each with an ``id``) to a JSONL file, skipping ids already in it.

    Returns:
        ``{"added": n, "already_there": n, "total": n}`` (as `gather_adversarial` reports).

    Example:
        >>> import tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "adv.jsonl"
        >>> append_adversarial(f, [{"id": "a", "prompt": "2+2?", "rejected": "5", "reference": None}])
        {'added': 1, 'already_there': 0, 'total': 1}
        >>> append_adversarial(f, [{"id": "a", "prompt": "2+2?", "rejected": "5", "reference": None}])["added"]
        0
    """
    target = Path(path)
    seen: set[str] = set()
    if target.is_file():
        for line in target.read_text(encoding="utf-8").splitlines():
            try:
                seen.add(json.loads(line)["id"])
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
    added = dup = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a", encoding="utf-8") as fh:
        for row in rows:
            if "id" not in row:
                raise ConfigError("an adversarial row needs an 'id'")
            if row["id"] in seen:
                dup += 1
                continue
            seen.add(row["id"])
            fh.write(json.dumps(dict(row), default=str, ensure_ascii=False) + "\n")
            added += 1
    return {"added": added, "already_there": dup, "total": len(seen)}
