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
