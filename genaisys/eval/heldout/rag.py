"""``heldout-rag``: retrieval QA over a folder of made-up documentation, with citations and abstention.

The folder ``genaisys/datasets/heldout/docs/`` holds ten short documents written for this suite
(a CLI README, an API reference, an FAQ, release notes, a config guide, a how-to, an onboarding
handbook, a troubleshooting page, a style guide, a plans-and-limits sheet), all about products
that do not exist, so the answers cannot come from pre-training. 46 questions have a short
gold phrase and a gold file; 16 more ask about those products but the folder cannot answer them.

The folder goes into a real `ChromaMemory` with ``ingest(folder)``; every question is then asked
twice, each time as a fresh conversation:

- ``assistant``: ``build_assistant_graph(core, tools=["builtin:calculator",
  "builtin:memory_search"], memory=memory, checkpointer=...)``, as the README shows. A ``[n]`` in
  the answer is resolved through the turn's ``context`` (what ``recall`` numbered); when the model
  searched memory itself this turn, through the numbered hits the tool returned as well.
- ``rag``: ``build_rag_graph(core, memory)``; the graph's own ``citations``.

An answerable question is right when the answer holds the gold phrase **and** cites the gold
file; an unanswerable one when the answer declines (`declines`). Metrics, per graph
(``assistant_*`` and ``rag_*``): ``accuracy`` (all questions), ``answer_cited`` (the target:
answer and citation), ``answer`` and ``citation`` (each alone), ``abstention`` (unanswerable
questions declined), ``false_abstention`` (answerable questions declined), ``retrieval_hit``
(the gold file among the chunks shown).

Example:
    >>> task = HeldoutRagTask()
    >>> items = task.load()
    >>> sum(i.meta["answerable"] for i in items), sum(not i.meta["answerable"] for i in items)
    (46, 16)
"""

from __future__ import annotations

import random
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from genaisys.datasets.heldout.rag import DOCS_DIR, QUESTIONS, UNANSWERABLE
from genaisys.eval.heldout._common import (
    ERROR,
    GraphPrediction,
    TurnClock,
    answer_holds,
    declines,
    finish,
    graph_only_task,
    last_ai,
    tool_calls_since_user,
    turn_text,
    workdir,
)
from genaisys.eval.metrics import accuracy
from genaisys.eval.runner import EvalResult
from genaisys.eval.task import BaseTask, EvalItem, Prediction

__all__ = ["DOCS_DIR", "QUESTIONS", "UNANSWERABLE", "HeldoutRagTask", "build_docs_memory", "holds_gold"]

VIAS = ("assistant", "rag")

_TOOL_HIT = re.compile(r"^\[(\d+)\]\s+(\S+)", re.M)


def holds_gold(answer: str, gold: str) -> bool:
    """`answer_holds` with ``&`` for phrases that must all appear ("frankfurt&oregon&singapore")."""
    return all(answer_holds(answer, part) for part in gold.split("&"))


def _file_of(citation: str) -> str:
    """``/abs/docs/lumen-faq.txt#chars=0-999`` → ``lumen-faq.txt``."""
    return str(citation).split("#", 1)[0].replace("\\", "/").rsplit("/", 1)[-1]


def build_docs_memory(folder: str | Path, *, embedding: Any = None, collection: str = "heldout-docs",
                      docs: Sequence[str] | None = None) -> Any:
    """A `ChromaMemory` in ``folder`` holding the held-out documents (all, or the ``docs`` file names).

    ``embedding`` defaults to genaisys's packaged MiniLM (`SentenceTransformerEmbedding`, with the
    shared embedding cache); tests pass ``HashingEmbedding()``.
    """
    from genaisys.memory import ChromaMemory

    if embedding is None:
        from genaisys.assets import cache_dir
        from genaisys.memory import SentenceTransformerEmbedding

        embedding = SentenceTransformerEmbedding(cache=cache_dir() / "embeddings.sqlite")
    root = Path(folder)
    source = DOCS_DIR
    if docs is not None:  # a subset: copy those files into a folder of their own
        source = root / "docs"
        shutil.rmtree(source, ignore_errors=True)
        source.mkdir(parents=True)
        for name in docs:
            shutil.copy(DOCS_DIR / name, source / name)
    memory = ChromaMemory(root / "memory", collection=collection, embedding=embedding, image_embedding=False)
    memory.ingest(source)
    return memory


