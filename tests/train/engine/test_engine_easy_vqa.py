"""easy-VQA generators: prompts built like the evaluation's, balanced POPE, train split only."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from genaisys.datasets.easy_vqa import QUESTION_SUFFIX
from genaisys.errors import ConfigError
from genaisys.eval.tasks import easy_vqa as eval_evqa
from genaisys.eval.tasks.pope import PopeTask
from genaisys.train.data import to_messages, to_preference, validate_record
from genaisys.train.engine.easy_vqa import captions, pope_pairs, pope_probes, qa

pytestmark = pytest.mark.packaged  # the packaged easy-VQA data


def test_qa_human_turn_is_the_eval_prompt():
    recs = qa("train", n=50, seed=1)
    rows = eval_evqa.load_questions("train")
    for rec in recs:
        i = int(rec["id"].rsplit("-", 1)[1])
        q, a, img = rows[i]
        assert rec["conversations"][0]["value"] == "<image>\n" + q[0].upper() + q[1:] + QUESTION_SUFFIX
        assert rec["conversations"][1]["value"] == a and " " not in a
        assert rec["images"] == [str(eval_evqa.image_path(img, "train"))]
    # what the eval sends for the same question: image then the same text
    item = eval_evqa.EasyVQATask("test").load(limit=1)[0]
    msgs, _ = to_messages({"id": "t", "images": list(item.images), "conversations": [
        {"from": "human", "value": "<image>\n" + item.prompt}, {"from": "gpt", "value": "x"}]}, inline_images=True)
    assert msgs[0].content == eval_evqa.EasyVQATask().build_messages(item)[0].content


def test_captions_name_the_true_colour_and_shape():
    attrs = eval_evqa.image_attributes("train")
    recs = captions("train", n=40, seed=0)
    assert len({r["conversations"][0]["value"] for r in recs}) > 3  # varied requests
    for rec in recs:
        colour, shape = attrs[rec["meta"]["image_id"]]
        assert rec["conversations"][1]["value"] == f"A {colour} {shape}."
        assert Path(rec["images"][0]).is_file()
        validate_record(rec)


def test_pope_probes_are_balanced_true_and_formatted_like_the_eval():
    attrs = eval_evqa.image_attributes("train")
    recs = pope_probes("train", n=300, seed=0)
    assert Counter(r["conversations"][1]["value"] for r in recs) == {"Yes": 150, "No": 150}
    assert set(Counter(r["meta"]["setting"] for r in recs)) == {"random", "popular", "adversarial"}
    eval_prompt = PopeTask(split="train").load(limit=1)[0].prompt
    assert eval_prompt.startswith("Is there a ") and eval_prompt.endswith(" in the image? Answer yes or no.")
    for rec in recs:
        text = rec["conversations"][0]["value"]
        assert text.startswith("<image>\nIs there a ") and text.endswith(" in the image? Answer yes or no.")
        obj = text.removeprefix("<image>\nIs there a ").split(" in the image")[0]
        img = int(Path(rec["images"][0]).stem)
        truth = "Yes" if obj == " ".join(attrs[img]) else "No"
        assert rec["conversations"][1]["value"] == truth
    assert len({r["id"] for r in recs}) == len(recs)


def test_pope_pairs_prefer_the_right_answer():
    for rec in pope_pairs("train", n=20, seed=2):
        prompt, chosen, rejected, _ = to_preference(rec)
        probe = rec["conversations"][0]["value"]
        img = int(Path(rec["images"][0]).stem)
        present = " ".join(eval_evqa.image_attributes("train")[img])
        assert chosen.content == ("Yes" if f"a {present} in" in probe else "No")
        assert {chosen.content, rejected.content} == {"Yes", "No"} and len(prompt) == 1


def test_test_split_is_refused_unless_asked():
    with pytest.raises(ConfigError, match="evaluation scores"):
        qa("test", n=1)
    with pytest.raises(ConfigError, match="setting"):
        pope_probes(n=2, setting="weird")
    with pytest.raises(ConfigError, match="positive"):
        captions(n=0)
    assert qa("test", n=1, allow_test=True)[0]["meta"]["split"] == "test"


def test_same_seed_same_records():
    assert qa(n=5, seed=3) == qa(n=5, seed=3) and qa(n=5, seed=3) != qa(n=5, seed=4)
    assert pope_probes(n=6, seed=3) == pope_probes(n=6, seed=3)


def test_generated_records_render_with_a_tiny_core(chat):
    for rec in (captions(n=1)[0], qa(n=1)[0], pope_probes(n=1)[0]):
        msgs, _ = to_messages(rec)
        prompt, images = chat.render_prompt(msgs)
        assert len(images) == 1 and prompt.count(chat.core.image_token) == 1
