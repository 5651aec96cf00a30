"""`run_heldout`: every held-out suite on one core → ``results.json`` + ``report.md`` (+ plots).

Example:
    >>> from genaisys.eval.heldout import run_heldout
    >>> payload = run_heldout("nano", "runs/heldout", suites=["tools", "text"], limit=5)  # doctest: +SKIP
    >>> payload["suites"]["tools"]["metrics"]["accuracy"]  # doctest: +SKIP
    {'value': 0.4, 'ci_low': 0.0, 'ci_high': 0.8}
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from genaisys.errors import ConfigError
from genaisys.eval.heldout._common import TurnClock, with_budget
from genaisys.eval.runner import EvalResult

__all__ = ["SUITES", "TARGETS", "run_heldout", "write_heldout_report"]

SUITES = ("tools", "rag", "followups", "shapes", "photos", "text")

# (metric, lowest, highest) a suite is asked to reach; "no regression" is delta ≥ 0.
TARGETS: dict[str, tuple[tuple[str, float, float], ...]] = {
    "tools": (("accuracy", 0.95, 1.0),),
    "rag": (("assistant_answer_cited", 0.9, 1.0), ("assistant_abstention", 0.9, 1.0),
            ("rag_answer_cited", 0.9, 1.0), ("rag_abstention", 0.9, 1.0)),
    "followups": (("followup_accuracy", 0.9, 1.0),),
    "shapes": (("accuracy", 0.95, 1.0), ("yes_ratio", 0.45, 0.55), ("graph_accuracy", 0.95, 1.0),
               ("graph_yes_ratio", 0.45, 0.55)),
    "photos": (("accuracy", 0.9, 1.0),),
    "text": (("delta", 0.0, 1.0),),
}


def _model_id(spec: str, max_new_tokens: int) -> str:
    from genaisys.eval.fingerprint import model_fingerprint

    return f"{spec}@{model_fingerprint(spec)}:max_new_tokens={max_new_tokens}"


def run_heldout(
    core: Any,
    out_dir: str | Path,
    *,
    suites: Sequence[str] = SUITES,
    limit: int | None = None,
    seed: int = 0,
    base: Any = "asset:smollm2",
    max_new_tokens: int = 48,
    embedding: Any = None,
    plots: bool = True,
    threads: int | None = None,
    resume: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the held-out suites on a core and write ``results.json`` and ``report.md`` into ``out_dir``.

    Args:
        core: a `genaisys.load_core` spec (``"nano"``, a saved core's folder …) or a LangChain chat
            model. A spec is loaded with ``blobs=`` the run's blob store, as the README shows for
            graphs that carry images.
        out_dir: output folder; ``out_dir/work/`` holds the suites' memories, blobs and checkpoints,
            ``out_dir/<suite>/result.json`` each suite's full result.
        suites: which of `SUITES` to run.
        limit: the first N items of each suite (threads for follow-ups).
        seed: data order and bootstrap seed.
        base: the text suite's base model (spec or chat model).
        max_new_tokens: generation budget of a graph turn (direct questions use less).
        embedding: the memories' text embedding; default genaisys's packaged MiniLM.
        plots: write PNG plots (needs matplotlib).
        threads: ``torch.set_num_threads`` for the run (1 is much faster when another process
            keeps the CPU busy); default: leave torch's setting.
        resume: keep a suite whose ``out_dir/<suite>/result.json`` an earlier, interrupted run of
            the same model, limit and seed wrote, instead of running it again (its turns are then
            missing from the latency figures).
        log: progress lines (default: none).

    Returns:
        What ``results.json`` holds: ``{"core", "model_id", "suites": {name: result dict},
        "latency", "targets", "seconds"}``.

    Raises:
        ConfigError: an unknown suite name.
    """
    from genaisys.eval.tasks import get_task
    from genaisys.memory import BlobStore

    unknown = [s for s in suites if s not in SUITES]
    if unknown:
        raise ConfigError(f"unknown held-out suite(s) {unknown}; known: {', '.join(SUITES)}")
    say = log or (lambda _m: None)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    out = Path(out_dir)
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    blobs = BlobStore(work / "blobs")
    started = time.perf_counter()
    load_s = None
    if isinstance(core, str):
        import genaisys

        t0 = time.perf_counter()
        chat = genaisys.load_core(core, blobs=blobs, max_new_tokens=max_new_tokens, temperature=0.0)
        load_s = time.perf_counter() - t0
        model_id = _model_id(core, max_new_tokens)
        core_name = core
    else:
        chat = core
        if hasattr(chat, "blobs") and getattr(chat, "blobs", None) is None and hasattr(chat, "model_copy"):
            chat = chat.model_copy(update={"blobs": blobs})  # file_id image blocks need the graph's store
        from genaisys.eval.runner import model_identity

        model_id = model_identity(chat)[0]
        core_name = model_id
    clock = TurnClock()
    results: dict[str, EvalResult] = {}
    timings: dict[str, float] = {}
    kept: list[str] = []  # suites resumed from an earlier run: their turns are not in the latency figures
    for suite in suites:
        done = _finished(out / suite / "result.json", model_id, limit, seed) if resume else None
        if done is not None:
            say(f"heldout-{suite}: kept from an earlier run ({out / suite / 'result.json'})")
            results[suite], timings[suite] = done, float(done.meta.get("suite_seconds") or 0.0)
            kept.append(suite)
            continue
        say(f"heldout-{suite} …")
        t0 = time.perf_counter()
        task = get_task(f"heldout-{suite}", **({"base": base} if suite == "text" else {}))
        if suite == "text":
            from genaisys.eval.runner import run_eval

            result = run_eval(task, with_budget(chat, 48), limit=limit, seed=seed, model_id=model_id,
                              cache=work / "text-predictions.jsonl")
        else:
            result = task.run(chat, limit=limit, seed=seed, folder=work, clock=clock, model_id=model_id,
                              embedding=embedding, log=say)
        timings[suite] = time.perf_counter() - t0
        result.meta["suite_seconds"] = timings[suite]
        results[suite] = result
        result.save(out / suite / "result.json")
        say(f"heldout-{suite}: " + ", ".join(f"{k}={v['value']:.3f}" for k, v in result.metrics.items()))
    latency = {"core_load_s": load_s, **clock.summary(), "kept_suites": kept}
    payload = {"core": core_name, "model_id": model_id, "suites": {s: r.to_dict() for s, r in results.items()},
               "latency": latency, "threads": threads, "suite_seconds": timings, "seconds": time.perf_counter() - started,
               "targets": {s: [list(t) for t in TARGETS[s]] for s in results}}
    (out / "results.json").write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    write_heldout_report(results, out, latency=latency, timings=timings, core=core_name, plots=plots)
    return payload


