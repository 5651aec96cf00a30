"""Shapes drawn many ways, and questions about them asked many ways: the core's vision curriculum.

easy-VQA draws one kind of picture (64×64, white background, crisp shapes), and a connector
trained on it alone learns that renderer rather than shapes. `render_varied` draws one coloured
circle, rectangle or triangle with everything else varied: canvas size, shape size, position
and rotation, aspect ratio, background (white, any other solid colour, a gradient, noise or a
texture of stripes/dots), colour shade, anti-aliasing or none, an outline, blur and JPEG
compression. The colour names are easy-VQA's eight; the shade varies around each.

`shape_records` asks about each image in many phrasings (`genaisys.train.engine.phrasing`):
open questions (colour, shape, a description) and yes/no questions about the shape, the colour
or both, with the labels balanced yes/no by construction. Answers state the fact plainly
("Yes, it is a red circle." / "No, it is a blue triangle." / "Red."), so a yes/no answer is
read off what the core sees.

Example:
    >>> import random
    >>> image, label = render_varied("red", "circle", random.Random(0))
    >>> image.mode, label["color"], label["shape"]
    ('RGB', 'red', 'circle')
"""

from __future__ import annotations

import io
import math
import random
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFilter

from genaisys.train.data import IMAGE_MARK
from genaisys.train.engine.phrasing import expand
from genaisys.datasets.shapes import COLORS, SHAPES

__all__ = ["OPEN_PATTERNS", "SHADES", "YES_NO_PATTERNS", "render_varied", "shape_question", "shape_records"]


def _jitter(rgb: tuple[int, int, int], rng: random.Random, amount: int) -> tuple[int, int, int]:
    return tuple(max(0, min(255, c + rng.randint(-amount, amount))) for c in rgb)  # type: ignore[return-value]


def _far(a: tuple[int, ...], b: tuple[int, ...], minimum: float = 140.0) -> bool:
    return math.dist(a, b) >= minimum


