"""Held-out evaluation: suites written apart from every training generator, run on the real graphs.

A core trained on data that genaisys's own graphs produced is only measured honestly on data
that no training generator made: other phrasings, other documents, other photos, another shape
renderer. This package is the harness that runs that data; the data itself (requests, questions,
documents, phrasings) lives in `genaisys.datasets.heldout`, below training and evaluation, whose
`material` returns every held-out string so a data check can prove that no training record
contains one. Nothing here reads or reuses ``genaisys.train``.

Suites (each a registered task ``heldout-<name>``, one file each; the graph suites build the
graphs with the public builders and their defaults — no custom system prompt or perception
policy — so when the defaults change, the suites measure what users get):

- ``tools.py``      tool choice across varied tool sets: the assistant graph's first decision,
                    read from the approval interrupt
- ``rag.py``        retrieval QA over ``docs/`` (ten made-up product documents), through the
                    assistant graph and the RAG graph: answer + citation, abstention
- ``followups.py``  multi-turn threads whose later turns need an earlier answer or tool result
- ``shapes.py``     one shape on a plain background from a scikit-image renderer; direct core
                    calls (batched) plus a subset through the assistant graph
- ``photos.py``     scikit-image / scikit-learn photos through the assistant graph; perception
- ``text.py``       text-only knowledge, core vs. its base LM (kept / lost / gained)
- ``run.py``        `run_heldout` and its report

Run them all with `run_heldout` (``results.json`` + ``report.md`` with 95 % bootstrap
intervals and seconds per graph turn) or ``genaisys eval heldout --core nano --out DIR``.
``shapes`` and ``text`` also run under `genaisys.eval.run_eval`; the graph suites say how to
run them when given to it.

Example:
    >>> from genaisys.eval.heldout import SUITES, material
    >>> SUITES
    ('tools', 'rag', 'followups', 'shapes', 'photos', 'text')
    >>> len(material()["tools"]) >= 80
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from genaisys._lazy import lazy_exports

__all__ = ["SUITES", "TARGETS", "material", "run_heldout", "write_heldout_report"]

_EXPORTS = {
    "SUITES": "genaisys.eval.heldout.run",
    "TARGETS": "genaisys.eval.heldout.run",
    "run_heldout": "genaisys.eval.heldout.run",
    "write_heldout_report": "genaisys.eval.heldout.run",
    "material": "genaisys.datasets.heldout",
}

if TYPE_CHECKING:
    from genaisys.datasets.heldout import material
    from genaisys.eval.heldout.run import SUITES, TARGETS, run_heldout, write_heldout_report

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
