"""The runnable examples in the shared data definitions' docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("module", ["genaisys.datasets", "genaisys.datasets.easy_vqa", "genaisys.datasets.pope",
                                    "genaisys.datasets.heldout"])
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_one_shapes_vocabulary():
    """easy-VQA's answers and the shape renderer name the same colours and shapes."""
    from genaisys.datasets import easy_vqa, shapes

    assert set(easy_vqa.COLORS) == set(shapes.COLORS) and easy_vqa.SHAPES is shapes.SHAPES
    assert list(easy_vqa.COLORS) == sorted(easy_vqa.COLORS)  # easy-VQA's answer order


def test_old_paths_still_import_with_a_warning():
    import sys

    for old, new in [("genaisys.train.shapes_data", "genaisys.datasets.shapes"),
                     ("genaisys.eval.shape_oracle", "genaisys.datasets.shape_oracle"),
                     ("genaisys.eval.heldout.strings", "genaisys.datasets.heldout")]:
        sys.modules.pop(old, None)
        with pytest.warns(DeprecationWarning, match=f"moved to {new}"):
            module = importlib.import_module(old)
        assert all(getattr(module, name) is getattr(importlib.import_module(new), name) for name in module.__all__)
