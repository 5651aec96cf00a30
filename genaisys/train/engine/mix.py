"""The nano core's offline training data in one call: every generator, written as JSONL + a manifest.

Files written under ``out_dir``:

- ``align.jsonl``            stage 1: easy-VQA captions (train split)
- ``sft.jsonl``              stage 2: easy-VQA QA + POPE probes (train split) + tool-use conversations
                             (train phrasings), shuffled together
- ``dpo.jsonl``              stage 3: POPE preference pairs (train split)
- ``tool_routing_heldout.jsonl``  held-out routing items for ``genaisys eval tool-routing --data``
- ``manifest.json``          the sizes, the seed and each file's sha256 and record count

From the shell: ``python -m genaisys.train.engine --out data/nano`` (``--help`` for the sizes).

Example:
    >>> paths = write_nano_data("data/nano", MixSizes(captions=100, qa=100, pope=100, tools=100))  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from genaisys.train.data import write_records

__all__ = ["MixSizes", "write_nano_data"]


class MixSizes(BaseModel):
    """How many records of each kind (the defaults make a mix a 2-core machine trains in minutes)."""

    model_config = ConfigDict(extra="forbid")

    captions: int = Field(default=4000, ge=0)
    qa: int = Field(default=6000, ge=0)
    pope: int = Field(default=2000, ge=0)
    tools: int = Field(default=2000, ge=0)
    pope_pairs: int = Field(default=1000, ge=0)
    heldout_routing: int = Field(default=200, ge=0)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_nano_data(out_dir: str | Path, sizes: MixSizes | None = None, *, seed: int = 0) -> dict[str, Path]:
    """Generate the nano mix and write it (see the module docstring). Returns ``{name: path}``."""
    from genaisys.train.engine.easy_vqa import captions, pope_pairs, pope_probes, qa
    from genaisys.train.engine.tool_use import tool_conversations, tool_routing_items

    s = sizes or MixSizes()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sft = [*(qa("train", s.qa, seed) if s.qa else []), *(pope_probes("train", s.pope, seed) if s.pope else []),
           *(tool_conversations(s.tools, seed) if s.tools else [])]
    random.Random(seed).shuffle(sft)
    paths = {
        "align": write_records(out / "align.jsonl", captions("train", s.captions, seed) if s.captions else []),
        "sft": write_records(out / "sft.jsonl", sft),
        "dpo": write_records(out / "dpo.jsonl", pope_pairs("train", s.pope_pairs, seed) if s.pope_pairs else []),
    }
    heldout = out / "tool_routing_heldout.jsonl"
    tool_routing_items(max(1, s.heldout_routing), seed, path=heldout)
    paths["tool_routing_heldout"] = heldout
    manifest = {"seed": seed, "sizes": s.model_dump(),
                "files": {name: {"path": p.name, "sha256": _sha(p),
                                 "records": sum(1 for line in p.read_text(encoding="utf-8").splitlines() if line)}
                          for name, p in paths.items()}}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    paths["manifest"] = out / "manifest.json"
    return paths
