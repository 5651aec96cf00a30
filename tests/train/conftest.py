"""Tiny offline cores and images for training tests (tiny CLIP → connector → tiny Llama)."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from tests.core.conftest import TINY_CLIP, TINY_LLAMA, make_tokenizer


def tiny_chat(*, init: float = 0.02, **config):
    """A ChatCore over a tiny random core; a larger ``init`` makes the frozen LM sensitive to its
    inputs (a default-initialised random LM predicts near-uniformly whatever the image tokens)."""
    from genaisys.core.chat import ChatCore
    from genaisys.core.multimodal import MultimodalCore, MultimodalCoreConfig

    tok = make_tokenizer()
    torch.manual_seed(0)
    cfg = MultimodalCoreConfig(vision={"name": "hf", "config": TINY_CLIP}, connector="mlp2x_gelu",
                               language_model_config={**TINY_LLAMA, "vocab_size": len(tok), "initializer_range": init},
                               **config)
    return ChatCore(core=MultimodalCore(cfg, tokenizer=tok), max_new_tokens=4)


@pytest.fixture
def chat():
    return tiny_chat()


@pytest.fixture
def images(tmp_path):
    """Four 32×32 PNGs: red, green, blue, white squares; returns their image blocks."""
    blocks = []
    for i, colour in enumerate(["red", "green", "blue", "white"]):
        path = tmp_path / f"{colour}.png"
        Image.new("RGB", (32, 32), colour).save(path)
        blocks.append({"type": "image", "url": str(path)})
    return blocks
