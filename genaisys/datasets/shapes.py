"""The shapes vocabulary (3 shapes, 8 colours with their RGB), shape images and their prompts.

`COLORS` and `SHAPES` are the one definition of what a "red circle" is: easy-VQA's answers
(`genaisys.datasets.easy_vqa`), the data engine's shape questions, the shape decoder and the shape
oracle all read them from here.

The images are the training data of genaisys's own offline image decoder. No diffusion weights
can be downloaded offline (docs/architecture.md, "the embedded default"), so genaisys trains a small text-conditioned
diffusion model on easy-VQA-style pictures: one coloured circle, rectangle or triangle on a
white background, in the 8 easy-VQA colours (the CSS values easy-VQA itself draws with).
Images are drawn with PIL at 4x the target size and reduced with a box filter, so edges are
anti-aliased like easy-VQA's; every image is fully inside the frame.

Prompts come from two disjoint template sets: ``TRAIN_TEMPLATES`` (what the model sees) and
``HELDOUT_TEMPLATES`` (unseen phrasings, used only to evaluate). All 24 colour-shape pairs
appear in training; what is held out is the phrasing.

Example:
    >>> import numpy as np
    >>> images, labels = make_shape_dataset(4, size=32, seed=0)
    >>> images.shape, images.dtype
    ((4, 32, 32, 3), dtype('uint8'))
    >>> labels[0] in [(c, s) for c in COLORS for s in SHAPES]
    True
    >>> prompt_for("blue", "triangle", "draw a {color} {shape}")
    'draw a blue triangle'
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from genaisys.errors import ConfigError

__all__ = [
    "COLORS",
    "HELDOUT_TEMPLATES",
    "SHAPES",
    "TRAIN_TEMPLATES",
    "all_prompts",
    "make_shape_dataset",
    "prompt_for",
    "render_shape",
]

#: easy-VQA's colours (measured from its images: the CSS named colours; its "green" is CSS lime).
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
    "yellow": (255, 255, 0),
    "teal": (0, 128, 128),
    "brown": (165, 42, 42),
    "gray": (128, 128, 128),
    "black": (0, 0, 0),
}
SHAPES: tuple[str, ...] = ("circle", "rectangle", "triangle")

#: Phrasings the decoder is trained on.
TRAIN_TEMPLATES: tuple[str, ...] = (
    "a {color} {shape}",
    "{color} {shape}",
    "a {shape} that is {color}",
    "a {color} colored {shape}",
    "an image of a {color} {shape}",
    "a picture of a {color} {shape}",
    "the {shape} is {color}",
    "a {color} {shape} on a white background",
    "one {color} {shape}",
    "{shape}, {color}",
)
#: Phrasings never seen in training: the held-out prompts of the oracle evaluation.
HELDOUT_TEMPLATES: tuple[str, ...] = (
    "draw a {color} {shape}",
    "please generate a {color} {shape}",
    "show me a {color} {shape}",
    "a {shape} colored {color}",
    "make a picture with a {color} {shape}",
    "i would like to see a {color} {shape}",
)


def prompt_for(color: str, shape: str, template: str) -> str:
    """Fill one template with a colour and a shape (both checked against `COLORS` / `SHAPES`)."""
    if color not in COLORS:
        raise ConfigError(f"unknown colour {color!r}; use one of {', '.join(COLORS)}")
    if shape not in SHAPES:
        raise ConfigError(f"unknown shape {shape!r}; use one of {', '.join(SHAPES)}")
    return template.format(color=color, shape=shape)


def all_prompts(templates: tuple[str, ...] | list[str]) -> list[tuple[str, str, str]]:
    """Every ``(prompt, color, shape)`` for the given templates, colour-major order."""
    return [(prompt_for(c, s, t), c, s) for c in COLORS for s in SHAPES for t in templates]


def render_shape(
    color: str,
    shape: str,
    *,
    size: int = 32,
    rng: np.random.Generator | None = None,
    background: tuple[int, int, int] = (255, 255, 255),
) -> Image.Image:
    """Draw one shape at a random size and place, fully inside a ``size``×``size`` RGB image.

    Sizes (in fractions of the side): circle diameter 0.3–0.75; rectangle sides 0.3–0.75,
    axis-aligned; triangle upright isosceles, base and height 0.4–0.8.
    """
    if size < 16:
        raise ConfigError(f"size {size} is too small to draw recognisable shapes; use 16 or more")
    prompt_for(color, shape, "{color} {shape}")  # checks both names; raises a ConfigError that names the fix
    rgb = COLORS[color]
    rng = rng if rng is not None else np.random.default_rng()
    ss = 4  # supersampling factor: draw big, reduce with a box filter = anti-aliased edges
    big = size * ss
    canvas = Image.new("RGB", (big, big), background)
    draw = ImageDraw.Draw(canvas)
    if shape == "circle":
        w = h = rng.uniform(0.3, 0.75) * big
    elif shape == "rectangle":
        w, h = rng.uniform(0.3, 0.75, size=2) * big
    else:
        w, h = rng.uniform(0.4, 0.8, size=2) * big
    margin = ss  # one target pixel of white around every shape
    x0 = rng.uniform(margin, big - margin - w)
    y0 = rng.uniform(margin, big - margin - h)
    if shape == "circle":
        draw.ellipse((x0, y0, x0 + w, y0 + h), fill=rgb)
    elif shape == "rectangle":
        draw.rectangle((x0, y0, x0 + w, y0 + h), fill=rgb)
    else:
        draw.polygon([(x0 + w / 2, y0), (x0 + w, y0 + h), (x0, y0 + h)], fill=rgb)
    return canvas.resize((size, size), Image.Resampling.BOX)


def make_shape_dataset(n: int, *, size: int = 32, seed: int = 0) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """``n`` shape images with balanced colour-shape pairs, reproducible from ``seed``.

    Returns:
        ``(images, labels)``: uint8 ``(n, size, size, 3)`` and one ``(color, shape)`` per image.
    """
    if n < 1:
        raise ConfigError(f"n must be at least 1, got {n}")
    rng = np.random.default_rng(seed)
    pairs = [(c, s) for c in COLORS for s in SHAPES]
    order = np.concatenate([rng.permutation(len(pairs)) for _ in range(-(-n // len(pairs)))])[:n]
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    labels: list[tuple[str, str]] = []
    for i, k in enumerate(order):
        color, shape = pairs[int(k)]
        images[i] = np.asarray(render_shape(color, shape, size=size, rng=rng))
        labels.append((color, shape))
    return images, labels
