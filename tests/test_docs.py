"""docs/ stays true: every example in docs/extending.md runs as written, and every path the
architecture map names exists."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXTENDING = (ROOT / "docs" / "extending.md").read_text(encoding="utf-8")
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
EXAMPLES = re.findall(r"^## (.+?)\n(.*?)(?=^## |\Z)", EXTENDING, re.S | re.M)


def test_extending_covers_every_part():
    titles = [title for title, _ in EXAMPLES]
    assert titles == ["A tool", "A textualizer", "A decoder", "An eval task", "A graph"]


@pytest.mark.parametrize(("title", "section"), EXAMPLES, ids=[t for t, _ in EXAMPLES])
def test_every_example_runs_as_written(title, section, tmp_path):
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", str(script)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip(), f"the {title.lower()} example should print what it shows"


def test_the_map_names_only_paths_that_exist():
    named = set(re.findall(r"`((?:genaisys|tools|memory|graphs)/[\w/]*\.py)`", ARCHITECTURE))
    named |= {f"{m.group(1)}/{f}" for m in re.finditer(r"`((?:genaisys|tools|memory|graphs)/[\w/]*)/[\w]+\.py`"
                                                        r"((?:, `\w+\.py`)+)", ARCHITECTURE)
              for f in re.findall(r"`(\w+\.py)`", m.group(2))}
    assert len(named) > 30
    missing = sorted(p for p in named if not (ROOT / p).is_file())
    assert not missing, f"docs/architecture.md names files that do not exist: {missing}"
    for link in re.findall(r"\]\(([\w.-]+\.md)\)", ARCHITECTURE + EXTENDING):
        assert (ROOT / "docs" / link).is_file(), link
