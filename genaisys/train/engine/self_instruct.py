"""Self-Instruct: a teacher model proposes new instructions from a few seed tasks, then answers them.

As in Self-Instruct (Wang et al., 2023): each round shows the teacher a handful of tasks from the
pool (mostly seeds, some already generated) as a numbered list and asks it to continue the list;
every new instruction passes filters — length, banned keywords, refusal phrases and
*near-duplicates*: ROUGE-L against every instruction in the pool (seeds and accepted ones) must
stay below a threshold (0.7 in the paper) — then the teacher answers it, and the answer passes
its own filters (non-empty, not a refusal, not too long). Exact duplicates go too. Any LangChain
chat model is a teacher (a `genaisys.core.ChatCore`, a `RemoteCore`, a hosted model …).

Example:
    >>> from langchain_core.language_models.fake_chat_models import FakeListChatModel
    >>> teacher = FakeListChatModel(responses=["4. Name a fruit that is yellow.", "A banana."])
    >>> recs = self_instruct(teacher, ["Name a red vegetable.", "Give a word for big.", "Say hi."], n=1,
    ...                      progress=False)
    >>> recs[0]["conversations"][0]["value"], recs[0]["conversations"][1]["value"]
    ('Name a fruit that is yellow.', 'A banana.')
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from genaisys.errors import ConfigError

__all__ = ["InstructionFilters", "rouge_l", "self_instruct"]

_log = logging.getLogger(__name__)
_WORD = re.compile(r"[a-z0-9]+")
_ITEM = re.compile(r"^\s*(?:task\s*)?(\d+)\s*[.):]\s*(.+?)\s*$", re.IGNORECASE)


class InstructionFilters(BaseModel):
    """What a generated instruction and its answer must pass (Self-Instruct's filters, plus refusals)."""

    model_config = ConfigDict(extra="forbid")

    min_words: int = Field(default=3, ge=1)
    max_words: int = Field(default=150, ge=1)
    max_answer_words: int = Field(default=400, ge=1)
    rouge_threshold: float = Field(default=0.7, gt=0.0, le=1.0)
    banned_keywords: tuple[str, ...] = ("image", "images", "graph", "graphs", "picture", "pictures", "file",
                                        "files", "map", "maps", "draw", "plot", "go to")
    refusal_phrases: tuple[str, ...] = ("as an ai", "i'm sorry", "i am sorry", "i cannot", "i can't",
                                        "i am unable", "i'm unable", "language model", "i do not have access")


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    row = [0] * (len(b) + 1)
    for x in a:
        prev = 0
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], (prev + 1 if x == y else max(row[j], row[j - 1]))
    return row[-1]


def rouge_l(a: str, b: str) -> float:
    """ROUGE-L F1 between two texts (lower-cased words; the measure Self-Instruct deduplicates by).

    Example:
        >>> round(rouge_l("Name a red fruit.", "Name a red vegetable."), 2)
        0.75
    """
    return _rouge_tokens(_tokens(a), _tokens(b))


def _seed_text(task: Any) -> str:
    if isinstance(task, str):
        return task.strip()
    if isinstance(task, Mapping):
        if "instruction" in task:
            return (str(task["instruction"]) + ("\n" + str(task["input"]) if task.get("input") else "")).strip()
        for turn in task.get("conversations") or []:
            if turn.get("from") in ("human", "user"):
                return str(turn.get("value", "")).strip()
    raise ConfigError("a seed task is an instruction string, {'instruction': ...}, or a record with a human turn")


def _text(reply: Any) -> str:
    content = getattr(reply, "content", reply)
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") if isinstance(b, Mapping) else str(b) for b in content or [])


def _proposal_prompt(examples: Sequence[str]) -> str:
    lines = ["Come up with a series of diverse tasks. Write each as a single instruction, one per numbered line.", ""]
    lines += [f"{k}. {ex}" for k, ex in enumerate(examples, 1)]
    lines.append(f"{len(examples) + 1}.")
    return "\n".join(lines)


def _parse_proposals(text: str, n_examples: int) -> list[str]:
    """Numbered lines → instructions; a reply that simply continues the list (no number) counts as one."""
    out = []
    lines = text.strip().splitlines()
    for k, line in enumerate(lines):
        m = _ITEM.match(line)
        if m and int(m.group(1)) > n_examples:
            out.append(m.group(2))
        elif not m and k == 0 and line.strip():
            out.append(line.strip())  # the continuation of "N." itself
    return [o.strip().strip('"') for o in out if o.strip()]


def _refuses(text: str, phrases: Sequence[str]) -> bool:
    low = text.lower()
    return any(p in low for p in phrases)