class HeldoutRagTask(BaseTask):
    """Retrieval QA through the assistant graph and the RAG graph (see the module docstring)."""

    name = "heldout-rag"
    drives_graphs = True  # run with `run`, not `run_eval`
    failures_trainable = False  # evaluation-only material (genaisys.train.holdout)

    def load(self, *, limit: int | None = None, seed: int = 0) -> list[EvalItem]:
        answerable = [EvalItem(id=qid, prompt=q, reference=gold, meta={"answerable": True, "gold_file": file})
                      for qid, q, gold, file in QUESTIONS]
        unanswerable = [EvalItem(id=qid, prompt=q, reference=None, meta={"answerable": False, "gold_file": None})
                        for qid, q in UNANSWERABLE]
        rng = random.Random(seed)
        rng.shuffle(answerable)
        rng.shuffle(unanswerable)
        # Interleave (about three answerable per unanswerable) so any first N holds both kinds.
        items: list[EvalItem] = []
        while answerable or unanswerable:
            items += [answerable.pop() for _ in range(min(3, len(answerable)))]
            if unanswerable:
                items.append(unanswerable.pop())
        return items[:limit] if limit is not None else items

    def prepare_model(self, model: Any) -> Any:
        raise graph_only_task(self.name)

    def run(self, chat: Any, *, limit: int | None = None, seed: int = 0, folder: str | Path | None = None,
            items: Sequence[EvalItem] | None = None, clock: TurnClock | None = None, model_id: str | None = None,
            embedding: Any = None,
            log: Any = None) -> EvalResult:
        """Ingest the folder, ask every question through both graphs, score answers and citations."""
        from genaisys.graphs import build_assistant_graph, build_rag_graph

        from genaisys.eval.runner import model_identity

        clock = clock or TurnClock()
        items = list(items) if items is not None else self.load(limit=limit, seed=seed)
        root = workdir(folder, "rag")
        memory = build_docs_memory(root, embedding=embedding)
        checkpoints = root / "checkpoints.sqlite"
        checkpoints.unlink(missing_ok=True)  # fresh conversations on every run
        assistant = build_assistant_graph(chat, tools=["builtin:calculator", "builtin:memory_search"],
                                          memory=memory, checkpointer=str(checkpoints))
        rag = build_rag_graph(chat, memory)
        pairs: list[tuple[EvalItem, Prediction]] = []
        for n, item in enumerate(items, 1):
            for via, graph in (("assistant", assistant), ("rag", rag)):
                values, seconds = clock.run(f"rag/{via}", graph, item.prompt, thread_id=f"heldout-rag-{via}-{item.id}")
                pairs.append((item, self._prediction(via, values, seconds)))
            if log is not None:
                log(f"  rag {n}/{len(items)} {item.id}")
        scored_items = [i for i, _ in pairs]
        return finish(self, scored_items, [p for _, p in pairs], model_id=model_id or model_identity(chat)[0],
                      model=chat, limit=limit, seed=seed, extra_meta={"n_questions": len(items),
                                                                      "documents": sorted(p.name for p in DOCS_DIR.iterdir())})

    @staticmethod
    def _prediction(via: str, values: Mapping[str, Any], seconds: float) -> GraphPrediction:
        from langchain_core.messages import HumanMessage, ToolMessage

        message = last_ai(values)
        text = turn_text(message)
        context = [h.get("citation") or h.get("source") for h in values.get("context") or []]
        extra: dict[str, Any] = {"via": via, "seconds": seconds, "context": context, "error": values.get(ERROR)}
        if via == "rag":
            extra["citations"] = [h.get("citation") or h.get("source") for h in values.get("citations") or []]
            extra["abstained"] = bool(getattr(message, "response_metadata", {}).get("abstained"))
        else:
            found: dict[int, str] = {}
            for m in reversed(values.get("messages") or []):
                if isinstance(m, HumanMessage):
                    break
                if isinstance(m, ToolMessage) and m.name == "memory_search":
                    for num, cite in _TOOL_HIT.findall(str(m.content)):
                        found.setdefault(int(num), cite)
            extra["tool_hits"] = {str(k): v for k, v in sorted(found.items())}
        return GraphPrediction(text=text, tool_calls=tool_calls_since_user(values), extra=extra)

    # ---------------------------------------------------------------------------- scoring
    def score_all(self, items: Sequence[EvalItem], predictions: Sequence[Prediction], *,
                  cache: Any = None, model_id: str = "") -> list[dict[str, Any]]:
        return [self.score(item, pred) for item, pred in zip(items, predictions)]

    def score(self, item: EvalItem, prediction: Prediction) -> dict[str, Any]:
        from genaisys.graphs.rag import cited_hits

        extra = getattr(prediction, "extra", {}) or {}
        via = extra.get("via", "assistant")
        text = prediction.text
        context = list(extra.get("context") or [])
        if via == "rag":
            cited = [_file_of(c) for c in extra.get("citations") or []]
        else:
            cited = [_file_of(h["citation"]) for h in cited_hits(text, [{"citation": c} for c in context])]
            hits = extra.get("tool_hits") or {}
            tool_ctx = [{"citation": hits.get(str(n), "")} for n in range(1, max(map(int, hits), default=0) + 1)]
            cited += [_file_of(h["citation"]) for h in cited_hits(text, tool_ctx) if h["citation"]]
        cited = list(dict.fromkeys(cited))
        gold_file = item.meta["gold_file"]
        declined = bool(extra.get("abstained")) or declines(text)
        rec: dict[str, Any] = {"id": f"{item.id}@{via}", "group": item.id, "via": via,
                               "answerable": item.meta["answerable"], "gold_file": gold_file, "cited": cited,
                               "declined": declined, "tools_called": [c["name"] for c in prediction.tool_calls],
                               "error": extra.get("error")}
        if item.meta["answerable"]:
            answer_ok = holds_gold(text, item.reference) and not declined
            cite_ok = gold_file in cited
            rec.update(answer_ok=answer_ok, cite_ok=cite_ok, correct=answer_ok and cite_ok,
                       retrieval_hit=gold_file in {_file_of(c) for c in context})
        else:
            rec.update(answer_ok=None, cite_ok=None, correct=declined, retrieval_hit=None)
        return rec

    def metrics(self, records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        out: dict[str, float] = {}
        for via in VIAS:
            mine = [r for r in records if r["via"] == via]
            ans = [r for r in mine if r["answerable"]]
            unk = [r for r in mine if not r["answerable"]]
            out[f"{via}_accuracy"] = accuracy([r["correct"] for r in mine])
            out[f"{via}_answer_cited"] = accuracy([r["correct"] for r in ans])
            out[f"{via}_answer"] = accuracy([r["answer_ok"] for r in ans])
            out[f"{via}_citation"] = accuracy([r["cite_ok"] for r in ans])
            out[f"{via}_abstention"] = accuracy([r["correct"] for r in unk])
            out[f"{via}_false_abstention"] = accuracy([r["declined"] for r in ans])
            out[f"{via}_retrieval_hit"] = accuracy([r["retrieval_hit"] for r in ans])
        return out
