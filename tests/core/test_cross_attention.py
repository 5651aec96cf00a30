"""Flamingo mode: tanh-gated cross-attention blocks that start as the frozen LM."""

from __future__ import annotations

import pytest
import torch

from genaisys.core.cross_attention import GatedCrossAttentionBlock
from genaisys.core.multimodal import MultimodalCore, MultimodalCoreConfig
from genaisys.errors import ConfigError, ImageTokenMismatchError

from .conftest import TINY_CLIP, TINY_LLAMA, make_tokenizer


def _core(every: int = 1, connector: str = "resampler4") -> MultimodalCore:
    tok = make_tokenizer()
    torch.manual_seed(0)
    cfg = MultimodalCoreConfig(vision={"name": "hf", "config": TINY_CLIP}, connector=connector,
                               language_model_config={**TINY_LLAMA, "vocab_size": len(tok)},
                               cross_attention_every=every)
    return MultimodalCore(cfg, tokenizer=tok)


def _ids(core, text):
    return core.tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]


def test_at_init_the_model_is_the_frozen_lm_and_opening_a_gate_lets_images_in():
    core = _core()
    assert len(core.cross_attention) == 2
    ids = _ids(core, "What is<image> in it?")
    with torch.no_grad():
        plain = core.language_model(input_ids=ids).logits  # hooks see no image context: the bare LM
        a = core(input_ids=ids, pixel_values=torch.randn(1, 3, 32, 32)).logits
        b = core(input_ids=ids, pixel_values=torch.randn(1, 3, 32, 32)).logits
    assert a.shape[1] == ids.shape[1]  # no tokens added: <image> stays one position
    torch.testing.assert_close(a, plain, rtol=0, atol=0)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    with torch.no_grad():
        core.cross_attention[0].gate_attn.fill_(0.5)
        c = core(input_ids=ids, pixel_values=torch.randn(1, 3, 32, 32)).logits
        d = core(input_ids=ids, pixel_values=torch.randn(1, 3, 32, 32)).logits
    assert not torch.allclose(c, d)


def test_gates_receive_gradients_and_labels_skip_placeholders():
    core = _core()
    with torch.no_grad():
        for block in core.cross_attention:
            block.gate_attn.fill_(0.1)
    ids = _ids(core, "A cat<image> on a mat.")
    out = core(input_ids=ids, pixel_values=torch.randn(1, 3, 32, 32), labels=ids.clone())
    out.loss.backward()
    assert core.cross_attention[0].gate_attn.grad.abs() > 0
    assert all(p.grad is not None for p in core.connector.parameters())
    prep = core.prepare_inputs(ids, pixel_values=torch.randn(1, 3, 32, 32), labels=ids.clone())
    assert (prep["labels"][ids == core.image_token_id] == -100).all()


def test_rows_see_only_their_own_images_and_rows_without_images_are_untouched():
    core = _core()
    with torch.no_grad():
        for block in core.cross_attention:
            block.gate_attn.fill_(1.0)
            block.gate_ff.fill_(1.0)
    tok = core.tokenizer
    batch = tok(["<image> cat", "plain text"], return_tensors="pt", padding=True, add_special_tokens=False)
    pixels = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        both = core(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], pixel_values=pixels).logits
        alone = core(input_ids=batch["input_ids"][1:], attention_mask=batch["attention_mask"][1:]).logits
        first = core(input_ids=batch["input_ids"][:1], attention_mask=batch["attention_mask"][:1],
                     pixel_values=pixels).logits
    assert torch.isfinite(both).all()
    torch.testing.assert_close(both[1], alone[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(both[0], first[0], rtol=1e-5, atol=1e-5)


def test_generate_save_and_load_in_cross_attention_mode(tmp_path):
    core = _core(every=2)
    assert len(core.cross_attention) == 1
    with torch.no_grad():
        core.cross_attention[0].gate_attn.fill_(0.7)
    ids = _ids(core, "Describe<image>")
    pixels = torch.randn(1, 3, 32, 32)
    new = core.generate(ids, pixel_values=pixels, max_new_tokens=4, do_sample=False)
    seq = ids
    with torch.no_grad():
        for _ in range(4):
            seq = torch.cat([seq, core(input_ids=seq, pixel_values=pixels).logits[0, -1].argmax().view(1, 1)], 1)
    assert new[0].tolist() == seq[0, ids.shape[1]:].tolist()
    with torch.no_grad():
        before = core(input_ids=ids, pixel_values=pixels).logits
    core.save_pretrained(tmp_path)
    loaded = MultimodalCore.from_pretrained(tmp_path)
    with torch.no_grad():
        torch.testing.assert_close(loaded(input_ids=ids, pixel_values=pixels).logits, before, rtol=0, atol=0)


def test_cross_attention_errors():
    core = _core()
    with pytest.raises(ImageTokenMismatchError, match="placeholder"):
        core(input_ids=_ids(core, "<image><image>"), pixel_values=torch.randn(1, 3, 32, 32))
    with pytest.raises(ConfigError, match="exceeds"):
        _core(every=3)
    with pytest.raises(ConfigError, match="divisible"):
        GatedCrossAttentionBlock(10, n_heads=4)


def test_chatcore_over_a_cross_attention_core_matches_its_generate():
    import base64
    import io

    from langchain_core.messages import HumanMessage
    from PIL import Image

    from genaisys.core.chat import ChatCore

    core = _core()
    with torch.no_grad():
        for block in core.cross_attention:
            block.gate_attn.fill_(0.8)
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), "teal").save(buf, "PNG")
    msg = HumanMessage(content=[{"type": "image", "base64": base64.b64encode(buf.getvalue()).decode(),
                                 "mime_type": "image/png"}, {"type": "text", "text": "What?"}])
    chat = ChatCore(core=core, max_new_tokens=4)
    out = chat.invoke([msg])
    prompt, images = chat.render_prompt([msg])
    ids = core.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]
    ref = core.generate(ids, pixel_values=core.preprocess_images(images), max_new_tokens=4, do_sample=False)
    tokens = ref[0].tolist()
    eos = core.tokenizer.eos_token_id
    tokens = tokens[: tokens.index(eos)] if eos in tokens else tokens
    assert out.content == core.tokenizer.decode(tokens, skip_special_tokens=True)
    assert chat.batch([[msg], [msg]])[1].content == out.content
