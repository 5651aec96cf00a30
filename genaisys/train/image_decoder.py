"""Deprecated path: the shape decoder's trainer is `genaisys.train.shape_decoder` (``genaisys train
shape-decoder``), named apart from the ``decoder`` stage that aligns the core's output projector.

This module re-exports its public names for existing imports and warns once;
``python -m genaisys.train.image_decoder ...`` still runs the command.
"""

from __future__ import annotations

import warnings

from genaisys.train.shape_decoder import *  # noqa: F403
from genaisys.train.shape_decoder import __all__, main  # noqa: F401

warnings.warn("genaisys.train.image_decoder moved to genaisys.train.shape_decoder; import it from there",
              DeprecationWarning, stacklevel=2)

if __name__ == "__main__":
    main()
