"""Deprecated path: the shape oracle moved to `genaisys.datasets.shape_oracle`.

Training (the shape decoder's held-out check) and evaluation both use it, so it lives below both.
This module re-exports the public names for existing imports and warns once.
"""

from __future__ import annotations

import warnings

from genaisys.datasets.shape_oracle import *  # noqa: F403
from genaisys.datasets.shape_oracle import __all__  # noqa: F401

warnings.warn("genaisys.eval.shape_oracle moved to genaisys.datasets.shape_oracle; import it from there",
              DeprecationWarning, stacklevel=2)
