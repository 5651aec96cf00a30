"""Frozen vision features, computed once and cached on disk (pre-alignment; docs/training.md).

While the vision tower is frozen its output for an image never changes, so stage 1 computes
it once: `VisionFeatureCache.build` runs the tower over every image of the dataset in batches
and writes ``(N, n_vis, d_vis)`` float16 shards (``.npy`` + a JSON list of keys, written
atomically); later runs and later epochs read them memory-mapped. The cache lives in a folder
named after a fingerprint of the tower (its config and weights), so a different tower never
reads stale features.

Example:
    >>> cache = VisionFeatureCache(core, "~/.cache/genaisys/features")  # doctest: +SKIP
    >>> cache.build(blocks)  # doctest: +SKIP
    >>> cache.get(blocks[:2]).shape  # doctest: +SKIP
    torch.Size([2, 49, 1280])
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genaisys.errors import MediaError, TrainingError
from genaisys.train.encoding import image_ref
from genaisys.types import BlobReader

__all__ = ["VisionFeatureCache", "tower_fingerprint"]


def tower_fingerprint(core: Any) -> str:
    """A short hash of the vision tower's config and weights."""
    h = hashlib.sha256(json.dumps(core.config.vision.model_dump(mode="json"), sort_keys=True).encode())
    for name, tensor in sorted(core.vision_tower.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().to("cpu").contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


class VisionFeatureCache:
    """Vision-tower features by image key (`genaisys.train.encoding.image_ref`), on disk.

    Args:
        core: the `MultimodalCore` whose (frozen) tower computes the features.
        directory: the cache root; features go to ``directory/<tower fingerprint>/``.
        batch_size: images per tower call in `build`.
        blobs: blob store for ``file_id`` image blocks.
    """

    def __init__(self, core: Any, directory: str | Path, *, batch_size: int = 32, blobs: BlobReader | None = None) -> None:
        if any(p.requires_grad for p in core.vision_tower.parameters()) and not getattr(
                core.vision_tower, "mining", None):
            raise TrainingError("the vision tower is trainable, so its features change while training; "
                                "cache features only for a frozen tower (config.freeze_vision=True)")
        self.core, self.batch_size, self.blobs = core, batch_size, blobs
        self.directory = Path(directory).expanduser() / tower_fingerprint(core)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._index: dict[str, tuple[np.ndarray, int]] = {}
        for keys_file in sorted(self.directory.glob("shard-*.json")):
            array_file = keys_file.with_suffix(".npy")
            if not array_file.is_file():
                continue  # a shard whose write was interrupted
            array = np.load(array_file, mmap_mode="r")
            for row, key in enumerate(json.loads(keys_file.read_text())):
                self._index[key] = (array, row)

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, block: dict[str, Any]) -> bool:
        return image_ref(block) in self._index

    def build(self, blocks: Iterable[dict[str, Any]], *, progress: bool = True) -> int:
        """Compute and store the features of every block not cached yet; returns how many were new."""
        from tqdm.auto import tqdm

        from genaisys.core.media import load_image_block

        todo: dict[str, dict[str, Any]] = {}
        for block in blocks:
            key = image_ref(block)
            if key not in self._index:
                todo.setdefault(key, block)
        keys = list(todo)
        bar = tqdm(total=len(keys), desc="vision features", unit="img", disable=not progress or not keys)
        for start in range(0, len(keys), self.batch_size * 8):
            chunk = keys[start:start + self.batch_size * 8]
            parts = []
            for b in range(0, len(chunk), self.batch_size):
                images = []
                for key in chunk[b:b + self.batch_size]:
                    try:
                        images.append(load_image_block(todo[key], self.blobs))
                    except MediaError as exc:
                        raise MediaError(f"cannot compute vision features for {key}: {exc}") from exc
                with torch.no_grad():
                    feats = self.core.encode_vision(self.core.preprocess_images(images))  # (n, n_vis, d_vis)
                parts.append(feats.to("cpu", torch.float16).numpy())
                bar.update(len(images))
            self._write(chunk, np.concatenate(parts))
        bar.close()
        return len(keys)

    def _write(self, keys: list[str], array: np.ndarray) -> None:
        n = len(list(self.directory.glob("shard-*.json")))
        stem = self.directory / f"shard-{n:05d}-{os.getpid()}"
        tmp = stem.with_suffix(".npy.tmp")
        with open(tmp, "wb") as fh:
            np.save(fh, array)
        os.replace(tmp, stem.with_suffix(".npy"))
        tmp_keys = stem.with_suffix(".json.tmp")
        tmp_keys.write_text(json.dumps(keys))
        os.replace(tmp_keys, stem.with_suffix(".json"))  # the shard counts only once its keys exist
        stored = np.load(stem.with_suffix(".npy"), mmap_mode="r")
        for row, key in enumerate(keys):
            self._index[key] = (stored, row)

    def get(self, blocks: Sequence[dict[str, Any]]) -> torch.Tensor:
        """Features of ``blocks`` in order: ``(N, n_vis, d_vis)`` float32.

        Raises:
            TrainingError: an image was never cached (run `build` over the dataset first).
        """
        rows = []
        for block in blocks:
            key = image_ref(block)
            if key not in self._index:
                raise TrainingError(f"no cached vision features for {key}; build the cache over the whole "
                                    "dataset first (VisionFeatureCache.build)")
            array, row = self._index[key]
            rows.append(torch.from_numpy(np.array(array[row], dtype=np.float32)))
        return torch.stack(rows)
