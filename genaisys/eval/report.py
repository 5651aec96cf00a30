"""Reports: JSON, a Markdown table, PNG plots, and `compare` (what changed, and is it beyond noise).

Plots need matplotlib (``pip install 'matplotlib>=3.8'``); without it `write_report` still writes
the JSON and Markdown and says which plots it skipped. Per task one bar chart of its metrics with
bootstrap error bars (several results side by side), and for closed-ended tasks (a task with
``labels``) a confusion matrix of reference vs. parsed prediction, with an "other" column for
unreadable or out-of-set answers.

Example:
    >>> paths = write_report([result], "runs/report")  # doctest: +SKIP
    >>> print(compare(old, new)["markdown"])  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from genaisys.errors import ConfigError
from genaisys.eval.metrics import DEFAULT_RESAMPLES, confusion_matrix, paired_bootstrap
from genaisys.eval.runner import EvalResult

__all__ = ["compare", "markdown_table", "plot_before_after", "plot_confusion", "plot_metrics", "write_report"]


def markdown_table(results: Sequence[EvalResult]) -> str:
    """One row per (task, model, metric): value, 95% interval, items, data hash prefix.

    Example:
        >>> r = EvalResult("t", "m", {"accuracy": {"value": 0.5, "ci_low": 0.25, "ci_high": 0.75}}, [],
        ...                {"n_items": 4, "data_sha256": "abcdef0123456789"})
        >>> print(markdown_table([r]).splitlines()[2])
        | t | m | accuracy | 0.500 | [0.250, 0.750] | 4 | abcdef01 |
    """
    lines = ["| task | model | metric | value | 95% CI | n | data |", "|---|---|---|---:|---|---:|---|"]
    for r in results:
        for name, m in r.metrics.items():
            lines.append(f"| {r.task} | {r.model_id} | {name} | {m['value']:.3f} | [{m['ci_low']:.3f}, "
                         f"{m['ci_high']:.3f}] | {r.meta.get('n_items', len(r.records))} | "
                         f"{str(r.meta.get('data_sha256', ''))[:8]} |")
    return "\n".join(lines)


def _pyplot() -> Any:
    from genaisys._optional import require

    matplotlib = require("matplotlib", "matplotlib>=3.8")
    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def plot_metrics(results: Sequence[EvalResult], path: str | Path) -> Path:
    """Bars of every metric of one task, one colour per result, bootstrap intervals as error bars."""
    if not results:
        raise ConfigError("plot_metrics needs at least one result")
    plt = _pyplot()
    names = list(dict.fromkeys(n for r in results for n in r.metrics))
    width = 0.8 / len(results)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(names) + 1), 3.6))
    try:
        for k, r in enumerate(results):
            vals = [r.metrics.get(n, {}).get("value", 0.0) for n in names]
            lo = [v - r.metrics.get(n, {}).get("ci_low", v) for v, n in zip(vals, names)]
            hi = [r.metrics.get(n, {}).get("ci_high", v) - v for v, n in zip(vals, names)]
            xs = [i + (k - (len(results) - 1) / 2) * width for i in range(len(names))]
            ax.bar(xs, vals, width, yerr=[lo, hi], capsize=3, label=r.model_id)
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
        ax.set_title(f"{results[0].task} (95% bootstrap CI)")
        ax.legend(fontsize=7)
        return _save(fig, path)
    finally:
        plt.close(fig)


def plot_before_after(
    tasks: Mapping[str, Mapping[str, Mapping[str, Any]]],
    path: str | Path,
    *,
    metrics: Sequence[str] = ("accuracy", "yes_ratio"),
    title: str = "before → after (95% bootstrap CI)",
) -> Path:
    """Before/after bars per task and slice: one panel per task, a pair of bars per slice and metric.

    Args:
        tasks: ``{task: {slice: {"before": metrics, "after": metrics}}}`` with metrics as results
            carry them (``{name: {value, ci_low, ci_high}}``; a side may be ``None``) — the shape of
            `genaisys.improve.round.LoopReport.tasks`.
        path: the PNG to write.
        metrics: the metrics to draw where a slice has them (a yes/no task's ``yes_ratio`` beside
            its accuracy); others are left out.

    Example:
        >>> m = lambda v: {"accuracy": {"value": v, "ci_low": v, "ci_high": v}}
        >>> plot_before_after({"pope": {"heldout": {"before": m(0.5), "after": m(0.7)}}}, "ba.png")  # doctest: +SKIP
    """
    panels = {}
    for task, parts in tasks.items():
        bars = [(part, name, entry.get("before") or {}, entry.get("after") or {})
                for part, entry in parts.items() for name in metrics
                if name in (entry.get("before") or {}) or name in (entry.get("after") or {})]
        if bars:
            panels[task] = bars
    if not panels:
        raise ConfigError(f"nothing to plot: no task has any of {list(metrics)} before or after")
    plt = _pyplot()
    width = max(len(b) for b in panels.values())
    fig, axes = plt.subplots(len(panels), 1, figsize=(max(4.0, 1.3 * width + 1.5), 2.8 * len(panels)), squeeze=False)
    try:
        for ax, (task, bars) in zip(axes[:, 0], panels.items()):
            for k, side in enumerate(("before", "after")):
                ms = [(b if side == "before" else a).get(name) for _, name, b, a in bars]
                vals = [m["value"] if m else 0.0 for m in ms]
                lo = [v - m.get("ci_low", v) if m else 0.0 for v, m in zip(vals, ms)]
                hi = [m.get("ci_high", v) - v if m else 0.0 for v, m in zip(vals, ms)]
                xs = [i + (k - 0.5) * 0.38 for i in range(len(bars))]
                ax.bar(xs, vals, 0.38, yerr=[lo, hi], capsize=3, label=side, color=("#9aa7b8", "#2f6db5")[k])
            ax.set_xticks(range(len(bars)), [f"{part}\n{name}" for part, name, _, _ in bars], fontsize=7)
            ax.set_ylim(0, 1.05)
            ax.set_title(task, fontsize=9)
            ax.legend(fontsize=7, loc="upper right")
        fig.suptitle(title, fontsize=9)
        return _save(fig, path, top=1 - 0.3 / fig.get_figheight())  # keep the first panel's title clear of it
    finally:
        plt.close(fig)


def _save(fig: Any, path: str | Path, *, top: float = 1.0) -> Path:
    fig.tight_layout(rect=(0, 0, 1, top))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=100)
    return out


def plot_confusion(result: EvalResult, path: str | Path, labels: Sequence[str] | None = None) -> Path:
    """Confusion matrix (rows: reference, columns: parsed prediction + "other") of a closed-ended result."""
    labels = list(labels or result.meta.get("labels") or [])
    if not labels:
        raise ConfigError(f"{result.task} is not closed-ended (no labels); it has no confusion matrix")
    recs = [r for r in result.records if "pred" in r and "ref" in r]
    matrix = confusion_matrix([r["pred"] for r in recs], [r["ref"] for r in recs], labels)
    plt = _pyplot()
    size = max(3.0, 0.45 * len(labels) + 1.5)
    fig, ax = plt.subplots(figsize=(size + 0.6, size))
    try:
        im = ax.imshow(matrix, cmap="Blues")
        ax.set_xticks(range(len(labels) + 1), [*labels, "other"], rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        for i, row in enumerate(matrix):
            for j, v in enumerate(row):
                if v:
                    ax.text(j, i, str(v), ha="center", va="center", fontsize=6)
        ax.set_xlabel("prediction")
        ax.set_ylabel("reference")
        ax.set_title(f"{result.task} — {result.model_id}", fontsize=8)
        fig.colorbar(im, ax=ax, fraction=0.046)
        return _save(fig, path)
    finally:
        plt.close(fig)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def write_report(results: Sequence[EvalResult], out_dir: str | Path, *, plots: bool = True) -> dict[str, Any]:
    """Write ``results.json``, ``report.md`` and (matplotlib permitting) PNG plots into ``out_dir``.

    Returns:
        ``{"json": Path, "markdown": Path, "plots": [Path, ...], "skipped": [reason, ...]}``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "results.json"
    json_path.write_text(json.dumps([r.to_dict() for r in results], indent=2, default=str), encoding="utf-8")
    md = ["# genaisys eval report", "", markdown_table(results), ""]
    for r in results:
        m = r.meta
        md.append(f"- `{r.task}` × `{r.model_id}`: data sha256 `{m.get('data_sha256')}`, genaisys "
                  f"{m.get('genaisys_version')} @ `{m.get('git_commit')}`{' (dirty)' if m.get('git_dirty') else ''}, "
                  f"seed {m.get('seed')}, options {json.dumps(m.get('task_options', {}), default=str)}")
    paths: list[Path] = []
    skipped: list[str] = []
    if plots:
        try:
            by_task: dict[str, list[EvalResult]] = {}
            for r in results:
                by_task.setdefault(r.task, []).append(r)
            for task, rs in by_task.items():
                paths.append(plot_metrics(rs, out / f"{_safe(task)}-metrics.png"))
                for r in rs:
                    if r.meta.get("labels"):
                        paths.append(plot_confusion(r, out / f"{_safe(task)}-{_safe(r.model_id)}-confusion.png"))
        except ImportError as exc:  # MissingDependencyError is an ImportError
            skipped.append(f"plots skipped: {exc}")
    md += ["", *[f"![{p.stem}]({p.name})" for p in paths], *skipped]
    md_path = out / "report.md"
    md_path.write_text("\n".join(md) + "\n", encoding="utf-8")
    return {"json": json_path, "markdown": md_path, "plots": paths, "skipped": skipped}


