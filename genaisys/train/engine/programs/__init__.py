"""Training data made by running the programs the core runs in (the graphs), around an oracle.

- ``oracle.py``     `OracleCore`: a scripted policy behind LangChain's chat face that records every
                    call exactly as a graph renders it; `merge_calls` folds growing conversations
- ``world.py``      `World`: the sandbox — a Chroma memory of documents, blobs, files, the tools
- ``tools.py``      the tool pool: builtins, stand-ins for what needs a network, everyday tools
- ``intents.py``    tool requests phrased many ways, with what a good CPU does about each
- ``documents.py``  product manuals and API notes to retrieve from, and their facts
- ``photos.py``     photos as the textualizer describes them, and questions answered from that
- ``talk.py``       requests that need no tool, answered by the base model (replay)
- ``assistant.py``  threads through the assistant graph (the bulk)
- ``rag.py``, ``media.py``, ``planner.py``  the RAG, any-to-any and planner graphs

Example:
    >>> from genaisys.train.engine.programs import record_programs  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["record_programs"]


def record_programs(world: Any, *, replay: dict[str, str], seed: int = 0, assistant: int = 900, rag: int = 200,
                    any_to_any: int = 150, planner: int = 60, assistant_options: dict[str, Any] | None = None,
                    log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Record every program: ``assistant`` threads (``assistant_options``: the mix of turns and
    answer styles, see `~genaisys.train.engine.programs.assistant.record_assistant`), ``rag``
    questions, ``any_to_any`` threads and ``planner`` requests. Returns the training records (one
    per folded chain of model calls)."""
    import time

    from genaisys.train.engine.programs.assistant import ANSWERABLE, record_assistant
    from genaisys.train.engine.programs.media import record_any_to_any
    from genaisys.train.engine.programs.planner import record_planner
    from genaisys.train.engine.programs.rag import record_rag

    records: list[dict[str, Any]] = []
    options = dict(assistant_options or {})
    for name, run in (("assistant", lambda: record_assistant(world, assistant, replay=replay, seed=seed, **options)),
                      ("rag", lambda: record_rag(world, rag, seed=seed + 1, answerable=options.get("answerable", ANSWERABLE))),
                      ("any-to-any", lambda: record_any_to_any(world, any_to_any, replay=replay, seed=seed + 2,
                                                               **{k: v for k, v in options.items()
                                                                  if k in ("verdict", "shades")})),
                      ("planner", lambda: record_planner(world, planner, seed=seed + 3))):
        t = time.perf_counter()
        made = run()
        records += made
        log(f"recorded {name}: {len(made)} records in {time.perf_counter() - t:.0f} s")
    return records
