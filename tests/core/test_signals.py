"""NExT-GPT signal tokens: [IMG0..k] hidden states → output projector → a decoder call by reference."""

from __future__ import annotations

import pytest
import torch
from langchain_core.messages import HumanMessage
from pydantic import ValidationError
from torch import nn

from genaisys.core.chat import ChatCore
from genaisys.core.multimodal import MultimodalCore, MultimodalCoreConfig
from genaisys.errors import CoreError

from .conftest import TINY_CLIP, TINY_LLAMA, make_tokenizer

PROJ = {"image": {"out_tokens": 5, "out_dim": 8, "n_layers": 1, "n_heads": 2}}


def _core() -> MultimodalCore:
    tok = make_tokenizer()
    torch.manual_seed(0)
    cfg = MultimodalCoreConfig(vision={"name": "hf", "config": TINY_CLIP}, connector="linear",
                               language_model_config={**TINY_LLAMA, "vocab_size": len(tok)},
                               signal_tokens={"image": 2}, output_projectors=PROJ)
    return MultimodalCore(cfg, tokenizer=tok)


def test_signal_tokens_are_added_with_a_projector_each():
    core = _core()
    ids = core.signal_token_ids["image"]
    assert [core.tokenizer.convert_ids_to_tokens(i) for i in ids] == ["[IMG0]", "[IMG1]"]
    assert ids == [core.image_token_id + 1, core.image_token_id + 2]
    assert core.language_model.get_input_embeddings().weight.shape[0] == core.n_base_rows + 3
    assert core.project_signals(torch.randn(3, 2, 32), "image").shape == (3, 5, 8)
    with pytest.raises(ValidationError, match="same modalities"):
        MultimodalCoreConfig(language_model="x", signal_tokens={"image": 4})


def test_alignment_loss_gathers_signal_positions_after_spliced_images_and_trains_the_projector():
    core = _core()
    ids = core.tokenizer("<image> a red cat [IMG0][IMG1]", return_tensors="pt", add_special_tokens=False)["input_ids"]
    pixels = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        prep = core.prepare_inputs(ids, pixel_values=pixels)
        hidden = core.language_model(**prep, output_hidden_states=True).hidden_states[-1]
    gathered = core.signal_hidden_states(hidden, ids, "image")
    last = hidden.shape[1]
    torch.testing.assert_close(gathered[0], hidden[0, last - 2:last])  # the two signal tokens close the row
    target = torch.randn(1, 5, 8)
    loss, parts = core.decoder_alignment_loss(ids, target, "image", pixel_values=pixels, labels=ids.clone(), scale=2.0)
    assert parts["l2"] > 0 and parts["lm"] > 0
    torch.testing.assert_close(loss, torch.tensor(parts["lm"] + 2.0 * parts["l2"]), rtol=1e-5, atol=1e-5)
    loss.backward()
    assert all(p.grad is not None for p in core.output_projectors["image"].parameters())
    with pytest.raises(CoreError, match="signal tokens"):
        core.signal_hidden_states(hidden, ids[:, :-1], "image")


def test_projectors_are_saved_and_loaded(tmp_path):
    core = _core()
    x = torch.randn(1, 2, 32)
    with torch.no_grad():
        before = core.project_signals(x, "image")
    core.save_pretrained(tmp_path)
    loaded = MultimodalCore.from_pretrained(tmp_path)
    with torch.no_grad():
        torch.testing.assert_close(loaded.project_signals(x, "image"), before, rtol=0, atol=0)


class _ScriptedHead(nn.Module):
    """Replaces lm_head: the real LM computes hidden states, the head dictates the tokens."""

    def __init__(self, vocab: int, script: list[int]) -> None:
        super().__init__()
        self.vocab, self.script, self.step = vocab, script, 0

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(*h.shape[:-1], self.vocab)
        logits[..., self.script[min(self.step, len(self.script) - 1)]] = 10.0
        self.step += 1
        return logits


def test_chatcore_turns_emitted_signal_tokens_into_a_decoder_call_by_reference():
    core = _core()
    tok = core.tokenizer
    img0, img1 = core.signal_token_ids["image"]
    word = tok("cat", add_special_tokens=False)["input_ids"]
    # "cat", then [IMG0] (the head never asks for [IMG1]: it is forced), then end.
    core.language_model.lm_head = _ScriptedHead(len(tok), [*word, img0, tok.eos_token_id, tok.eos_token_id])
    chat = ChatCore(core=core, max_new_tokens=10)
    msg = chat.invoke("Draw a cat.")
    assert msg.content == "cat"
    assert msg.response_metadata["finish_reason"] == "tool_calls"
    [call] = msg.tool_calls
    assert call["name"] == "generate_image" and call["args"]["prompt"] == "cat"
    signal = call["args"]["signal"]
    assert signal["kind"] == "signal_embeddings" and signal["shape"] == [5, 8]
    embeds = chat.signal_embeddings(signal["ref"])
    # Reference: one full forward over prompt + answer, hidden states at the two signal tokens.
    prompt, _ = chat._render([HumanMessage("Draw a cat.")], None, None)
    ids = tok(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]
    ids = torch.cat([ids, torch.tensor([[*word, img0, img1]])], 1)
    with torch.no_grad():
        prep = core.prepare_inputs(ids)
        hidden = core.language_model.model(inputs_embeds=prep["inputs_embeds"]).last_hidden_state
        ref = core.project_signals(core.signal_hidden_states(hidden, ids, "image"), "image")
    torch.testing.assert_close(embeds, ref, rtol=1e-4, atol=1e-5)
    with pytest.raises(CoreError, match="no signal embeddings"):
        chat.signal_embeddings("sig_unknown")


