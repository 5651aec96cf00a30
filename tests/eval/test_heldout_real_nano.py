"""The second half of the held-out suites on the packaged nano (the first is in test_heldout.py):
a file of its own, so that ``make test``'s two workers, a file each, run the halves side by side."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.eval.test_heldout import HALVES, every_suite_on_the_real_nano


@pytest.mark.packaged
def test_the_second_half_of_the_suites_on_the_real_nano(tmp_path: Path) -> None:
    every_suite_on_the_real_nano(tmp_path, HALVES[1])
