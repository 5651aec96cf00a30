"""NativeCore: Hugging Face MLLMs (tiny random LLaVA, LLaVA-NeXT, Idefics3) behind ChatCore's face."""

from __future__ import annotations

import base64
import io

import pytest
import torch
from langchain_core.messages import HumanMessage
from PIL import Image

from genaisys.core.chat import ChatCore
from genaisys.core.loading import load_core
from genaisys.core.native import NativeCore, is_native_mllm
from genaisys.errors import ConfigError, CoreError

from .conftest import CHATML, make_lm, make_tokenizer

# A LLaVA-style processor template: content arrives as typed parts.
PARTS_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}{{ '<image>' }}{% else %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}"
    "{{ '<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@pytest.fixture(scope="module")
def llava_dir(tmp_path_factory):
    from tokenizers import AddedToken
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    tok = make_tokenizer()
    tok.add_tokens([AddedToken("<image>", special=True, normalized=False)])
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
        tokenizer=tok, patch_size=8, vision_feature_select_strategy="default", num_additional_image_tokens=1,
        chat_template=PARTS_TEMPLATE)
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                       intermediate_size=37, image_size=32, patch_size=8).to_dict(),
        text_config=LlamaConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                num_key_value_heads=2, intermediate_size=37).to_dict(),
        image_token_id=tok.convert_tokens_to_ids("<image>"), vision_feature_select_strategy="default",
        vision_feature_layer=-2)
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("llava")
    LlavaForConditionalGeneration(config).save_pretrained(out)
    processor.save_pretrained(out)
    return out


def _image_block(size=(40, 30), color="purple"):
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return {"type": "image", "base64": base64.b64encode(buf.getvalue()).decode(), "mime_type": "image/png"}


def _assert_greedy_parity(chat, msg, out, inputs):
    """``out`` (ChatCore's 5-token greedy answer) is the model's own greedy ``generate`` on the same
    processed inputs; streaming gives the same text; a text-only turn works too."""
    core = chat.core
    ref = core.generate(**inputs, max_new_tokens=5, do_sample=False, pad_token_id=core.tokenizer.pad_token_id)
    new = ref[0, inputs["input_ids"].shape[1]:].tolist()
    eos = core.tokenizer.eos_token_id
    new = new[: new.index(eos)] if eos in new else new
    assert out.content == core.tokenizer.decode(new, skip_special_tokens=True)
    assert "".join(c.content for c in chat.stream([msg])) == out.content
    assert isinstance(chat.invoke("text only").content, str)


def _image_msg(text="What is it?", n=1):
    return HumanMessage(content=[*([_image_block()] * n), {"type": "text", "text": text}])


def test_load_core_routes_a_native_mllm_folder(llava_dir, tmp_path):
    assert is_native_mllm(str(llava_dir))
    tok = make_tokenizer()
    make_lm(len(tok)).save_pretrained(tmp_path / "lm")
    assert not is_native_mllm(str(tmp_path / "lm")) and not is_native_mllm(str(tmp_path / "nothing"))
    chat = load_core(str(llava_dir), max_new_tokens=3)
    assert isinstance(chat.core, NativeCore) and chat.core.image_token == "<image>"


def test_native_chat_matches_the_models_own_greedy_generate(llava_dir):
    core = NativeCore.from_pretrained(llava_dir)
    chat = ChatCore(core=core, max_new_tokens=5)
    msg = _image_msg(n=2)
    out = chat.invoke([msg])
    prompt, images = chat._render([msg], None, None)
    assert prompt.count("<image>") == 2 and prompt.startswith("<|im_start|>user\n<image><image>What is it?")
    inputs = core.prepare_inputs([prompt], images)
    assert out.usage_metadata["input_tokens"] == inputs["input_ids"].shape[1]  # 2 × 16 image tokens inside
    assert int((inputs["input_ids"] == core.image_token_id).sum()) == 32
    ref = core.generate(**inputs, max_new_tokens=5, do_sample=False, pad_token_id=core.tokenizer.pad_token_id)
    new = ref[0, inputs["input_ids"].shape[1]:].tolist()
    eos = core.tokenizer.eos_token_id
    new = new[: new.index(eos)] if eos in new else new
    assert out.content == core.tokenizer.decode(new, skip_special_tokens=True)
    assert "".join(c.content for c in chat.stream([msg])) == out.content
    assert isinstance(chat.invoke("text only").content, str)


def test_native_vcd_runs_both_passes_in_one_batch(llava_dir):
    chat = ChatCore(core=NativeCore.from_pretrained(llava_dir), max_new_tokens=3, seed=1)
    out = chat.invoke([_image_msg()], vcd=True)
    assert out.response_metadata["vcd"] is True and isinstance(out.content, str)


def test_native_core_with_a_string_template_tokenizer(llava_dir):
    core = NativeCore.from_pretrained(llava_dir)
    core.processor.chat_template = None
    core.tokenizer.chat_template = CHATML
    prompt = core.render([{"role": "user", "content": "<image>hi"}])
    assert prompt == "<|im_start|>user\n<image>hi<|im_end|>\n<|im_start|>assistant\n"


