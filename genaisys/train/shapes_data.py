"""Deprecated path: the shapes vocabulary and renderer moved to `genaisys.datasets.shapes`.

Training and evaluation both use them, so they live below both. This module re-exports the
public names for existing imports and warns once.
"""

from __future__ import annotations

import warnings

from genaisys.datasets.shapes import *  # noqa: F403
from genaisys.datasets.shapes import __all__  # noqa: F401

warnings.warn("genaisys.train.shapes_data moved to genaisys.datasets.shapes; import it from there",
              DeprecationWarning, stacklevel=2)
