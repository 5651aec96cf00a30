"""Self-Instruct with a scripted teacher: filters, near-duplicate removal, records that validate."""

from __future__ import annotations

import logging

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from genaisys.errors import ConfigError
from genaisys.train.data import to_messages, validate_record
from genaisys.train.engine.self_instruct import InstructionFilters, rouge_l, self_instruct

SEEDS = ["Give three tips for staying healthy.", "Translate 'good night' into Spanish.",
         {"instruction": "Summarize the plot of Hamlet in two sentences."}]


def test_filters_and_dedup_keep_only_new_sound_tasks():
    teacher = FakeListChatModel(responses=[
        # round 1: proposals
        "4. Give three tips for staying very healthy.\n"            # near-duplicate of a seed
        "5. Explain why leaves change colour in autumn.\n"          # kept
        "6. Draw a picture of a cat.\n"                             # banned keyword
        "7. Hi.\n"                                                   # too short
        "8. As an AI, describe your feelings about music.\n"        # refusal phrase
        "9. Write a short poem about the ocean at night.",          # kept
        "In autumn, trees stop making chlorophyll, so the green fades and yellow and red pigments show.",
        "I'm sorry, but I cannot write poems.",                      # the answer is a refusal: dropped
        # round 2
        "4. Explain why leaves change colour in the autumn.\n"      # near-duplicate of an accepted one
        "5. List four uses of baking soda in the kitchen.",
        "Leavening cakes, cleaning pans, deodorising the fridge and softening beans.",
    ])
    recs = self_instruct(teacher, SEEDS, n=2, seed=0, progress=False)
    assert [r["conversations"][0]["value"] for r in recs] == [
        "Explain why leaves change colour in autumn.", "List four uses of baking soda in the kitchen."]
    assert recs[1]["conversations"][1]["value"].startswith("Leavening")
    assert len({r["id"] for r in recs}) == 2 and recs[0]["meta"]["source"] == "self-instruct"
    for r in recs:
        validate_record(r)
        to_messages(r)
    for a in recs:  # nothing left is a near-copy of a seed or of another record
        assert all(rouge_l(a["conversations"][0]["value"], s if isinstance(s, str) else s["instruction"]) < 0.7
                   for s in SEEDS)


def test_gives_up_after_max_rounds_with_what_it_has(caplog):
    teacher = FakeListChatModel(responses=["4. Give three tips for staying healthy."])  # always the seed
    with caplog.at_level(logging.WARNING):
        recs = self_instruct(teacher, SEEDS, n=3, max_rounds=4, progress=False)
    assert recs == [] and "made 0 of 3" in caplog.text


def test_progress_bar_system_prompt_and_settings(capsys):
    teacher = FakeListChatModel(responses=["Name two rivers in Africa.", "The Nile and the Congo."])
    recs = self_instruct(teacher, SEEDS[:1], n=1, system="Answer briefly.", filters={"rouge_threshold": 0.5})
    assert [t["from"] for t in recs[0]["conversations"]] == ["system", "human", "gpt"]
    assert "self-instruct" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="at least one seed"):
        self_instruct(teacher, [], n=1)
    with pytest.raises(ValueError):
        InstructionFilters(rouge_threshold=0)


def test_rouge_l():
    assert rouge_l("a b c d", "a b c d") == 1.0
    assert rouge_l("x y", "a b") == 0.0
    assert rouge_l("the cat sat", "the cat sat down") == pytest.approx(2 * 1 * 0.75 / 1.75)
