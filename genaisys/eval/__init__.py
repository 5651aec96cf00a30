"""genaisys.eval: evaluation whose numbers can be trusted — tasks, robust parsing, bootstrap
intervals, a resumable batched runner, reports, comparisons, and the adversarial set.

Everything is exported lazily (PEP 562): ``import genaisys.eval`` loads neither LangChain nor
numpy; the first use of a name imports its module.

- ``task.py``        the task contract (`BaseTask`, `EvalItem`, `Prediction`)
- ``tasks/``         the registry (`get_task`, `register_task`, `list_tasks`) and one file per task
- ``parsing.py``     `parse_yes_no`, `parse_choice`, `extract_answer`, `normalize`
- ``metrics.py``     accuracy, precision/recall/F1, yes-ratio, `bootstrap_metrics`, `paired_bootstrap`
- ``runner.py``      `run_eval`, `EvalResult`, `PredictionCache`
- ``report.py``      `write_report` (JSON, Markdown, PNG), `markdown_table`, `compare`
- ``adversarial.py`` `gather_adversarial`: failures + rejected session answers → a JSONL set
- ``heldout/``      held-out suites written apart from every training generator, `run_heldout`,
                   `material` (see docs/heldout-evals.md)
- ``cli.py``         `eval_app`, the typer sub-app mounted as ``genaisys eval``

Example:
    >>> from genaisys.eval import get_task, run_eval
    >>> result = run_eval(get_task("pope-adversarial"), chat_model, limit=50)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from genaisys._lazy import moved_exports

__all__ = [
    "BaseTask",
    "EvalItem",
    "EvalResult",
    "Prediction",
    "PredictionCache",
    "compare",
    "gather_adversarial",
    "get_task",
    "list_tasks",
    "markdown_table",
    "register_task",
    "run_eval",
    "write_report",
]

_EXPORTS = {
    "BaseTask": "genaisys.eval.task",
    "EvalItem": "genaisys.eval.task",
    "Prediction": "genaisys.eval.task",
    "get_task": "genaisys.eval.tasks",
    "list_tasks": "genaisys.eval.tasks",
    "register_task": "genaisys.eval.tasks",
    "run_eval": "genaisys.eval.runner",
    "EvalResult": "genaisys.eval.runner",
    "PredictionCache": "genaisys.eval.runner",
    "write_report": "genaisys.eval.report",
    "markdown_table": "genaisys.eval.report",
    "compare": "genaisys.eval.report",
    "gather_adversarial": "genaisys.eval.adversarial",
}

if TYPE_CHECKING:
    from genaisys.eval.adversarial import gather_adversarial
    from genaisys.eval.report import compare, markdown_table, write_report
    from genaisys.eval.runner import EvalResult, PredictionCache, run_eval
    from genaisys.eval.task import BaseTask, EvalItem, Prediction
    from genaisys.eval.tasks import get_task, list_tasks, register_task


# The evaluate → retrain loop moved a layer up; the old names still resolve, with a DeprecationWarning.
_MOVED = dict.fromkeys(("improvement_round", "LoopReport"), "genaisys.improve.round")
__getattr__, __dir__ = moved_exports(__name__, _MOVED, _EXPORTS)
