"""Decoding precision: "auto" follows the CPU, bf16 decodes on a cast copy, logits are read in float32."""

from __future__ import annotations

import math

import pytest
import torch
from langchain_core.messages import HumanMessage
from PIL import Image
from pydantic import BaseModel

from genaisys.core import precision
from genaisys.core.chat import ChatCore
from genaisys.errors import ConfigError

from .conftest import TINY_CLIP, TINY_LLAMA, make_lm, make_tokenizer


class Lights(BaseModel):
    """Switch the lights."""

    on: bool


def _chat(**kwargs):
    tok = make_tokenizer()
    return ChatCore(language_model=make_lm(len(tok)), tokenizer=tok, **{"max_new_tokens": 12, **kwargs})


@pytest.mark.parametrize(("native", "expected"), [(True, torch.bfloat16), (False, torch.float32)])
def test_auto_picks_bf16_only_on_a_cpu_with_native_bf16(monkeypatch, native, expected):
    monkeypatch.setattr(precision, "AUTO_BF16", True)
    monkeypatch.setattr(precision, "native_bf16", lambda: native)
    assert _chat().decode_dtype == expected
    assert _chat(dtype="float32").decode_dtype == torch.float32  # an explicit choice overrides
    assert precision.resolve_dtype("auto", device="cuda") == torch.float32  # GPUs keep the loaded dtype


def test_auto_stays_float32_where_the_measurement_said_so(monkeypatch):
    monkeypatch.setattr(precision, "AUTO_BF16", False)
    monkeypatch.setattr(precision, "native_bf16", lambda: True)
    assert _chat().decode_dtype == torch.float32


def test_an_unknown_dtype_is_a_config_error_naming_the_choices():
    with pytest.raises(ConfigError, match="unknown dtype 'fp8'.*auto, float32, bfloat16"):
        _chat(dtype="fp8")
    with pytest.raises(ConfigError, match="unknown dtype"):
        precision.resolve_dtype(16)  # type: ignore[arg-type]
    assert precision.resolve_dtype(" BF16 ") == torch.bfloat16


def test_a_bf16_core_decodes_text_and_images_while_the_trained_weights_stay_float32(tiny_core):
    chat = ChatCore(core=tiny_core, dtype="bfloat16", max_new_tokens=6)
    assert chat.decode_dtype == torch.bfloat16
    text = chat.invoke("Hello there")
    image = {"type": "image", "url": "data:image/png;base64," + _png_b64()}
    seen = chat.invoke([HumanMessage(content=[image, {"type": "text", "text": "What is it?"}])])
    for msg in (text, seen):
        assert isinstance(msg.content, str) and msg.usage_metadata["output_tokens"] >= 1
    assert seen.usage_metadata["input_tokens"] > tiny_core.n_image_tokens  # the image was spliced in
    # decoding ran on a copy: the core (what training sees) is as it was
    lm = tiny_core.language_model
    assert {p.dtype for p in lm.parameters()} == {torch.float32}
    assert chat.engine.decoder() is not lm and chat.engine.decoder().get_input_embeddings().weight.dtype == torch.bfloat16
    # batched decoding takes the same copy
    rows = chat.batch_generate([[HumanMessage("Hi")], [HumanMessage(content=[image, {"type": "text", "text": "?"}])]])
    assert all(r.usage_metadata["output_tokens"] >= 1 for r in rows)


def test_a_bf16_copy_is_rebuilt_when_the_weights_change():
    chat = _chat(dtype="bfloat16")
    first = chat.engine.decoder()
    assert chat.engine.decoder() is first  # kept while the weights are unchanged
    with torch.no_grad():
        chat.language_model.get_input_embeddings().weight.add_(1.0)  # what an optimizer step does
    second = chat.engine.decoder()
    assert second is not first
    torch.testing.assert_close(second.get_input_embeddings().weight.float(),
                               chat.language_model.get_input_embeddings().weight, rtol=1e-2, atol=1e-2)


def test_a_bf16_forced_call_parses_and_validates():
    pytest.importorskip("outlines_core", reason="forced calls decode under a grammar (outlines-core)")
    chat = _chat(dtype="bfloat16", max_new_tokens=40, temperature=1.0)
    msg = chat.bind_tools([Lights], tool_choice="any").invoke("Lights on.", seed=0)
    assert msg.invalid_tool_calls == [] and [c["name"] for c in msg.tool_calls] == ["Lights"]
    Lights(**msg.tool_calls[0]["args"])


