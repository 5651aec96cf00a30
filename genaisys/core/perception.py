"""Perception by content: does an image look like what a core's encoder path was trained on?

A connector trained on synthetic shapes is not a photo reader. The nano core's encoder path
knows flat-coloured figures (one circle, rectangle or triangle on a plain background); a photo
or a scanned page reaches it better as text from the expert textualizer (ImageNet labels +
OCR). `looks_like_shapes` tells the two apart from the pixels alone, and says why:

1. the image is reduced to 48×48 and clustered into three colours; a flat-coloured figure is
   almost exactly three colours (background, figure, their anti-aliased edge), a photo is not —
   the median distance of a pixel to its cluster's colour measures it (``residual``);
2. the pixels that are not background (the colour that holds most of the border) form one
   connected region, covering 1–85 % of the image, that is convex (``solidity`` = area over
   convex-hull area ≥ 0.8): circles, rectangles and triangles are; a silhouette of a horse,
   text or a texture are not.

Verdicts: ``"native"`` (both hold: read it with the encoder), ``"both"`` (a convex figure on a
textured background: encoder tokens and the textual description), ``"textualize"`` (a photo,
a document, a drawing of many parts).

Example:
    >>> from PIL import Image, ImageDraw
    >>> image = Image.new("RGB", (64, 64), "white")
    >>> ImageDraw.Draw(image).ellipse((10, 10, 50, 50), fill="red")
    >>> looks_like_shapes(image)[0]
    'native'
    >>> import numpy as np
    >>> noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    >>> looks_like_shapes(noise)[0]
    'textualize'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["SHAPES_DOMAIN", "looks_like_shapes"]

SHAPES_DOMAIN = "shapes"
_SIDE = 48
_FLAT, _TEXTURED = 8.0, 20.0  # residual thresholds (RGB distance, 0-441)
_SOLIDITY = 0.8  # pixelated small triangles measure ~0.87 at 48×48; a horse silhouette 0.57


def _kmeans(pixels: Any, k: int = 3, rounds: int = 12) -> tuple[Any, Any]:
    import numpy as np

    # deterministic init: the first pixel, then repeatedly the pixel farthest from all centres
    centres = [pixels[0]]
    for _ in range(k - 1):
        d = np.min([((pixels - c) ** 2).sum(-1) for c in centres], axis=0)
        centres.append(pixels[int(d.argmax())])
    c = np.stack(centres).astype(float)
    for _ in range(rounds):
        labels = ((pixels[:, None, :] - c[None]) ** 2).sum(-1).argmin(1)
        for j in range(k):
            if (labels == j).any():
                c[j] = pixels[labels == j].mean(0)
    return c, labels


def looks_like_shapes(image: Any) -> tuple[str, str]:
    """``(verdict, reason)`` for one image (a PIL image or a path): ``native``, ``both`` or ``textualize``."""
    import numpy as np
    from PIL import Image
    from skimage.measure import label as connected, regionprops

    if isinstance(image, (str, Path)):
        with Image.open(image) as opened:
            image = opened.convert("RGB")
    small = np.asarray(image.convert("RGB").resize((_SIDE, _SIDE), Image.Resampling.BOX)).astype(float)
    pixels = small.reshape(-1, 3)
    centres, labels = _kmeans(pixels)
    residual = float(np.median(np.sqrt(((pixels - centres[labels]) ** 2).sum(-1))))
    grid = labels.reshape(_SIDE, _SIDE)
    border = np.concatenate([grid[0], grid[-1], grid[:, 0], grid[:, -1]])
    background = int(np.bincount(border, minlength=3).argmax())
    # the figure: everything far from the background colour (edges between figure and background included)
    far = np.sqrt(((small - centres[background]) ** 2).sum(-1)) > max(30.0, 3 * residual)
    regions = sorted(regionprops(connected(far, connectivity=2)), key=lambda r: r.area, reverse=True)
    cover = float(far.mean())
    if not regions:
        return "textualize", f"no figure stands out from the background (colour residual {residual:.1f})"
    main = regions[0]
    single = main.area >= 0.9 * far.sum()
    solidity = float(main.solidity)
    figure = single and 0.01 <= cover <= 0.85 and solidity >= _SOLIDITY
    facts = (f"colour residual {residual:.1f}, {len(regions)} region(s), figure covers {cover:.0%}, "
             f"solidity {solidity:.2f}")
    if figure and residual <= _FLAT:
        return "native", f"one flat-coloured convex figure on a plain background, like the core's training shapes ({facts})"
    if figure and residual <= _TEXTURED:
        return "both", f"a convex figure on a textured background: encoder tokens and a description ({facts})"
    kind = "a photo or a detailed picture" if residual > _FLAT else "a drawing of several parts, text or a silhouette"
    return "textualize", f"{kind}, not a synthetic shape ({facts})"
