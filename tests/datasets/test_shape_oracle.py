"""The shape oracle is right on ground-truth images before it judges the decoder."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from genaisys.errors import ConfigError, MediaError
from genaisys.datasets.shape_oracle import (
    classify_shape_image,
    oracle_accuracy,
    oracle_agrees,
    parse_shape_prompt,
)
from genaisys.datasets.shapes import COLORS, SHAPES, make_shape_dataset, render_shape


@pytest.mark.parametrize("size", [32, 64])
def test_oracle_is_right_on_generated_ground_truth(size):
    images, labels = make_shape_dataset(480 if size == 32 else 144, size=size, seed=7)
    scores = oracle_accuracy(list(images), labels)
    assert scores["accuracy"] >= 0.97, scores
    assert scores["color_accuracy"] >= 0.99, scores


def test_every_colour_and_shape_is_recognised():
    rng = np.random.default_rng(3)
    for color in COLORS:
        for shape in SHAPES:
            verdict = classify_shape_image(render_shape(color, shape, size=32, rng=rng))
            assert (verdict.color, verdict.shape) == (color, shape), verdict


def test_oracle_disagrees_with_a_wrong_prompt():
    image = render_shape("red", "circle", size=32, rng=np.random.default_rng(0))
    assert oracle_agrees(image, "draw a red circle")
    assert not oracle_agrees(image, "draw a blue circle")
    assert not oracle_agrees(image, "a red triangle")


def test_oracle_accepts_png_bytes_and_tinted_backgrounds():
    image = render_shape("teal", "rectangle", size=32, rng=np.random.default_rng(1), background=(235, 242, 236))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    verdict = classify_shape_image(buf.getvalue())
    assert (verdict.color, verdict.shape) == ("teal", "rectangle")


def test_blank_and_speck_images_have_no_shape():
    blank = np.full((32, 32, 3), 255, np.uint8)
    assert classify_shape_image(blank).shape is None
    speck = blank.copy()
    speck[10, 10] = 0
    verdict = classify_shape_image(speck)
    assert verdict.shape is None and verdict.color is None
    assert not oracle_agrees(blank, "a black circle")


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(MediaError, match="could not decode"):
        classify_shape_image(b"not a png")
    with pytest.raises(MediaError, match="uint8"):
        classify_shape_image(np.zeros((32, 32), np.float32))
    with pytest.raises(MediaError, match="too small"):
        classify_shape_image(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ConfigError, match="labels"):
        oracle_accuracy([np.zeros((32, 32, 3), np.uint8)], [])


def test_parse_shape_prompt():
    assert parse_shape_prompt("Draw a BLUE triangle, please") == ("blue", "triangle")
    assert parse_shape_prompt("a grey square") == ("gray", "rectangle")
    with pytest.raises(ConfigError, match="exactly one colour"):
        parse_shape_prompt("a red and blue circle")
    with pytest.raises(ConfigError, match="one shape"):
        parse_shape_prompt("something red")


@pytest.mark.packaged
def test_oracle_is_right_on_easy_vqa_test_images():
    from genaisys import assets

    root = assets.resolve("easy-vqa") / "test"
    color, shape = {}, {}
    for _question, answer, image_id in json.loads((root / "questions.json").read_text()):
        if answer in COLORS:
            color[image_id] = answer
        elif answer in SHAPES:
            shape[image_id] = answer
    ids = sorted(set(color) & set(shape))  # images whose colour and shape both appear as answers
    assert len(ids) > 500
    images = [np.asarray(Image.open(root / "images" / f"{i}.png").convert("RGB")) for i in ids]
    scores = oracle_accuracy(images, [(color[i], shape[i]) for i in ids])
    assert scores["accuracy"] >= 0.97, scores


@pytest.mark.parametrize("name", ["genaisys.datasets.shape_oracle", "genaisys.datasets.shapes"])
def test_docstring_examples_run(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
