"""The runnable examples in the data format and data engine docstrings run (those not marked SKIP)."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("module", ["genaisys.train.data", "genaisys.train.engine.tool_use",
                                    "genaisys.train.engine.self_instruct", "genaisys.train.engine.feedback",
                                    "genaisys.train.engine.programs.handbooks",
                                    "genaisys.train.engine.programs.frames"])
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
