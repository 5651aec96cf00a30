"""Photos as the core meets them: the textualizer's description, and questions answered from it.

A photo reaches the nano core as text — the `ImageTextualizer`'s paragraph of ImageNet labels
with their probabilities and the OCR'd text — so teaching it to answer about photos needs no
photos: `scripted_description` writes such a paragraph (through the textualizer's own
formatting) for a scene made of ImageNet labels, and `PhotoTextualizer` hands it to the graph
as the textualizer would. `photo_question` asks about the scene in many ways and answers from
the description only: the best label with its everyday kind ("a cat — most likely an Egyptian
cat"), the text it reads, yes/no about a kind, and an honest "I am not sure" when no label is
confident. No photo from the evaluation (scikit-image, scikit-learn) is used.

Example:
    >>> import random
    >>> scene = random_scene(random.Random(1))
    >>> text = scripted_description(scene)
    >>> text.startswith("An image of ")
    True
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from genaisys.train.engine.phrasing import expand

__all__ = ["PhotoTextualizer", "Scene", "kind_of", "photo_question", "random_scene", "scripted_description"]

# ImageNet-1k index ranges → the everyday word for what they show (animals; objects keep their label)
_RANGES: tuple[tuple[int, int, str], ...] = (
    (0, 6, "fish"), (7, 24, "bird"), (25, 29, "salamander"), (30, 32, "frog"), (33, 37, "turtle"),
    (38, 48, "lizard"), (49, 50, "crocodile"), (51, 68, "snake"), (69, 71, "arthropod"), (72, 77, "spider"),
    (78, 79, "insect"), (80, 100, "bird"), (101, 101, "elephant"), (107, 108, "sea creature"),
    (118, 121, "crab"), (122, 124, "lobster"), (127, 146, "bird"), (147, 149, "whale"), (150, 150, "sea lion"),
    (151, 268, "dog"), (269, 272, "wolf"), (273, 275, "wild dog"), (276, 276, "hyena"), (277, 280, "fox"),
    (281, 285, "cat"), (286, 293, "big cat"), (294, 297, "bear"), (298, 299, "mongoose"), (300, 320, "insect"),
    (321, 326, "butterfly"), (330, 332, "rabbit"), (333, 338, "rodent"), (339, 339, "horse"), (340, 340, "zebra"),
    (341, 343, "pig"), (344, 344, "hippopotamus"), (345, 347, "cattle"), (348, 350, "sheep or goat"),
    (351, 353, "antelope"), (354, 355, "camel"), (356, 362, "weasel"), (365, 382, "monkey"), (383, 384, "lemur"),
    (385, 386, "elephant"), (387, 388, "panda"), (389, 397, "fish"),
)
_ANIMAL_MAX = 397
_NOT_ANIMALS = ("I don't see an animal in it", "it doesn't look like there's an animal in it")


@lru_cache(maxsize=1)
def _labels() -> tuple[str, ...]:
    from genaisys.tools.textualizers.image import _class_names

    return _class_names()


def kind_of(index: int) -> tuple[str, bool]:
    """``(everyday word, is an animal)`` for an ImageNet class index.

    Example:
        >>> kind_of(285), kind_of(967)
        (('cat', True), ('espresso', False))
    """
    for lo, hi, word in _RANGES:
        if lo <= index <= hi:
            return word, True
    if index <= _ANIMAL_MAX:
        return _labels()[index], True
    return _labels()[index], False


def _article(word: str) -> str:
    return f"an {word}" if word[:1].lower() in "aeiou" else f"a {word}"


@dataclass
class Scene:
    """What a scripted photo 'shows': labels with probabilities (best first) and its text."""

    width: int
    height: int
    labels: list[tuple[int, float]]
    text: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def best(self) -> tuple[str, str, bool, float]:
        index, prob = self.labels[0]
        word, animal = kind_of(index)
        return _labels()[index], word, animal, prob


_OCR_TEXTS = (
    "OPEN 9-5", "EXIT", "No parking", "Fresh bread daily", "Platform 4", "SALE 50% OFF", "Welcome home",
    "Meeting at 3 pm in room 12", "Keep calm and carry on", "Total: $18.40", "Route 66", "Caution wet floor",
    "Happy Birthday Mia", "Menu: soup, salad, pasta", "STOP", "Gate B7", "Library quiet zone", "Coffee 2.50",
    "Chapter 3: The storm", "Invoice no. 4471", "Lost cat, call 555-0192", "Bus 21 to Central Station",
)


def random_scene(rng: random.Random) -> Scene:
    """A random scene: 1-3 labels (sometimes related, sometimes not), sometimes text, sometimes unsure."""
    first = rng.randrange(1000)
    labels = [first]
    for _ in range(rng.choice([0, 1, 1, 2])):
        near = min(999, max(0, first + rng.randint(-6, 6))) if rng.random() < 0.7 else rng.randrange(1000)
        if near not in labels:
            labels.append(near)
    confident = rng.random() < 0.8
    top = rng.uniform(0.45, 0.97) if confident else rng.uniform(0.12, 0.3)
    probs = [top]
    rest = 1 - top
    for _ in labels[1:]:
        p = min(probs[-1] * 0.9, rng.uniform(0.05, max(0.06, rest * 0.6)))
        probs.append(p)
        rest -= p
    text = rng.choice(_OCR_TEXTS) if rng.random() < 0.25 else ""
    w, h = rng.choice([(640, 480), (800, 600), (1024, 768), (512, 512), (1280, 720), (451, 300), (300, 400)])
    return Scene(w, h, list(zip(labels, [round(p, 4) for p in probs])), text)


def scripted_description(scene: Scene) -> str:
    """The `ImageTextualizer` paragraph for ``scene`` (its own formatting code)."""
    from genaisys.tools.textualizers import ImageTextualizer

    labels = [{"label": _labels()[i], "prob": p} for i, p in scene.labels]
    return ImageTextualizer()._paragraph(scene.width, scene.height, labels, scene.text)


class PhotoTextualizer:
    """A textualizer that describes whatever image it is given as the scene it is told to.

    It stands in for `ImageTextualizer` in recorded programs (same name in the prompt, same text
    format), so the photo the recording shows is a placeholder and the description is scripted.
    """

    name = "ImageTextualizer"

    def __init__(self) -> None:
        self.scene: Scene | None = None

    def __call__(self, path: str | Path) -> str:
        if self.scene is None:
            raise RuntimeError("PhotoTextualizer has no scene; set .scene before the turn")
        return scripted_description(self.scene)


_WHAT = ("What is in this [photo|picture|image]?", "What [does this photo|does the picture|does this image] show?",
         "What am I looking at[ here|]?", "What's this?", "Can you tell me what this [photo|picture] shows?",
         "Describe this [photo|picture|image][ for me|].", "What do you see in this [photo|picture|image]?",
         "Identify [what's|what is] in [this|the] [photo|picture].", "What is this [a picture|a photo] of?")
_ANIMAL = ("What animal is [this|in the picture|shown here]?", "What kind of animal is this?",
           "Which animal do you see[ in the photo|]?", "Is there an animal in this [photo|picture]? What is it?",
           "What [creature|animal] is in [this|the] image?", "Name the animal in [this|the] [photo|picture].")
_READ = ("What does the text [in the image|in this photo|on it] say?", "Read the text in this [image|picture].",
         "Is there any writing in [this|the] [photo|image]? What does it say?",
         "What is written [here|on this|in the picture]?", "Can you read what it says?")
_IS = ("Is there [a|an] {word} in this [photo|picture|image]?", "Is this [a|an] {word}?",
       "Does the [photo|picture] show [a|an] {word}?", "Do you see [a|an] {word} [here|in the image]?")
# Broad kinds a yes/no question may ask about, by ImageNet label (animals are told by `kind_of`).
_CATEGORIES: dict[str, tuple[str, ...]] = {
    "vehicle": ("ambulance", "cab", "convertible", "fire engine", "garbage truck", "go-kart", "golfcart", "jeep",
                "limousine", "minivan", "moped", "motor scooter", "mountain bike", "passenger car", "pickup",
                "police van", "racer", "school bus", "sports car", "streetcar", "tow truck", "tractor",
                "trailer truck", "tricycle", "trolleybus", "unicycle", "bicycle-built-for-two", "bullet train",
                "steam locomotive"),
    "boat": ("canoe", "catamaran", "container ship", "fireboat", "gondola", "lifeboat", "liner", "pirate",
             "schooner", "speedboat", "submarine", "trimaran", "yawl"),
    "aircraft": ("airliner", "airship", "balloon", "space shuttle", "warplane"),
    "building": ("bakery", "barn", "bell cote", "boathouse", "castle", "church", "cinema", "dome", "greenhouse",
                 "library", "mobile home", "monastery", "mosque", "palace", "restaurant", "stupa", "yurt"),
    "fruit": ("Granny Smith", "strawberry", "orange", "lemon", "pineapple", "banana"),
    "food": ("ice cream", "bagel", "pretzel", "cheeseburger", "hotdog", "pizza", "Granny Smith", "strawberry",
             "orange", "lemon", "pineapple", "banana"),
    "drink": ("red wine", "espresso", "cup", "eggnog", "beer bottle", "beer glass", "wine bottle", "pop bottle",
              "goblet", "coffee mug"),
    "flower": ("daisy", "yellow lady's slipper"),
}
_CATEGORY_Q = ("Is [this|this a picture of|this a photo of] [a|an] {c}?", "Is there [a|an] {c} in [this|the] [photo|picture|image]?",
               "Does [this|the] [photo|picture|image] show [a|an] {c}?", "Can you see [a|an] {c} [here|in this photo]?")
_ANIMAL_Q = ("Is there an animal in [this|the] [photo|picture|image]?", "Does [this|the] [photo|picture] show an animal?",
             "Is this a picture of an animal?", "Do you see [an animal|any animals] [here|in the image]?")
_TEXT_Q = ("Is there [any |]text in [this|the] [image|photo|picture]?", "Does [this|the] [image|photo] contain [any |]writing?",
           "Is anything written [here|in this picture]?", "Can you see any [words|writing|lettering] in [this|the] [photo|image]?")
_SO = ("{e}, so {v}.", "{e}, so {v}.", "{e}, so the answer is {v}.", "{e}: {v}.")


def _category_of(label: str) -> set[str]:
    return {c for c, labels in _CATEGORIES.items() if label in labels}


def _verdict_last(scene: Scene, rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    """A yes/no question answered evidence first: what the description says, then the verdict
    read off it ("It looks like an espresso, so no."). About half the answers are yes: for a
    question about text or a broad kind, the scene may be given text or a label of that kind."""
    kind = rng.choice(["is", "is", "animal", "text", "category", "category"])
    if kind == "text" and not scene.text and rng.random() < 0.6:
        scene.text = rng.choice(_OCR_TEXTS)
    if kind == "category" and rng.random() < 0.5:
        names = _labels()
        scene.labels[0] = (names.index(rng.choice(rng.choice(list(_CATEGORIES.values())))), scene.labels[0][1])
    label, word, animal, prob = scene.best
    seen = f"It looks like {_article(label)}"
    if prob < 0.35 and kind != "text":
        question = expand(rng.choice(_ANIMAL_Q), rng) if kind == "animal" else \
            expand(rng.choice(_IS), rng, word=word).replace(f"a {word}", _article(word)).replace(f"an {word}", _article(word))
        return question, f"I can't tell for sure; it might be {_article(label)}.", {"kind": "is", "label": label,
                                                                                    "word": word}
    if kind == "text":
        question = expand(rng.choice(_TEXT_Q), rng)
        truth = bool(scene.text)
        evidence = f'It reads "{scene.text}"' if truth else "No text was found in it"
    elif kind == "animal":
        question = expand(rng.choice(_ANIMAL_Q), rng)
        truth = animal
        evidence = f"{seen}, which is an animal" if truth and word == label else \
            f"It shows {_article(word)} ({label})" if truth else f"{seen}, not an animal"
    elif kind == "category":
        mine = _category_of(label)
        truth = bool(mine) and rng.random() < 0.8
        category = rng.choice(sorted(mine)) if truth else rng.choice(sorted(set(_CATEGORIES) - mine))
        named = "food" if category == "food" else _article(category)  # a mass noun takes no article
        question = expand(rng.choice(_CATEGORY_Q), rng, c=category).replace(f"a {category}", named) \
            .replace(f"an {category}", named)
        evidence = f"{seen}, which is {named}" if truth else f"{seen}, not {named}"
    else:
        truth = rng.random() < 0.5
        if truth:
            asked = word if animal and rng.random() < 0.6 else label
        else:
            other = rng.randrange(1000)
            while kind_of(other)[0] in (word, label) or other in [i for i, _ in scene.labels]:
                other = rng.randrange(1000)
            asked = kind_of(other)[0]
        question = expand(rng.choice(_IS), rng, word=asked).replace(f"a {asked}", _article(asked)).replace(
            f"an {asked}", _article(asked))
        evidence = seen
    answer = rng.choice(_SO).format(e=evidence, v="yes" if truth else "no")
    return question, answer, {"kind": kind, "label": label, "word": word, "answer_yes": truth}


def photo_question(scene: Scene, rng: random.Random, *, verdict: str = "first") -> tuple[str, str, dict[str, Any]]:
    """A question about ``scene`` and the answer its description supports: ``(question, answer, meta)``.

    ``verdict="last"`` makes half of the questions yes/no ones — about the thing, an animal, text,
    or a broad kind (vehicle, building, drink …) — answered evidence first (`_verdict_last`).
    """
    if verdict == "last" and rng.random() < 0.5:
        return _verdict_last(scene, rng)
    label, word, animal, prob = scene.best
    unsure = prob < 0.35
    options = ["what", "what", "is", "is"] + (["animal", "animal"] if animal or rng.random() < 0.3 else []) + \
        (["read", "read"] if scene.text or rng.random() < 0.2 else [])
    kind = rng.choice(options)
    if kind == "is" and verdict == "last":
        return _verdict_last(scene, rng)
    second = _labels()[scene.labels[1][0]] if len(scene.labels) > 1 else None
    if kind == "read":
        question = expand(rng.choice(_READ), rng)
        answer = f'It reads: "{scene.text}".' if scene.text else "I can't find any text in this image."
    elif kind == "animal":
        question = expand(rng.choice(_ANIMAL), rng)
        if not animal:
            answer = f"{rng.choice(_NOT_ANIMALS).capitalize()}; it looks like {_article(label)}."
        elif unsure:
            answer = f"I'm not sure. It might be {_article(word)}, possibly {_article(label)}" + \
                     (f" or {_article(second)}." if second else ".")
        elif word == label:
            answer = f"It's {_article(label)}."
        else:
            answer = f"It's {_article(word)} — most likely {_article(label)}."
    elif kind == "is":
        truth = rng.random() < 0.5
        if truth:
            asked = word if animal and rng.random() < 0.6 else label
        else:
            other = rng.randrange(1000)
            while kind_of(other)[0] in (word, label) or other in [i for i, _ in scene.labels]:
                other = rng.randrange(1000)
            asked = kind_of(other)[0]
        question = expand(rng.choice(_IS), rng, word=asked).replace(f"a {asked}", _article(asked)).replace(
            f"an {asked}", _article(asked))
        if unsure:
            answer = f"I can't tell for sure; it might be {_article(label)}."
        elif truth:
            answer = f"Yes, it looks like {_article(label)}."
        else:
            answer = f"No, it looks like {_article(label)}."
    else:
        question = expand(rng.choice(_WHAT), rng)
        if unsure:
            answer = f"I'm not sure. It might be {_article(label)}" + (f" or {_article(second)}." if second else ".")
        elif animal and word != label:
            answer = f"It shows {_article(word)}, most likely {_article(label)}."
        else:
            answer = f"It shows {_article(label)}."
        if scene.text and not unsure:
            answer = answer[:-1] + f', with the text "{scene.text}".'
    return question, answer, {"kind": kind, "label": label, "word": word}
