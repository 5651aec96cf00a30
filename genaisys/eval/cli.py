"""``genaisys eval …``: the evaluation commands, as a typer sub-app the main CLI mounts.

Example:
    $ genaisys eval run easy-vqa --model nano --limit 50 --out runs/nano
    $ genaisys eval run judge --model nano --judge asset:smollm2 --limit 10
    $ genaisys eval compare runs/old/easy-vqa/result.json runs/new/easy-vqa/result.json
    $ genaisys eval gather runs/adversarial.jsonl --result runs/nano/easy-vqa/result.json --sessions s.jsonl
    $ genaisys eval heldout --core nano --out runs/heldout [--suites tools,rag] [--limit 10]
    $ genaisys eval draw --core runs/nano-signal/signal/final --out runs/draw [--limit 4] [--no-speech]
    $ genaisys eval tasks

The evaluate → retrain loop uses training too: it is ``genaisys improve`` (`genaisys.improve.cli`;
``genaisys eval loop`` still runs it).

``runs/<out>/predictions.jsonl`` caches every answer: rerunning the same command after an
interruption only asks what is missing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from genaisys.errors import ConfigError, GenaisysError
from genaisys.eval.fingerprint import model_fingerprint  # re-exported: the CLI's cache keys use it

__all__ = ["eval_app", "model_fingerprint"]

eval_app = typer.Typer(help="Evaluate a core, a chat model or a graph; compare runs; gather failures.",
                       no_args_is_help=True, pretty_exceptions_enable=False)


def _options(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--option takes key=value, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _fail(exc: GenaisysError) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(1)


@eval_app.command("run")
def run(task: str = typer.Argument(..., help="Task name (see `genaisys eval tasks`)."),
        model: str = typer.Option("nano", "--model", help="Core spec for genaisys.load_core."),
        limit: int | None = typer.Option(None, "--limit", help="Evaluate the first N items of the seeded order."),
        out: Path = typer.Option(Path("runs/eval"), "--out", help="Folder for predictions, result and report."),
        seed: int = typer.Option(0, help="Sampling and bootstrap seed."),
        batch_size: int = typer.Option(8, help="Items per batched model call."),
        max_new_tokens: int = typer.Option(32, help="Generation budget per answer."),
        judge: str | None = typer.Option(None, "--judge", help="Core spec of the judge (judge task)."),
        option: list[str] = typer.Option([], "--option", help="Task option key=value (JSON values allowed)."),
        plots: bool = typer.Option(True, help="Write PNG plots (needs matplotlib)."),
        ) -> None:
    """Evaluate a model on one task; writes OUT/TASK/result.json, report.md and plots."""
    try:
        import genaisys
        from genaisys.eval.report import markdown_table, write_report
        from genaisys.eval.runner import run_eval
        from genaisys.eval.tasks import get_task

        opts = _options(option)
        if judge is not None:
            opts["judge"] = genaisys.load_core(judge, max_new_tokens=64, temperature=0.0)
            opts.setdefault("judge_id", f"{judge}@{model_fingerprint(judge)}")
        the_task = get_task(task, **opts)
        chat = genaisys.load_core(model, max_new_tokens=max_new_tokens, temperature=0.0)
        model_id = f"{model}@{model_fingerprint(model)}:max_new_tokens={max_new_tokens}"
        result = run_eval(the_task, chat, limit=limit, seed=seed, batch_size=batch_size,
                          cache=out / "predictions.jsonl", model_id=model_id,
                          progress=lambda d, n: typer.echo(f"  {d}/{n}", err=True))
        folder = out / the_task.name
        result.save(folder / "result.json")
        paths = write_report([result], folder, plots=plots)
    except GenaisysError as exc:
        _fail(exc)
    typer.echo(markdown_table([result]))
    typer.echo(f"\nresult: {folder / 'result.json'}  report: {paths['markdown']}")
    for s in paths["skipped"]:
        typer.echo(s, err=True)


@eval_app.command("compare")
def compare_cmd(a: Path = typer.Argument(..., help="result.json of the baseline run."),
                b: Path = typer.Argument(..., help="result.json of the new run."),
                json_out: bool = typer.Option(False, "--json", help="Print JSON instead of Markdown.")) -> None:
    """What changed from run A to run B, per metric, and whether it is beyond noise (paired bootstrap)."""
    try:
        from genaisys.eval.report import compare

        out = compare(a, b)
    except GenaisysError as exc:
        _fail(exc)
    typer.echo(json.dumps({k: v for k, v in out.items() if k != "markdown"}, indent=2) if json_out
               else out["markdown"])


@eval_app.command("gather")
def gather(out: Path = typer.Argument(..., help="The adversarial set (JSONL; new rows are appended)."),
           result: list[Path] = typer.Option([], "--result", help="result.json whose failures to add."),
           sessions: list[Path] = typer.Option([], "--sessions", help="Sessions JSONL whose rejected answers to add.")
           ) -> None:
    """Gather evaluation failures and rejected session answers into an adversarial set."""
    if not result and not sessions:
        typer.echo("error: give at least one --result or --sessions", err=True)
        raise typer.Exit(2)
    try:
        from genaisys.eval.adversarial import gather_adversarial

        counts = gather_adversarial(out, results=result, sessions=sessions)
    except GenaisysError as exc:
        _fail(exc)
    typer.echo(f"added {counts['added']}, already there {counts['already_there']}, total {counts['total']} → {out}")


@eval_app.command("heldout")
def heldout(core: str = typer.Option("nano", "--core", help="Core spec for genaisys.load_core."),
            out: Path = typer.Option(Path("runs/heldout"), "--out", help="Folder for results.json, report.md, "
                                     "per-suite results and the suites' working files."),
            suites: str = typer.Option("all", "--suites", help="Comma-separated: tools, rag, followups, shapes, "
                                       "photos, text (default all)."),
            limit: int | None = typer.Option(None, "--limit", help="First N items of each suite (threads for "
                                             "follow-ups)."),
            seed: int = typer.Option(0, help="Data order and bootstrap seed."),
            base: str = typer.Option("asset:smollm2", "--base", help="Base model the text suite compares with."),
            max_new_tokens: int = typer.Option(48, help="Generation budget per graph turn (the README's 48)."),
            plots: bool = typer.Option(True, help="Write PNG plots (needs matplotlib)."),
            threads: int | None = typer.Option(None, "--threads", help="torch threads (1 is fastest beside a "
                                               "busy process)."),
            ) -> None:
    """Run the held-out suites (data no training generator made) on a core; writes OUT/results.json + report.md."""
    names = None if suites.strip() in ("", "all") else [s.strip() for s in suites.split(",") if s.strip()]
    try:
        from genaisys.eval.heldout.run import SUITES, run_heldout

        payload = run_heldout(core, out, suites=names or SUITES, limit=limit, seed=seed, base=base,
                              max_new_tokens=max_new_tokens, plots=plots, threads=threads,
                              log=lambda m: typer.echo(m, err=True))
    except GenaisysError as exc:
        _fail(exc)
    for name, result in payload["suites"].items():
        shown = ", ".join(f"{k} {v['value']:.3f}" for k, v in result["metrics"].items())
        typer.echo(f"heldout-{name}: {shown}")
    typer.echo(f"\nresults: {out / 'results.json'}  report: {out / 'report.md'}")


@eval_app.command("draw")
def draw(core: str = typer.Option("nano", "--core", help="Core spec for genaisys.load_core (one with image "
                                  "signal tokens draws through them)."),
         out: Path = typer.Option(Path("runs/draw"), "--out", help="Folder for draw/draw.json and the images."),
         limit: int | None = typer.Option(None, "--limit", help="First N requests of each kind."),
         speech: bool = typer.Option(True, help="Run the spoken-answer requests (espeak-ng + Whisper)."),
         max_new_tokens: int = typer.Option(48, help="Generation budget per graph turn."),
         ) -> None:
    """Held-out draw requests through the any-to-any graph: drawn right, via signal tokens, unasked images, speech."""
    try:
        import genaisys
        from genaisys.eval.heldout.draw import run_draw

        chat = genaisys.load_core(core, max_new_tokens=max_new_tokens, temperature=0.0)
        result = run_draw(chat, out_dir=out, speech=speech, limit=limit, progress=lambda m: typer.echo(m, err=True))
    except GenaisysError as exc:
        _fail(exc)
    typer.echo(json.dumps(result["metrics"], indent=1))
    typer.echo(f"rows: {out / 'draw' / 'draw.json'}")


@eval_app.command("tasks")
def tasks() -> None:
    """List the registered tasks."""
    from genaisys.eval.tasks import list_tasks

    for name in list_tasks():
        typer.echo(name)
