"""load_core: folders of saved cores, plain causal LMs, clear errors."""

from __future__ import annotations

import pytest
import torch

from genaisys.core.chat import ChatCore
from genaisys.core.loading import load_core, nano_config
from genaisys.errors import ConfigError

from .conftest import make_lm, make_tokenizer


def test_a_saved_core_folder_loads_as_a_multimodal_chat(tiny_core, tmp_path):
    tiny_core.save_pretrained(tmp_path / "core")
    chat = load_core(str(tmp_path / "core"), max_new_tokens=3)
    assert isinstance(chat, ChatCore) and chat.core is not None
    assert chat.model_name == "core" and chat.max_new_tokens == 3
    ids = tiny_core.tokenizer("a<image>", return_tensors="pt", add_special_tokens=False)["input_ids"]
    pixels = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(chat.core(input_ids=ids, pixel_values=pixels).logits,
                                   tiny_core(input_ids=ids, pixel_values=pixels).logits, rtol=0, atol=0)


def test_a_plain_causal_lm_folder_loads_as_a_text_chat(tmp_path):
    tok = make_tokenizer()
    make_lm(len(tok)).save_pretrained(tmp_path / "lm")
    tok.save_pretrained(tmp_path / "lm")
    chat = load_core(str(tmp_path / "lm"), max_new_tokens=2)
    assert chat.core is None
    assert isinstance(chat.invoke("One").content, str)


def test_unknown_specs_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="not 'nano'"):
        load_core(str(tmp_path / "missing"))


def test_nano_architecture():
    cfg = nano_config()
    assert (cfg.vision.name, cfg.connector, cfg.language_model) == ("efficientnet-lite0", "mlp2x_gelu", "asset:smollm2")


def test_a_hub_id_while_the_hub_is_offline_says_so_without_touching_the_network(monkeypatch):
    import socket

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    attempts = []

    def no_network(self, address):
        attempts.append(address)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    with pytest.raises(ConfigError) as info:
        load_core("genaisys-tests/no-such-model-anywhere")
    message = str(info.value)
    assert "offline here (HF_HUB_OFFLINE=1)" in message
    assert "Hub ids work only where a hub is reachable" in message
    assert "load_core('nano')" in message and "local folder" in message
    assert "huggingface.co" not in message  # the loader's own text is the cause, not the message
    assert isinstance(info.value.__cause__, OSError)  # transformers' own error, kept as the cause
    assert attempts == []