def _plain_core() -> MultimodalCore:
    tok = make_tokenizer()
    torch.manual_seed(0)
    cfg = MultimodalCoreConfig(vision={"name": "hf", "config": TINY_CLIP}, connector="linear",
                               language_model_config={**TINY_LLAMA, "vocab_size": len(tok)})
    return MultimodalCore(cfg, tokenizer=tok)


def test_a_trained_core_gains_signal_tokens_that_save_and_load(tmp_path):
    from genaisys.core.output_projector import OutputProjectorConfig

    core = _plain_core()
    core.add_lora(r=2, alpha=4)
    core.save_pretrained(tmp_path / "before")  # saved with the image token's row only
    grown = MultimodalCore.from_pretrained(tmp_path / "before")
    rows = grown.language_model.get_input_embeddings().weight.shape[0]
    grown.add_signal_tokens("image", 2, OutputProjectorConfig(out_tokens=1, out_dim=8, n_layers=1, n_heads=2))
    ids = grown.signal_token_ids["image"]
    assert [grown.tokenizer.convert_ids_to_tokens(i) for i in ids] == ["[IMG0]", "[IMG1]"]
    weight = grown.language_model.get_input_embeddings().weight
    assert weight.shape[0] == rows + 2
    torch.testing.assert_close(weight[ids[0]], weight[:grown.n_base_rows].mean(0))  # the mean of the base rows
    with torch.no_grad():  # the fresh projector starts near zero, so the L2 term starts at |target|²
        assert grown.project_signals(torch.randn(1, 2, 32), "image").abs().max() < 0.1
    with pytest.raises(CoreError, match="already has image signal tokens"):
        grown.add_signal_tokens("image", 2, OutputProjectorConfig(out_tokens=1, out_dim=8))
    x = torch.randn(1, 2, 32)
    with torch.no_grad():
        before = grown.project_signals(x, "image")
    grown.save_pretrained(tmp_path / "after")
    loaded = MultimodalCore.from_pretrained(tmp_path / "after")
    assert loaded.signal_token_ids == grown.signal_token_ids
    with torch.no_grad():
        torch.testing.assert_close(loaded.project_signals(x, "image"), before)
    torch.testing.assert_close(loaded.language_model.get_input_embeddings().weight, weight)


def test_a_signal_call_renders_as_the_signal_tokens_it_came_from():
    from langchain_core.messages import AIMessage

    chat = ChatCore(core=_core())
    signal = {"kind": "signal_embeddings", "ref": "sig_1", "modality": "image", "shape": [5, 8]}
    drew = AIMessage("a red circle", tool_calls=[{"name": "generate_image", "id": "c1", "type": "tool_call",
                                                   "args": {"prompt": "a red circle", "signal": signal}}])
    tools = [{"type": "function", "function": {"name": "generate_image", "description": "draw",
                                               "parameters": {"type": "object", "properties": {}}}}]
    text, _ = chat.render_prompt([HumanMessage("Draw a red circle."), drew], tools=tools, add_generation_prompt=False)
    assert "a red circle[IMG0][IMG1]" in text and '"signal"' not in text
    written = AIMessage("", tool_calls=[{"name": "generate_image", "id": "c2", "type": "tool_call",
                                         "args": {"prompt": "a red circle"}}])
    text, _ = chat.render_prompt([HumanMessage("Draw a red circle."), written], tools=tools,
                                 add_generation_prompt=False)
    assert "[IMG0]" not in text and '"prompt": "a red circle"' in text  # a written call stays a written call
    plain = ChatCore(core=_plain_core())  # a core without the tokens renders the call as JSON
    text, _ = plain.render_prompt([HumanMessage("Draw."), drew], tools=tools, add_generation_prompt=False)
    assert "[IMG0]" not in text and "sig_1" in text


def test_forward_projects_only_the_rows_that_hold_signal_tokens():
    core = _core()
    tok = core.tokenizer
    with_signal = tok("a red cat [IMG0][IMG1]", add_special_tokens=False)["input_ids"]
    without = tok("hello there friend", add_special_tokens=False)["input_ids"]
    n = max(len(with_signal), len(without))
    ids = torch.tensor([row + [tok.pad_token_id] * (n - len(row)) for row in (without, with_signal)])
    mask = (torch.arange(n)[None] < torch.tensor([[len(without)], [len(with_signal)]])).long()
    scores = core(ids, attention_mask=mask, labels=ids.masked_fill(mask == 0, -100), score_labels=True,
                  signal_modality="image")
    assert scores.signal_rows.tolist() == [False, True] and scores.signals.shape == (1, 5, 8)
    alone = core(ids[:1], attention_mask=mask[:1], labels=ids[:1], score_labels=True, signal_modality="image")
    assert alone.signals is None and alone.signal_rows.tolist() == [False]