def test_an_image_token_the_tokenizer_or_model_does_not_know_is_refused_clearly(llava_dir):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = AutoModelForImageTextToText.from_pretrained(llava_dir)
    processor = AutoProcessor.from_pretrained(llava_dir)
    processor.tokenizer = make_tokenizer()  # no <image> token at all
    with pytest.raises(ConfigError, match="no '<image>' token"):
        NativeCore(model, processor)
    processor = AutoProcessor.from_pretrained(llava_dir)
    model.config.image_token_id = 5  # a model that splices images elsewhere
    with pytest.raises(ConfigError, match="splices images at id 5"):
        NativeCore(model, processor)


# ---------------------------------------------------------------- a second family: LLaVA-NeXT (anyres tiling)
# Its processor expands each image by its own size (a base view + grid tiles) and hands the model
# 5-D pixel values plus ``image_sizes``; the native path must carry both through unchanged.
# (Qwen2-VL's processor wants a video processor, which needs torchvision: not installed here.)
TOOLS_TEMPLATE = PARTS_TEMPLATE.replace(
    "{% for message in messages %}",
    "{% if tools %}{{ '<|im_start|>system\\nTools: ' + (tools | tojson) + '<|im_end|>\\n' }}{% endif %}"
    "{% for message in messages %}", 1)
GRID = [[32, 64], [64, 32], [64, 64]]


@pytest.fixture(scope="module")
def llava_next_dir(tmp_path_factory):
    from tokenizers import AddedToken
    from transformers import (CLIPVisionConfig, LlamaConfig, LlavaNextConfig, LlavaNextForConditionalGeneration,
                              LlavaNextProcessor)
    from transformers.models.llava_next.image_processing_pil_llava_next import LlavaNextImageProcessorPil

    tok = make_tokenizer()
    tok.add_tokens([AddedToken("<image>", special=True, normalized=False)])
    processor = LlavaNextProcessor(
        image_processor=LlavaNextImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32},
                                                   image_grid_pinpoints=GRID),
        tokenizer=tok, patch_size=8, vision_feature_select_strategy="default", num_additional_image_tokens=1,
        chat_template=TOOLS_TEMPLATE)
    config = LlavaNextConfig(
        vision_config=CLIPVisionConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                       intermediate_size=37, image_size=32, patch_size=8).to_dict(),
        text_config=LlamaConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                num_key_value_heads=2, intermediate_size=37).to_dict(),
        image_token_index=tok.convert_tokens_to_ids("<image>"), vision_feature_select_strategy="default",
        vision_feature_layer=-2, image_grid_pinpoints=GRID)
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("llava_next")
    LlavaNextForConditionalGeneration(config).save_pretrained(out)
    processor.save_pretrained(out)
    return out


def test_llava_next_folder_loads_natively_and_matches_its_own_greedy_generate(llava_next_dir):
    chat = load_core(str(llava_next_dir), max_new_tokens=5)
    core = chat.core
    assert isinstance(core, NativeCore) and type(core.model).__name__ == "LlavaNextForConditionalGeneration"
    assert type(core.processor.image_processor).__name__ == "LlavaNextImageProcessorPil"
    assert core.image_token_id == core.processor.image_token_id == core.model.config.image_token_id
    # Two images of different shapes: a wide one and a tall one, tiled differently.
    msg = HumanMessage(content=[_image_block((40, 30)), _image_block((30, 70), "teal"),
                                {"type": "text", "text": "What is it?"}])
    out = chat.invoke([msg])
    prompt, images = chat._render([msg], None, None)
    assert prompt.startswith("<|im_start|>user\n<image><image>What is it?") and len(images) == 2
    inputs = core.prepare_inputs([prompt], images)
    assert inputs["pixel_values"].shape[:3] == (2, 3, 3) and inputs["pixel_values"].shape[-2:] == (32, 32)
    assert inputs["image_sizes"].tolist() == [[30, 40], [70, 30]]  # (height, width) per image
    n_image = int((inputs["input_ids"] == core.image_token_id).sum())
    assert n_image > 2 * 16  # anyres: more than one 16-token view per image
    assert out.usage_metadata["input_tokens"] == inputs["input_ids"].shape[1]
    _assert_greedy_parity(chat, msg, out, inputs)
    vcd = chat.invoke([msg], vcd=True, max_new_tokens=2)  # 5-D pixel values noised as a second row
    assert vcd.response_metadata["vcd"] is True


def test_llava_next_bind_tools_renders_tools_natively_and_forces_a_call(llava_next_dir):
    from langchain_core.tools import tool

    @tool
    def lookup(q: str) -> str:
        """Look q up."""
        return q

    chat = ChatCore(core=NativeCore.from_pretrained(llava_next_dir), max_new_tokens=4)
    assert chat._template_supports_tools()  # the processor's template takes `tools`
    free = chat.bind_tools([lookup]).invoke([_image_msg()])
    assert isinstance(free.content, str) and free.usage_metadata["output_tokens"] <= 4
    prompt, _ = chat.render_prompt([_image_msg()], tools=[lookup])
    assert prompt.startswith('<|im_start|>system\nTools: [{"type": "function", "function": {"name": "lookup"')
    pytest.importorskip("outlines_core")
    forced = chat.bind_tools([lookup], tool_choice="lookup").invoke([_image_msg()], constrain_tool_calls=True,
                                                                    max_new_tokens=48)
    assert [c["name"] for c in forced.tool_calls] == ["lookup"] and isinstance(forced.tool_calls[0]["args"]["q"], str)


# ---------------------------------------------------------------- a third family: Idefics3 (SmolVLM's architecture)
# Its processor splits each image into row/column tiles plus a global view, wraps each in
# <fake_token_around_image> and tags, and packs all of a prompt's tiles into one 5-D row with a
# pixel_attention_mask.


@pytest.fixture(scope="module")
def idefics3_dir(tmp_path_factory):
    from tokenizers import AddedToken
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration, Idefics3Processor, LlamaConfig
    from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil

    tok = make_tokenizer()
    tags = ["<fake_token_around_image>", "<image>", "<end_of_utterance>", "<global-img>",
            *(f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7))]
    tok.add_tokens([AddedToken(t, special=True, normalized=False) for t in tags])
    # Tiles of 32 px; a 32-px view is (32/8)^2 = 16 patches, pixel-shuffled by 2 → 4 image tokens.
    processor = Idefics3Processor(
        image_processor=Idefics3ImageProcessorPil(size={"longest_edge": 64}, max_image_size={"longest_edge": 32}),
        tokenizer=tok, image_seq_len=4, chat_template=PARTS_TEMPLATE)
    config = Idefics3Config(
        vision_config={"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 37,
                       "image_size": 32, "patch_size": 8},
        text_config=LlamaConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                num_key_value_heads=2, intermediate_size=37, pad_token_id=tok.pad_token_id).to_dict(),
        image_token_id=tok.convert_tokens_to_ids("<image>"), scale_factor=2, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("idefics3")
    Idefics3ForConditionalGeneration(config).save_pretrained(out)
    processor.save_pretrained(out)
    return out


def test_idefics3_folder_loads_natively_and_matches_its_own_greedy_generate(idefics3_dir):
    from langchain_core.tools import tool

    chat = load_core(str(idefics3_dir), max_new_tokens=5)
    core = chat.core
    assert isinstance(core, NativeCore) and type(core.model).__name__ == "Idefics3ForConditionalGeneration"
    assert type(core.processor.image_processor).__name__ == "Idefics3ImageProcessorPil"
    msg = HumanMessage(content=[_image_block((40, 30)), _image_block((30, 70), "teal"),
                                {"type": "text", "text": "What is it?"}])
    out = chat.invoke([msg])
    prompt, images = chat._render([msg], None, None)
    inputs = core.prepare_inputs([prompt], images)
    assert inputs["pixel_values"].shape[0] == 1 and inputs["pixel_values"].shape[2:] == (3, 32, 32)
    assert inputs["pixel_attention_mask"].shape[:2] == inputs["pixel_values"].shape[:2]
    tiles = inputs["pixel_values"].shape[1]  # grid tiles + one global view per image
    assert int((inputs["input_ids"] == core.image_token_id).sum()) == 4 * tiles
    assert "<global-img>" in core.tokenizer.decode(inputs["input_ids"][0])
    assert out.usage_metadata["input_tokens"] == inputs["input_ids"].shape[1]
    _assert_greedy_parity(chat, msg, out, inputs)

    @tool
    def lookup(q: str) -> str:
        """Look q up."""
        return q

    # This template knows no tools: genaisys writes its own tool section into the prompt.
    prompt, _ = chat.render_prompt([msg], tools=[lookup])
    assert "- lookup(q: string)" in prompt
    assert isinstance(chat.bind_tools([lookup]).invoke([msg], max_new_tokens=3).content, str)
    with pytest.raises(CoreError, match="VCD needs one pixel tensor per image"):
        chat.invoke([msg], vcd=True)  # all tiles of a prompt share one row: VCD cannot noise per image


def test_a_native_mllm_decodes_in_its_own_dtype(llava_dir, monkeypatch):
    # its processor's pixels and vision tower sit outside a cast copy of the LM: no bf16 copy is made
    monkeypatch.setattr("genaisys.core.precision.AUTO_BF16", True)
    monkeypatch.setattr("genaisys.core.precision.native_bf16", lambda: True)
    core = NativeCore.from_pretrained(llava_dir)
    chat = ChatCore(core=core, max_new_tokens=2)
    assert chat.decode_dtype == torch.float32 and chat.engine.decoder() is core.language_model
    with pytest.raises(ConfigError, match="cannot be applied to a native MLLM"):
        ChatCore(core=core, dtype="bf16")
