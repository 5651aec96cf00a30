"""`import genaisys.memory` stays light; every public name resolves lazily."""

from __future__ import annotations

import subprocess
import sys

import genaisys.memory


def test_import_is_light():
    code = ("import sys, genaisys.memory; heavy = [m for m in ('chromadb', 'sentence_transformers', 'torch', "
            "'transformers', 'langgraph') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_export_resolves():
    for name in genaisys.memory.__all__:
        assert getattr(genaisys.memory, name).__name__ == name
    assert set(genaisys.memory.__all__) <= set(dir(genaisys.memory))
