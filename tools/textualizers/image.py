"""Image → one paragraph of text: ImageNet labels (EfficientNet-Lite0) + the text it shows (RapidOCR).

Made for `genaisys.memory.ChromaMemory.ingest(describe_image=...)`, which indexes an image by
the description this returns, so a text query ("cat", a word printed in a scan) finds it.

Both models are the packaged ones (`genaisys.assets`): ``efficientnet-lite0`` with its
ImageNet classifier head, and the ``rapidocr`` PP-OCRv4 ONNX models run by
``rapidocr-onnxruntime`` with their paths passed explicitly (nothing is downloaded).

Example:
    >>> from genaisys.tools.textualizers import ImageTextualizer
    >>> describe = ImageTextualizer(top_k=3)                                 # doctest: +SKIP
    >>> describe("chelsea.png")                                              # doctest: +SKIP
    'An image of 451×300 pixels. It most likely shows: Egyptian cat (77%), tiger cat (10%), tabby (8%). No text was found in it.'
"""

from __future__ import annotations

import functools
import time
import warnings
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from genaisys._optional import require
from genaisys.errors import ConfigError, MediaError

__all__ = ["ImageTextualizer", "ImageTextualizerConfig"]

_CLASSES_FILE = Path(__file__).with_name("imagenet_classes.txt")  # the 1000 ImageNet-1k class names, in index order
_OCR_FILES = {"det": "ch_PP-OCRv4_det_infer.onnx", "rec": "ch_PP-OCRv4_rec_infer.onnx",
              "cls": "ch_ppocr_mobile_v2.0_cls_infer.onnx"}


class ImageTextualizerConfig(BaseModel):
    """Settings of `ImageTextualizer`.

    Attributes:
        weights: an EfficientNet-Lite0 state dict (.pth) with its ``_fc`` head; None: the packaged one.
        image_size: classifier input side (a multiple of 32; the weights were trained at 224).
        top_k: how many ImageNet labels `describe` returns.
        min_label_prob: labels below this probability are left out of the paragraph.
        ocr: run OCR (RapidOCR); False gives labels only (faster).
        ocr_models: a folder with the three RapidOCR ONNX models; None: the packaged ``rapidocr``.
        ocr_min_score: recognised lines below this confidence are dropped.
        max_ocr_chars: the OCR text in the paragraph is cut to this length.
        max_pixels: larger images (width × height) are refused with `MediaError` before decoding
            (decompression bombs); replaces Pillow's global ``MAX_IMAGE_PIXELS`` for this call.
        max_bytes: larger files are refused with `MediaError`.
        cpu_threads: ONNX Runtime threads for OCR.
    """

    model_config = ConfigDict(extra="forbid")

    weights: str | None = None
    image_size: int = Field(default=224, ge=32)
    top_k: int = Field(default=5, ge=1, le=1000)
    min_label_prob: float = Field(default=0.05, ge=0.0, le=1.0)
    ocr: bool = True
    ocr_models: str | None = None
    ocr_min_score: float = Field(default=0.5, ge=0.0, le=1.0)
    max_ocr_chars: int = Field(default=2000, ge=1)
    max_pixels: int = Field(default=50_000_000, gt=0)
    max_bytes: int = Field(default=100_000_000, gt=0)
    cpu_threads: int = Field(default=1, ge=1)


@functools.lru_cache(maxsize=1)
def _class_names() -> tuple[str, ...]:
    names = tuple(line.strip() for line in _CLASSES_FILE.read_text(encoding="utf-8").splitlines() if line.strip())
    if len(names) != 1000:
        raise ConfigError(f"{_CLASSES_FILE} holds {len(names)} class names, not 1000; reinstall genaisys")
    return names


@functools.lru_cache(maxsize=2)
def _load_classifier(weights: str, image_size: int) -> Any:
    from genaisys.core.encoders import load_efficientnet_lite0

    return load_efficientnet_lite0(weights, image_size=image_size)  # with its ImageNet `_fc` head


@functools.lru_cache(maxsize=2)
def _load_ocr(folder: str, threads: int) -> Any:
    rapidocr = require("rapidocr_onnxruntime", "rapidocr-onnxruntime==1.4.4")
    paths = {key: Path(folder) / name for key, name in _OCR_FILES.items()}
    absent = [str(p) for p in paths.values() if not p.is_file()]
    if absent:
        raise ConfigError(f"RapidOCR model files not found: {absent}; point ocr_models at a folder holding "
                          f"{sorted(_OCR_FILES.values())} or leave it None for the packaged models")
    return rapidocr.RapidOCR(det_model_path=str(paths["det"]), rec_model_path=str(paths["rec"]),
                             cls_model_path=str(paths["cls"]), intra_op_num_threads=threads,
                             inter_op_num_threads=1)


def _open_image(path: str | Path, max_pixels: int, max_bytes: int) -> Any:
    """Decode ``path`` to an RGB PIL image; `MediaError` if missing, empty, not an image, corrupt or too big."""
    from PIL import Image, ImageOps

    file = Path(path).expanduser()
    if not file.is_file():
        raise MediaError(f"no image file at {file}")
    size = file.stat().st_size
    if size == 0:
        raise MediaError(f"{file.name} is empty (0 bytes): nothing to describe")
    if size > max_bytes:
        raise MediaError(f"{file.name} is {size} bytes, over max_bytes={max_bytes}; raise the cap or shrink it")
    try:
        with warnings.catch_warnings():
            # Pillow warns (and errors at 2×) past its global MAX_IMAGE_PIXELS; our own cap below decides.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(file) as img:  # reads the header only
                pixels = img.width * img.height
                if pixels > max_pixels or pixels == 0:
                    raise MediaError(f"{file.name} is {img.width}×{img.height} = {pixels} pixels, outside "
                                     f"1..max_pixels={max_pixels} (a decompression bomb?); raise the cap if it is real")
                img.load()
                rgb = ImageOps.exif_transpose(img).convert("RGB")
    except Image.DecompressionBombError as exc:
        raise MediaError(f"{file.name} is too large to decode safely (a decompression bomb?): {exc}") from exc
    except (OSError, SyntaxError, ValueError) as exc:  # UnidentifiedImageError is an OSError; truncated → OSError
        raise MediaError(f"{file.name} is not a readable image (corrupt, truncated or not an image): {exc}") from exc
    return rgb


