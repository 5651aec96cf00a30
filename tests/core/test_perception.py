"""Perception by content: flat-coloured convex figures read natively, photos and drawings as text."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from genaisys.core.perception import looks_like_shapes


def _shape(kind: str, *, size: int = 96, fill: str = "blue", background: str = "white") -> Image.Image:
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    if kind == "circle":
        draw.ellipse((20, 25, 70, 75), fill=fill)
    elif kind == "rectangle":
        draw.rectangle((10, 30, 80, 60), fill=fill)
    else:
        draw.polygon([(48, 10), (85, 80), (12, 70)], fill=fill)
    return image


@pytest.mark.parametrize("kind", ["circle", "rectangle", "triangle"])
@pytest.mark.parametrize(("fill", "background"), [("blue", "white"), ("yellow", "purple"), ("black", "orange")])
def test_flat_shapes_are_read_natively(kind, fill, background):
    verdict, reason = looks_like_shapes(_shape(kind, fill=fill, background=background))
    assert verdict == "native", reason
    assert "convex figure" in reason


def test_photos_and_noise_are_textualized():
    import skimage.data

    for name in ("chelsea", "coffee", "astronaut"):
        verdict, reason = looks_like_shapes(Image.fromarray(getattr(skimage.data, name)()))
        assert verdict == "textualize", (name, reason)
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (80, 80, 3), dtype=np.uint8))
    assert looks_like_shapes(noise)[0] == "textualize"


def test_a_silhouette_or_several_figures_is_not_a_shape():
    image = _shape("circle")
    ImageDraw.Draw(image).ellipse((75, 5, 92, 22), fill="blue")  # a second figure
    verdict, reason = looks_like_shapes(image)
    assert verdict == "textualize" and "several parts" in reason
    star = Image.new("RGB", (96, 96), "white")  # concave: solidity well under the threshold
    ImageDraw.Draw(star).polygon([(48, 5), (56, 40), (92, 48), (56, 56), (48, 92), (40, 56), (5, 48), (40, 40)],
                                 fill="black")
    assert looks_like_shapes(star)[0] == "textualize"


def test_a_convex_figure_on_a_textured_background_gets_both(tmp_path):
    rng = np.random.default_rng(1)
    pixels = np.clip(200 + rng.normal(0, 14, (96, 96, 3)), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels)
    ImageDraw.Draw(image).ellipse((20, 20, 75, 75), fill=(0, 0, 255))
    path = tmp_path / "textured.png"
    image.save(path)
    verdict, reason = looks_like_shapes(path)  # a path works too
    assert verdict == "both", reason
