"""Visual contrastive decoding: the formula, the noise, and ChatCore's batched two-pass loop."""

from __future__ import annotations

import base64
import io

import pytest
import torch
from langchain_core.messages import HumanMessage
from PIL import Image

from genaisys.core.chat import ChatCore
from genaisys.core.vcd import VCDConfig, contrast_logits, distort_images
from genaisys.errors import ConfigError


def test_contrast_formula_and_plausibility_cut():
    real = torch.tensor([3.0, 2.9, 0.0, -5.0])
    distorted = torch.tensor([3.0, 1.0, -9.0, -5.0])
    out = contrast_logits(real, distorted, alpha=1.0, beta=0.2)
    torch.testing.assert_close(out[:2], torch.tensor([3.0, 4.8]))  # (1+a)·real − a·distorted
    assert torch.isinf(out[2:]).all()  # p < 0.2·p_max: cut, however much the contrast favours them
    assert out.argmax() == 1  # the token that depends on the image wins
    assert contrast_logits(real, distorted, alpha=0.0, beta=0.0).argmax() == 0  # a = 0: plain decoding


def test_diffusion_noise_grows_with_the_step():
    x = torch.ones(2, 3, 8, 8)
    g = torch.Generator().manual_seed(0)
    near, far = distort_images(x, 0, g), distort_images(x, 999, torch.Generator().manual_seed(0))
    assert (near - x).abs().mean() < 0.02
    from genaisys.core.vcd import _alpha_bar

    a0, a500, a999 = _alpha_bar(0), _alpha_bar(500), _alpha_bar(999)
    assert 1 > a0 > a500 > a999 > 0
    # √ᾱ·x + √(1-ᾱ)·ε: the signal shrinks to √ᾱ, the noise grows to √(1-ᾱ)
    assert abs(float(far.mean()) - a999**0.5) < 0.15 and abs(float(far.std()) - (1 - a999) ** 0.5) < 0.15
    with pytest.raises(ValueError):
        VCDConfig(noise_step=1000)


def _image_message():
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), "orange").save(buf, "PNG")
    return HumanMessage(content=[{"type": "image", "base64": base64.b64encode(buf.getvalue()).decode(),
                                  "mime_type": "image/png"}, {"type": "text", "text": "What is it?"}])


def test_chatcore_vcd_matches_two_separate_passes(tiny_core):
    chat = ChatCore(core=tiny_core, max_new_tokens=4, seed=5)
    msg = _image_message()
    cfg = VCDConfig(alpha=1.0, beta=0.1, noise_step=500)
    out = chat.invoke([msg], vcd=cfg.model_dump())
    assert out.response_metadata["vcd"] is True
    # Reference: real and distorted images run one at a time, no cache, contrasted by hand.
    prompt, images = chat._render([msg], None, None)
    ids = tiny_core.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]
    pixels = tiny_core.preprocess_images(images)
    distorted = distort_images(pixels, cfg.noise_step, torch.Generator().manual_seed(5))
    seq, tokens = ids, []
    with torch.no_grad():
        for _ in range(4):
            real = tiny_core(input_ids=seq, pixel_values=pixels).logits[0, -1]
            fake = tiny_core(input_ids=seq, pixel_values=distorted).logits[0, -1]
            logits = contrast_logits(real, fake, alpha=cfg.alpha, beta=cfg.beta)
            logits[tiny_core.image_token_id] = float("-inf")
            nxt = int(logits.argmax())
            if nxt == tiny_core.tokenizer.eos_token_id:
                break
            tokens.append(nxt)
            seq = torch.cat([seq, torch.tensor([[nxt]])], 1)
    assert out.content == tiny_core.tokenizer.decode(tokens, skip_special_tokens=True)
    assert out.usage_metadata["input_tokens"] == ids.shape[1] + tiny_core.n_image_tokens - 1


def test_vcd_is_per_call_and_off_without_images(tiny_core):
    chat = ChatCore(core=tiny_core, max_new_tokens=2, vcd=True)
    assert chat.invoke("no image here").response_metadata["vcd"] is False
    assert chat.invoke([_image_message()]).response_metadata["vcd"] is True
    assert chat.invoke([_image_message()], vcd=False).response_metadata["vcd"] is False
    with pytest.raises(ConfigError, match="vcd must be"):
        chat.invoke([_image_message()], vcd="yes")
