"""Label balance of the loop's training data: no answer label may dominate what a round trains on.

A round trains on what went wrong. When a core says "no" to nearly everything, nearly every failure
of a yes/no task has the reference "yes"; training on those alone swaps one bias for the other (the
held-out yes-ratio runs from 0.25 to 1.0). `balance_labels` evens the labels out before training:

1. the records are grouped by task (``meta["task"]``; records without one — session answers — form
   one group) and each record's *label* is read from its answer (`record_label`: the answer,
   normalised, when it is one of ``labels`` — ``"Yes."`` → ``"yes"``); records whose answer is not a
   label (a colour, a tool call, a sentence) take no part and are kept as they are;
2. in each group the under-represented labels are topped up to the majority's count from a *pool*:
   SFT records of items the core already answered right (the round builds them from the probe
   slice — never from the held-out slice). A group without a task draws from the whole pool;
3. where the pool runs short, the labels above the smallest reachable count are downsampled to it
   (a seeded sample, order kept) — fewer records, but none that teach a bias.

The counts per group and label, before and after, come back with the records, so a report can say
what was trained on.

Example:
    >>> def rec(i, answer, task="pope-random"):
    ...     return {"id": str(i), "conversations": [{"from": "human", "value": "Is there a cat?"},
    ...                                              {"from": "gpt", "value": answer}], "meta": {"task": task}}
    >>> failures = [rec(i, "Yes") for i in range(4)] + [rec(9, "blue", task="easy-vqa")]
    >>> pool = [rec(10 + i, "No") for i in range(3)]
    >>> records, counts = balance_labels(failures, pool)
    >>> counts["groups"]["pope-random"]
    {'before': {'yes': 4, 'no': 0}, 'after': {'yes': 3, 'no': 3}, 'added': 3, 'dropped': 1}
    >>> len(records)  # 3 yes + 3 no + the colour answer, which is not a yes/no label
    7
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["YES_NO", "balance_labels", "record_label"]

YES_NO: tuple[str, ...] = ("yes", "no")
_SESSIONS = "sessions"  # the group of records without a task
_MAX_WORDS = 6  # "No, there is not." is a no; a longer sentence that starts with "no" is an answer of its own


def record_label(record: Mapping[str, Any], labels: Sequence[str] = YES_NO) -> str | None:
    """The label a training record's answer gives, or ``None`` when it gives none of ``labels``.

    The answer is the last turn's text, normalised (`genaisys.eval.parsing.normalize`); it gives a
    label when it *is* the label or is a short sentence (at most six words) that starts with it, or
    when it states what it sees and then the verdict: "It is a red circle, so yes."

    Example:
        >>> record_label({"conversations": [{"from": "human", "value": "Red?"}, {"from": "gpt", "value": "No."}]})
        'no'
        >>> record_label({"conversations": [{"from": "gpt", "value": "It is a red circle, so yes."}]})
        'yes'
        >>> record_label({"conversations": [{"from": "gpt", "value": "Nothing I can see."}]}) is None
        True
    """
    from genaisys.eval.parsing import normalize

    turns = record.get("conversations") or []
    if not turns or turns[-1].get("from") != "gpt" or turns[-1].get("tool_calls"):
        return None
    words = normalize(str(turns[-1].get("value") or "")).split()
    if len(words) >= 2 and words[-2] == "so" and words[-1] in labels and len(words) <= 2 * _MAX_WORDS:
        return words[-1]  # the verdict said last, after what was seen
    if not words or len(words) > _MAX_WORDS:
        return None
    return words[0] if words[0] in labels else None


def _group(record: Mapping[str, Any]) -> str:
    return str((record.get("meta") or {}).get("task") or _SESSIONS)


def balance_labels(
    records: Sequence[Mapping[str, Any]],
    pool: Sequence[Mapping[str, Any]] = (),
    *,
    labels: Sequence[str] = YES_NO,
    seed: int = 0,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Even out the answer labels of training records, per task (see the module docstring).

    Args:
        records: SFT records (the round's failures and session answers). Records whose answer is not
            one of ``labels`` are returned unchanged.
        pool: SFT records that may be added to top a label up (items answered right); only those
            whose answer is a label are used, each at most once.
        labels: the closed label set to balance (default yes/no).
        seed: the seed of the pool's draw and of the downsampling.

    Returns:
        ``(balanced, counts)``: the records to train on (kept records in their order, then the added
        ones) and ``{"labels", "groups": {group: {"before", "after", "added", "dropped"}}, "added",
        "dropped"}`` — ``before``/``after`` are ``{label: count}``; a group is listed when any of its
        records has a label.
    """
    rng = random.Random(seed)
    labelled: dict[str, dict[str, list[int]]] = {}  # group → label → indexes into records
    for i, rec in enumerate(records):
        label = record_label(rec, labels)
        if label is not None:
            labelled.setdefault(_group(rec), {lab: [] for lab in labels})[label].append(i)
    offers: dict[str, dict[str, list[Mapping[str, Any]]]] = {}  # group → label → pool records
    for rec in pool:
        label = record_label(rec, labels)
        if label is not None:
            offers.setdefault(_group(rec), {lab: [] for lab in labels})[label].append(rec)
    for by_label in offers.values():
        for candidates in by_label.values():
            rng.shuffle(candidates)
    used: set[int] = set()  # ids of pool records already added (a session group draws from every group)
    drop: set[int] = set()
    added: list[dict[str, Any]] = []
    groups: dict[str, Any] = {}
    for group, by_label in labelled.items():
        before = {lab: len(ix) for lab, ix in by_label.items()}
        sources = [offers[group]] if group in offers else []
        if group == _SESSIONS:
            sources = list(offers.values())
        available = {lab: [r for src in sources for r in src[lab] if id(r) not in used] for lab in labels}
        target = min(max(before.values()), *(before[lab] + len(available[lab]) for lab in labels))
        after: dict[str, int] = {}
        n_added = n_dropped = 0
        for lab in labels:
            extra = available[lab][:max(0, target - before[lab])]
            used.update(id(r) for r in extra)
            added += [dict(r) for r in extra]
            if before[lab] > target:  # the pool ran short: downsample this label to what the others reach
                keep = set(rng.sample(by_label[lab], target))
                drop.update(i for i in by_label[lab] if i not in keep)
                n_dropped += before[lab] - target
            n_added += len(extra)
            after[lab] = min(before[lab], target) + len(extra)
        groups[group] = {"before": before, "after": after, "added": n_added, "dropped": n_dropped}
    balanced = [dict(r) for i, r in enumerate(records) if i not in drop] + added
    return balanced, {"labels": list(labels), "groups": groups, "added": len(added), "dropped": len(drop)}
