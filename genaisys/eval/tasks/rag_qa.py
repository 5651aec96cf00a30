"""``rag-qa``: retrieval-grounded QA over the Python help topics, scored for answers *and* citations.

A corpus of the stdlib's pydoc topics (``pydoc_data.topics``; one passage per topic, its first
1500 characters, source ``pydoc:<topic>``) sits in a memory — by default a `ChromaMemory` with
the packaged MiniLM embedding, built once in ``~/.cache/genaisys/eval/rag-qa`` (slow the first
time). For each question the top-k passages are retrieved *when the items are loaded*, so the
data hash covers exactly what the model saw; the prompt numbers them ``[1]..[k]`` and asks for an
answer with bracketed citations.

Metrics: ``answer_accuracy`` (the expected keyword appears in the answer), ``citation_precision``
(cited passages that come from a gold topic / all citations), ``cited_ratio`` (answers with at
least one citation) and ``retrieval_hit`` (a gold topic was among the passages).

Any object with ``search(query, k) -> hits`` (each with ``.text`` and ``.source``) can serve as
the memory, so tests use a tiny in-process one.

Example:
    >>> task = RagQATask(memory=my_memory)  # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from genaisys.eval.metrics import accuracy
from genaisys.eval.parsing import normalize
from genaisys.eval.task import BaseTask, EvalItem, Prediction
from genaisys.types import Memory

__all__ = ["QUESTIONS", "RagQATask", "build_pydoc_memory", "pydoc_passages"]

# (id, question, accepted answers, gold topics)
QUESTIONS: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("raise", "Which statement re-raises the exception that is currently being handled when it has no "
     "expression?", ("raise",), ("raise", "exceptions")),
    ("pass", "Which Python statement is a null operation: when it is executed, nothing happens?", ("pass",),
     ("pass",)),
    ("break", "Inside which two kinds of loop may 'break' occur?", ("for", "while"), ("break",)),
    ("global", "Which statement declares that the listed identifiers are to be interpreted as globals?",
     ("global",), ("global",)),
    ("del", "Which statement deletes names, attributes or subscriptions?", ("del",), ("del",)),
    ("lambda", "Which keyword creates an anonymous function from a single expression?", ("lambda",),
     ("lambda",)),
    ("assert", "Which statement is a convenient way to insert debugging assertions into a program?", ("assert",),
     ("assert",)),
    ("with", "Which statement wraps the execution of a block with methods defined by a context manager?",
     ("with",), ("with", "context-managers")),
    ("while", "Which statement repeats execution as long as an expression is true?", ("while",), ("while",)),
    ("nonlocal", "Which statement makes listed identifiers refer to variables bound in the nearest enclosing "
     "function scope?", ("nonlocal",), ("nonlocal",)),
    ("yield", "Which statement is semantically equivalent to a yield expression?", ("yield",), ("yield",)),
    ("try", "Which statement specifies exception handlers and/or cleanup code for a group of statements?",
     ("try",), ("try",)),
)
_CITE = re.compile(r"\[(\d+)\]")


def pydoc_passages(max_chars: int = 1500) -> list[tuple[str, str]]:
    """``(source, text)`` for every pydoc topic: ``("pydoc:raise", "The \\"raise\\" statement …")``."""
    from pydoc_data.topics import topics

    return [(f"pydoc:{key}", topics[key][:max_chars]) for key in sorted(topics) if topics[key].strip()]


def build_pydoc_memory(path: str | Path | None = None) -> Any:
    """A `ChromaMemory` holding the pydoc passages (re-adding is a no-op: ids are content hashes)."""
    from genaisys import assets
    from genaisys.memory import ChromaMemory

    folder = Path(path) if path is not None else assets.cache_dir() / "eval" / "rag-qa"
    memory = ChromaMemory(folder, collection="pydoc-topics", image_embedding=False)
    passages = pydoc_passages()
    if memory.count() < len(passages):
        memory.add_texts([t for _, t in passages], [{"source": s} for s, _ in passages])
    return memory


class RagQATask(BaseTask):
    """QA grounded in retrieved pydoc passages.

    Args:
        memory: anything with ``search(query, k)`` returning hits with ``.text`` and ``.source``;
            default `build_pydoc_memory()`.
        k: passages per question.
    """

    name = "rag-qa"

    def __init__(self, memory: Memory | None = None, k: int = 3) -> None:
        self._memory, self.k = memory, k

    def options(self) -> dict[str, Any]:
        return {"k": self.k, "memory": type(self.memory).__name__}

    @property
    def memory(self) -> Any:
        if self._memory is None:
            self._memory = build_pydoc_memory()
        return self._memory

    def load(self, *, limit: int | None = None, seed: int = 0) -> list[EvalItem]:
        items = []
        for qid, question, answers, gold in QUESTIONS[:limit] if limit is not None else QUESTIONS:
            hits = self.memory.search(question, k=self.k)
            sources = [h.source for h in hits]
            context = "\n\n".join(f"[{n}] ({h.source})\n{h.text.strip()}" for n, h in enumerate(hits, 1))
            prompt = (f"Answer the question using only the passages below. Cite the passages you used as [1], "
                      f"[2], … after your answer.\n\n{context}\n\nQuestion: {question}")
            items.append(EvalItem(id=qid, prompt=prompt, reference=list(answers),
                                  meta={"sources": sources, "gold": [f"pydoc:{g}" for g in gold]}))
        return items

    def score(self, item: EvalItem, prediction: Prediction) -> dict[str, Any]:
        answer = normalize(prediction.text)
        correct = all(re.search(rf"\b{re.escape(normalize(a))}\b", answer) for a in item.reference)
        sources, gold = list(item.meta["sources"]), set(item.meta["gold"])
        cited = [sources[int(n) - 1] for n in dict.fromkeys(_CITE.findall(prediction.text))
                 if 0 < int(n) <= len(sources)]
        return {"id": item.id, "correct": correct, "cited": cited, "n_cited": len(cited),
                "n_cited_gold": sum(1 for s in cited if s in gold), "retrieval_hit": bool(gold & set(sources))}

    def metrics(self, records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        n_cited = sum(r["n_cited"] for r in records)
        return {"answer_accuracy": accuracy([r["correct"] for r in records]),
                "citation_precision": sum(r["n_cited_gold"] for r in records) / n_cited if n_cited else 0.0,
                "cited_ratio": accuracy([r["n_cited"] > 0 for r in records]),
                "retrieval_hit": accuracy([r["retrieval_hit"] for r in records])}
