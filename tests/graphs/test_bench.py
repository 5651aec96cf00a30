"""bench/graphs.py runs and prints both tables (a smoke run; timings are not asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_graph_bench_prints_both_tables():
    out = subprocess.run(
        [sys.executable, "bench/graphs.py", "--rounds", "2", "--repeats", "2"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "bare LangGraph (raw ToolNode)" in out.stdout and "× bare" in out.stdout
    assert "SQLite file, durability=sync" in out.stdout and "+µs/step" in out.stdout
    assert "goal ≤ 1.10×" in out.stdout
