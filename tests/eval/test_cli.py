from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import genaisys
from genaisys.eval.cli import eval_app, model_fingerprint


@pytest.fixture
def fake_cores(monkeypatch, scripted):
    loaded = []

    def load_core(spec, **kwargs):
        loaded.append((spec, kwargs))
        return scripted(answer=lambda t, i: "Score: 3" if "grading" in t else "yes", name_=spec)

    # setitem, not setattr: setattr would read the lazy attribute first and import torch for nothing
    monkeypatch.setitem(vars(genaisys), "load_core", load_core)
    return loaded


def test_run_compare_gather(fake_cores, tiny_vqa, tmp_path) -> None:
    runner = CliRunner()
    out = tmp_path / "runs"
    res = runner.invoke(eval_app, ["run", "pope-popular", "--model", "nano", "--limit", "6", "--out", str(out),
                                   "--option", f"root={tiny_vqa}", "--no-plots"])
    assert res.exit_code == 0, res.output
    assert fake_cores[0] == ("nano", {"max_new_tokens": 32, "temperature": 0.0})
    result = json.loads((out / "pope-popular" / "result.json").read_text())
    assert result["model_id"].startswith("nano@") and result["meta"]["n_items"] == 6
    assert "| pope-popular |" in res.output and (out / "predictions.jsonl").is_file()
    res = runner.invoke(eval_app, ["compare", str(out / "pope-popular" / "result.json"),
                                   str(out / "pope-popular" / "result.json")])
    assert res.exit_code == 0 and "| yes_ratio | 1.000 | 1.000 | +0.000 |" in res.output
    res = runner.invoke(eval_app, ["gather", str(tmp_path / "adv.jsonl"), "--result",
                                   str(out / "pope-popular" / "result.json")])
    assert res.exit_code == 0 and "added 3," in res.output
    res = runner.invoke(eval_app, ["run", "judge", "--model", "nano", "--judge", "asset:smollm2", "--limit", "2",
                                   "--out", str(out), "--option", f"root={tiny_vqa}", "--no-plots"])
    assert res.exit_code == 0, res.output
    judged = json.loads((out / "judge" / "result.json").read_text())
    assert judged["records"][0]["judge_id"] == f"asset:smollm2@{model_fingerprint('asset:smollm2')}"
    assert judged["metrics"]["mean_score"]["value"] == 3.0


def test_cli_errors_are_one_line(fake_cores, tmp_path) -> None:
    runner = CliRunner()
    res = runner.invoke(eval_app, ["run", "no-such-task", "--out", str(tmp_path)])
    assert res.exit_code == 1 and "unknown task 'no-such-task'; known:" in res.output
    res = runner.invoke(eval_app, ["run", "easy-vqa", "--option", "oops", "--out", str(tmp_path)])
    assert res.exit_code == 1 and "key=value" in res.output
    res = runner.invoke(eval_app, ["gather", str(tmp_path / "a.jsonl")])
    assert res.exit_code == 2
    res = runner.invoke(eval_app, ["tasks"])
    assert "pope-adversarial" in res.output


def test_fingerprint_follows_the_weights_not_the_model_card(tmp_path):
    folder = tmp_path / "core"
    folder.mkdir()
    (folder / "genaisys_core.json").write_text('{"connector": "linear"}')
    (folder / "trained.safetensors").write_bytes(b"weights")
    (folder / "MODEL_CARD.md").write_text("# card")
    (folder / "evaluation.json").write_text("{}")
    before = model_fingerprint(str(folder))
    (folder / "MODEL_CARD.md").write_text("# card, with a new section")
    (folder / "evaluation.json").write_text('{"loop_rounds": []}')
    (folder / "round-1.png").write_bytes(b"png")
    assert model_fingerprint(str(folder)) == before
    (folder / "genaisys_core.json").write_text('{"connector": "mlp2x_gelu"}')
    assert model_fingerprint(str(folder)) != before
    changed = model_fingerprint(str(folder))
    (folder / "vocab.txt").write_text("a tokenizer's file")  # read by a load: counts
    assert model_fingerprint(str(folder)) != changed
