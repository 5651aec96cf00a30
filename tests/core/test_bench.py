"""bench/core.py runs in its reduced mode and prints all four rows (a smoke run; timings are not asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.packaged
def test_core_bench_quick_prints_every_row():
    out = subprocess.run([sys.executable, "bench/core.py", "--quick"], cwd=REPO, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "torch.set_num_threads(1)" in out.stdout
    table = [line for line in out.stdout.splitlines() if line.startswith("| (")]
    assert [line[:5] for line in table] == ["| (a)", "| (a)", "| (b)", "| (c)", "| (d)"]
    assert "machine limit: read bandwidth" in out.stdout
    for goal in ("≥ 1.4×", "≥ 50 %", "≥ 3×", "≤ 1.6×"):
        assert goal in out.stdout
    assert "free decoding" in out.stdout and "constrained (outlines-core)" in out.stdout


@pytest.mark.packaged
def test_precision_bench_quick_prints_speed_and_agreement():
    out = subprocess.run([sys.executable, "bench/precision.py", "--quick"], cwd=REPO, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    for row in ("| generate fp32 lora |", "| core fp32 |", "| core bf16 |", "| fp32 | 6/6"):
        assert row in out.stdout
