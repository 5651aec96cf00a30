"""Each stage lowers its loss within a few steps on tiny random cores; DPO learns a toy preference."""

from __future__ import annotations

import pytest
import torch
from langchain_core.messages import AIMessage, HumanMessage

from genaisys.errors import ConfigError
from genaisys.train.features import VisionFeatureCache
from genaisys.train.stages import ConversationStage, DecoderAlignmentStage, DPOStage

from .conftest import tiny_chat

COLOURS = ["red", "green", "blue", "white"]


def _captions(images):
    return [([HumanMessage([b, {"type": "text", "text": "Describe the image."}]), AIMessage(f"A {c} square.")], None)
            for b, c in zip(images, COLOURS)]


def _fit(stage, model, rows, steps, lr=1e-2):
    params = stage.setup(model)
    opt = torch.optim.AdamW(params, lr=lr)
    batch = stage.collate(rows)
    losses = []
    for _ in range(steps):
        loss, extra = stage.loss(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses, extra


def test_score_labels_matches_the_lm_loss(chat, images):
    stage = ConversationStage(chat, name="sft", train=("connector",))
    batch = stage.collate(_captions(images))
    core = chat.core
    ours = core(**batch, score_labels=True)
    reference = core(**batch).loss
    assert torch.allclose(ours.loss, reference, atol=1e-5)
    assert ours.logps.shape == (4,) and bool((ours.logps < 0).all())
    assert int(ours.n_tokens.sum()) == int((batch["labels"][:, 1:] != -100).sum())


def test_align_trains_the_connector_only_and_lowers_the_loss(images, tmp_path):
    chat = tiny_chat(init=0.2)
    cache = VisionFeatureCache(chat.core, tmp_path / "features")
    stage = ConversationStage(chat, name="align", train=("connector",), features=cache)
    rows = _captions(images)
    assert cache.build(stage.image_blocks(rows), progress=False) == 4
    lm_before = {n: p.clone() for n, p in chat.core.language_model.named_parameters()}
    losses, _ = _fit(stage, chat.core, rows, steps=15)
    assert losses[-1] < 0.85 * losses[0]  # the frozen LM's text prior bounds what the connector can move
    assert all(torch.equal(p, lm_before[n]) for n, p in chat.core.language_model.named_parameters())
    assert {n.split(".")[0] for n, p in chat.core.named_parameters() if p.requires_grad} == {"connector"}


def test_sft_with_lora_lowers_the_loss(images):
    chat = tiny_chat(init=0.2)
    chat.core.add_lora(r=4, alpha=8, target_modules=["q_proj", "v_proj", "o_proj", "down_proj"])
    stage = ConversationStage(chat, name="sft", train=("connector", "lora"))
    rows = [([HumanMessage([b, {"type": "text", "text": "Colour?"}]), AIMessage(c)], None)
            for b, c in zip(images, COLOURS)]
    losses, extra = _fit(stage, chat.core, rows, steps=15, lr=3e-2)
    assert losses[-1] < 0.6 * losses[0] and extra["tokens"] > 0
    trained = {n for n, p in chat.core.named_parameters() if p.requires_grad}
    assert any("lora_" in n for n in trained) and not any("embed_tokens" in n for n in trained)


def test_sft_without_adapters_says_how_to_add_them(chat):
    with pytest.raises(ConfigError, match="add_lora"):
        ConversationStage(chat, train=("connector", "lora")).setup(chat.core)


def test_dpo_comes_to_prefer_the_chosen_answer(images):
    chat = tiny_chat(init=0.2)
    chat.core.add_lora(r=4, alpha=8, target_modules=["q_proj", "v_proj", "o_proj", "down_proj"])
    rows = [([HumanMessage([b, {"type": "text", "text": f"Is there a {c} square?"}])], "Yes", "No")
            for b, c in zip(images, COLOURS)]
    stage = DPOStage(chat, rows, beta=0.5)
    losses, extra = _fit(stage, chat.core, rows, steps=10, lr=2e-2)
    assert losses[0] == pytest.approx(0.6931, abs=1e-3)  # policy == reference at step 0: -log σ(0)
    assert losses[-1] < 0.3 and extra["reward_accuracy"] == 1.0
    with torch.no_grad():
        batch = stage.collate(rows)
        logps = chat.core(**{k: v for k, v in batch.items() if k != "reference_logps"}, score_labels=True).logps
    assert bool((logps[:4] > logps[4:]).all())  # the policy now prefers "Yes" to "No" on every pair


def test_decoder_alignment_lowers_the_l2_to_the_conditioning(images):
    proj = {"image": {"out_tokens": 3, "out_dim": 8, "n_layers": 1, "n_heads": 2}}
    chat = tiny_chat(signal_tokens={"image": 2}, output_projectors=proj)
    g = torch.Generator().manual_seed(1)
    table = {c: torch.randn(3, 8, generator=g) for c in ("a red square", "a blue square")}
    stage = DecoderAlignmentStage(chat, lambda caps: torch.stack([table[c] for c in caps]), modality="image")
    rows = [{"id": f"draw-{i}", "conversations": [{"from": "human", "value": f"Draw {c}."},
                               {"from": "gpt", "value": "Here it is. [IMG0][IMG1]"}], "target_caption": c}
            for i, c in enumerate(table)]
    batch = stage.collate(rows)
    assert batch["target"].shape == (2, 3, 8)
    params = stage.setup(chat.core)
    opt = torch.optim.AdamW(params, lr=1e-2)
    l2 = []
    for _ in range(15):
        loss, extra = stage.loss(chat.core, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        l2.append(extra["l2"])
    assert l2[-1] < 0.6 * l2[0]
    assert {n.split(".")[0] for n, p in chat.core.named_parameters() if p.requires_grad} == {"output_projectors"}


def test_decoder_alignment_mixes_rows_without_signal_tokens_and_checks_each_row(images):
    proj = {"image": {"out_tokens": 3, "out_dim": 8, "n_layers": 1, "n_heads": 2}}
    chat = tiny_chat(signal_tokens={"image": 2}, output_projectors=proj)
    target = torch.randn(3, 8, generator=torch.Generator().manual_seed(2))
    stage = DecoderAlignmentStage(chat, lambda caps: torch.stack([target for _ in caps]), modality="image",
                                  frozen_context=4)
    draw = {"id": "draw", "conversations": [{"from": "human", "value": "Draw a red square."},
                                            {"from": "gpt", "value": "a red square[IMG0][IMG1]"}],
            "target_caption": "a red square"}
    talk = {"id": "talk", "conversations": [{"from": "human", "value": "Hi."}, {"from": "gpt", "value": "Hello."}]}
    batch = stage.collate([talk, draw])
    assert batch["target"].shape == (1, 3, 8)  # only the row that draws has a target
    loss, parts = stage.loss(chat.core, batch)
    assert set(parts) == {"lm", "l2"} and float(loss.detach()) == pytest.approx(parts["lm"] + parts["l2"], rel=1e-4)
    loss, parts = stage.loss(chat.core, stage.collate([talk]))  # a batch that draws nothing: the LM loss alone
    assert set(parts) == {"lm"}
    with pytest.raises(ConfigError, match="no signal tokens"):
        stage.collate([{**talk, "target_caption": "a red square"}])
    with pytest.raises(ConfigError, match="no 'target_caption'"):
        stage.collate([{k: v for k, v in draw.items() if k != "target_caption"}])


def test_signal_rows_train_alone_so_the_core_learns_to_emit_its_new_tokens():
    proj = {"image": {"out_tokens": 1, "out_dim": 8, "n_layers": 1, "n_heads": 2}}
    chat = tiny_chat(signal_tokens={"image": 2}, output_projectors=proj)
    core = chat.core
    stage = DecoderAlignmentStage(chat, lambda caps: torch.zeros(len(caps), 1, 8), modality="image",
                                  train=("output_projectors", "signal_rows"))
    row = {"id": "d", "target_caption": "a red square",
           "conversations": [{"from": "human", "value": "Draw a red square."},
                             {"from": "gpt", "value": "a red square[IMG0][IMG1]"}]}
    weight = core.language_model.get_input_embeddings().weight
    before = weight.detach().clone()
    params = stage.setup(core)
    opt = torch.optim.AdamW(params, lr=1e-2, weight_decay=0.0)  # the loop never decays a masked matrix
    batch, losses = stage.collate([row]), []
    for _ in range(12):
        loss, _ = stage.loss(core, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    img0, img1 = core.signal_token_ids["image"]
    moved = (weight.detach() - before).abs().sum(1).nonzero().flatten().tolist()
    assert moved == [img0, img1]  # every other row, the base vocabulary and the image token, is as it was
    assert losses[-1] < losses[0]
    with pytest.raises(ConfigError, match="no signal tokens"):
        from genaisys.train.stages._common import select_trainable

        select_trainable(tiny_chat().core, ["signal_rows"])


def test_the_output_projector_fits_on_cached_signal_hidden_states():
    from genaisys.train.stages.decoder import fit_output_projector

    proj = {"image": {"out_tokens": 1, "out_dim": 8, "n_layers": 1, "n_heads": 2}}
    chat = tiny_chat(signal_tokens={"image": 2}, output_projectors=proj)
    words = ["red", "green", "blue", "white", "black", "gray"]
    unit = torch.randn(len(words), 1, 8, generator=torch.Generator().manual_seed(0))
    unit = torch.nn.functional.normalize(unit, dim=-1)
    table = {f"a {w} square": unit[i] for i, w in enumerate(words)}
    rows = [{"id": f"d{i}", "target_caption": c,
             "conversations": [{"from": "human", "value": f"Draw {c}."}, {"from": "gpt", "value": f"{c}[IMG0][IMG1]"}]}
            for i, c in enumerate(table)] * 2 + [{"id": "t", "conversations": [{"from": "human", "value": "Hi"},
                                                                             {"from": "gpt", "value": "Hello."}]}]
    lm_before = {n: p.clone() for n, p in chat.core.language_model.named_parameters()}
    targets = lambda caps: torch.stack([table[c] for c in caps])  # noqa: E731
    fit = fit_output_projector(chat, rows, targets, epochs=150, lr=1e-2, holdout=0.0)
    assert fit["rows"] == 12 and fit["epoch"] == 150 and fit["train_l2"] < 0.2 * fit["zero_l2"]
    # one caption of six left out: the epoch kept is the one best on it (random targets: little to find)
    fit = fit_output_projector(chat, rows, targets, epochs=20, lr=1e-2, holdout=0.2)
    assert 0 <= fit["epoch"] <= 20 and fit["holdout_l2"] == fit["holdout_l2"]
    assert all(torch.equal(p, lm_before[n]) for n, p in chat.core.language_model.named_parameters())
    with pytest.raises(ConfigError, match="target_caption"):
        fit_output_projector(chat, rows[-1:], lambda caps: None)


def test_decoder_stage_needs_a_projector(chat):
    with pytest.raises(ConfigError, match="output projector"):
        DecoderAlignmentStage(chat, lambda caps: None, modality="image")


def test_a_shared_prefix_runs_once_with_the_same_loss_and_gradients(images):
    from langchain_core.messages import SystemMessage

    chat = tiny_chat(init=0.2)
    chat.core.add_lora(r=4, alpha=8, target_modules=["q_proj", "v_proj"])
    system = SystemMessage("You are a helpful assistant. Answer the question about the image.")
    rows = [([system, HumanMessage([b, {"type": "text", "text": "Colour?"}]), AIMessage(c)], None)
            for b, c in zip(images, COLOURS)]
    stage = ConversationStage(chat, train=("connector", "lora"))
    stage.setup(chat.core)
    batch = stage.collate(rows)
    core = chat.core
    assert core._shared_prefix_length(batch["input_ids"], batch["attention_mask"]) >= 8

    def run(shared):
        core.zero_grad()
        core._shared_prefix_length = (lambda *a: 0) if not shared else type(core)._shared_prefix_length.__get__(core)
        scores = core(**batch, score_labels=True)
        scores.loss.backward()
        grads = {n: p.grad.clone() for n, p in core.named_parameters() if p.grad is not None}
        return scores, grads

    plain, g_plain = run(False)
    shared, g_shared = run(True)
    assert torch.allclose(plain.loss, shared.loss, atol=1e-5)
    assert torch.allclose(plain.logps, shared.logps, atol=1e-4)
    assert g_plain.keys() == g_shared.keys() and len(g_plain) > 2
    assert all(torch.allclose(g_plain[n], g_shared[n], atol=1e-5) for n in g_plain)
