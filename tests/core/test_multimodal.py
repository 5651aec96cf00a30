"""MultimodalCore: splicing, label masking, several images, mismatch errors, generate, save/load."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from genaisys.core.multimodal import CONFIG_NAME, WEIGHTS_NAME, MultimodalCore, MultimodalCoreConfig
from genaisys.errors import ConfigError, CoreError, ImageTokenMismatchError

from .conftest import TINY_CLIP, TINY_LLAMA, make_lm, make_tokenizer


def _ids(core, text: str) -> torch.Tensor:
    return core.tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]


def test_image_token_added_and_embeddings_resized(tiny_core):
    tok = tiny_core.tokenizer
    assert tiny_core.image_token_id == tok.convert_tokens_to_ids("<image>") == tiny_core.n_base_rows
    assert tiny_core.language_model.get_input_embeddings().weight.shape[0] == tiny_core.n_base_rows + 1
    assert _ids(tiny_core, "a <image> b").tolist()[0].count(tiny_core.image_token_id) == 1
    assert tiny_core.n_image_tokens == 16  # 32 px / 8 px patches, CLS dropped


def test_splice_puts_features_at_placeholders_and_masks_labels(tiny_core):
    ids = _ids(tiny_core, "What is<image> in it?")  # (1, L)
    pos = int((ids[0] == tiny_core.image_token_id).nonzero())
    pixels = torch.randn(1, 3, 32, 32)
    labels = ids.clone()
    with torch.no_grad():
        prep = tiny_core.prepare_inputs(ids, pixel_values=pixels, labels=labels)
        feats = tiny_core.encode_images(pixels)  # (1, 16, 32)
        text = tiny_core.language_model.get_input_embeddings()(ids)
    T, L = 16, ids.shape[1]
    assert prep["inputs_embeds"].shape == (1, L - 1 + T, 32)
    torch.testing.assert_close(prep["inputs_embeds"][0, pos:pos + T], feats[0])
    torch.testing.assert_close(prep["inputs_embeds"][0, :pos], text[0, :pos])
    torch.testing.assert_close(prep["inputs_embeds"][0, pos + T:], text[0, pos + 1:])
    assert (prep["labels"][0, pos:pos + T] == -100).all()
    assert prep["labels"][0, :pos].tolist() == labels[0, :pos].tolist()
    assert prep["labels"][0, pos + T:].tolist() == labels[0, pos + 1:].tolist()
    assert prep["attention_mask"].sum() == L - 1 + T
    assert prep["position_ids"][0].tolist() == list(range(L - 1 + T))


def test_several_images_interleaved_across_a_padded_batch(tiny_core):
    tok = tiny_core.tokenizer
    batch = tok(["<image> cat <image> mat", "one<image>"], return_tensors="pt", padding=True,
                add_special_tokens=False)
    pixels = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        prep = tiny_core.prepare_inputs(batch["input_ids"], batch["attention_mask"], pixels,
                                        labels=batch["input_ids"].clone())
        feats = tiny_core.encode_images(pixels)
    ids0 = batch["input_ids"][0]
    p0, p1 = (ids0 == tiny_core.image_token_id).nonzero().flatten().tolist()
    # row 0: image 0 at p0, image 1 after it (shifted by the first expansion)
    torch.testing.assert_close(prep["inputs_embeds"][0, p0:p0 + 16], feats[0])
    torch.testing.assert_close(prep["inputs_embeds"][0, p1 + 15:p1 + 31], feats[1])
    # row 1: its one image is image 2; the row is right-padded to the longest row
    q = int((batch["input_ids"][1] == tiny_core.image_token_id).nonzero())
    torch.testing.assert_close(prep["inputs_embeds"][1, q:q + 16], feats[2])
    n_real = [int(batch["attention_mask"][0].sum()) + 30, int(batch["attention_mask"][1].sum()) + 15]
    assert prep["attention_mask"].sum(1).tolist() == n_real
    assert prep["inputs_embeds"].shape[1] == max(batch["input_ids"].shape[1] + 30, 0)
    assert (prep["labels"][prep["attention_mask"] == 0] == -100).all()
    assert int((prep["labels"] == -100).sum()) >= 3 * 16


def test_pre_expanded_placeholders_are_accepted(tiny_core):
    ids = torch.cat([_ids(tiny_core, "look"), torch.full((1, 16), tiny_core.image_token_id), _ids(tiny_core, "ok")], 1)
    pixels = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        prep = tiny_core.prepare_inputs(ids, pixel_values=pixels)
        feats = tiny_core.encode_images(pixels)
    start = _ids(tiny_core, "look").shape[1]
    assert prep["inputs_embeds"].shape[1] == ids.shape[1]
    torch.testing.assert_close(prep["inputs_embeds"][0, start:start + 16], feats[0])


@pytest.mark.parametrize(("text", "n_images"), [("two <image><image>", 1), ("none here", 1), ("<image>", 2),
                                                 ("<image>", 0)])
def test_mismatched_placeholders_raise_a_clear_error(tiny_core, text, n_images):
    ids = _ids(tiny_core, text)
    pixels = torch.randn(n_images, 3, 32, 32) if n_images else None
    with pytest.raises(ImageTokenMismatchError, match="placeholder.*image"):
        tiny_core(input_ids=ids, pixel_values=pixels)


def test_forward_loss_trains_the_connector_only(tiny_core):
    ids = _ids(tiny_core, "<image> A cat sits on a red mat.")
    out = tiny_core(input_ids=ids, pixel_values=torch.randn(1, 3, 32, 32), labels=ids.clone())
    assert torch.isfinite(out.loss)
    assert out.logits.shape[1] == ids.shape[1] + 15
    out.loss.backward()
    assert all(p.grad is not None for p in tiny_core.connector.parameters())
    assert all(not p.requires_grad for p in tiny_core.language_model.parameters())
    assert all(not p.requires_grad for p in tiny_core.vision_tower.parameters())


def test_text_only_forward_equals_the_bare_language_model(tiny_core):
    ids = _ids(tiny_core, "One two three")
    with torch.no_grad():
        a = tiny_core(input_ids=ids).logits
        b = tiny_core.language_model(input_ids=ids).logits
    torch.testing.assert_close(a, b)


def test_generate_with_images_uses_kv_cache_and_matches_a_full_recompute(tiny_core):
    ids = _ids(tiny_core, "Describe<image> now")
    pixels = torch.randn(1, 3, 32, 32)
    new = tiny_core.generate(ids, pixel_values=pixels, max_new_tokens=5, do_sample=False)
    assert new.shape == (1, 5)
    # Greedy by full recompute, no cache: the same tokens.
    seq = ids
    with torch.no_grad():
        for _ in range(5):
            nxt = tiny_core(input_ids=seq, pixel_values=pixels).logits[0, -1].argmax()
            seq = torch.cat([seq, nxt.view(1, 1)], 1)
    assert new[0].tolist() == seq[0, ids.shape[1]:].tolist()


def test_connectors_and_pooling_change_the_image_token_count():
    tok = make_tokenizer()
    cfg = MultimodalCoreConfig(vision={"name": "hf", "config": TINY_CLIP}, connector="linear", n_image_tokens=4,
                               language_model_config={**TINY_LLAMA, "vocab_size": len(tok)})
    core = MultimodalCore(cfg, tokenizer=tok)
    assert core.n_image_tokens == 4
    ids = _ids(core, "x<image>y")
    assert core(input_ids=ids, pixel_values=torch.zeros(1, 3, 32, 32)).logits.shape[1] == ids.shape[1] + 3


def test_missing_language_model_is_a_config_error():
    with pytest.raises(ConfigError, match="language_model"):
        MultimodalCore(MultimodalCoreConfig(vision={"name": "efficientnet-lite0", "pretrained": False}),
                       tokenizer=make_tokenizer())


def _logits(core, pixels):
    ids = _ids(core, "Is it<image> a cat?")
    with torch.no_grad():
        return core(input_ids=ids, pixel_values=pixels).logits


def test_save_and_load_from_config_parts_give_identical_logits(tiny_core, tmp_path):
    torch.nn.init.normal_(tiny_core.connector.mlp[0].weight)  # "trained"
    pixels = torch.randn(1, 3, 32, 32)
    before = _logits(tiny_core, pixels)
    tiny_core.save_pretrained(tmp_path)
    meta = json.loads((tmp_path / CONFIG_NAME).read_text())
    # Built from bare configs: nothing to rebuild them from, so everything (and the tokenizer) is saved.
    assert set(meta["saved_parts"]) == {"connector", "vision_tower", "language_model"}
    loaded = MultimodalCore.from_pretrained(tmp_path)
    torch.testing.assert_close(_logits(loaded, pixels), before, rtol=0, atol=0)


@pytest.mark.parametrize("tie", [False, True])
def test_save_writes_only_trained_parts_when_bases_have_paths(tmp_path, tie):
    from transformers import CLIPVisionConfig, CLIPVisionModel

    tok = make_tokenizer()
    lm_dir, vis_dir = tmp_path / "lm", tmp_path / "vision"
    make_lm(len(tok), tie=tie).save_pretrained(lm_dir)
    tok.save_pretrained(lm_dir)
    cfg = {k: v for k, v in TINY_CLIP.items() if k != "model_type"}
    CLIPVisionModel(CLIPVisionConfig(**cfg)).save_pretrained(vis_dir)
    config = MultimodalCoreConfig(vision={"name": "hf", "model": str(vis_dir)}, connector="mlp2x_gelu",
                                  language_model=str(lm_dir))
    core = MultimodalCore(config)
    with torch.no_grad():
        core.language_model.get_input_embeddings().weight[-1].normal_()  # a trained <image> row
    pixels = torch.randn(1, 3, 32, 32)
    before = _logits(core, pixels)
    out = core.save_pretrained(tmp_path / "core")
    saved = load_file(str(out / WEIGHTS_NAME))
    assert {k.split(".")[0] for k in saved} == {"connector", "added_rows"}
    assert ("added_rows.output" in saved) is (not tie)
    assert not (out / "tokenizer").exists()
    loaded = MultimodalCore.from_pretrained(out)
    torch.testing.assert_close(_logits(loaded, pixels), before, rtol=0, atol=0)


def test_from_pretrained_rejects_a_foreign_folder(tmp_path):
    with pytest.raises(CoreError, match="genaisys_core.json"):
        MultimodalCore.from_pretrained(tmp_path)
    (tmp_path / CONFIG_NAME).write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(CoreError, match="format"):
        MultimodalCore.from_pretrained(tmp_path)


def test_lora_adapters_save_and_reattach_with_identical_logits(tmp_path):
    tok = make_tokenizer()
    lm_dir = tmp_path / "lm"
    make_lm(len(tok)).save_pretrained(lm_dir)
    tok.save_pretrained(lm_dir)
    config = MultimodalCoreConfig(vision={"name": "hf", "config": TINY_CLIP}, connector="linear",
                                  language_model=str(lm_dir))
    core = MultimodalCore(config).add_lora(r=4, alpha=8)
    trainable = {n for n, p in core.named_parameters() if p.requires_grad}
    assert any("lora_A" in n for n in trainable)
    assert not any("vision_tower" in n for n in trainable)  # LoRA stays inside the LM
    with torch.no_grad():
        for name, p in core.language_model.named_parameters():
            if "lora_B" in name:
                p.normal_()  # "trained" adapters (lora_B starts at 0)
    pixels = torch.randn(1, 3, 32, 32)
    before = _logits(core, pixels)
    saved = load_file(str(core.save_pretrained(tmp_path / "core") / WEIGHTS_NAME))
    assert any(k.startswith("lora.") for k in saved) and not any(k.startswith("language_model.") for k in saved)
    loaded = MultimodalCore.from_pretrained(tmp_path / "core")
    torch.testing.assert_close(_logits(loaded, pixels), before, rtol=0, atol=0)
    with pytest.raises(CoreError, match="already"):
        loaded.add_lora()
    # Adapters trained where the base LM lay elsewhere (another machine's cache) attach without a
    # warning: warnings are errors in the tests, and a first run on a new machine hit exactly this.
    meta_path = tmp_path / "core" / "genaisys_core.json"
    meta = json.loads(meta_path.read_text())
    for cfg in meta["peft_config"].values():
        cfg["base_model_name_or_path"] = "/another/machine/.cache/genaisys/converted/lm"
    meta_path.write_text(json.dumps(meta))
    moved = MultimodalCore.from_pretrained(tmp_path / "core")
    torch.testing.assert_close(_logits(moved, pixels), before, rtol=0, atol=0)


def test_batched_generate_with_left_padding_equals_single_rows(tiny_core):
    tok = tiny_core.tokenizer
    tok.padding_side = "left"
    texts = ["Describe<image> now", "What is in<image> the picture? A cat<image>"]
    pixels = torch.randn(3, 3, 32, 32)
    batch = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    both = tiny_core.generate(batch["input_ids"], batch["attention_mask"], pixels, max_new_tokens=4, do_sample=False)
    one = tiny_core.generate(_ids(tiny_core, texts[0]), pixel_values=pixels[:1], max_new_tokens=4, do_sample=False)
    two = tiny_core.generate(_ids(tiny_core, texts[1]), pixel_values=pixels[1:], max_new_tokens=4, do_sample=False)
    assert both[0].tolist() == one[0].tolist()
    assert both[1].tolist() == two[0].tolist()


def test_cached_vision_features_train_the_connector_like_pixels(tiny_core):
    ids = _ids(tiny_core, "<image> A cat sits on a red mat.")
    pixels = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        cached = tiny_core.encode_vision(pixels)  # once, e.g. on disk, for pre-alignment
    assert cached.shape == (1, 16, 32)
    a = tiny_core(input_ids=ids, pixel_values=pixels, labels=ids.clone())
    b = tiny_core(input_ids=ids, vision_features=cached, labels=ids.clone())
    torch.testing.assert_close(a.loss, b.loss)
    b.loss.backward()
    assert all(p.grad is not None for p in tiny_core.connector.parameters())
