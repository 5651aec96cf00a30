"""The frozen-tower feature cache: computed once, read back from disk, keyed by the tower."""

from __future__ import annotations

import pytest
import torch

from genaisys.errors import MediaError, TrainingError
from genaisys.train.features import VisionFeatureCache, tower_fingerprint

from .conftest import tiny_chat


def test_features_equal_the_tower_and_survive_a_new_process_view(chat, images, tmp_path):
    cache = VisionFeatureCache(chat.core, tmp_path, batch_size=3)
    assert cache.build(images, progress=False) == 4
    assert cache.build(images, progress=False) == 0  # nothing recomputed
    from genaisys.core.media import load_image_block

    direct = chat.core.encode_vision(chat.core.preprocess_images([load_image_block(b) for b in images]))
    again = VisionFeatureCache(chat.core, tmp_path)  # a fresh reader, from disk only
    assert len(again) == 4 and images[0] in again
    assert torch.allclose(again.get(images), direct, atol=2e-3)  # stored as float16


def test_another_tower_gets_another_folder(chat, tmp_path):
    other = tiny_chat()
    with torch.no_grad():
        next(other.core.vision_tower.parameters()).add_(1.0)
    assert tower_fingerprint(chat.core) != tower_fingerprint(other.core)
    assert VisionFeatureCache(chat.core, tmp_path).directory != VisionFeatureCache(other.core, tmp_path).directory


def test_missing_and_corrupt_images(chat, images, tmp_path):
    cache = VisionFeatureCache(chat.core, tmp_path)
    with pytest.raises(TrainingError, match="build the cache"):
        cache.get(images[:1])
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(MediaError, match="bad.png"):
        cache.build([{"type": "image", "url": str(bad)}], progress=False)


def test_a_trainable_tower_cannot_be_cached(tmp_path):
    chat = tiny_chat(freeze_vision=False)
    with pytest.raises(TrainingError, match="frozen tower"):
        VisionFeatureCache(chat.core, tmp_path)
