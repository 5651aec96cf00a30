"""The commands that use training and evaluation together, mounted into the main CLI.

- ``genaisys improve`` — one round of the evaluate → retrain loop (`genaisys.improve.round`);
  ``genaisys eval loop`` is its old name and still runs it; ``--promote`` serves the round's
  candidate core only when the report's checks hold (`genaisys.improve.promote`);
- ``genaisys train nano`` — the nano recipe: train (`genaisys.train.nano`), then evaluate and ship
  (`genaisys.improve.nano`).

Example:
    $ genaisys improve --core nano --tasks easy-vqa,pope-adversarial --limit 40 --out runs/loop
    $ genaisys train nano --scale 0.01 --no-evaluate
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from genaisys.errors import GenaisysError
from genaisys.train.config import parse_overrides

__all__ = ["improve", "mount", "nano"]


def mount(app: typer.Typer, *, eval_app: typer.Typer, train_app: typer.Typer) -> None:
    """Add ``improve`` to the main app, ``nano`` to ``genaisys train`` and the old ``eval loop`` name."""
    app.command("improve")(improve)
    eval_app.command("loop", hidden=True, help="The old name of `genaisys improve`.")(improve)
    train_app.command("nano")(nano)


def improve(core: str = typer.Option("nano", "--core", help="Core spec to improve: nano, or a saved core's folder "
                                     "(the previous round's OUT/round-NNN/train/final)."),
            tasks: str = typer.Option("easy-vqa,pope-adversarial", "--tasks", help="Comma-separated task names."),
            limit: str = typer.Option("40", "--limit", help="Probe items per task (failures are trained on): "
                                      "a number, or task=n pairs naming every task "
                                      "(heldout-shapes=160,heldout-text=24)."),
            holdout: str | None = typer.Option(None, "--holdout", help="Held-out items per task (never trained on), "
                                               "as --limit; default = --limit."),
            out: Path = typer.Option(Path("runs/loop"), "--out", help="Loop folder: adversarial set, answer cache, "
                                     "round-NNN/."),
            sessions: Path | None = typer.Option(None, "--sessions", help="SQLite checkpointer file of recorded "
                                                 "sessions."),
            feedback: Path | None = typer.Option(None, "--feedback",
                                                 help="FeedbackStore SQLite file (with --sessions)."),
            steps: int = typer.Option(30, "--steps", help="Optimiser steps of the sft stage."),
            replay: int = typer.Option(16, "--replay", help="Replay records per task from the train split (with "
                                       "--replay-from: records in all, sampled from that file)."),
            replay_from: Path | None = typer.Option(None, "--replay-from", help="A training-records JSONL to replay "
                                                    "from instead (e.g. the recipe's runs/nano/data/refine.jsonl)."),
            max_new_tokens: int = typer.Option(16, help="Generation budget per answer."),
            batch_size: int = typer.Option(8, help="Items per batched model call."),
            seed: int = typer.Option(0, help="Data order, bootstrap and training seed."),
            set_: list[str] = typer.Option([], "--set",
                                           help="Training override key=value (loop.lr=1e-4, lora.r=16 …)."),
            promote: bool = typer.Option(False, "--promote", help="Replace the served core with this round's "
                                         "candidate if the report's checks all hold (adversarial set up beyond "
                                         "noise, no held-out accuracy/F1 down beyond noise, yes-ratio in its band); "
                                         "a refusal exits with status 3."),
            served: Path | None = typer.Option(None, "--served", help="The served core's folder (default "
                                               "OUT/served): what `genaisys serve --core` loads."),
            balance: str = typer.Option("yes,no", "--balance", help="Answer labels to balance in the training data "
                                        "per task (comma-separated; '' balances nothing)."),
            select_every: int | None = typer.Option(None, "--select-every", help="Early stopping: train in "
                                                    "segments of N steps and keep the segment that scores best on a "
                                                    "validation cut of the probe slice with yes-ratios in band."),
            validation: float = typer.Option(0.25, "--validation", help="With --select-every: share of each "
                                             "trainable task's probe slice kept back for validation."),
            contrast: bool = typer.Option(False, "--contrast", help="Train each failure beside its contrast item "
                                          "(the same input asked the other way) where its task offers one."),
            session_weight: int = typer.Option(1, "--session-weight", help="Times each rated session answer "
                                               "(accepted or corrected) is trained on (with --sessions)."),
            json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
            ) -> None:
    """One round of the evaluate → retrain loop: evaluate, gather failures, retrain (sft), re-evaluate; report.

    The retrained core is a candidate; ``--promote`` serves it only when the report's checks hold,
    and exits with status 3 when it refuses (so a script can tell a refused round from a promoted one).
    """
    names = [t.strip() for t in tasks.split(",") if t.strip()]
    try:
        from genaisys.improve.round import improvement_round, parse_task_counts

        replay_records = None
        if replay_from is not None:
            from genaisys.improve.round import sample_records

            replay_records = sample_records(replay_from, replay, seed=seed)
        report = improvement_round(core, tasks=names, out_dir=out, sessions=sessions, feedback=feedback,
                                   limit=parse_task_counts("--limit", limit),
                                   holdout=None if holdout is None else parse_task_counts("--holdout", holdout),
                                   steps=steps,
                                   replay=replay, replay_records=replay_records,
                                   train_overrides=parse_overrides(set_),
                                   max_new_tokens=max_new_tokens, batch_size=batch_size, seed=seed,
                                   promote=promote, served=served,
                                   balance_on=[b.strip() for b in balance.split(",") if b.strip()],
                                   select_every=select_every, validation=validation, contrast=contrast,
                                   session_weight=session_weight,
                                   log=lambda m: typer.echo(m, err=True))
    except GenaisysError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(report.to_dict(), indent=2) if json_out else report.markdown())
    if promote and not report.promotion.get("promoted"):
        typer.echo(f"not promoted: {report.promotion.get('decision', 'no decision')}", err=True)
        raise typer.Exit(3)


def nano(
    output: Path | None = typer.Option(None, "--output", "-o", help="Recipe folder (default runs/nano)."),
    scale: float | None = typer.Option(None, "--scale", help="Multiply every data size (0.01: a smoke run)."),
    seed: int | None = typer.Option(None, "--seed"),
    threads: int | None = typer.Option(None, "--threads", help="torch threads."),
    sets: list[str] | None = typer.Option(None, "--set", help="Any NanoRecipe field: sft_lr=3e-4 (repeatable)."),
    recipe_file: Path | None = typer.Option(None, "--recipe", help="A YAML or JSON file of NanoRecipe fields (e.g. "
                                                                  "genaisys/train/configs/nano-focus.yaml); --set "
                                                                  "and the flags override it."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    json_out: bool = typer.Option(False, "--json", help="Print the timings and paths as JSON."),
    evaluate: bool = typer.Option(True, "--evaluate/--no-evaluate",
                                  help="Evaluate the trained core into <output>/eval: the held-out suites (tools, "
                                       "retrieval, follow-ups, shapes, photos, text), the demo, easy-VQA, POPE."),
    ship: bool = typer.Option(False, "--ship", help="Copy the trained parts + model card to genaisys/core/nano "
                                                    "(the default load_core('nano') loads); implies --evaluate."),
    data_only: bool = typer.Option(False, "--data-only", help="Write the stages' data under <output>/data and stop "
                                                              "(e.g. an improvement round's --replay-from file)."),
) -> None:
    """Train the embedded nano core with the shipped recipe: align → sft on recorded programs (genaisys.train.nano).

    Each stage checkpoints and a finished stage is skipped, so rerunning continues an interrupted run.
    ``genaisys train nano --ship`` is the command that made the shipped core;
    ``genaisys train nano --data-only --scale 0.15 --set 'stages=[refine]'`` writes only a small refine set
    (``<output>/data/refine.jsonl``), the replay file of an improvement round.
    """
    from pydantic import ValidationError

    from genaisys.train.nano import NanoRecipe, build_nano_data, train_nano

    fields = _recipe_fields(recipe_file) if recipe_file is not None else {}
    fields.update(parse_overrides(sets or []))
    flags = {"output_dir": str(output) if output is not None else None, "scale": scale, "seed": seed,
             "threads": threads}
    fields.update({k: v for k, v in flags.items() if v is not None})
    fields["progress"] = progress
    try:
        recipe = NanoRecipe(**fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        typer.echo(f"error: bad nano recipe: {problems}", err=True)
        raise typer.Exit(2) from None
    log = (lambda line: None) if json_out else typer.echo
    if data_only:
        files = build_nano_data(recipe, log=log)
        typer.echo(json.dumps(files, default=str) if json_out else
                   "\n".join(f"{name}: {path}" for name, path in files.items() if name != "counts")
                   + f"\ncounts: {json.dumps(files['counts'])}")
        return
    out = train_nano(recipe, log=log)
    if evaluate or ship:
        from genaisys.improve.nano import evaluate_nano, ship_nano

        evaluation = evaluate_nano(out["core"], recipe.output_dir / "eval", log=log)
        out["evaluation"] = recipe.output_dir / "eval" / "nano_eval.json"
        if ship:
            given = {"--recipe": recipe_file, "--scale": scale, "--seed": seed}  # what changes the core made
            command = " ".join(["genaisys train nano --ship", *(f"{k} {v}" for k, v in given.items() if v is not None),
                                *(f"--set '{pair}'" for pair in sets or [])])
            out["shipped"] = ship_nano(out["core"], recipe=recipe, timings=out["timings"], evaluation=evaluation,
                                       command=command)
    if json_out:
        typer.echo(json.dumps(out, default=str))
    else:
        typer.echo(f"trained nano core: {out.get('core') if isinstance(out, dict) else out}")


def _recipe_fields(path: Path) -> dict[str, Any]:
    """The NanoRecipe fields in a YAML or JSON file (JSON is YAML); a clear error when it holds no mapping."""
    import yaml

    try:
        fields = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        typer.echo(f"error: cannot read the recipe file {path}: {exc}", err=True)
        raise typer.Exit(2) from None
    if not isinstance(fields, dict):
        typer.echo(f"error: the recipe file {path} must hold a mapping of NanoRecipe fields", err=True)
        raise typer.Exit(2)
    return fields
