"""The conversation format: records ↔ messages, validation errors, files, HF datasets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from PIL import Image

from genaisys.errors import ConfigError
from genaisys.train.data import (
    from_messages,
    load_hf_dataset,
    load_records,
    to_messages,
    to_preference,
    validate_record,
    write_records,
)


@pytest.fixture
def png(tmp_path):
    path = tmp_path / "imgs" / "1.png"
    path.parent.mkdir()
    Image.new("RGB", (8, 8), "blue").save(path)
    return path


def _full(image: str = "imgs/1.png") -> dict:
    return {"id": "evqa-12", "image": image, "tools": ["builtin:calculator"], "conversations": [
        {"from": "system", "value": "Be brief."},
        {"from": "human", "value": "<image>\nWhat color is the shape?"},
        {"from": "gpt", "value": "blue"},
        {"from": "user", "value": "And 2 + 2?"},
        {"from": "assistant", "value": "", "tool_calls": [{"name": "calculator", "arguments": {"expression": "2+2"},
                                                          "id": "c1"}]},
        {"from": "tool", "name": "calculator", "tool_call_id": "c1", "value": "4"},
        {"from": "gpt", "value": "2 + 2 = 4."}]}


def test_record_to_messages_matches_what_the_core_takes(tmp_path, png):
    f = tmp_path / "d.jsonl"
    f.write_text(json.dumps(_full()) + "\n")
    rec = load_records(f)[0]
    assert rec["images"] == [str(png)]  # relative to the data file, made absolute
    msgs, tools = to_messages(rec)
    assert [type(m) for m in msgs] == [SystemMessage, HumanMessage, AIMessage, HumanMessage, AIMessage,
                                       ToolMessage, AIMessage]
    assert msgs[1].content == [{"type": "image", "url": str(png), "mime_type": "image/png"},
                               {"type": "text", "text": "What color is the shape?"}]
    assert msgs[4].content == "" and msgs[4].tool_calls[0]["name"] == "calculator"
    assert msgs[4].tool_calls[0]["args"] == {"expression": "2+2"} and msgs[4].tool_calls[0]["id"] == "c1"
    assert (msgs[5].tool_call_id, msgs[5].name, msgs[5].content) == ("c1", "calculator", "4")
    assert [t.name for t in tools] == ["calculator"]


def test_inline_images_are_the_evaluations_block(png):
    from genaisys.core.media import image_block

    msgs, _ = to_messages({"id": "a", "images": [str(png)], "conversations": [
        {"from": "human", "value": "Colour?"}, {"from": "gpt", "value": "blue"}]}, inline_images=True)
    assert msgs[0].content == [image_block(png), {"type": "text", "text": "Colour?"}]


def test_round_trip_record_messages_record(tmp_path, png):
    f = tmp_path / "d.json"
    f.write_text(json.dumps([_full()], indent=1))
    rec = load_records(f)[0]
    msgs, _ = to_messages(rec)
    back = from_messages(msgs, rec["tools"], id=rec["id"])
    assert back == rec
    msgs2, _ = to_messages(back)
    assert msgs2 == msgs


def test_round_trip_messages_record_messages_with_mid_text_image_and_base64(tmp_path, png):
    from genaisys.core.media import image_block

    msgs = [HumanMessage([{"type": "text", "text": "Compare "}, image_block(png), {"type": "text", "text": "with "},
                          {"type": "image", "url": f"file://{png}"}]), AIMessage("Same.")]
    rec = from_messages(msgs, id="x", image_dir=tmp_path / "store")
    assert rec["conversations"][0]["value"] == "Compare <image>\nwith <image>\n"
    assert len(rec["images"]) == 2 and rec["images"][1] == str(png)
    assert Path(rec["images"][0]).read_bytes() == png.read_bytes()  # base64 written once, by content hash
    again, _ = to_messages(rec)
    assert again[0].content[0] == {"type": "text", "text": "Compare "}
    assert [b["type"] for b in again[0].content] == ["text", "image", "text", "image"]
    assert from_messages(again, id="x") == rec


def test_inline_images_without_image_dir_is_a_clear_error(png):
    from genaisys.core.media import image_block

    with pytest.raises(ConfigError, match="image_dir"):
        from_messages([HumanMessage([image_block(png)]), AIMessage("ok")], id="x")


def test_images_without_marks_go_before_the_first_human_text(png):
    msgs, _ = to_messages({"id": "a", "images": [str(png), str(png)], "conversations": [
        {"from": "human", "value": "Two?"}, {"from": "gpt", "value": "yes"}, {"from": "human", "value": "Sure?"},
        {"from": "gpt", "value": "yes"}]})
    assert [b["type"] for b in msgs[0].content] == ["image", "image", "text"]
    assert msgs[2].content == "Sure?"


def test_image_count_mismatch_names_record_and_line(tmp_path):
    good = {"id": "ok", "conversations": [{"from": "gpt", "value": "hi"}]}
    bad = {"id": "bad-7", "images": ["a.png"], "conversations": [
        {"from": "human", "value": "<image> <image> two?"}, {"from": "gpt", "value": "no"}]}
    f = tmp_path / "d.jsonl"
    f.write_text(json.dumps(good) + "\n\n" + json.dumps(bad) + "\n")
    with pytest.raises(ConfigError, match=r"d\.jsonl:3: record 'bad-7'.*2 <image> mark\(s\).*1 image"):
        load_records(f)
    arr = tmp_path / "d.json"
    arr.write_text("[\n" + json.dumps(good) + ",\n\n" + json.dumps(bad) + "\n]")
    with pytest.raises(ConfigError, match=r"d\.json:4: record 'bad-7'"):
        load_records(arr)


@pytest.mark.parametrize(("record", "match"), [
    ({"id": "a", "conversations": [{"from": "human", "value": "hi"}]}, "no gpt turn"),
    ({"id": "a", "conversations": [{"from": "robot", "value": "hi"}]}, "unknown turn role"),
    ({"id": "a", "conversations": []}, "at least 1"),
    ({"id": "a", "conversations": [{"from": "human", "value": "x"}, {"from": "tool", "value": "4"},
                                   {"from": "gpt", "value": "4"}]}, "must follow a gpt turn with tool_calls"),
    ({"id": "a", "conversations": [
        {"from": "gpt", "value": "", "tool_calls": [{"name": "calculator", "arguments": {}, "id": "c1"}]},
        {"from": "tool", "tool_call_id": "c9", "value": "4"}]}, "matches no call"),
    ({"id": "a", "conversations": [{"from": "human", "value": "x"}, {"from": "gpt", "value": ""}]},
     "non-empty value or tool_calls"),
    ({"id": "a", "conversations": [{"from": "gpt", "value": "<image> hi"}]}, "only appear in human turns"),
    ({"id": "a", "conversations": [{"from": "human", "value": "x"}, {"from": "gpt", "value": "y"}],
      "chosen": "A", "rejected": "B"}, "must end on a human or tool turn"),
    ({"id": "a", "conversations": [{"from": "human", "value": "x"}], "chosen": "A", "rejected": "A"},
     "the same answer"),
    ({"id": "a", "tools": ["calculator"], "conversations": [{"from": "gpt", "value": "y"}]}, "kind:name"),
    ({"id": "a", "conversations": [{"from": "gpt", "value": "y"}], "colour": "red"}, "Extra inputs"),
    ({"id": "a", "conversations": [{"from": "human", "value": "x"}, {"from": "gpt", "value": "y"},
                                   {"from": "system", "value": "late"}]}, "system turn may only come first"),
])
def test_validation_errors(record, match):
    with pytest.raises(ConfigError, match=match):
        validate_record(record, where="f.jsonl:1")


def test_preference_and_decoder_records():
    pref = {"id": "p", "images": ["/x/1.png"], "conversations": [{"from": "human", "value": "<image>\nRed circle?"}],
            "chosen": "Yes", "rejected": {"value": "", "tool_calls": [{"name": "calculator",
                                                                         "arguments": '{"expression": "1"}'}]}}
    prompt, chosen, rejected, tools = to_preference(pref)
    assert len(prompt) == 1 and chosen.content == "Yes" and tools is None
    assert rejected.tool_calls[0]["args"] == {"expression": "1"}  # OpenAI-style JSON string arguments
    with pytest.raises(ConfigError, match="not a preference record"):
        to_preference({"id": "s", "conversations": [{"from": "gpt", "value": "x"}]})
    dec = validate_record({"id": "d", "conversations": [{"from": "human", "value": "Draw a cat."},
                                                        {"from": "gpt", "value": "[IMG0][IMG1]"}],
                           "target_caption": "a photo of a cat"})
    assert dec.target_caption == "a photo of a cat"


def test_openai_tool_dicts_pass_through_and_file_reader_gets_a_root(tmp_path):
    tool = {"type": "function", "function": {"name": "lookup", "description": "d", "parameters": {"type": "object"}}}
    _, tools = to_messages({"id": "a", "tools": [tool, "builtin:file_reader"],
                            "conversations": [{"from": "gpt", "value": "y"}]}, base_dir=tmp_path)
    assert tools[0] == tool and tools[1].name == "read_file"
    with pytest.raises(ConfigError, match="OpenAI tool dict"):
        validate_record({"id": "a", "tools": [{"type": "function"}], "conversations": [{"from": "gpt", "value": "y"}]})


def test_write_records_is_atomic_jsonl_and_validates(tmp_path):
    f = tmp_path / "out" / "r.jsonl"
    recs = [{"id": str(i), "conversations": [{"from": "human", "value": f"q{i}"}, {"from": "gpt", "value": "a"}]}
            for i in range(3)]
    write_records(f, recs)
    assert [r["id"] for r in load_records(f)] == ["0", "1", "2"]
    assert len(f.read_text().splitlines()) == 3
    with pytest.raises(ConfigError, match="record #1"):
        write_records(f, [recs[0], {"id": "x", "conversations": []}])
    assert [r["id"] for r in load_records(f)] == ["0", "1", "2"]  # the old file survived
    assert list(f.parent.iterdir()) == [f]  # no temp file left behind
    with pytest.raises(ConfigError, match="repeats"):
        write_records(f, [recs[0], recs[0]])


def test_load_records_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_records(tmp_path / "nope.jsonl")
    f = tmp_path / "bad.jsonl"
    f.write_text('{"id": "a", "conversations": [{"from": "gpt", "value": "x"}]}\n{not json\n')
    with pytest.raises(ConfigError, match=r"bad\.jsonl:2: invalid JSON"):
        load_records(f)
    g = tmp_path / "img.jsonl"
    g.write_text(json.dumps({"id": "a", "image": "missing.png", "conversations": [
        {"from": "human", "value": "x"}, {"from": "gpt", "value": "y"}]}))
    assert load_records(g)[0]["images"] == [str(tmp_path / "missing.png")]
    with pytest.raises(ConfigError, match="missing.png does not exist"):
        load_records(g, check_images=True)


def test_hf_dataset_from_disk(tmp_path, png):
    datasets = pytest.importorskip("datasets")
    rows = [
        {"id": "h1", "image": "imgs/1.png", "conversations": [
            {"from": "human", "value": "<image>\nColour?"}, {"from": "gpt", "value": "blue"}]},
        {"id": "h2", "conversations": [
            {"from": "human", "value": "2+2?"},
            {"from": "gpt", "value": "", "tool_calls": [{"name": "calculator", "arguments": {"expression": "2+2"},
                                                         "id": "c1"}]},
            {"from": "tool", "value": "4", "tool_call_id": "c1", "name": "calculator"},
            {"from": "gpt", "value": "4"}]},
    ]
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)}).save_to_disk(str(tmp_path))
    recs = load_hf_dataset(tmp_path, split="train")
    assert recs[0]["images"] == [str(png)]
    assert recs[1]["conversations"][1]["tool_calls"] == [{"name": "calculator", "arguments": {"expression": "2+2"},
                                                           "id": "c1"}]
    assert "tool_calls" not in recs[0]["conversations"][0]  # Arrow's nulls are dropped
    msgs, _ = to_messages(recs[1])
    assert msgs[2].tool_call_id == "c1"
    with pytest.raises(ConfigError, match=r"split 'test' is not in .*\['train'\]"):
        load_hf_dataset(tmp_path, split="test")
    # decoded images (an Image feature) are written once to image_dir
    ds = datasets.Dataset.from_list([{"id": "i", "image": {"bytes": png.read_bytes(), "path": None},
                                      "conversations": rows[0]["conversations"]}],
                                    features=datasets.Features({"id": datasets.Value("string"),
                                                                "image": datasets.Image(),
                                                                "conversations": [{"from": datasets.Value("string"),
                                                                                   "value": datasets.Value("string")}]}))
    ds.save_to_disk(str(tmp_path / "single"))
    rec = load_hf_dataset(tmp_path / "single", split=None, image_dir=tmp_path / "cache")[0]
    assert rec["images"][0].startswith(str(tmp_path / "cache"))
    with Image.open(rec["images"][0]) as image:  # .size alone never loads, so the file would stay open
        assert image.size == (8, 8)


def test_records_render_with_a_tiny_core(chat, png):
    rec = {**_full(str(png)), "images": [str(png)]}
    rec.pop("image")
    msgs, tools = to_messages(rec)
    prompt, images = chat.render_prompt(msgs, tools=tools)
    assert len(images) == 1 and prompt.count(chat.core.image_token) == 1
    assert "calculator" in prompt and "2 + 2 = 4." in prompt


def test_a_bare_prompt_converts_but_is_not_a_training_record():
    prompt = {"id": "p", "conversations": [{"from": "human", "value": "Is it red?"}]}
    msgs, _ = to_messages(prompt)  # what a DPO stage does with a preference record's prompt
    assert [type(m) for m in msgs] == [HumanMessage]
    with pytest.raises(ConfigError, match="no gpt turn"):
        validate_record(prompt)
