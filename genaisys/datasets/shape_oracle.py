"""A colour-and-shape oracle for single-shape images: does a generated picture match its prompt?

It judges the pictures genaisys's offline image decoder draws and works on
easy-VQA images too. Classical vision only (OpenCV + numpy), so its verdicts do not depend on
any learned model:

1. background = the median colour of the border pixels (easy-VQA tints it; ours is white);
2. foreground = pixels whose largest channel difference from the background exceeds a
   threshold; the largest connected component is "the shape" (small specks are ignored);
3. colour = the nearest easy-VQA colour (`COLORS`) to the median of the component's interior
   (eroded by one pixel, so anti-aliased edges do not tint it);
4. shape, from the component's row-width profile inside its bounding box: a triangle grows
   steadily from apex to base (its top and bottom quarters differ strongly in width and it
   fills about half the box); a rectangle fills its box and its corners; a circle fills about
   π/4 of the box and leaves the corners empty.

Example:
    >>> from genaisys.datasets.shapes import render_shape
    >>> import numpy as np
    >>> image = render_shape("blue", "triangle", size=32, rng=np.random.default_rng(0))
    >>> verdict = classify_shape_image(image)
    >>> verdict.color, verdict.shape
    ('blue', 'triangle')
    >>> oracle_agrees(image, "draw a blue triangle")
    True
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import numpy as np
from PIL import Image

from genaisys._optional import require
from genaisys.errors import ConfigError, MediaError
from genaisys.datasets.shapes import COLORS, SHAPES

__all__ = ["ShapeVerdict", "classify_shape_image", "oracle_accuracy", "oracle_agrees", "parse_shape_prompt"]

_FG_THRESHOLD = 60  # max |channel - background| that makes a pixel foreground (0..255)
_MIN_AREA_FRACTION = 0.004  # a component smaller than this share of the image is "no shape"
_SHAPE_WORDS = {"circle": "circle", "rectangle": "rectangle", "triangle": "triangle", "square": "rectangle"}
_COLOR_WORDS = {**{c: c for c in COLORS}, "grey": "gray"}


@dataclass(frozen=True)
class ShapeVerdict:
    """What the oracle sees in one image.

    Attributes:
        color / shape: the nearest easy-VQA colour and the shape class, ``None`` when no shape is found.
        fill_ratio: component area / bounding-box area (rectangle ≈ 1, circle ≈ 0.785, triangle ≈ 0.5).
        taper: mean width of the bottom quarter minus the top quarter, as a fraction of the box width
            (|taper| ≈ 0.75 for a triangle, ≈ 0 for circles and rectangles).
        corner_fill: how full the four corner patches (20% of each side) of the box are
            (rectangle ≈ 1, circle ≈ 0.1, upright triangle ≈ 0.5).
        area_fraction: component area / image area.
        color_distance: RGB distance from the interior's median colour to the chosen colour.
    """

    color: str | None
    shape: str | None
    fill_ratio: float = 0.0
    taper: float = 0.0
    corner_fill: float = 0.0
    area_fraction: float = 0.0
    color_distance: float = float("inf")


def _to_rgb_array(image: Image.Image | np.ndarray | bytes) -> np.ndarray:
    """Any of PIL image / ``(H, W, 3)`` uint8 array / encoded bytes → ``(H, W, 3)`` uint8."""
    if isinstance(image, (bytes, bytearray)):
        try:
            image = Image.open(io.BytesIO(image))
            image.load()
        except (OSError, Image.DecompressionBombError) as exc:
            raise MediaError(f"the oracle could not decode the image bytes ({exc}); pass a PNG or an array") from exc
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise MediaError(f"expected an (H, W, 3) uint8 RGB array, got shape {arr.shape} dtype {arr.dtype}")
    return arr


def classify_shape_image(image: Image.Image | np.ndarray | bytes) -> ShapeVerdict:
    """Find the one shape in ``image`` and name its colour and kind (see the module docstring)."""
    cv2 = require("cv2", "opencv-python-headless", feature="the shape oracle")

    rgb = _to_rgb_array(image)  # (H, W, 3) uint8
    h, w = rgb.shape[:2]
    if min(h, w) < 8:
        raise MediaError(f"image of {w}x{h} is too small for the shape oracle; it needs at least 8x8")
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]]).astype(np.int16)  # (2H+2W, 3)
    background = np.median(border, axis=0)  # (3,)
    diff = np.abs(rgb.astype(np.int16) - background).max(axis=2)  # (H, W)
    mask = (diff > _FG_THRESHOLD).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return ShapeVerdict(None, None)
    k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    area = int(stats[k, cv2.CC_STAT_AREA])
    if area < _MIN_AREA_FRACTION * h * w:
        return ShapeVerdict(None, None, area_fraction=area / (h * w))
    component = labels == k  # (H, W) bool
    x, y = stats[k, cv2.CC_STAT_LEFT], stats[k, cv2.CC_STAT_TOP]
    bw, bh = stats[k, cv2.CC_STAT_WIDTH], stats[k, cv2.CC_STAT_HEIGHT]

    # Colour: the interior's median, so anti-aliased rims (a mix with the background) do not count.
    interior = cv2.erode(component.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    pixels = rgb[interior] if interior.sum() >= 4 else rgb[component]  # (P, 3)
    median = np.median(pixels.astype(np.float32), axis=0)
    names = list(COLORS)
    dists = np.linalg.norm(np.array([COLORS[c] for c in names], np.float32) - median, axis=1)
    color = names[int(np.argmin(dists))]

    # Shape: row widths of the component inside its box, normalised by the box width.
    box = component[y : y + bh, x : x + bw]  # (bh, bw)
    widths = box.sum(axis=1) / bw  # (bh,)
    quarter = max(1, bh // 4)
    taper = float(widths[-quarter:].mean() - widths[:quarter].mean())
    fill = area / float(bw * bh)
    cy, cx = max(1, round(0.2 * bh)), max(1, round(0.2 * bw))  # corner patches: 20% of each side
    corners = float(np.mean([box[:cy, :cx].mean(), box[:cy, -cx:].mean(), box[-cy:, :cx].mean(), box[-cy:, -cx:].mean()]))
    if abs(taper) > 0.35 and fill < 0.72:
        shape = "triangle"
    elif corners > 0.6 and fill > 0.8:
        shape = "rectangle"
    elif fill < 0.62:
        shape = "triangle"
    else:
        shape = "circle"
    return ShapeVerdict(color, shape, fill_ratio=fill, taper=taper, corner_fill=corners, area_fraction=area / (h * w),
                        color_distance=float(dists.min()))


def parse_shape_prompt(prompt: str) -> tuple[str, str]:
    """The ``(color, shape)`` a prompt asks for: exactly one colour word and one shape word.

    Raises:
        ConfigError: when the prompt names no colour/shape, or more than one.
    """
    words = re.findall(r"[a-z]+", prompt.lower())
    colors = {_COLOR_WORDS[w] for w in words if w in _COLOR_WORDS}
    shapes = {_SHAPE_WORDS[w] for w in words if w in _SHAPE_WORDS}
    if len(colors) != 1 or len(shapes) != 1:
        raise ConfigError(
            f"prompt {prompt!r} must name exactly one colour ({', '.join(COLORS)}) and one shape "
            f"({', '.join(SHAPES)}); found colours {sorted(colors)} and shapes {sorted(shapes)}"
        )
    return colors.pop(), shapes.pop()


def oracle_agrees(image: Image.Image | np.ndarray | bytes, prompt: str) -> bool:
    """True when the oracle sees the colour and the shape that ``prompt`` asks for."""
    color, shape = parse_shape_prompt(prompt)
    verdict = classify_shape_image(image)
    return verdict.color == color and verdict.shape == shape


def oracle_accuracy(images: list | np.ndarray, labels: list[tuple[str, str]]) -> dict[str, float]:
    """Agreement of the oracle with known ``(color, shape)`` labels.

    Returns:
        ``{"n", "accuracy", "color_accuracy", "shape_accuracy"}`` (accuracy = both right).
    """
    if len(images) != len(labels):
        raise ConfigError(f"{len(images)} images but {len(labels)} labels; pass one label per image")
    if len(labels) == 0:
        raise ConfigError("oracle_accuracy needs at least one image")
    both = color_ok = shape_ok = 0
    for image, (color, shape) in zip(images, labels, strict=True):
        verdict = classify_shape_image(image)
        color_ok += verdict.color == color
        shape_ok += verdict.shape == shape
        both += verdict.color == color and verdict.shape == shape
    n = len(labels)
    return {"n": float(n), "accuracy": both / n, "color_accuracy": color_ok / n, "shape_accuracy": shape_ok / n}
