"""Retrieval-grounded QA, recorded: `build_rag_graph` over the training documents.

The graph retrieves, the oracle answers from the numbered chunks it is shown: it quotes the
sentence that states the fact and cites its chunk ``[n]``, or says it does not know when no
shown chunk holds it (the graph itself abstains, without a model call, when nothing scores
above its threshold). Questions are the documents' facts asked many ways, plus questions about
products and facts the documents do not hold.

Example:
    >>> records = record_rag(world, 4, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from genaisys.train.engine.phrasing import expand
from genaisys.train.engine.programs.assistant import ANSWERABLE
from genaisys.train.engine.programs.oracle import OracleCore, View, merge_calls

__all__ = ["record_rag"]

_DONT_KNOW = ("I don't know: the chunks do not say.", "The context does not answer this, so I don't know.",
              "I don't know — none of the chunks mentions it.", "The provided chunks don't contain that information.")


def record_rag(world: Any, n_questions: int, *, seed: int = 0, answerable: float = ANSWERABLE,
               progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Ask ``n_questions`` through the RAG graph; one record per model call. ``answerable``: the
    share of questions the documents answer."""
    from genaisys.graphs import build_rag_graph, run_turn
    from genaisys.train.engine.programs.assistant import _chunk_with, doc_turn

    rng = random.Random(seed)
    oracle = OracleCore.for_world("rag", world)
    graph = build_rag_graph(oracle, world.memory, checkpointer=":memory:")
    records: list[dict[str, Any]] = []
    for i in range(n_questions):
        turn = doc_turn(world, rng, (), True, answerable)
        fact = turn.facts["fact"]
        evidence = next((f.evidence for d in world.documents for f in d.facts if f.sentence == fact), None)

        def policy(view: View, evidence: str | None = evidence, fact: str | None = fact) -> str:
            number = _chunk_with(view, evidence) if evidence else None
            if number is None:
                return rng.choice(_DONT_KNOW)
            # the citation goes in as a slot value: square brackets in a pattern are alternatives
            return expand(rng.choice(["{s} {n}", "{s} {n}", "According to {n}, {l}"]), rng, capitalize=False,
                          s=fact.rstrip("."), n=f"[{number}]", l=fact[0].lower() + fact[1:]).rstrip(".") + "."

        oracle.policy = policy
        oracle.meta = {"kind": "rag", "answerable": fact is not None}
        start = len(oracle.calls)
        run_turn(graph, turn.content, thread_id=f"rag-{seed}-{i}")
        for k, (recorded, train_on) in enumerate(merge_calls(oracle.calls[start:])):
            records.append(recorded.to_record(f"rag-{seed}-{i}-{k}", train_on=train_on))
        if progress:
            progress(i + 1)
    return records
