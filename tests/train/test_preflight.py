"""The preflight check fails loudly, before any step, on the classic silent training failures."""

from __future__ import annotations

import pytest
import torch
from langchain_core.messages import AIMessage, HumanMessage

from genaisys.errors import PreflightError
from genaisys.train.encoding import Encoded
from genaisys.train.preflight import make_preflight
from genaisys.train.stages import ConversationStage


def _rows(images):
    return [([HumanMessage([b, {"type": "text", "text": "Colour?"}]), AIMessage(c)], None)
            for b, c in zip(images, ["red", "green"])]


def test_a_good_batch_passes_and_reports(chat, images):
    stage = ConversationStage(chat, train=("connector",))
    report = make_preflight(stage, chat)(stage.collate(_rows(images)))
    assert report["rows"] == 2 and report["images"] == 2 and report["labelled_tokens"] >= 4 and report["loss"] > 0


def test_a_template_whose_end_of_turn_is_not_a_token_is_caught(chat, images):
    # A Llama-2-style template: its "</s>" is plain text for this ChatML tokenizer, so the answer's
    # labels never hold the tokenizer's end-of-turn token and the core would never learn to stop.
    chat.tokenizer.chat_template = (
        "{% for m in messages %}{% if m['role'] == 'assistant' %}{{ ' ' + m['content'] + ' </s>' }}"
        "{% else %}{{ '[INST] ' + m['content'] + ' [/INST]' }}{% endif %}{% endfor %}")
    stage = ConversationStage(chat, train=("connector",))
    with pytest.raises(PreflightError, match="end-of-turn"):
        make_preflight(stage, chat)(stage.collate(_rows(images)))


def test_all_masked_labels_are_caught(chat, images):
    stage = ConversationStage(chat, train=("connector",), max_length=8)  # cuts every answer off
    with pytest.raises(PreflightError, match="every label masked"):
        make_preflight(stage, chat)(stage.collate(_rows(images)))


def test_placeholders_and_images_must_agree(chat, images):
    stage = ConversationStage(chat, train=("connector",))
    batch = stage.collate(_rows(images))
    batch["pixel_values"] = batch["pixel_values"][:1]
    with pytest.raises(PreflightError, match="2 image placeholder"):
        make_preflight(stage, chat)(batch)


def test_cached_features_of_another_tower_are_caught(chat, images):
    stage = ConversationStage(chat, train=("connector",))
    batch = stage.collate(_rows(images))
    del batch["pixel_values"]
    batch["vision_features"] = torch.zeros(2, 5, 7)
    with pytest.raises(PreflightError, match="rebuild the feature cache"):
        make_preflight(stage, chat)(batch)


def test_encoded_rows_pass_through(chat):
    enc = Encoded(input_ids=[1, 2, 3], labels=[-100, 2, 3])
    assert ConversationStage(chat).encode(enc) is enc
