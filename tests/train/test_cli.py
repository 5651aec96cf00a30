"""``genaisys train …``: flags, --set overrides and the YAML reach run_stage as one TrainConfig."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genaisys.train.cli import build_config, train_app
from genaisys.train.config import STAGES, TrainConfig
from genaisys.train.loop import TrainResult


@pytest.fixture
def calls(monkeypatch, tmp_path):
    """A stand-in genaisys.train.run whose run_stage records the config it gets."""
    got: list[TrainConfig] = []

    def run_stage(config):
        got.append(config)
        return TrainResult(steps=3, final_loss=0.25, losses=[1.0, 0.5, 0.25], wall_s=1.5, samples_per_s=8.0,
                           peak_rss_mb=100.0, output_dir=Path(config.loop.output_dir),
                           metrics_path=Path(config.loop.output_dir) / "metrics.jsonl")

    fake = types.ModuleType("genaisys.train.run")
    fake.run_stage = run_stage
    monkeypatch.setitem(sys.modules, "genaisys.train.run", fake)
    return got


def _yaml(tmp_path: Path, stage: str = "sft") -> Path:
    f = tmp_path / "c.yaml"
    f.write_text(f"stage: {stage}\ncore: nano\ndata: [a.jsonl]\nloop:\n  output_dir: {tmp_path / 'run'}\n"
                 "  max_steps: 50\n  lr: 1.0e-4\n  batch_size: 8\nstage_options: {train: [connector]}\n")
    return f


def test_flags_and_sets_reach_run_stage(calls, tmp_path):
    res = CliRunner().invoke(train_app, [
        "sft", "--config", str(_yaml(tmp_path)), "--data", "x.jsonl", "--data", "y.jsonl", "--output",
        str(tmp_path / "out"), "--max-steps", "7", "--lr", "3e-4", "--batch-size", "2", "--no-resume",
        "--set", "loop.grad_accum=4", "--set", "lora.r=16", "--set", "stage_options.train=[connector, lora]",
        "--set", "loop.lr=1.0"])  # the explicit --lr wins over --set
    assert res.exit_code == 0, res.output
    (cfg,) = calls
    assert cfg.stage == "sft" and cfg.core == "nano"
    assert cfg.data == [Path("x.jsonl"), Path("y.jsonl")] and cfg.loop.output_dir == tmp_path / "out"
    assert (cfg.loop.max_steps, cfg.loop.lr, cfg.loop.batch_size, cfg.loop.grad_accum) == (7, 3e-4, 2, 4)
    assert cfg.lora.r == 16 and cfg.stage_options == {"train": ["connector", "lora"]} and cfg.resume is False
    assert "trained: steps=3, final_loss=0.25" in res.output


def test_config_values_stay_when_no_flag(calls, tmp_path):
    res = CliRunner().invoke(train_app, ["sft", "--config", str(_yaml(tmp_path))])
    assert res.exit_code == 0, res.output
    (cfg,) = calls
    assert cfg.loop.max_steps == 50 and cfg.loop.lr == 1e-4 and cfg.data == [Path("a.jsonl")] and cfg.resume is True


def test_resume_from_a_checkpoint(calls, tmp_path):
    ckpt = tmp_path / "run" / "checkpoints" / "step-00000010"
    res = CliRunner().invoke(train_app, ["sft", "-c", str(_yaml(tmp_path)), "--resume-from", str(ckpt)])
    assert res.exit_code == 0, res.output
    assert calls[0].resume == ckpt
    res = CliRunner().invoke(train_app, ["sft", "-c", str(_yaml(tmp_path)), "--resume", "--resume-from", str(ckpt)])
    assert res.exit_code == 2 and "not both" in res.output


def test_json_output(calls, tmp_path):
    res = CliRunner().invoke(train_app, ["sft", "-c", str(_yaml(tmp_path)), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["steps"] == 3 and data["losses"] == [1.0, 0.5, 0.25] and data["output_dir"] == str(tmp_path / "run")


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_command_defaults_to_its_example(calls, stage):
    res = CliRunner().invoke(train_app, [stage, "--max-steps", "1", "--output", "runs/x"])
    assert res.exit_code == 0, res.output
    assert calls[0].stage == stage and calls[0].loop.max_steps == 1


def test_dry_run_prints_config_without_training(calls, tmp_path):
    res = CliRunner().invoke(train_app, ["sft", "-c", str(_yaml(tmp_path)), "--dry-run", "--lr", "0.5"])
    assert res.exit_code == 0, res.output
    assert not calls and "lr: 0.5" in res.output and "stage: sft" in res.output
    res = CliRunner().invoke(train_app, ["sft", "-c", str(_yaml(tmp_path)), "--dry-run", "--json"])
    assert json.loads(res.stdout)["loop"]["max_steps"] == 50


def test_config_errors_are_one_line_and_exit_2(calls, tmp_path):
    runner = CliRunner()
    res = runner.invoke(train_app, ["dpo", "-c", str(_yaml(tmp_path, "sft"))])
    assert res.exit_code == 2 and "is a 'sft' config but the command is `genaisys train dpo`" in res.output
    res = runner.invoke(train_app, ["sft", "-c", str(_yaml(tmp_path)), "--set", "loop.learning_rate=1"])
    assert res.exit_code == 2 and "no key 'learning_rate' in loop" in res.output
    res = runner.invoke(train_app, ["sft", "-c", str(_yaml(tmp_path)), "--set", "oops"])
    assert res.exit_code == 2 and "key=value" in res.output
    res = runner.invoke(train_app, ["sft", "-c", str(_yaml(tmp_path)), "--batch-size", "0"])
    assert res.exit_code == 2 and "loop.batch_size" in res.output
    res = runner.invoke(train_app, ["sft", "-c", str(tmp_path / "missing.yaml")])
    assert res.exit_code == 2 and "does not exist" in res.output
    assert not calls


def test_training_errors_propagate_to_the_main_cli(monkeypatch, tmp_path):
    from genaisys.errors import PreflightError

    def run_stage(config):
        raise PreflightError("every label is masked")

    fake = types.ModuleType("genaisys.train.run")
    fake.run_stage = run_stage
    monkeypatch.setitem(sys.modules, "genaisys.train.run", fake)
    res = CliRunner().invoke(train_app, ["sft", "-c", str(_yaml(tmp_path))])
    assert isinstance(res.exception, PreflightError)


def test_build_config_direct(tmp_path):
    cfg = build_config("align", data=[Path("c.jsonl")], core="asset:smollm2", sets=["loop.epochs=2"])
    assert cfg.core == "asset:smollm2" and cfg.loop.epochs == 2 and cfg.stage == "align"