class ImageTextualizer:
    """Describe an image in one paragraph: its top ImageNet labels and the text it shows.

    Args:
        config: an `ImageTextualizerConfig` or its fields as keywords.

    Example:
        >>> t = ImageTextualizer(top_k=3, ocr=False)
        >>> t.config.top_k
        3
        >>> t.describe("chelsea.png")["labels"][0]["label"]                      # doctest: +SKIP
        'Egyptian cat'
    """

    def __init__(self, config: ImageTextualizerConfig | None = None, **kwargs: Any) -> None:
        self.config = config or ImageTextualizerConfig(**kwargs)
        self.last_stats: dict[str, float] = {}

    def _weights(self) -> str:
        if self.config.weights is None:
            from genaisys import assets

            return str(assets.resolve("efficientnet-lite0"))
        weights = Path(self.config.weights).expanduser()
        if not weights.is_file():
            raise ConfigError(f"no EfficientNet-Lite0 weights at {weights}; leave weights=None for the packaged ones")
        return str(weights)

    def _ocr_folder(self) -> str:
        if self.config.ocr_models is None:
            from genaisys import assets

            return str(assets.resolve("rapidocr"))
        return str(Path(self.config.ocr_models).expanduser())

    def classify(self, image: Any) -> list[dict[str, Any]]:
        """Top-k ImageNet labels of an RGB PIL image: ``[{"label": str, "prob": float}, ...]``, best first."""
        import torch

        from genaisys.core.encoders import images_to_array

        cfg = self.config
        model = _load_classifier(self._weights(), cfg.image_size)
        # Lite models were trained on inputs scaled to [-1, 1] (mean 0.5, std 0.5), as the encoder uses.
        x = images_to_array([image], cfg.image_size, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))  # (1, 3, S, S)
        with torch.inference_mode():
            probs = model(x).softmax(-1)[0]  # (1000,)
        top = probs.topk(cfg.top_k)
        names = _class_names()
        return [{"label": names[int(i)], "prob": round(float(p), 4)} for p, i in zip(top.values, top.indices)]

    def read_text(self, image: Any) -> list[dict[str, Any]]:
        """OCR lines of an RGB PIL image, top to bottom: ``[{"text": str, "score": float, "box": [[x, y]×4]}]``."""
        import numpy as np

        engine = _load_ocr(self._ocr_folder(), self.config.cpu_threads)
        bgr = np.ascontiguousarray(np.asarray(image)[:, :, ::-1])  # (H, W, 3) uint8, OpenCV channel order
        result, _elapsed = engine(bgr)
        lines = []
        for box, text, score in result or []:
            text = " ".join(str(text).split())
            if float(score) >= self.config.ocr_min_score and text:
                lines.append({"text": text, "score": round(float(score), 4),
                              "box": [[round(float(x)), round(float(y))] for x, y in box]})
        return lines

    def describe(self, path: str | Path) -> dict[str, Any]:
        """Labels, OCR lines and the paragraph for the image at ``path``.

        Returns:
            ``{"width", "height", "labels": [{"label", "prob"}], "ocr": [{"text", "score", "box"}],
            "text": str (the OCR lines joined), "description": str}``.

        Raises:
            MediaError: missing, empty, corrupt or non-image file, or over ``max_pixels``/``max_bytes``.
        """
        cfg = self.config
        t0 = time.perf_counter()
        image = _open_image(path, cfg.max_pixels, cfg.max_bytes)
        t1 = time.perf_counter()
        labels = self.classify(image)
        t2 = time.perf_counter()
        ocr = self.read_text(image) if cfg.ocr else []
        t3 = time.perf_counter()
        text = " ".join(line["text"] for line in ocr)
        self.last_stats = {"decode_s": t1 - t0, "classify_s": t2 - t1, "ocr_s": t3 - t2, "total_s": t3 - t0}
        return {"width": image.width, "height": image.height, "labels": labels, "ocr": ocr, "text": text,
                "description": self._paragraph(image.width, image.height, labels, text)}

    def _paragraph(self, width: int, height: int, labels: list[dict[str, Any]], text: str) -> str:
        parts = [f"An image of {width}×{height} pixels."]
        shown = [f"{item['label']} ({item['prob']:.0%})" for item in labels if item["prob"] >= self.config.min_label_prob]
        parts.append(f"It most likely shows: {', '.join(shown)}." if shown
                     else "No ImageNet object is recognised with confidence.")
        if self.config.ocr:
            if text:
                if len(text) > self.config.max_ocr_chars:
                    text = text[: self.config.max_ocr_chars].rstrip() + "…"
                parts.append(f'The text in it reads: "{text}"')
            else:
                parts.append("No text was found in it.")
        return " ".join(parts)

    def __call__(self, path: str | Path) -> str:
        """The one-paragraph description of the image at ``path`` (for ``ingest(describe_image=...)``).

        Raises:
            MediaError: missing, empty, corrupt or non-image file, or over ``max_pixels``/``max_bytes``.
        """
        return self.describe(path)["description"]
