"""Dual encoders (Mini-Gemini): high-res detail refines low-res tokens without adding tokens."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from genaisys.core.dual_encoder import DualVisionEncoder, PatchInfoMining
from genaisys.core.encoders import build_vision_encoder
from genaisys.core.multimodal import WEIGHTS_NAME, MultimodalCore, MultimodalCoreConfig
from genaisys.errors import ConfigError

from .conftest import TINY_CLIP, TINY_LLAMA, make_tokenizer

LOW = {"name": "hf", "config": TINY_CLIP}  # 32 px, 4×4 grid
HIGH = {"name": "hf", "config": {**TINY_CLIP, "model_type": "vit", "image_size": 64}}  # 64 px, 8×8 grid


def _dual(high=HIGH) -> DualVisionEncoder:
    torch.manual_seed(0)
    return build_vision_encoder({"name": "dual", "low": LOW, "high": high})


def test_dual_keeps_the_low_res_token_count_and_starts_as_the_low_tower():
    enc = _dual()
    assert (enc.n_tokens, enc.hidden_size, enc.image_size, enc.mining.region) == (16, 32, 64, 2)
    pixels = enc.preprocess([Image.new("RGB", (90, 70), "green")])
    assert pixels.shape == (1, 3, 64, 64)
    with torch.no_grad():
        out = enc(pixels)
        low_only = enc.low(enc._low_pixels(pixels))
    assert out.shape == (1, 16, 32)
    torch.testing.assert_close(out, low_only)  # W_o = 0 at init
    torch.testing.assert_close(enc._low_pixels(pixels), enc.low.preprocess([Image.new("RGB", (9, 7), "green")]),
                               atol=1e-3, rtol=0)


def test_mining_is_region_local_on_aligned_grids_and_global_otherwise():
    torch.manual_seed(0)
    mining = PatchInfoMining(8, 6, n_low=4, n_high=16)  # 2×2 low grid, 4×4 high grid → r = 2
    torch.nn.init.normal_(mining.out.weight)
    low, high = torch.randn(1, 4, 8), torch.randn(1, 16, 6)
    changed = high.clone().view(1, 4, 4, 6)
    changed[0, :2, :2] += 5.0  # the top-left 2×2 high-res patches = low token 0's region
    a, b = mining(low, high), mining(low, changed.view(1, 16, 6))
    moved = (a - b).abs().sum(-1)[0]
    assert moved[0] > 0 and torch.all(moved[1:] == 0)
    glob = PatchInfoMining(8, 6, n_low=4, n_high=9)  # 3×3 is no multiple of 2×2: global attention
    assert glob.region is None and glob(low, torch.randn(1, 9, 6)).shape == (1, 4, 8)


def test_dual_in_a_core_trains_the_mining_layers_even_when_towers_are_frozen(tmp_path):
    tok = make_tokenizer()
    torch.manual_seed(0)
    cfg = MultimodalCoreConfig(vision={"name": "dual", "low": LOW, "high": HIGH}, connector="linear",
                               language_model_config={**TINY_LLAMA, "vocab_size": len(tok)})
    core = MultimodalCore(cfg, tokenizer=tok)
    assert all(p.requires_grad for p in core.vision_tower.mining.parameters())
    assert not any(p.requires_grad for p in core.vision_tower.low.parameters())
    ids = tok("<image> a cat", return_tensors="pt", add_special_tokens=False)["input_ids"]
    pixels = torch.randn(1, 3, 64, 64)
    out = core(input_ids=ids, pixel_values=pixels, labels=ids.clone())
    out.loss.backward()
    assert core.vision_tower.mining.out.weight.grad.abs().sum() > 0
    assert out.logits.shape[1] == ids.shape[1] + 15  # 16 low-res tokens, none added
    with torch.no_grad():
        torch.nn.init.normal_(core.vision_tower.mining.out.weight)
        before = core(input_ids=ids, pixel_values=pixels).logits
    core.save_pretrained(tmp_path)
    loaded = MultimodalCore.from_pretrained(tmp_path)
    with torch.no_grad():
        torch.testing.assert_close(loaded(input_ids=ids, pixel_values=pixels).logits, before, rtol=0, atol=0)


def test_dual_of_packaged_towers_saves_only_the_mining_layers(tmp_path):
    from safetensors.torch import load_file

    from efficientnet_lite_pytorch import EfficientNet

    tok = make_tokenizer()
    weights = tmp_path / "lite0.pth"  # a base .pth file on disk, as the packaged one is
    torch.save(EfficientNet.from_name("efficientnet-lite0").state_dict(), weights)
    vision = {"name": "dual", "low": {"name": "efficientnet-lite0", "weights": str(weights)},
              "high": {"name": "efficientnet-lite0", "weights": str(weights), "image_size": 448}}
    core = MultimodalCore(MultimodalCoreConfig(vision=vision, connector="linear", n_image_tokens=4,
                                               language_model_config={**TINY_LLAMA, "vocab_size": len(tok)}),
                          tokenizer=tok)
    keys = load_file(str(core.save_pretrained(tmp_path / "core") / WEIGHTS_NAME)).keys()
    assert {k.split(".")[0] for k in keys} == {"connector", "vision_mining", "language_model"}


def test_dual_needs_both_towers():
    with pytest.raises(ConfigError, match="both `low` and `high`"):
        build_vision_encoder({"name": "dual", "low": LOW})