def test_tool_scores_under_bf16_are_probabilities_close_to_float32():
    pytest.importorskip("outlines_core", reason="a chosen tool's call decodes under its grammar (outlines-core)")
    fp32, bf16 = _chat(dtype="float32"), _chat(dtype="bfloat16")
    tools = fp32.bind_tools([Lights]).kwargs["tools"]
    prompt, images = fp32._render([HumanMessage("Lights on, please.")], tools, None)
    a = fp32.engine.tool_scores(prompt, images, ["Lights"])
    b = bf16.engine.tool_scores(prompt, images, ["Lights"])
    assert set(a) == set(b)
    for name in a:
        assert math.isfinite(b[name]) and b[name] <= 0.0
        assert b[name] == pytest.approx(a[name], abs=0.1)
    msg = bf16.bind_tools([Lights]).invoke("Lights on, please.", scored_tool_choice=True)
    assert msg.invalid_tool_calls == []


def test_cross_attention_and_native_cores_decode_in_their_own_dtype(monkeypatch):
    from genaisys.core.multimodal import MultimodalCore, MultimodalCoreConfig

    monkeypatch.setattr(precision, "AUTO_BF16", True)
    monkeypatch.setattr(precision, "native_bf16", lambda: True)
    tok = make_tokenizer()
    cfg = MultimodalCoreConfig(vision={"name": "hf", "config": TINY_CLIP}, connector="resampler4",
                               language_model_config={**TINY_LLAMA, "vocab_size": len(tok)}, cross_attention_every=1)
    core = MultimodalCore(cfg, tokenizer=tok)
    assert ChatCore(core=core).decode_dtype == torch.float32
    with pytest.raises(ConfigError, match="cross-attention core.*use dtype='auto'"):
        ChatCore(core=core, dtype="bfloat16")


def test_decoding_copy_casts_parameters_keeps_ties_and_buffers():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    lm = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                                      num_key_value_heads=2, intermediate_size=37, tie_word_embeddings=True)).eval()
    copy = precision.decoding_copy(lm, torch.bfloat16)
    assert {p.dtype for p in copy.parameters()} == {torch.bfloat16}
    assert not any(p.requires_grad for p in copy.parameters())
    assert copy.get_output_embeddings().weight is copy.get_input_embeddings().weight
    assert {b.dtype for b in copy.buffers()} == {b.dtype for b in lm.buffers()}
    assert {p.dtype for p in lm.parameters()} == {torch.float32} and all(p.requires_grad for p in lm.parameters())


def _png_b64() -> str:
    import base64
    import io

    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _lora_chat(**kwargs):
    from peft import LoraConfig

    from genaisys.core.multimodal import _peft_wrap

    tok = make_tokenizer()
    lm = _peft_wrap(make_lm(len(tok), tie=True), LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    with torch.no_grad():  # a trained adapter: B is zero at initialisation, which would hide the merge
        for name, p in lm.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.2)
    return ChatCore(language_model=lm, tokenizer=tok, max_new_tokens=16, **kwargs)


def test_a_lora_model_decodes_on_a_merged_copy_with_the_same_answers():
    merged, wrapped = _lora_chat(), _lora_chat(merge_adapters=False)
    decoder = merged.engine.decoder()
    assert not hasattr(decoder, "merge_and_unload") and not any("lora" in n for n, _ in decoder.named_parameters())
    assert wrapped.engine.decoder() is wrapped.language_model  # no copy when asked not to merge
    assert hasattr(merged.language_model, "merge_and_unload")  # the trained model keeps its adapters
    assert decoder.get_output_embeddings().weight is decoder.get_input_embeddings().weight
    for prompt in ("One two three", "The weather in Paris", "What is in the picture?"):
        assert merged.invoke(prompt).content == wrapped.invoke(prompt).content
    with torch.no_grad():  # a training step on the adapter: the merged copy is rebuilt from it
        next(p for n, p in merged.language_model.named_parameters() if "lora_B" in n).add_(0.5)
    assert merged.engine.decoder() is not decoder


def test_a_bf16_copy_of_a_lora_model_merges_in_float32_then_casts():
    chat = _lora_chat(dtype="bfloat16")
    decoder = chat.engine.decoder()
    assert {p.dtype for p in decoder.parameters()} == {torch.bfloat16}
    reference = precision.decoding_copy(chat.language_model, torch.float32)
    for (name, p), (_, q) in zip(decoder.named_parameters(), reference.named_parameters(), strict=True):
        torch.testing.assert_close(p, q.to(torch.bfloat16), msg=name)