def _finished(path: Path, model_id: str, limit: int | None, seed: int) -> EvalResult | None:
    """The result an earlier run of this model, limit and seed saved at ``path``, if there is one."""
    if not path.is_file():
        return None
    try:
        result = EvalResult.load(path)
    except (ConfigError, ValueError, TypeError):
        return None  # unreadable or not a result: run the suite again
    same = (result.model_id == model_id and result.meta.get("limit") == limit and result.meta.get("seed") == seed)
    return result if same else None


def _met(value: float, low: float, high: float) -> str:
    return "yes" if low <= value <= high else "**no**"


def write_heldout_report(results: dict[str, EvalResult], out_dir: str | Path, *, latency: dict[str, Any],
                         timings: dict[str, float], core: str, plots: bool = True) -> Path:
    """``report.md``: per suite a metric table with 95 % bootstrap intervals, the targets, latency."""
    from genaisys.eval.report import markdown_table

    out = Path(out_dir)
    md = ["# genaisys held-out evaluation", "", f"Core: `{core}`", ""]
    first = next(iter(results.values()), None)
    if first is not None:
        m = first.meta
        md += [f"genaisys {m.get('genaisys_version')} @ `{m.get('git_commit')}`"
               f"{' (dirty)' if m.get('git_dirty') else ''}, seed {m.get('seed')}, limit {m.get('limit')}", ""]
    for suite, result in results.items():
        md += [f"## heldout-{suite}", "", markdown_table([result]), ""]
        targets = [t for t in TARGETS.get(suite, ()) if t[0] in result.metrics]
        if targets:
            md += ["| target | value | wanted | met |", "|---|---:|---|---|"]
            for name, low, high in targets:
                v = result.metrics[name]["value"]
                md.append(f"| {name} | {v:.3f} | [{low:g}, {high:g}] | {_met(v, low, high)} |")
            md.append("")
        if suite == "photos" and result.meta.get("perception"):
            md += ["| photo | perception | textualizer says |", "|---|---|---|"]
            for photo, decisions in sorted(result.meta["perception"].items()):
                routes = ", ".join(sorted({str(d["route"]) for d in decisions})) or "—"
                said = str((result.meta.get("textualizer") or {}).get(photo, "")).replace("|", "/")
                md.append(f"| {photo} | {routes} | {said} |")
            md.append("")
        md.append(f"{len(result.records)} records in {timings.get(suite, 0.0):.0f} s; data sha256 "
                  f"`{str(result.meta.get('data_sha256'))[:12]}`")
        md.append("")
    md += ["## Latency (seconds per graph turn)", "",
           f"- core load: {latency.get('core_load_s') if latency.get('core_load_s') is None else round(latency['core_load_s'], 2)}",
           f"- first graph turn of the process: {_fmt(latency.get('first_turn_s'))}",
           f"- warm turns: {_stats(latency.get('warm') or {})}", "",
           "| suite | n | mean | median | p90 | max |", "|---|---:|---:|---:|---:|---:|"]
    for suite, s in (latency.get("per_suite") or {}).items():
        if s.get("n"):
            md.append(f"| {suite} | {s['n']} | {s['mean_s']:.2f} | {s['median_s']:.2f} | {s['p90_s']:.2f} | "
                      f"{s['max_s']:.2f} |")
    if plots:
        md += ["", *_plots(results, out)]
    path = out / "report.md"
    path.write_text("\n".join(md) + "\n", encoding="utf-8")
    return path


def _fmt(value: Any) -> str:
    return "— (an earlier graph turn in this process was the cold one)" if value is None else f"{value:.2f} s"


def _stats(s: dict[str, Any]) -> str:
    if not s.get("n"):
        return "none"
    return f"n={s['n']}, mean {s['mean_s']:.2f} s, median {s['median_s']:.2f} s, p90 {s['p90_s']:.2f} s"


def _plots(results: dict[str, EvalResult], out: Path) -> list[str]:
    from genaisys.eval.report import plot_confusion, plot_metrics

    lines = []
    try:
        for suite, result in results.items():
            path = plot_metrics([result], out / suite / "metrics.png")
            lines.append(f"![heldout-{suite}]({path.relative_to(out)})")
            if result.meta.get("labels"):
                direct = [r for r in result.records if r.get("via", "direct") == "direct"]
                view = EvalResult(result.task, result.model_id, result.metrics, direct, result.meta)
                path = plot_confusion(view, out / suite / "confusion.png")
                lines.append(f"![heldout-{suite} confusion]({path.relative_to(out)})")
    except ImportError as exc:  # matplotlib missing: the tables still stand
        lines.append(f"plots skipped: {exc}")
    return lines
