"""examples/train_nano.py in its default smoke mode: the nano recipe's data engine and its three stages
on two of everything, the trained core saved and loaded again, evaluated on a few test items and
on the held-out tool-choice suite."""

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
                         capture_output=True, text=True, cwd=tmp_path, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    assert ("align 2 + 2 captions; programs: 2 assistant threads, 2 RAG questions, 2 any-to-any threads, 2 plans; "
            "2 shape questions, 2 replay prompts; refine: 2 assistant threads, 2 shape questions") in out.stdout
    timings = json.loads((out_dir / "timings.json").read_text())
    assert timings["records"]["programs"] >= 8  # every model call of the recorded graphs is a record
    assert timings["records"]["refine_programs"] >= 4
    for stage in ("align", "sft", "refine"):
        assert timings[stage]["steps"] >= 1 and 0 < timings[stage]["final_loss"] < 20  # finite, not diverged
    assert "dpo" not in timings
    assert (out_dir / "refine" / "final" / "genaisys_core.json").is_file()
    assert f"trained core: {out_dir / 'refine' / 'final'}" in out.stdout
    # training text is the graphs' own: the recorded records carry the graph's system prompt
    sft = [json.loads(line) for line in (out_dir / "data" / "sft.jsonl").read_text().splitlines()]
    assert any(turn["from"] == "system" for rec in sft for turn in rec["conversations"])
    rows = [line for line in out.stdout.splitlines() if line.startswith("| easy-vqa |")]
    assert rows and all(r.split(" | ")[5].strip() == "2" for r in rows)  # a row per metric, 2 items each
    example = json.loads(next(line for line in out.stdout.splitlines() if line.startswith("example: "))[9:])
    assert set(example) == {"question", "answer", "reference"} and example["reference"]
    tools = json.loads(next(line for line in out.stdout.splitlines()
                            if line.startswith("held-out tool choice: "))[22:])
    assert 0.0 <= tools["accuracy"] <= 1.0
    assert (out_dir / "heldout" / "results.json").is_file()
