"""`run_stage`: records on disk → preflight → the loop → a saved core that loads again."""

from __future__ import annotations

import json

import pytest

from genaisys.errors import ConfigError, PreflightError
from genaisys.train.config import TrainConfig
from genaisys.train.run import run_stage

from .conftest import tiny_chat


def _write(tmp_path, images, name="d.jsonl", **extra):
    rows = [{"id": f"r{i}", "images": [b["url"]],
             "conversations": [{"from": "human", "value": "<image>\nColour?"}, {"from": "gpt", "value": c}], **extra}
            for i, (b, c) in enumerate(zip(images, ["red", "green", "blue", "white"]))]
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(r) for r in rows))
    return path


def _config(tmp_path, data, stage="sft", **kw):
    loop = {"output_dir": str(tmp_path / "run"), "max_steps": 4, "batch_size": 2, "lr": 1e-2, "progress": False,
            "log_every": 1}
    return TrainConfig(stage=stage, data=[data], loop=loop, stage_options={"feature_dir": str(tmp_path / "f")}, **kw)


def test_sft_runs_end_to_end_and_saves_a_loadable_core(tmp_path, images):
    from genaisys.core.multimodal import MultimodalCore

    chat = tiny_chat(init=0.2)
    cfg = _config(tmp_path, _write(tmp_path, images), lora={"r": 4, "alpha": 8})
    result = run_stage(cfg, chat=chat)
    assert result.steps == 4 and result.losses[-1] < result.losses[0]
    assert (tmp_path / "run" / "train_config.yaml").is_file()
    assert len(list((tmp_path / "f").rglob("shard-*.npy"))) == 1  # features were cached once
    saved = MultimodalCore.from_pretrained(tmp_path / "run" / "final")
    assert saved.language_model.peft_config  # the LoRA adapters came back


def test_dpo_runs_on_preference_records(tmp_path, images):
    chat = tiny_chat(init=0.2)
    rows = [{"id": f"p{i}", "images": [b["url"]],
             "conversations": [{"from": "human", "value": "<image>\nIs it red?"}],
             "chosen": "Yes" if i == 0 else "No", "rejected": "No" if i == 0 else "Yes"} for i, b in enumerate(images)]
    data = tmp_path / "pairs.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows))
    result = run_stage(_config(tmp_path, data, stage="dpo", lora={"r": 4, "alpha": 8}), chat=chat)
    assert result.steps == 4 and abs(result.losses[0] - 0.6931) < 0.05


def test_a_broken_template_stops_before_any_step(tmp_path, images):
    chat = tiny_chat()
    chat.tokenizer.chat_template = (
        "{% for m in messages %}{% if m['role'] == 'assistant' %}{{ ' ' + m['content'] + ' </s>' }}"
        "{% else %}{{ '[INST] ' + m['content'] + ' [/INST]' }}{% endif %}{% endfor %}")
    with pytest.raises(PreflightError, match="end-of-turn"):
        run_stage(_config(tmp_path, _write(tmp_path, images), stage="align"), chat=chat)
    assert not list((tmp_path / "run").glob("checkpoint-*"))


def test_unknown_stage_options_are_named(tmp_path, images):
    cfg = _config(tmp_path, _write(tmp_path, images), stage="align")
    cfg.stage_options["betta"] = 1
    with pytest.raises(ConfigError, match="betta"):
        run_stage(cfg, chat=tiny_chat())
