from __future__ import annotations

import pytest

from genaisys.eval.parsing import extract_answer, normalize, parse_choice, parse_yes_no


@pytest.mark.parametrize("text, want", [
    ("Yes, there is a circle.", "yes"), ("yes", "yes"), ("YES!", "yes"), ("Yeah.", "yes"),
    ("No.", "no"), ("no", "no"), ("Nope, nothing like that.", "no"), ("  no, it's a square", "no"),
    ("There is no triangle in the image.", "no"), ("I don't see a circle.", "no"), ("There isn't one.", "no"),
    ("There is a red circle.", "yes"), ("The image contains a triangle.", "yes"), ("I think yes", "yes"),
    ("", None), ("maybe", None), ("A circle.", None), ("Yes, a circle and no square.", "yes"),
    ("The shape is blue.", None),
])
def test_yes_no(text: str, want: str | None) -> None:
    assert parse_yes_no(text) == want


@pytest.mark.parametrize("text, want", [
    ("B", "B"), ("b", "B"), ("(b)", "B"), ("B.", "B"), ("B) circle", "B"), ("(C) red", "C"),
    ("The answer is B.", "B"), ("answer: d", "D"), ("Option A", "A"), ("The correct choice is (c).", "C"),
    ("A circle", None), ("E", None), ("", None), ("I am not sure", None), ("Bears", None),
])
def test_choice_letters(text: str, want: str | None) -> None:
    assert parse_choice(text, 4) == want


def test_yes_no_with_subject_and_strict() -> None:
    assert parse_yes_no("The image contains a triangle.", "circle") is None  # affirms another object
    assert parse_yes_no("The image is a red circle.", "red circle") == "yes"
    assert parse_yes_no("The image is a blue circle.", "red circle") is None
    assert parse_yes_no("There is no circle.", "circle") == "no"
    assert parse_yes_no("There is no circle.", strict=True) is None  # for "Is there NOT a circle?"
    assert parse_yes_no("No, there is.", strict=True) == "no"
    assert parse_yes_no("The answer is no.") == "no"


def test_choice_by_option_text() -> None:
    opts = ["circle", "triangle", "rectangle"]
    assert parse_choice("triangle", 3, opts) == "B"
    assert parse_choice("It is a rectangle.", 3, opts) == "C"
    assert parse_choice("circle or triangle", 3, opts) is None  # two options named: no answer
    with pytest.raises(ValueError, match="1-26"):
        parse_choice("A", 0)


def test_extract_answer() -> None:
    vocab = ["circle", "triangle", "red", "blue", "yes", "no"]
    assert extract_answer("Circle.", vocab) == "circle"
    assert extract_answer("The colour is RED", vocab) == "red"
    assert extract_answer("red or blue", vocab) is None
    assert extract_answer("Yes, there is.", vocab) == "yes"
    assert extract_answer("purple, maybe", vocab) is None
    assert normalize("The  Answer: (A)!") == "answer"
    q = "What is the color of the circle?"
    assert extract_answer("The color of the circle is black.", vocab + ["black"], question=q) == "black"
    assert extract_answer("The circle is a circle.", vocab, question=q) == "circle"  # only echo: keep it
