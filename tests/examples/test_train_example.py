"""examples/train_nano.py in its default smoke mode: the nano recipe's three stages on a dozen
examples, the trained core saved and loaded again, and evaluated on a few test items."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "train_nano.py"


@pytest.mark.packaged
def test_train_nano_example_trains_saves_and_evaluates(tmp_path):
    out_dir = tmp_path / "nano"
    out = subprocess.run([sys.executable, str(EXAMPLE), "--output", str(out_dir), "--limit", "2",
                          "--max-new-tokens", "6", "--threads", "1"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    # smoke scale 0.001: 2 captions, 4 questions + 2 probes + 2 tool conversations, 2 pairs; batch 2
    assert "align 2 captions; sft 4 questions + 2 probes + 2 tool conversations; dpo 2 pairs" in out.stdout
    timings = json.loads((out_dir / "timings.json").read_text())
    assert [timings[s]["steps"] for s in ("align", "sft", "dpo")] == [1, 4, 1]
    assert all(0 < timings[s]["final_loss"] < 20 for s in ("align", "sft", "dpo"))  # finite, not diverged
    assert abs(timings["dpo"]["first_loss"] - 0.6931) < 0.01  # DPO starts at log 2 against its reference
    assert (out_dir / "dpo" / "final" / "genaisys_core.json").is_file()
    assert f"trained core: {out_dir / 'dpo' / 'final'}" in out.stdout
    # the evaluation ran on the test split with the trained core (2 items per task)
    rows = [line for line in out.stdout.splitlines() if line.startswith(("| easy-vqa |", "| pope-adversarial |"))]
    assert {r.split(" | ")[0] for r in rows} == {"| easy-vqa", "| pope-adversarial"}
    assert all(r.split(" | ")[5].strip() == "2" for r in rows)
    example = json.loads(next(line for line in out.stdout.splitlines() if line.startswith("example: "))[9:])
    assert set(example) == {"question", "answer", "reference"} and example["reference"]
