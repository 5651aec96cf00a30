"""The nano data mix: one call writes every file, records validate, the manifest matches."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from genaisys.eval.tasks.tool_routing import ToolRoutingTask
from genaisys.train.data import load_records
from genaisys.train.engine.mix import MixSizes, write_nano_data

pytestmark = pytest.mark.packaged  # the packaged easy-VQA data


def test_write_nano_data(tmp_path):
    sizes = MixSizes(captions=10, qa=12, pope=8, tools=10, pope_pairs=6, heldout_routing=9)
    paths = write_nano_data(tmp_path, sizes, seed=1)
    manifest = json.loads(paths["manifest"].read_text())
    assert manifest["sizes"] == sizes.model_dump() and manifest["seed"] == 1
    counts = {name: len(load_records(paths[name])) for name in ("align", "sft", "dpo")}
    assert counts == {"align": 10, "sft": 30, "dpo": 6}
    for name, info in manifest["files"].items():
        assert hashlib.sha256(paths[name].read_bytes()).hexdigest() == info["sha256"]
    sources = {r["meta"]["source"] for r in load_records(paths["sft"])}
    assert sources == {"easy-vqa", "tool-use"}
    assert all(r["meta"]["split"] == "train" for r in load_records(paths["sft"]))
    assert len(ToolRoutingTask(data=paths["tool_routing_heldout"]).load()) == 9
    again = write_nano_data(tmp_path / "again", sizes, seed=1)  # same seed, same bytes
    assert again["sft"].read_bytes() == paths["sft"].read_bytes()


def test_command_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "genaisys.train.engine", "--out", str(tmp_path), "--captions", "2",
                          "--qa", "2", "--pope", "2", "--tools", "2", "--pope-pairs", "2", "--heldout-routing", "2"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "manifest" in out.stdout and (tmp_path / "manifest.json").is_file()
