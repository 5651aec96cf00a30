"""`genaisys doctor`: what is present on this machine, how big it is, how long it takes to load.

Example:
    >>> from genaisys.doctor import check_system_tools
    >>> sorted(check_system_tools())
    ['espeak-ng']
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from genaisys import assets

__all__ = ["DoctorRow", "check_system_tools", "diagnose"]


@dataclass(frozen=True)
class DoctorRow:
    name: str
    kind: str
    role: str
    present: bool
    size_bytes: int
    load_seconds: float | None
    fix: str


def _load_smollm2(_: Path) -> None:
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(assets.smollm2_safetensors())


def _load_efficientnet(path: Path) -> None:
    import torch

    torch.load(path, map_location="cpu", weights_only=True)


def _load_minilm(path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    SentenceTransformer(str(path), device="cpu")


def _load_easy_vqa(path: Path) -> None:
    import json

    json.loads((path / "train" / "questions.json").read_text())


_LOADERS: dict[str, Callable[[Path], None]] = {
    "smollm2": _load_smollm2,
    "efficientnet-lite0": _load_efficientnet,
    "minilm": _load_minilm,
    "easy-vqa": _load_easy_vqa,
}


def check_system_tools() -> dict[str, str | None]:
    """System programs genaisys uses, mapped to their path (``None`` when absent)."""
    return {"espeak-ng": shutil.which("espeak-ng")}


def diagnose(*, load: bool = True) -> list[DoctorRow]:
    """One row per asset: present, size, load time (when ``load``), and the fix when missing."""
    rows = []
    for st in assets.status():
        seconds = None
        if load and st.present and st.path is not None and st.name in _LOADERS:
            t0 = time.perf_counter()
            _LOADERS[st.name](st.path)
            seconds = time.perf_counter() - t0
        rows.append(DoctorRow(st.name, st.kind, st.role, st.present, st.size_bytes, seconds, st.fix))
    for program, where in check_system_tools().items():
        rows.append(DoctorRow(program, "system", "text-to-speech DAC", where is not None, 0, None,
                              "" if where else "apt-get install -y espeak-ng"))
    return rows