def compare(
    a: EvalResult | str | Path,
    b: EvalResult | str | Path,
    *,
    metric_fn: Callable[[list[Mapping[str, Any]]], Mapping[str, float]] | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> dict[str, Any]:
    """Per-metric change from run ``a`` to run ``b`` with a paired bootstrap over their shared items.

    A difference is ``beyond_noise`` when its 95% paired-bootstrap interval excludes 0. Runs of
    different tasks are refused; different data (hash) is compared on shared item ids only and
    said so; judge runs with different judges or judge prompts are never called beyond noise.

    Args:
        a, b: results or paths of result JSON files.
        metric_fn: the metrics of the task (default: the registered task's ``metrics``).

    Returns:
        ``{"task", "a", "b", "notes": [...], "metrics": {name: {a, b, delta, ci_low, ci_high,
        p_value, beyond_noise, n_shared}}, "markdown": str}``.
    """
    ra = a if isinstance(a, EvalResult) else EvalResult.load(a)
    rb = b if isinstance(b, EvalResult) else EvalResult.load(b)
    if ra.task != rb.task:
        raise ConfigError(f"cannot compare task {ra.task!r} with task {rb.task!r}; compare runs of one task")
    if metric_fn is None:
        from genaisys.eval.tasks import get_task

        metric_fn = get_task(ra.task).metrics
    notes = []
    if ra.meta.get("data_sha256") != rb.meta.get("data_sha256"):
        notes.append("the runs saw different data (hash differs): compared on shared item ids only")
    comparable = True
    for key in ("judge_id", "judge_prompt_sha256"):
        va, vb = ra.meta.get("task_options", {}).get(key), rb.meta.get("task_options", {}).get(key)
        if va != vb:
            comparable = False
            notes.append(f"{key} differs ({va} vs {vb}): judge scores are not comparable across judges/prompts")
    stats = paired_bootstrap(metric_fn, ra.records, rb.records, n_resamples=n_resamples, seed=seed)
    if not comparable:
        for s in stats.values():
            s["beyond_noise"] = False
    lines = [f"compare `{ra.task}`: A = `{ra.model_id}`, B = `{rb.model_id}`", "",
             "| metric | A | B | Δ (B−A) | 95% CI of Δ | p | beyond noise |", "|---|---:|---:|---:|---|---:|---|"]
    for name, s in stats.items():
        lines.append(f"| {name} | {s['a']:.3f} | {s['b']:.3f} | {s['delta']:+.3f} | [{s['ci_low']:+.3f}, "
                     f"{s['ci_high']:+.3f}] | {s['p_value']:.3f} | {'yes' if s['beyond_noise'] else 'no'} |")
    lines += [f"- {n}" for n in notes]
    return {"task": ra.task, "a": ra.model_id, "b": rb.model_id, "notes": notes, "metrics": stats,
            "markdown": "\n".join(lines)}