def self_instruct(
    teacher: Any,
    seed_tasks: Sequence[Any],
    n: int,
    *,
    filters: InstructionFilters | Mapping[str, Any] | None = None,
    seed: int = 0,
    examples_per_prompt: int = 3,
    generated_examples: int = 1,
    max_rounds: int | None = None,
    system: str | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Generate up to ``n`` instruction records with ``teacher``.

    Args:
        teacher: any LangChain chat model (``invoke(messages) -> AIMessage``).
        seed_tasks: instruction strings, ``{"instruction", "input"}`` dicts, or records.
        n: how many records to make.
        filters: `InstructionFilters` (or its fields as a dict).
        seed: the sampling of in-context examples.
        examples_per_prompt: tasks shown per proposal prompt.
        generated_examples: how many of those come from generated tasks once there are some.
        max_rounds: proposal calls before giving up (default ``10 * n``); fewer than ``n`` records
            come back when the teacher keeps producing duplicates or junk (logged).
        system: an optional system message given to the teacher when it answers.
        progress: show a progress bar.

    Returns:
        Records ``{"id", "conversations": [human, gpt], "meta": {"source": "self-instruct", ...}}``.

    Raises:
        ConfigError: no seed tasks, or bad settings.
    """
    from langchain_core.messages import HumanMessage, SystemMessage

    rules = filters if isinstance(filters, InstructionFilters) else InstructionFilters(**dict(filters or {}))
    seeds = [_seed_text(t) for t in seed_tasks]
    seeds = [s for s in seeds if s]
    if not seeds:
        raise ConfigError("self_instruct needs at least one seed task")
    if n < 1 or examples_per_prompt < 1 or generated_examples < 0:
        raise ConfigError("n and examples_per_prompt must be >= 1, generated_examples >= 0")
    rounds = max_rounds if max_rounds is not None else 10 * n
    rng = random.Random(seed)
    pool: list[tuple[str, list[str]]] = [(s, _tokens(s)) for s in seeds]
    generated: list[str] = []
    records: list[dict[str, Any]] = []
    stats = {"proposed": 0, "length": 0, "keyword": 0, "refusal": 0, "near_duplicate": 0, "bad_answer": 0}
    teacher_id = str(getattr(teacher, "model_name", None) or getattr(teacher, "model", None) or type(teacher).__name__)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, desc="self-instruct", unit="rec")
    try:
        for _ in range(rounds):
            if len(records) >= n:
                break
            k_gen = min(generated_examples, len(generated))
            k_seed = min(len(seeds), max(1, examples_per_prompt - k_gen))
            examples = rng.sample(seeds, k_seed) + rng.sample(generated, k_gen)
            reply = _text(teacher.invoke([HumanMessage(_proposal_prompt(examples))]))
            for cand in _parse_proposals(reply, len(examples)):
                if len(records) >= n:
                    break
                stats["proposed"] += 1
                words = _tokens(cand)
                if not rules.min_words <= len(words) <= rules.max_words:
                    stats["length"] += 1
                    continue
                if any(re.search(rf"\b{re.escape(kw)}\b", cand.lower()) for kw in rules.banned_keywords):
                    stats["keyword"] += 1
                    continue
                if _refuses(cand, rules.refusal_phrases):
                    stats["refusal"] += 1
                    continue
                if any(_rouge_tokens(words, other) >= rules.rouge_threshold for _, other in pool):
                    stats["near_duplicate"] += 1
                    continue
                messages = ([SystemMessage(system)] if system else []) + [HumanMessage(cand)]
                answer = _text(teacher.invoke(messages)).strip()
                if not answer or len(_tokens(answer)) > rules.max_answer_words or _refuses(answer, rules.refusal_phrases):
                    stats["bad_answer"] += 1
                    pool.append((cand, words))  # asked once: do not ask it again
                    continue
                pool.append((cand, words))
                generated.append(cand)
                records.append({"id": f"selfinst-{seed}-{len(records)}", "conversations": [
                    *([{"from": "system", "value": system}] if system else []),
                    {"from": "human", "value": cand}, {"from": "gpt", "value": answer}],
                    "meta": {"source": "self-instruct", "teacher": teacher_id}})
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    _log.info("self-instruct: %d records from %d proposals; rejected %s", len(records), stats["proposed"], stats)
    if len(records) < n:
        _log.warning("self-instruct made %d of %d records in %d rounds (rejections: %s)", len(records), n, rounds, stats)
    return records


def _rouge_tokens(a: Sequence[str], b: Sequence[str]) -> float:
    lcs = _lcs(a, b)
    if not lcs:
        return 0.0
    p, r = lcs / len(a), lcs / len(b)
    return 2 * p * r / (p + r)
