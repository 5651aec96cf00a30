"""`model_fingerprint`: a short hash of what a core spec loads, for the answer caches' keys.

A cache keyed on a name alone would hand a retrained core the answers of the old one; the
fingerprint changes whenever the trained files under that name change. Light on purpose: the
CLI imports it before anything heavy.

Example:
    >>> len(model_fingerprint("some-hub/id"))
    10
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["model_fingerprint"]


_DOCS = {".md", ".png", ".svg"}  # not .txt: a tokenizer's vocab.txt and merges.txt are weights too
_RESULTS = {"evaluation.json"}


def model_fingerprint(spec: str) -> str:
    """A short hash of what ``spec`` loads: the trained files of a folder (or of the shipped nano parts).

    The cache keys on it, so new weights under the same name never reuse old answers.
    """
    import genaisys

    nano_dir = Path(genaisys.__file__).parent / "core" / "nano"  # Copied from genaisys.core.loading.NANO_DIR
    folder = nano_dir if spec == "nano" else Path(spec)
    if not folder.is_dir():
        return "untrained-seed0" if spec == "nano" else hashlib.sha256(spec.encode()).hexdigest()[:10]
    h = hashlib.sha256()
    # what a load reads; the model card, its figures and plots can change without changing an answer
    for f in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix not in _DOCS and p.name not in _RESULTS):
        st = f.stat()
        h.update(f"{f.relative_to(folder)}:{st.st_size}:{int(st.st_mtime)}".encode())
        if f.suffix == ".json":
            h.update(f.read_bytes())
    return h.hexdigest()[:10]
