"""TrainConfig / load_config: YAML, dotted overrides, errors that name the key and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from genaisys.errors import ConfigError, UnknownNameError
from genaisys.train.config import STAGES, TrainConfig, example_config, load_config, parse_overrides
from genaisys.train.loop import LoopConfig


def _write(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "train.yaml"
    f.write_text(text)
    return f


@pytest.mark.parametrize("stage", STAGES)
def test_shipped_examples_load(stage, tmp_path):
    cfg = load_config(example_config(stage))
    assert cfg.stage == stage
    assert isinstance(cfg.loop, LoopConfig) and cfg.loop.mixed_precision == "no"
    assert cfg.data and all(isinstance(p, Path) for p in cfg.data)
    # round trip through YAML
    again = load_config(_write(tmp_path, cfg.to_yaml()))
    assert again == cfg


@pytest.mark.parametrize("stage", STAGES)
def test_shipped_examples_use_only_options_run_stage_knows(stage):
    from genaisys.train.run import _ALLOWED  # run_stage refuses any other stage_options key

    cfg = load_config(example_config(stage))
    assert set(cfg.stage_options) <= _ALLOWED[stage]


def test_example_config_unknown_stage():
    with pytest.raises(UnknownNameError, match="known: align, decoder, dpo, sft"):
        example_config("pretrain")


def test_defaults_and_overrides(tmp_path):
    f = _write(tmp_path, "stage: sft\ndata: [a.jsonl]\nloop:\n  max_steps: 10\n  lr: 1e-4\n")
    cfg = load_config(f)
    assert cfg.core == "nano" and cfg.loop.lr == 1e-4 and str(cfg.loop.output_dir) == "runs/sft"
    assert cfg.lora is None and cfg.stage_options == {} and cfg.eval_data is None
    cfg = load_config(f, {"loop.lr": 3e-4, "loop.output_dir": str(tmp_path / "o"), "lora.r": 4,
                          "stage_options.train": ["connector"], "data": ["b.jsonl", "c.jsonl"], "core": "asset:smollm2"})
    assert cfg.loop.lr == 3e-4 and cfg.loop.max_steps == 10 and cfg.loop.output_dir == tmp_path / "o"
    assert cfg.lora.r == 4 and cfg.lora.alpha == 16
    assert cfg.stage_options == {"train": ["connector"]}
    assert cfg.data == [Path("b.jsonl"), Path("c.jsonl")] and cfg.core == "asset:smollm2"


def test_bare_yaml_no_means_no_mixed_precision(tmp_path):
    f = _write(tmp_path, "stage: align\ndata: [a.jsonl]\nloop: {mixed_precision: no}\n")
    assert load_config(f).loop.mixed_precision == "no"


def test_config_from_overrides_alone():
    cfg = load_config(None, {"stage": "dpo", "data": ["p.jsonl"], "stage_options.beta": 0.2})
    assert cfg.stage_options["beta"] == 0.2 and str(cfg.loop.output_dir) == "runs/dpo"


def test_parse_overrides():
    assert parse_overrides(["loop.lr=1e-4", "loop.max_steps=20", "loop.shuffle=false", "lora=null",
                            "data=[a.jsonl, b.jsonl]", "core=runs/sft/final", "stage_options.note=a=b"]) == {
        "loop.lr": 1e-4, "loop.max_steps": 20, "loop.shuffle": False, "lora": None,
        "data": ["a.jsonl", "b.jsonl"], "core": "runs/sft/final", "stage_options.note": "a=b"}
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["loop.lr"])
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["=3"])


def test_unknown_key_names_its_line_and_the_known_keys(tmp_path):
    f = _write(tmp_path, "stage: sft\ndata: [a.jsonl]\nloop:\n  max_steps: 10\n  learning_rate: 1e-4\n")
    with pytest.raises(ConfigError, match=r"loop\.learning_rate: unknown key; known: .*\blr\b.*train\.yaml:5\)"):
        load_config(f)


def test_bad_value_names_its_line(tmp_path):
    f = _write(tmp_path, "stage: sft\ndata: [a.jsonl]\nloop:\n  batch_size: -2\n")
    with pytest.raises(ConfigError, match=r"loop\.batch_size: .*greater than or equal to 1.*train\.yaml:4\)"):
        load_config(f)
    f = _write(tmp_path, "stage: pretrain\ndata: [a.jsonl]\n")
    with pytest.raises(ConfigError, match=r"stage: .*'align', 'sft', 'dpo' or 'decoder'.*train\.yaml:1\)"):
        load_config(f)


def test_missing_keys(tmp_path):
    f = _write(tmp_path, "stage: sft\n")
    with pytest.raises(ConfigError, match="data: required key is missing"):
        load_config(f)
    with pytest.raises(ConfigError, match="data: .*at least 1 item"):
        load_config(f, {"data": []})


def test_bad_override_value_names_the_override(tmp_path):
    f = _write(tmp_path, "stage: sft\ndata: [a.jsonl]\n")
    with pytest.raises(ConfigError, match=r"loop\.lr: .*from override loop\.lr='fast'"):
        load_config(f, {"loop.lr": "fast"})


def test_unknown_override_key(tmp_path):
    f = _write(tmp_path, "stage: sft\ndata: [a.jsonl]\n")
    with pytest.raises(ConfigError, match=r"override 'loop\.learning_rate': no key 'learning_rate' in loop; known: .*lr"):
        load_config(f, {"loop.learning_rate": 1e-3})
    with pytest.raises(ConfigError, match=r"no key 'optimizer' in the top level"):
        load_config(f, {"optimizer.name": "sgd"})
    with pytest.raises(ConfigError, match="empty part"):
        load_config(f, {"loop..lr": 1})
    with pytest.raises(ConfigError, match="not a mapping"):
        load_config(f, {"core.name": "x"})


def test_yaml_problems_name_the_line(tmp_path):
    with pytest.raises(ConfigError, match=r"train\.yaml:4: invalid YAML"):
        load_config(_write(tmp_path, "stage: sft\ndata: [a.jsonl]\nloop: {lr: [1,\n"))
    with pytest.raises(ConfigError, match=r"train\.yaml:3: key 'loop\.lr' appears twice \(first on line 2\)"):
        load_config(_write(tmp_path, "loop:\n  lr: 1\n  lr: 2\nstage: sft\ndata: [a]\n"))
    with pytest.raises(ConfigError, match="a training config is a mapping"):
        load_config(_write(tmp_path, "- stage: sft\n"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_train_config_direct():
    cfg = TrainConfig(stage="align", data=["d.jsonl"], loop={"output_dir": "x", "max_steps": 3})
    assert cfg.loop.max_steps == 3 and str(cfg.loop.output_dir) == "x"
    with pytest.raises(Exception, match="extra"):
        TrainConfig(stage="align", data=["d.jsonl"], loop={}, epochs=3)
