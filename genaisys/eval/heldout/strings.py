"""Deprecated path: the held-out material moved to `genaisys.datasets.heldout`.

The training side's overlap check reads it too, so it lives below training and evaluation. This
module re-exports `material` and `document_sentences` for existing imports and warns once.
"""

from __future__ import annotations

import warnings

from genaisys.datasets.heldout import document_sentences, material

__all__ = ["document_sentences", "material"]

warnings.warn("genaisys.eval.heldout.strings moved to genaisys.datasets.heldout; import it from there",
              DeprecationWarning, stacklevel=2)
