"""genaisys.improve: what uses training and evaluation together, one layer above both.

Training (`genaisys.train`) and evaluation (`genaisys.eval`) never import each other; the data
both read lives below them in `genaisys.datasets`. What needs both sits here:

- ``round.py``    `improvement_round`: one round of the evaluate → retrain loop (evaluate, gather
                  failures, turn them into training data, retrain, re-evaluate, report)
- ``promote.py``  `decide_promotion` / `promotion_checks` / `promote_core`: a round's candidate
                  core replaces the served core only when the report's checks hold
- ``failures.py`` `failures_to_records` / `failures_to_pairs`: evaluation failures and the
                  adversarial set → SFT records and DPO pairs; `append_adversarial`
- ``nano.py``     the nano recipe's evaluation, model card and shipping (`evaluate_nano`,
                  `write_model_card`, `ship_nano`)
- ``cli.py``      ``genaisys improve`` and ``genaisys train nano``

Nothing heavy loads at import; the names below import on first use.

Example:
    >>> from genaisys.improve import improvement_round
    >>> report = improvement_round("nano", tasks=["easy-vqa"], out_dir="runs/loop", limit=40)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from genaisys._lazy import lazy_exports

__all__ = ["LoopReport", "append_adversarial", "decide_promotion", "default_replay", "evaluate_nano",
           "failures_to_pairs", "failures_to_records", "improvement_round", "promote_core", "promotion_checks",
           "ship_nano", "write_model_card"]

_EXPORTS = {
    "LoopReport": "genaisys.improve.round",
    "default_replay": "genaisys.improve.round",
    "improvement_round": "genaisys.improve.round",
    "append_adversarial": "genaisys.improve.failures",
    "failures_to_pairs": "genaisys.improve.failures",
    "failures_to_records": "genaisys.improve.failures",
    "decide_promotion": "genaisys.improve.promote",
    "promote_core": "genaisys.improve.promote",
    "promotion_checks": "genaisys.improve.promote",
    "evaluate_nano": "genaisys.improve.nano",
    "ship_nano": "genaisys.improve.nano",
    "write_model_card": "genaisys.improve.nano",
}

if TYPE_CHECKING:
    from genaisys.improve.failures import append_adversarial, failures_to_pairs, failures_to_records
    from genaisys.improve.nano import evaluate_nano, ship_nano, write_model_card
    from genaisys.improve.promote import decide_promotion, promote_core, promotion_checks
    from genaisys.improve.round import LoopReport, default_replay, improvement_round

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
