"""End to end on the packaged nano core (untrained default until genaisys.train ships its parts)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from genaisys.eval.cli import eval_app

pytestmark = pytest.mark.packaged


def test_easy_vqa_limit_4_on_nano(tmp_path) -> None:
    out = tmp_path / "runs"
    res = CliRunner().invoke(eval_app, ["run", "easy-vqa", "--model", "nano", "--limit", "4", "--out", str(out),
                                        "--max-new-tokens", "8"])
    assert res.exit_code == 0, res.output
    result = json.loads((out / "easy-vqa" / "result.json").read_text())
    assert result["task"] == "easy-vqa" and result["model_id"].startswith("nano@")
    assert len(result["records"]) == 4 and all(isinstance(r["prediction"], str) for r in result["records"])
    assert set(result["metrics"]) >= {"accuracy", "accuracy_yes_no", "yes_ratio"}
    for m in result["metrics"].values():
        assert 0.0 <= m["ci_low"] <= m["value"] <= m["ci_high"] <= 1.0
    assert len(result["meta"]["data_sha256"]) == 64 and result["meta"]["seed"] == 0
    pngs = sorted(p.name for p in (out / "easy-vqa").glob("*.png"))
    assert any("confusion" in n for n in pngs) and (out / "easy-vqa" / "report.md").is_file()
