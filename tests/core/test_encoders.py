"""Vision towers: the common face, preprocessing without torchvision, layer selection."""

from __future__ import annotations

import sys

import pytest
import torch
from PIL import Image

from genaisys.core.encoders import HFVisionEncoder, VisionEncoderConfig, build_vision_encoder
from genaisys.errors import ConfigError, MediaError, UnknownNameError

from .conftest import TINY_CLIP


def test_efficientnet_lite0_gives_49_tokens_of_1280():
    enc = build_vision_encoder({"name": "efficientnet-lite0", "pretrained": False}).eval()
    pixels = enc.preprocess([Image.new("RGB", (300, 200), "red"), Image.new("L", (20, 20))])
    assert pixels.shape == (2, 3, 224, 224)
    torch.testing.assert_close(pixels[0, 0, 0, 0], torch.tensor(1.0))  # red → +1 after [-1, 1] scaling
    with torch.no_grad():
        assert enc(pixels).shape == (2, 49, 1280)
    assert (enc.hidden_size, enc.image_size, enc.n_tokens) == (1280, 224, 49)
    assert "torchvision" not in sys.modules


@pytest.mark.parametrize("model_type", ["clip_vision_model", "vit", "siglip_vision_model"])
def test_hf_towers_share_the_face(model_type):
    enc = build_vision_encoder({"name": "hf", "config": {**TINY_CLIP, "model_type": model_type}})
    assert isinstance(enc, HFVisionEncoder)
    out = enc(enc.preprocess([Image.new("RGB", (50, 40))]))
    assert out.shape == (1, 16, 32) == (1, enc.n_tokens, enc.hidden_size)


def test_feature_layer_and_cls_selection():
    torch.manual_seed(0)
    enc = HFVisionEncoder(VisionEncoderConfig(name="hf", config=TINY_CLIP, feature_layer=-1, drop_cls=False))
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        hidden = enc.model(pixel_values=x, output_hidden_states=True).hidden_states
        out = enc(x)
    assert enc.n_tokens == 17 and out.shape == (1, 17, 32)
    torch.testing.assert_close(out, hidden[-1])
    enc.feature_layer, enc.drop_cls = -2, True
    with torch.no_grad():
        torch.testing.assert_close(enc(x), hidden[-2][:, 1:])
    with pytest.raises(ConfigError, match="out of range"):
        HFVisionEncoder(VisionEncoderConfig(name="hf", config=TINY_CLIP, feature_layer=7))


def test_clear_errors_for_bad_configs_and_images():
    with pytest.raises(UnknownNameError, match="efficientnet-lite0, hf"):
        build_vision_encoder({"name": "resnet"})
    with pytest.raises(ConfigError, match="model_type"):
        build_vision_encoder({"name": "hf", "config": {"hidden_size": 8}})
    with pytest.raises(ConfigError, match="`model`"):
        build_vision_encoder({"name": "hf"})
    enc = build_vision_encoder({"name": "hf", "config": TINY_CLIP})
    with pytest.raises(MediaError, match="PIL"):
        enc.preprocess([b"not an image"])
    with pytest.raises(MediaError, match="non-empty"):
        enc.preprocess([])


def test_convnext_stages_become_tokens():
    config = {"model_type": "convnext", "num_channels": 3, "hidden_sizes": [8, 16, 24, 32],
              "depths": [1, 1, 1, 1], "image_size": 64}
    enc = build_vision_encoder({"name": "hf", "config": config, "feature_layer": -1})
    out = enc(enc.preprocess([Image.new("RGB", (50, 40)), Image.new("RGB", (10, 90))]))
    assert out.shape == (2, 4, 32) == (2, enc.n_tokens, enc.hidden_size)  # 64/32 = 2x2 cells of the last stage
    penultimate = build_vision_encoder({"name": "hf", "config": config})
    assert (penultimate.n_tokens, penultimate.hidden_size) == (16, 24)  # stride 16 → 4x4 cells, 24 channels
    with pytest.raises(ConfigError, match="out of range"):
        build_vision_encoder({"name": "hf", "config": config, "feature_layer": 9})


def test_a_core_composes_a_convnext_tower():
    from genaisys.core.connectors import build_connector

    config = {"model_type": "convnext", "num_channels": 3, "hidden_sizes": [8, 16, 24, 32],
              "depths": [1, 1, 1, 1], "image_size": 64}
    enc = build_vision_encoder({"name": "hf", "config": config})
    feats = enc(enc.preprocess([Image.new("RGB", (64, 64), "blue")]))  # (1, 16, 24)
    projected = build_connector("mlp2x_gelu", enc.hidden_size, 48)(feats)
    assert projected.shape == (1, 16, 48)
