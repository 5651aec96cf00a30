"""The runnable examples in the decoder modules' docstrings run (pipeline loads are skipped)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["genaisys.tools.decoders", "genaisys.tools.decoders.base", "genaisys.tools.decoders.image",
           "genaisys.tools.decoders.audio", "genaisys.tools.decoders.video", "genaisys.tools.decoders.speech",
           "genaisys.tools.decoders.registry", "genaisys.tools.textualizers.registry"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GENAISYS_DECODED", str(tmp_path / "decoded"))
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0


def test_import_is_light():
    import subprocess
    import sys

    code = ("import sys, genaisys.tools.decoders as d; d.build_decoder; "
            "print(sorted(m for m in ('torch', 'diffusers', 'transformers', 'av') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
