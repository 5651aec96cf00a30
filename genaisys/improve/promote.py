"""Promotion: a round's candidate core replaces the served core only when the report's checks hold.

A round of the loop (`genaisys.improve.round`) always writes a *candidate* core
(``<round>/train/final``). Whether it becomes the *served* core (the folder ``genaisys serve
--core`` and the next round load) is a decision made from the round's report, never a side effect
of training:

1. **the adversarial set rose beyond noise** — the pooled accuracy on the adversarial set went up,
   and its 95% paired-bootstrap interval (same items before and after) excludes 0;
2. **no held-out slice fell beyond noise** — on every task's held-out slice, neither ``accuracy``
   nor ``f1`` dropped with a paired-bootstrap interval below 0;
3. **no held-out yes-ratio left its band** — a held-out ``yes_ratio`` (POPE-style yes/no answers)
   stays inside its band (default 0.35–0.65: a core that says "yes" to everything is not better),
   or, if it was outside before, moved no further out;
4. **there is a held-out slice** — without one (``holdout=0``) nothing guards against regressions.

What the checks cannot see, said plainly in the report: the adversarial items were trained on
(check 1 shows the round fixed what it was shown, not that it generalises); the held-out slices
are fixed across rounds, so deciding by them round after round slowly makes them less held-out;
"beyond noise" is at the 95% level per comparison, with no correction for the several comparisons.

Example:
    >>> report = {"adversarial": {"n": 6, "compare": {"accuracy": {"delta": 0.8, "ci_low": 0.5, "ci_high": 1.0,
    ...           "beyond_noise": True}}}, "tasks": {"t": {"heldout": {"n": 6,
    ...           "before": {"accuracy": {"value": 0.5}}, "after": {"accuracy": {"value": 0.6}},
    ...           "compare": {"accuracy": {"delta": 0.1, "ci_low": -0.2, "ci_high": 0.4, "beyond_noise": False}}}}}}
    >>> [c["passed"] for c in promotion_checks(report)]
    [True, True]
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from genaisys.errors import ConfigError

__all__ = ["DEFAULT_BANDS", "PROMOTION_FILE", "REGRESSION_METRICS", "band_distance", "decide_promotion",
           "promote_core", "promotion_checks"]

REGRESSION_METRICS = ("accuracy", "f1")
"""Held-out metrics that must not fall beyond noise."""
DEFAULT_BANDS: dict[str, tuple[float, float]] = {"yes_ratio": (0.35, 0.65)}
"""Held-out metrics that must stay inside a band (balanced yes/no probes: about half "yes")."""
PROMOTION_FILE = "promotion.json"


def _interval(s: Mapping[str, Any]) -> str:
    return f"Δ {s['delta']:+.3f} [{s['ci_low']:+.3f}, {s['ci_high']:+.3f}]"


def band_distance(value: float, band: tuple[float, float]) -> float:
    """How far ``value`` lies outside ``band`` (0 inside).

    Example:
        >>> band_distance(0.9, (0.35, 0.65)), band_distance(0.5, (0.35, 0.65))
        (0.25, 0.0)
    """
    return max(band[0] - value, value - band[1], 0.0)


def promotion_checks(report: Any, *, bands: Mapping[str, tuple[float, float]] | None = None) -> list[dict[str, Any]]:
    """The checks of the module docstring, each ``{"name", "compared", "rule", "value", "passed"}``.

    Args:
        report: a `LoopReport` or its ``to_dict()``.
        bands: held-out metrics that must stay in a band (default `DEFAULT_BANDS`).

    Example:
        >>> promotion_checks({"adversarial": {"n": 0}, "tasks": {}})[0]["passed"]
        False
    """
    data = report.to_dict() if hasattr(report, "to_dict") else report
    bands = DEFAULT_BANDS if bands is None else bands
    for name, band in bands.items():
        if len(band) != 2 or not band[0] <= band[1]:
            raise ConfigError(f"the band of {name} must be (low, high) with low <= high, got {band!r}")
    checks: list[dict[str, Any]] = []
    adv = data.get("adversarial") or {}
    s = (adv.get("compare") or {}).get("accuracy")
    checks.append({
        "name": "adversarial set raised beyond noise",
        "compared": f"pooled accuracy on the {adv.get('n', 0)} adversarial items, before vs after (paired bootstrap)",
        "rule": "Δ > 0 and its 95% interval excludes 0",
        "value": _interval(s) if s else "no adversarial item was scored",
        "passed": bool(s) and s["delta"] > 0 and bool(s["beyond_noise"])})
    heldout = {task: parts["heldout"] for task, parts in (data.get("tasks") or {}).items()
               if (parts.get("heldout") or {}).get("n")}
    if not heldout:
        checks.append({"name": "held-out slices evaluated", "compared": "nothing: no task has a held-out slice",
                       "rule": "at least one held-out slice (holdout > 0) guards against regressions",
                       "value": "none", "passed": False})
    for task, entry in heldout.items():
        compare = entry.get("compare") or {}
        for metric in REGRESSION_METRICS:
            if metric not in compare:
                continue
            s = compare[metric]
            checks.append({
                "name": f"{task} held-out {metric} not lowered",
                "compared": f"{metric} on {task}'s {entry['n']} held-out items (never trained on), before vs after",
                "rule": "not (Δ < 0 with a 95% interval below 0)", "value": _interval(s),
                "passed": not (s["delta"] < 0 and s["beyond_noise"])})
        for metric, band in bands.items():
            after = ((entry.get("after") or {}).get(metric) or {}).get("value")
            if after is None:
                continue
            before = ((entry.get("before") or {}).get(metric) or {}).get("value")
            out_after = band_distance(after, band)
            out_before = band_distance(before, band) if before is not None else 0.0
            checks.append({
                "name": f"{task} held-out {metric} in its band",
                "compared": f"{metric} on {task}'s {entry['n']} held-out items after the round",
                "rule": f"inside [{band[0]:.2f}, {band[1]:.2f}], or no further out than before",
                "value": f"{before if before is None else round(before, 3)} → {after:.3f}",
                "passed": out_after == 0.0 or out_after <= out_before})
    return checks


def promote_core(candidate: str | Path, served: str | Path, *, record: Mapping[str, Any] | None = None) -> Path:
    """Make ``candidate`` the served core: copied next to ``served``, then swapped in by renames.

    The previous served core is kept as ``<served>.previous`` (one step of rollback: rename it
    back). ``record`` (what was decided, and why) is written into the new folder as
    ``promotion.json``.

    Raises:
        ConfigError: the candidate is not a saved core folder.

    Example:
        >>> promote_core("runs/loop/round-001/train/final", "runs/loop/served")  # doctest: +SKIP
        PosixPath('runs/loop/served')
    """
    source, target = Path(candidate), Path(served)
    if not (source / "genaisys_core.json").is_file():
        raise ConfigError(f"{source} is not a saved core (no genaisys_core.json); promote a round's train/final")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.incoming-{os.getpid()}")
    previous = target.with_name(f"{target.name}.previous")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging)
    if record is not None:
        (staging / PROMOTION_FILE).write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    if target.exists():
        shutil.rmtree(previous, ignore_errors=True)
        target.rename(previous)
    staging.rename(target)
    return target


def decide_promotion(report: Any, *, served: str | Path, promote: bool,
                     bands: Mapping[str, tuple[float, float]] | None = None) -> dict[str, Any]:
    """Run the checks on a round's report and, when asked and they all hold, promote its candidate.

    Returns:
        ``{"asked", "checks_hold", "promoted", "decision", "candidate", "served", "compared",
        "checks", "caveats"}`` — the report's promotion section.

    Example:
        >>> decide_promotion(report, served="runs/loop/served", promote=True)["decision"]  # doctest: +SKIP
        'promoted'
    """
    data = report.to_dict() if hasattr(report, "to_dict") else report
    checks = promotion_checks(data, bands=bands)
    hold = all(c["passed"] for c in checks)
    failed = [c["name"] for c in checks if not c["passed"]]
    if not promote:
        decision = "candidate only (checks hold; pass --promote to serve it)" if hold else \
            f"candidate only (would be refused: {'; '.join(failed)})"
    else:
        decision = "promoted" if hold else f"refused: {'; '.join(failed)}"
    out = {
        "asked": promote, "checks_hold": hold, "promoted": promote and hold, "decision": decision,
        "candidate": str(data.get("core_after")), "served": str(served),
        "compared": (f"`{data.get('model_before')}` (before) vs `{data.get('model_after')}` (the candidate), on the "
                     "same items: the pooled adversarial set and each task's held-out slice, with 95% paired-bootstrap "
                     "intervals of the change"),
        "checks": checks,
        "caveats": [
            ("The adversarial items were trained on this round: their rise shows the round fixed what it was shown, "
             "not that the core generalises."),
            ("The held-out slices were never trained on, but they are the same in every round: deciding by them "
             "round after round slowly makes them less held-out; refresh them (another seed or --limit) now and "
             "then."),
            ("Each check is at the 95% level with no correction for the several checks; small slices have wide "
             "intervals, so 'not lowered beyond noise' is weak evidence on a few items."),
        ]}
    if out["promoted"]:
        promote_core(data["core_after"], served, record={**out, "round": str(data.get("round_dir")),
                                                           "promoted_at": time.time()})
    return out
