"""Early stopping for a round: train in segments, score each on a validation cut, keep the best.

A round that trains on failures can overshoot: the failures of a core that says "no" to nearly
everything are nearly all "yes", and even label-balanced data moves such a core past the middle
to saying "yes" to everything (the loop's first round on the shipped nano did exactly that). How
far to train is not known in advance, so the round does what early stopping does:

1. a *validation* cut of each task's probe slice (the last share of its items, whole groups) is
   evaluated but never gathered or trained on — the held-out slice stays untouched by the choice;
2. the sft stage runs in segments of ``select_every`` steps; after each, the candidate answers
   the validation cut;
3. `choose_segment` keeps the segment whose validation score is best among those whose banded
   metrics (the yes-ratio) are inside their band — or no further outside than before training.
   If no segment qualifies, the one closest to its bands is kept and the choice says so.

The score of a segment is the mean over tasks of each task's ``accuracy`` on its validation cut.

Example:
    >>> before = {"shapes": {"accuracy": 0.60, "yes_ratio": 0.17}}
    >>> segments = [{"shapes": {"accuracy": 0.66, "yes_ratio": 0.30}},
    ...             {"shapes": {"accuracy": 0.72, "yes_ratio": 0.48}},
    ...             {"shapes": {"accuracy": 0.75, "yes_ratio": 0.90}}]
    >>> choice = choose_segment(segments, before)
    >>> choice["index"], choice["eligible"]
    (1, [True, True, False])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from genaisys.improve.promote import DEFAULT_BANDS, band_distance

__all__ = ["choose_segment", "segment_score"]


def segment_score(metrics: Mapping[str, Mapping[str, float]]) -> float:
    """The mean ``accuracy`` over the tasks of one validation evaluation (``{task: {metric: value}}``)."""
    values = [m["accuracy"] for m in metrics.values() if "accuracy" in m]
    return sum(values) / len(values) if values else 0.0


def _outside(metrics: Mapping[str, Mapping[str, float]], bands: Mapping[str, tuple[float, float]]) -> dict[str, float]:
    return {f"{task}/{name}": band_distance(m[name], band)
            for task, m in metrics.items() for name, band in bands.items() if name in m}


def choose_segment(segments: Sequence[Mapping[str, Mapping[str, float]]], before: Mapping[str, Mapping[str, float]],
                   *, bands: Mapping[str, tuple[float, float]] | None = None) -> dict[str, Any]:
    """Pick the segment to keep (see the module docstring).

    Args:
        segments: per segment, in training order, ``{task: {metric: value}}`` on the validation cut.
        before: the same for the core before training.
        bands: metrics that must stay in a band (default `genaisys.improve.promote.DEFAULT_BANDS`).

    Returns:
        ``{"index", "scores", "eligible", "before_score", "reason"}``.

    Raises:
        ValueError: no segments.
    """
    if not segments:
        raise ValueError("choose_segment needs at least one trained segment")
    bands = DEFAULT_BANDS if bands is None else bands
    start = _outside(before, bands)
    scores = [segment_score(m) for m in segments]
    eligible = []
    for metrics in segments:
        now = _outside(metrics, bands)
        eligible.append(all(d == 0.0 or d <= start.get(k, 0.0) for k, d in now.items()))
    if any(eligible):
        index = max((i for i, ok in enumerate(eligible) if ok), key=lambda i: (scores[i], -i))
        reason = (f"segment {index + 1} of {len(segments)}: the best validation accuracy ({scores[index]:.3f}) "
                  "with every banded metric inside its band or no further out than before")
    else:
        worst = [max(_outside(m, bands).values(), default=0.0) for m in segments]
        index = min(range(len(segments)), key=lambda i: (worst[i], -scores[i]))
        reason = (f"no segment kept its banded metrics in band; segment {index + 1} of {len(segments)} is the "
                  f"closest ({worst[index]:.3f} outside)")
    return {"index": index, "scores": [round(s, 4) for s in scores], "eligible": eligible,
            "before_score": round(segment_score(before), 4), "reason": reason}
