"""``genaisys train align|sft|dpo|decoder``: the training commands, as a typer sub-app the main CLI mounts.

Each command reads a YAML `TrainConfig` (``--config``; default: the shipped example for the
stage, `genaisys.train.config.example_config`), applies ``--set key=value`` overrides, then the
flags (flags win), and hands the config to `genaisys.train.run.run_stage`.

Example:
    $ genaisys train align --config genaisys/train/configs/align.yaml --data runs/data/captions.jsonl
    $ genaisys train sft --config my.yaml --set loop.grad_accum=4 --set lora.r=16 --max-steps 300
    $ genaisys train sft --config my.yaml --no-resume --output runs/sft-2
    $ genaisys train dpo --config my.yaml --dry-run      # print the resolved config, train nothing
    $ genaisys train nano --scale 0.01                   # the nano recipe (smoke size)

``genaisys train nano`` evaluates and ships what it trained, so it uses the evaluation too: it is
defined a layer up, in `genaisys.improve.cli`, and mounted here by the main CLI.
Config errors print one line and exit with code 2; errors while training (a failed preflight, a
corrupt checkpoint) reach the main CLI, which prints them as one line (exit 1; ``--debug`` shows
the traceback).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import typer

from genaisys.errors import ConfigError
from genaisys.train.config import STAGES, TrainConfig, example_config, load_config, parse_overrides

__all__ = ["build_config", "train_app"]

train_app = typer.Typer(help="Train the core: align (connector), sft (connector + LoRA), dpo, decoder; nano (the recipe).",
                        no_args_is_help=True, pretty_exceptions_enable=False)

_HELP = {
    "align": "Stage 1, pre-alignment: train the connector on image-caption data (encoder and LM frozen).",
    "sft": "Stage 2, instruction tuning: connector + LoRA on multimodal and tool-use conversations.",
    "dpo": "Stage 3, preference alignment: DPO against a frozen reference on chosen/rejected pairs.",
    "decoder": "Stage 4, decoder-side alignment: train the signal-token output projector (NExT-GPT).",
}


def build_config(stage: str, *, config: Path | None = None, data: list[Path] | None = None,
                 output: Path | None = None, max_steps: int | None = None, lr: float | None = None,
                 batch_size: int | None = None, core: str | None = None, resume: bool | None = None,
                 resume_from: Path | None = None, sets: list[str] | None = None) -> TrainConfig:
    """The `TrainConfig` a ``genaisys train <stage>`` command line stands for.

    Order: the YAML file, then ``sets`` (``key=value``), then the explicit flags.

    Example:
        >>> cfg = build_config("sft", data=[Path("d.jsonl")], max_steps=5, sets=["loop.grad_accum=2"])
        >>> cfg.stage, cfg.loop.max_steps, cfg.loop.grad_accum, cfg.data
        ('sft', 5, 2, [PosixPath('d.jsonl')])
    """
    path = config if config is not None else example_config(stage)
    overrides: dict[str, Any] = parse_overrides(sets or [])
    flags = {"data": [str(p) for p in data] if data else None,
             "loop.output_dir": str(output) if output is not None else None,
             "loop.max_steps": max_steps, "loop.lr": lr, "loop.batch_size": batch_size, "core": core,
             "resume": str(resume_from) if resume_from is not None else resume}
    overrides.update({k: v for k, v in flags.items() if v is not None})
    if "stage" in overrides and overrides["stage"] != stage:
        raise ConfigError(f"--set stage={overrides['stage']} contradicts the command `genaisys train {stage}`")
    cfg = load_config(path, overrides)
    if cfg.stage != stage:
        raise ConfigError(f"{path} is a {cfg.stage!r} config but the command is `genaisys train {stage}`; "
                          f"run `genaisys train {cfg.stage}` or pass a {stage} config")
    return cfg


def _jsonable(result: Any) -> Any:
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return dataclasses.asdict(result)
    if hasattr(result, "model_dump"):
        return result.model_dump(mode="json")
    return result


def _summary(result: Any) -> str:
    data = _jsonable(result)
    if not isinstance(data, dict):
        return str(result)
    keys = ("steps", "final_loss", "wall_s", "samples_per_s", "peak_rss_mb", "output_dir", "metrics_path")
    parts = []
    for key in keys:
        if key in data and data[key] is not None:
            value = data[key]
            parts.append(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}")
    return "trained: " + (", ".join(parts) if parts else json.dumps(data, default=str))


def _command(stage: str):
    def command(
        config: Path | None = typer.Option(None, "--config", "-c", help="YAML TrainConfig (default: the shipped example)."),
        data: list[Path] | None = typer.Option(None, "--data", help="Training data file (repeatable; replaces the config's)."),
        output: Path | None = typer.Option(None, "--output", "-o", help="loop.output_dir: checkpoints, metrics, final/."),
        max_steps: int | None = typer.Option(None, "--max-steps", help="loop.max_steps (optimiser steps)."),
        lr: float | None = typer.Option(None, "--lr", help="loop.lr."),
        batch_size: int | None = typer.Option(None, "--batch-size", help="loop.batch_size (rows per device)."),
        core: str | None = typer.Option(None, "--core", help="Core to start from: a load_core spec or a folder."),
        resume: bool | None = typer.Option(None, "--resume/--no-resume",
                                           help="Continue from the newest checkpoint (default) or start fresh."),
        resume_from: Path | None = typer.Option(None, "--resume-from", help="Continue from this checkpoint folder."),
        sets: list[str] | None = typer.Option(None, "--set", help="Override any key: loop.grad_accum=4 (repeatable)."),
        json_out: bool = typer.Option(False, "--json", help="Print the result (or, with --dry-run, the config) as JSON."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Print the resolved config and stop."),
    ) -> None:
        if resume is not None and resume_from is not None:
            typer.echo("error: give --resume/--no-resume or --resume-from, not both", err=True)
            raise typer.Exit(2)
        try:
            cfg = build_config(stage, config=config, data=data, output=output, max_steps=max_steps, lr=lr,
                               batch_size=batch_size, core=core, resume=resume, resume_from=resume_from, sets=sets)
        except ConfigError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        if dry_run:
            typer.echo(json.dumps(cfg.model_dump(mode="json"), indent=2) if json_out else cfg.to_yaml())
            return
        from genaisys.train.run import run_stage

        result = run_stage(cfg)
        if json_out:
            typer.echo(json.dumps(_jsonable(result), default=str))
        else:
            typer.echo(_summary(result))

    command.__name__ = f"train_{stage}"
    command.__doc__ = _HELP[stage]
    return command


for _stage in STAGES:
    train_app.command(_stage, help=_HELP[_stage])(_command(_stage))


@train_app.command("data")
def data(
    out: Path = typer.Option(..., "--out", help="Output folder."),
    seed: int = typer.Option(0, "--seed"),
    captions: int = typer.Option(4000, "--captions", help="Caption records."),
    qa: int = typer.Option(6000, "--qa", help="easy-VQA question records."),
    pope: int = typer.Option(2000, "--pope", help="POPE probe records."),
    tools: int = typer.Option(2000, "--tools", help="Tool-use conversation records."),
    pope_pairs: int = typer.Option(1000, "--pope-pairs", help="POPE preference pairs (DPO)."),
    heldout_routing: int = typer.Option(200, "--heldout-routing", help="Held-out tool-routing items."),
) -> None:
    """Write the nano core's offline training data (easy-VQA train split, tool-use train phrasings) and
    held-out routing items (`genaisys.train.engine.mix.write_nano_data`)."""
    from genaisys.train.engine.mix import MixSizes, write_nano_data

    sizes = MixSizes(captions=captions, qa=qa, pope=pope, tools=tools, pope_pairs=pope_pairs,
                     heldout_routing=heldout_routing)
    for name, path in write_nano_data(out, sizes, seed=seed).items():
        typer.echo(f"{name:22s} {path}")


@train_app.command("shape-decoder")
def shape_decoder(
    out: Path | None = typer.Option(None, "--out", help="Output folder (config.json, model.safetensors, "
                                                        "metrics.jsonl)."),
    embeddings: Path | None = typer.Option(None, "--embeddings", help="Train from precomputed prompt embeddings "
                                                                      "(no MiniLM needed)."),
    export_embeddings: Path | None = typer.Option(None, "--export-embeddings",
                                                  help="Only write every prompt's MiniLM embedding to this file."),
    steps: int = typer.Option(1200, "--steps"),
    batch_size: int = typer.Option(32, "--batch-size"),
    lr: float = typer.Option(1e-3, "--lr"),
    seed: int = typer.Option(0, "--seed"),
    ema_decay: float = typer.Option(0.995, "--ema-decay"),
    device: str = typer.Option("cpu", "--device"),
    threads: int = typer.Option(1, "--threads"),
    channels: str = typer.Option("32,64,64", "--channels", help="block_out_channels, comma-separated."),
    eval_images_per_prompt: int = typer.Option(2, "--eval-images-per-prompt"),
    holdout_pairs: str = typer.Option("", "--holdout-pairs", help="colour:shape pairs never trained on, e.g. "
                                                                  "blue:triangle,gray:circle."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar (metrics.jsonl is still "
                                                                  "written)."),
) -> None:
    """Train genaisys's own shape decoder, the offline image decoder (`genaisys.train.shape_decoder`).

    Not the ``decoder`` stage, which aligns the core's output projector to a decoder.
    """
    from genaisys.tools.decoders.shapes import ShapeUNetConfig
    from genaisys.train.shape_decoder import (
        PrecomputedTextEncoder,
        ShapeDecoderTrainConfig,
        export_prompt_embeddings,
        train_shape_decoder,
    )

    if export_embeddings:
        n = export_prompt_embeddings(export_embeddings)
        typer.echo(f"wrote {n} prompt embeddings to {export_embeddings}")
        return
    if out is None:
        typer.echo("error: --out is required (or --export-embeddings)", err=True)
        raise typer.Exit(2)
    config = ShapeDecoderTrainConfig(
        steps=steps, batch_size=batch_size, lr=lr, seed=seed, device=device, ema_decay=ema_decay,
        num_threads=threads, output_dir=out, eval_images_per_prompt=eval_images_per_prompt,
        progress=not no_progress,
        holdout_pairs=[tuple(x.split(":", 1)) for x in holdout_pairs.split(",") if x],
        unet=ShapeUNetConfig(block_out_channels=tuple(int(c) for c in channels.split(","))),
    )
    encoder = PrecomputedTextEncoder.from_file(embeddings) if embeddings else None
    result = train_shape_decoder(config, text_encoder=encoder)
    summary = {k: v for k, v in dataclasses.asdict(result).items() if k != "losses"}
    typer.echo(json.dumps(summary, indent=2, default=str))
