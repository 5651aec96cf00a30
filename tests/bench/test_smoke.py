"""Every benchmark script runs with tiny settings and prints its table (smoke runs: timings are not asserted).

bench/core.py and bench/precision.py are smoke-tested in tests/core/test_bench.py, bench/graphs.py in
tests/graphs/test_bench.py; `test_every_bench_script_has_a_smoke_test` keeps the list whole.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# script, tiny arguments, lines its output must hold; packaged: it needs the packaged models
RUNS = [
    pytest.param("bench/remote.py", ["--calls", "3", "--repeats", "1", "--warmup", "1"],
                 ["pooled", "per call"], id="remote"),
    pytest.param("bench/serve.py", ["--requests", "3", "--stream-requests", "1", "--tokens", "2", "--token-ms", "1"],
                 ["in-process", "streaming"], id="serve"),
    pytest.param("bench/memory.py", ["--repeats", "1", "--topics", "2", "--sizes", "300", "--queries", "3",
                                     "--ef-search"],
                 ["ChromaMemory.ingest", "recall@10"], id="memory", marks=pytest.mark.packaged),
    pytest.param("bench/draw_signal.py", ["--core", "nano", "--n", "1"], ["ratio signal/text"], id="draw_signal",
                 marks=pytest.mark.packaged),  # the shipped nano stands in for a signal core: the plumbing runs
    pytest.param("bench/shape_decoder.py", ["--quick", "--templates", "1"], ["ground truth"], id="shape_decoder",
                 marks=pytest.mark.packaged),
    pytest.param("bench/textualize.py", ["--shot-s", "1", "--repeats", "1", "--no-ocr"],
                 ["scene-change keyframes", "one frame per second"], id="textualize", marks=pytest.mark.packaged),
    pytest.param("bench/train.py", ["--quick", "--steps", "2", "--batch", "2", "--threads", "1"],
                 ["1. Stage 1 (align)", "2. Shared prompt prefix"], id="train", marks=pytest.mark.packaged),
]


@pytest.mark.parametrize(("script", "args", "expected"), RUNS)
def test_bench_script_runs_with_tiny_settings(script, args, expected):
    out = subprocess.run([sys.executable, script, *args], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    for text in expected:
        assert text in out.stdout, out.stdout[-3000:]


def test_every_bench_script_has_a_smoke_test():
    tests = "".join(p.read_text(encoding="utf-8") for p in (REPO / "tests").rglob("test_*.py"))
    missing = [p.name for p in sorted((REPO / "bench").glob("*.py")) if f"bench/{p.name}" not in tests]
    assert not missing, f"bench scripts without a smoke test: {missing}"
