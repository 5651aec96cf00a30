"""The data engine: training records made offline, by a teacher, and from recorded use (docs/training.md).

One generator per file, each returning records in the `genaisys.train.data` format:

- ``easy_vqa.py``      easy-VQA captions, QA, POPE probes and POPE preference pairs (train split)
- ``tool_use.py``      tool-call conversations for the builtin tools, with no-tool distractors;
                       held-out routing items for the evaluation
- ``self_instruct.py`` Self-Instruct from any LangChain chat model as teacher
- ``sessions.py``      recorded LangGraph threads + user feedback → SFT records and DPO pairs
                       (``export_sessions`` writes them: ``genaisys feedback export``)
- ``feedback.py``      the SQLite feedback store (accept / reject / edit per message), kept
                       beside the thread's checkpoints
- ``mix.py``           the nano core's data in one call (``python -m genaisys.train.engine --out DIR``)

Nothing heavy loads at import; names import on first use.

Example:
    >>> from genaisys.train.engine import qa
    >>> records = qa("train", n=2, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

from genaisys._lazy import moved_exports

_LAZY: dict[str, str] = {
    "captions": "genaisys.train.engine.easy_vqa",
    "qa": "genaisys.train.engine.easy_vqa",
    "pope_probes": "genaisys.train.engine.easy_vqa",
    "pope_pairs": "genaisys.train.engine.easy_vqa",
    "tool_conversations": "genaisys.train.engine.tool_use",
    "tool_routing_items": "genaisys.train.engine.tool_use",
    "FeedbackStore": "genaisys.train.engine.feedback",
    "sessions_to_records": "genaisys.train.engine.sessions",
    "export_sessions": "genaisys.train.engine.sessions",
    "self_instruct": "genaisys.train.engine.self_instruct",
    "InstructionFilters": "genaisys.train.engine.self_instruct",
    "MixSizes": "genaisys.train.engine.mix",
    "write_nano_data": "genaisys.train.engine.mix",
}

__all__ = list(_LAZY)
# Moved a layer up (they read evaluation results); the old names still resolve, with a DeprecationWarning.
_MOVED = dict.fromkeys(("failures_to_records", "failures_to_pairs", "append_adversarial"), "genaisys.improve.failures")
__getattr__, __dir__ = moved_exports(__name__, _MOVED, _LAZY)
