"""The runnable examples in the memory modules' docstrings run (model-free ones; model loads are skipped)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["blobs", "chunking", "readers", "embeddings", "image_embeddings", "chroma", "ingest", "store", "focus"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(f"genaisys.memory.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
