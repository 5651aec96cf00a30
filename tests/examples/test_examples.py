"""Every example runs offline (in a reduced mode where it is long)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
REDUCED = {name: ["--max-new-tokens", "12"] for name in ("quickstart.py", "custom_graph.py", "rag_folder.py", "mcp_tools.py")}
REDUCED["evaluate.py"] = ["--limit", "4", "--max-new-tokens", "8"]
REDUCED["any_to_any.py"] = ["--max-new-tokens", "12"]  # two nano turns of 12 tokens, not 48


# train_nano.py and feedback_round.py have their own tests (test_train_example.py, test_feedback_round.py)
# that check what they print.
_OWN_TESTS = ("train_nano.py", "feedback_round.py")


@pytest.mark.packaged
@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.py") if p.name not in _OWN_TESTS))
def test_example_runs(name, tmp_path):
    out = subprocess.run([sys.executable, str(EXAMPLES / name), *REDUCED.get(name, [])],
                         capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip()
