"""The runnable examples in the graphs docstrings stay runnable."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "module",
    ["genaisys.graphs", "genaisys.graphs.state", "genaisys.graphs.nodes", "genaisys.graphs.assistant", "genaisys.graphs.rag",
     "genaisys.graphs.planner", "genaisys.graphs.checkpoint",
     "genaisys.graphs.drawing",
     "genaisys.graphs.media", "genaisys.graphs.media_check", "genaisys.graphs.any_to_any"],
)
def test_docstring_examples_run(module):
    mod = importlib.import_module(module)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0, f"{module} has no runnable example"


def test_import_is_light():
    import subprocess
    import sys

    code = (
        "import sys, genaisys.graphs; heavy = [m for m in ('torch', 'transformers', 'chromadb', 'langgraph') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr
