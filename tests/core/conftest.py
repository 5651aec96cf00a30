"""Tiny offline parts for core tests: a byte-level BPE tokenizer with a ChatML template, a tiny
Llama, a tiny CLIP vision tower, and a scripted LM whose output the test dictates."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
import torch
from langchain_core.tools import tool
from pydantic import BaseModel, Field
from torch import nn

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
CHATML_TOOLS = (
    "{% if tools %}{{ '<|im_start|>system\nTOOLS:' }}{% for t in tools %}{{ t['function']['name'] + ';' }}{% endfor %}"
    "{{ '<|im_end|>\n' }}{% endif %}" + CHATML
)

_SENTENCES = [
    "What is in the picture? A cat sits on a red mat.",
    "The weather in Paris is sunny today, 21 degrees.",
    '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>',
    "You are a helpful assistant. Answer the question about the image.",
    "One two three four five six seven eight nine ten.",
] * 4


def make_tokenizer(template: str = CHATML):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(_SENTENCES, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    fast.chat_template = template
    return fast


def make_lm(vocab_size: int, *, tie: bool = False):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, intermediate_size=37, max_position_embeddings=256,
                      tie_word_embeddings=tie)
    return LlamaForCausalLM(cfg).eval()


TINY_CLIP = {"model_type": "clip_vision_model", "hidden_size": 32, "num_hidden_layers": 2,
             "num_attention_heads": 4, "intermediate_size": 37, "image_size": 32, "patch_size": 8}
TINY_LLAMA = {"model_type": "llama", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
              "num_key_value_heads": 2, "intermediate_size": 37, "max_position_embeddings": 256,
              "tie_word_embeddings": False}


@pytest.fixture(scope="session")
def tokenizer_factory():
    return make_tokenizer


@pytest.fixture
def tiny_core():
    """A MultimodalCore of tiny random parts: CLIP (16 tokens of 32-d) → mlp2x_gelu → Llama (32-d)."""
    from genaisys.core.multimodal import MultimodalCore, MultimodalCoreConfig

    tok = make_tokenizer()
    torch.manual_seed(0)
    cfg = MultimodalCoreConfig(vision={"name": "hf", "config": TINY_CLIP}, connector="mlp2x_gelu",
                               language_model_config={**TINY_LLAMA, "vocab_size": len(tok)})
    return MultimodalCore(cfg, tokenizer=tok)


class ScriptedLM(nn.Module):
    """A causal-LM stand-in that emits a fixed token script, one token per step, via its cache."""

    def __init__(self, vocab_size: int, script: list[int]) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, 8)
        self.vocab_size, self.script = vocab_size, script
        self.calls: list[int] = []  # sequence length seen by each forward call
        self.delay = 0.0  # seconds per call, to make a slow model
        self.batch_sizes: list[int] = []

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed

    def get_output_embeddings(self) -> None:
        return None

    def forward(self, input_ids=None, inputs_embeds=None, attention_mask=None, position_ids=None,
                use_cache=None, cache=None):
        step = 0 if cache is None else cache
        if self.delay:
            time.sleep(self.delay)
        batch, length = (inputs_embeds if inputs_embeds is not None else input_ids).shape[:2]
        self.calls.append(length)
        self.batch_sizes.append(batch)
        logits = torch.zeros(batch, length, self.vocab_size)
        logits[:, -1, self.script[min(step, len(self.script) - 1)]] = 10.0
        return SimpleNamespace(logits=logits, cache=step + 1)


@pytest.fixture
def scripted_chat():
    """`scripted_chat(text, **chat_kwargs)` → a ChatCore whose model answers exactly ``text``."""
    from genaisys.core.chat import ChatCore

    def make(text: str, template: str = CHATML, **kwargs):
        tok = make_tokenizer(template)
        script = tok(text, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        lm = ScriptedLM(len(tok), script)
        return ChatCore(language_model=lm, tokenizer=tok, **kwargs)

    return make


# Tools in every form bind_tools accepts, shared by the ChatCore tests.
class GetWeather(BaseModel):
    """Get the weather for a city."""

    city: str = Field(description="city name")


def calc(expression: str) -> str:
    """Evaluate an arithmetic expression."""
    return expression


@tool
def get_time(zone: str) -> str:
    """Current time in a time zone."""
    return "12:00"


SCHEMA = {"title": "lookup", "description": "Look a word up.", "type": "object",
          "properties": {"word": {"type": "string"}}, "required": ["word"]}