def _background(size: int, avoid: tuple[int, int, int], rng: random.Random) -> Image.Image:
    kind = rng.choices(["white", "solid", "gradient", "noise", "stripes", "dots"], [30, 30, 12, 10, 9, 9])[0]
    light = (rng.randint(225, 255), rng.randint(225, 255), rng.randint(225, 255))

    def pick() -> tuple[int, int, int]:
        for _ in range(50):
            c = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
            if _far(c, avoid):
                return c
        return light if _far(light, avoid) else (0, 0, 0) if _far((0, 0, 0), avoid) else (255, 255, 255)

    base = (255, 255, 255) if kind == "white" else pick()
    if not _far(base, avoid):
        base = pick()
    image = Image.new("RGB", (size, size), base)
    if kind == "gradient":
        other = pick()
        draw = ImageDraw.Draw(image)
        for y in range(size):
            t = y / max(1, size - 1)
            draw.line([(0, y), (size, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(base, other)))
    elif kind == "noise":
        amount = rng.randint(6, 24)
        pixels = image.load()
        for y in range(size):
            for x in range(size):
                pixels[x, y] = _jitter(base, rng, amount)
    elif kind in ("stripes", "dots"):
        draw = ImageDraw.Draw(image)
        ink = _jitter(base, rng, 30)
        step = rng.randint(6, 16)
        for k in range(-size, 2 * size, step):
            if kind == "stripes":
                draw.line([(k, 0), (k + size, size)], fill=ink, width=max(1, step // 4))
            else:
                for y in range(0, size, step):
                    draw.ellipse((k, y, k + step // 3, y + step // 3), fill=ink)
    return image


# What each colour name covers, as ranges of hue (degrees; red wraps around 0), saturation and
# value: the shades a person would still call by that name, not one RGB point per name.
SHADES: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "red": ((-12, 8), (0.65, 1.0), (0.6, 1.0)),
    "green": ((88, 150), (0.5, 1.0), (0.35, 1.0)),
    "blue": ((208, 245), (0.55, 1.0), (0.45, 1.0)),
    "yellow": ((47, 62), (0.75, 1.0), (0.82, 1.0)),
    "teal": ((170, 190), (0.6, 1.0), (0.35, 0.62)),
    "brown": ((14, 34), (0.5, 0.85), (0.3, 0.58)),
    "gray": ((0, 360), (0.0, 0.06), (0.38, 0.72)),
    "black": ((0, 360), (0.0, 0.3), (0.0, 0.14)),
}


def _shade(color: str, rng: random.Random) -> tuple[int, int, int]:
    import colorsys

    (h0, h1), (s0, s1), (v0, v1) = SHADES[color]
    r, g, b = colorsys.hsv_to_rgb((rng.uniform(h0, h1) % 360) / 360, rng.uniform(s0, s1), rng.uniform(v0, v1))
    return round(r * 255), round(g * 255), round(b * 255)


def render_varied(color: str, shape: str, rng: random.Random, *,
                  shades: str = "pure") -> tuple[Image.Image, dict[str, Any]]:
    """Draw one ``color`` ``shape`` in a randomly varied way; returns the image and what was drawn.

    ``shades="pure"`` jitters easy-VQA's RGB value of the colour a little; ``"wide"`` draws any
    shade the colour's name covers (`SHADES`), half the time, and the pure one otherwise.
    """
    size = rng.choice([48, 64, 64, 80, 96, 112, 128, 160])
    if shades == "wide" and rng.random() < 0.5:
        rgb = _shade(color, rng)
    else:
        rgb = _jitter(COLORS[color], rng, rng.choice([0, 0, 10, 20]))
    background = _background(size, rgb, rng)
    ss = rng.choice([1, 2, 4])  # 1: aliased edges
    big = background.resize((size * ss, size * ss), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(big)
    side = size * ss
    extent = rng.uniform(0.28, 0.8) * side  # the shape's bounding size
    cx = rng.uniform(extent / 2 + ss, side - extent / 2 - ss)
    cy = rng.uniform(extent / 2 + ss, side - extent / 2 - ss)
    angle = rng.uniform(0, 2 * math.pi)
    outline = _jitter(rgb, rng, 60) if rng.random() < 0.15 else None
    width = max(1, ss * rng.randint(1, 2))
    if shape == "circle":
        r = extent / 2
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=rgb, outline=outline, width=width)
    elif shape == "rectangle":
        aspect = rng.choice([1.0, rng.uniform(0.45, 0.95)])
        w, h = extent / math.sqrt(1 + aspect**2) * 1.35, extent * aspect / math.sqrt(1 + aspect**2) * 1.35
        turn = 0.0 if rng.random() < 0.4 else angle
        corners = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
        points = [(cx + x * math.cos(turn) - y * math.sin(turn), cy + x * math.sin(turn) + y * math.cos(turn))
                  for x, y in corners]
        draw.polygon(points, fill=rgb, outline=outline, width=width)
    else:
        turn = 0.0 if rng.random() < 0.4 else angle
        spread = rng.uniform(0.0, 0.5)  # 0: equilateral; more: irregular
        base_angles = [-math.pi / 2, math.pi / 6, 5 * math.pi / 6]
        points = [(cx + extent / 2 * math.cos(a + turn + rng.uniform(-spread, spread)),
                   cy + extent / 2 * math.sin(a + turn + rng.uniform(-spread, spread))) for a in base_angles]
        draw.polygon(points, fill=rgb, outline=outline, width=width)
    image = big.resize((size, size), Image.Resampling.BOX) if ss > 1 else big
    if rng.random() < 0.15:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    if rng.random() < 0.35:
        buf = io.BytesIO()
        image.save(buf, format="JPEG", quality=rng.randint(35, 95))
        image = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    return image, {"color": color, "shape": shape, "size": size, "rgb": rgb}


# Questions. {shape}/{color} are the asked-about values (maybe not what is drawn, for yes/no).
OPEN_PATTERNS: dict[str, tuple[str, ...]] = {
    "color": (
        "[What|Which] [colo|colou][r] is the shape[ in the image| in this picture| here|]?",
        "What [colo|colou]r [is the|is this] {drawn_shape}?",
        "[Tell me|Name] the [colo|colou]r of the shape.",
        "[The shape is|This shape is] what [colo|colou]r?",
        "[Can you tell me|Do you know] what [colo|colou]r the shape is?",
        "Which [colo|colou]r [has the shape|does the shape have]?",
        "[What|Which] [colo|colou]r [do you see|is used for the shape]?",
    ),
    "shape": (
        "What shape is [this|in the image|shown|in this picture|drawn here]?",
        "[What|Which] [kind of |type of |]shape [is it|do you see|is drawn|is in the picture]?",
        "[Name|Tell me|Identify] the shape[ in the image| in this picture|].",
        "Is it a circle, a rectangle or a triangle?",
        "What is the {drawn_color} [thing|object|figure] in the image?",
        "Is this shape a [circle|triangle|rectangle] or something else?",
        "[What geometric figure|Which geometric shape] [is this|do you see]?",
    ),
    "describe": (
        "[Describe|Caption] [the|this] [image|picture][ briefly| in a few words|].",
        "What is in [the|this] [image|picture]?", "What does [the|this] [image|picture] show?",
        "What do you see[ in the image| here|]?",
        "[Give|Write] a [short|one-line] [description|caption] of [the|this] [image|picture].",
        "[Tell me|Say] what is [shown|drawn] here.",
    ),
}
YES_NO_PATTERNS: dict[str, tuple[str, ...]] = {
    "shape": (
        "Is there a {shape}[ in the image| in this picture| here|]?",
        "Does the [image|picture] [contain|show|have] a {shape}?",
        "Is [the|this] shape a {shape}?",
        "Is it a {shape}?",
        "Do you see a {shape}[ in the image| here|]?",
        "Can you see a {shape} in [this|the] [image|picture]?",
        "[Is the object|Is the figure|Is what is drawn] a {shape}?",
        "Would you call this shape a {shape}?",
        "[Am I looking at|Is this] a {shape}?",
    ),
    "color": (
        "Is the shape {color}?",
        "Is [the|this] [shape|object|figure] {color}[ in colo|][ur|r|]?",
        "Is the {drawn_shape} {color}?",
        "Does the shape have a {color} colo[u|][r]?",
        "Is the colo[u|]r of the shape {color}?",
        "Is it {color}?",
        "Is the {drawn_shape} [colo|colou]red {color}?",
    ),
    "both": (
        "Is there a {color} {shape}[ in the image| in this picture| here|]?",
        "Does the [image|picture] [contain|show] a {color} {shape}?",
        "Is [this|it] a {color} {shape}?",
        "Do you see a {color} {shape}?",
        "Is the shape a {color} {shape}?",
        "Can you find a {color} {shape} in the [image|picture]?",
    ),
}
_SUFFIXES = ("", "", "", "", " Answer yes or no.", " Yes or no?", " Please answer briefly.", " Be brief.")
_OPEN_SUFFIXES = ("", "", "", "", " Answer with a single word.", " One word, please.", " Be brief.")


def _article(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


_VERDICT_LAST = ("It is {a}, so {v}.", "It is {a}, so {v}.", "I see {a}, so {v}.", "The shape is {a}: {v}.",
                 "It shows {a}, so the answer is {v}.")


def shape_question(label: dict[str, Any], rng: random.Random, *,
                   verdict: str = "first") -> tuple[str, str, dict[str, Any]]:
    """One question about a drawn shape and its answer: ``(question, answer, meta)``.

    Half of all questions are yes/no, and half of those have the answer yes. ``verdict`` places a
    yes/no answer's verdict: ``"first"`` ("No, it is a red circle.") or ``"last"`` ("It is a red
    circle, so no."). Said last, the verdict is read off the colour and shape the core has just
    named, instead of being guessed before it looks.
    """
    color, shape = label["color"], label["shape"]
    drawn = f"{color} {shape}"
    if rng.random() < 0.5:
        kind = rng.choice(list(OPEN_PATTERNS))
        pattern = rng.choice(OPEN_PATTERNS[kind])
        question = expand(pattern, rng, drawn_shape=shape, drawn_color=color)
        one_word = rng.random() < 0.5
        suffix = rng.choice(_OPEN_SUFFIXES)
        if kind == "color":
            answer = f"{color.capitalize()}." if one_word or "single word" in suffix or "One word" in suffix \
                else f"The shape is {color}."
        elif kind == "shape":
            answer = f"{shape.capitalize()}." if "single word" in suffix or "One word" in suffix \
                else f"It is {_article(shape)}."
        else:
            answer = f"{_article(drawn).capitalize()}." if rng.random() < 0.5 else \
                f"The image shows {_article(drawn)}."
            suffix = ""
        return question + suffix, answer, {"kind": "open", "about": kind, "answer_word": color if kind == "color"
                                          else shape if kind == "shape" else drawn}
    kind = rng.choice(list(YES_NO_PATTERNS))
    truth = rng.random() < 0.5
    asked_color = color if truth or kind == "shape" else rng.choice([c for c in COLORS if c != color])
    asked_shape = shape if truth or kind == "color" else rng.choice([s for s in SHAPES if s != shape])
    if kind == "both" and not truth:  # wrong colour, wrong shape, or both wrong
        which = rng.choice(["color", "shape", "both"])
        asked_color = color if which == "shape" else asked_color
        asked_shape = shape if which == "color" else asked_shape
    pattern = rng.choice(YES_NO_PATTERNS[kind])
    question = expand(pattern, rng, shape=asked_shape, color=asked_color, drawn_shape=shape)
    if verdict == "last":
        answer = rng.choice(_VERDICT_LAST).format(a=_article(drawn), v="yes" if truth else "no")
        return question + rng.choice(_SUFFIXES), answer, {"kind": "yes/no", "about": kind, "answer_yes": truth}
    answer = f"Yes, it is {_article(drawn)}." if truth else f"No, it is {_article(drawn)}."
    if rng.random() < 0.3:
        answer = "Yes." if truth else "No."
    return question + rng.choice(_SUFFIXES), answer, {"kind": "yes/no", "about": kind, "answer_yes": truth}


def shape_records(n: int, folder: str | Path, *, seed: int = 0, questions_per_image: int = 2,
                  verdict: str = "first", shades: str = "pure") -> list[dict[str, Any]]:
    """``n`` single-turn records about freshly drawn images saved in ``folder`` (PNG).

    Colour-shape pairs cycle so all 24 appear equally often; ``verdict`` as in `shape_question`,
    ``shades`` as in `render_varied`.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    pairs = [(c, s) for c in COLORS for s in SHAPES]
    records: list[dict[str, Any]] = []
    i = 0
    while len(records) < n:
        if i % len(pairs) == 0:
            rng.shuffle(pairs)
        color, shape = pairs[i % len(pairs)]
        image, label = render_varied(color, shape, rng, shades=shades)
        path = folder / f"shape-{seed}-{i:06d}.png"
        image.save(path)
        for q in range(min(questions_per_image, n - len(records))):
            question, answer, meta = shape_question(label, rng, verdict=verdict)
            first = rng.random() < 0.8  # the image usually comes first, as in chat UIs
            value = f"{IMAGE_MARK}\n{question}" if first else f"{question}\n{IMAGE_MARK}"
            records.append({"id": f"shape-{seed}-{i}-{q}", "images": [str(path.resolve())],
                            "conversations": [{"from": "human", "value": value}, {"from": "gpt", "value": answer}],
                            "meta": {**meta, "color": color, "shape": shape, "source": "shapes"}})
        i += 1
    return records
