"""A registered Chroma image embedding from a vision encoder: EfficientNet-Lite0, pooled features.

No CLIP/SigLIP weights ship in any package (docs/architecture.md, "The embedded default"), so image → image retrieval uses the
packaged ImageNet EfficientNet-Lite0: its last feature map ``(1280, 7, 7)`` is average-pooled to one
1280-d vector and L2-normalised, a standard off-the-shelf image descriptor (near-duplicates and
same-category photos score high). Text → image retrieval goes through the text descriptions
(textualizations) in the text collection instead.

Registered with Chroma like the text embeddings, so an image collection re-opens in any process
that imports `genaisys.memory`. The model loads on first use (torch is imported then, not before).

Example:
    >>> import numpy as np
    >>> from genaisys.memory.image_embeddings import EfficientNetImageEmbedding
    >>> emb = EfficientNetImageEmbedding()          # nothing loaded yet
    >>> emb.get_config()["weights"]
    'efficientnet-lite0'
    >>> vec = emb([np.zeros((64, 64, 3), np.uint8)])[0]  # doctest: +SKIP
    >>> vec.shape                                        # doctest: +SKIP
    (1280,)
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.api.types import EmbeddingFunction, Embeddings, Images, Space
from chromadb.utils.embedding_functions import register_embedding_function

from genaisys.errors import ConfigError, MediaError, MemoryStoreError

__all__ = ["DEFAULT_IMAGE_WEIGHTS", "EfficientNetImageEmbedding", "load_image_array"]

DEFAULT_IMAGE_WEIGHTS = "efficientnet-lite0"
"""The packaged ImageNet EfficientNet-Lite0 state dict (`genaisys.assets.resolve`)."""

_MODELS: dict[str, Any] = {}
_LOCK = threading.Lock()


def load_image_array(image: Any) -> np.ndarray:
    """A path, bytes, PIL image or array → an ``(H, W, 3)`` uint8 RGB array.

    Raises:
        MediaError: the data is not a decodable image.
    """
    from PIL import Image, UnidentifiedImageError

    if isinstance(image, np.ndarray):
        arr = image
        if arr.ndim == 2:
            arr = np.stack([arr] * 3, axis=-1)
        if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
            raise MediaError(f"an image array must be (H, W, 3) or (H, W, 4), got shape {arr.shape}")
        if arr.dtype != np.uint8:
            arr = np.clip(arr * (255.0 if arr.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(arr[..., :3])
    try:
        if isinstance(image, (bytes, bytearray)):
            import io

            pil = Image.open(io.BytesIO(bytes(image)))
        elif isinstance(image, (str, Path)):
            pil = Image.open(Path(image).expanduser())
        elif isinstance(image, Image.Image):
            pil = image
        else:
            raise MediaError(f"cannot read an image from {type(image).__name__}; "
                             "pass a path, bytes, PIL image or array")
        pil.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise MediaError(f"not a readable image ({exc})") from exc
    return np.asarray(pil.convert("RGB"), dtype=np.uint8)


def _load_model(weights: str) -> Any:
    with _LOCK:
        if weights in _MODELS:
            return _MODELS[weights]
        from genaisys.core.encoders import load_efficientnet_lite0

        try:
            model = load_efficientnet_lite0(None if weights == DEFAULT_IMAGE_WEIGHTS else weights)
        except ConfigError as exc:
            raise MemoryStoreError(f"cannot use image-embedding weights {weights!r}: {exc}") from exc
        _MODELS[weights] = model
        return model


@register_embedding_function
class EfficientNetImageEmbedding(EmbeddingFunction[Images]):
    """EfficientNet-Lite0 pooled features as a 1280-d unit vector per image.

    Args:
        weights: ``"efficientnet-lite0"`` (the packaged ImageNet weights) or a path to a
            compatible ``.pth`` state dict.
        image_size: images are resized to ``image_size × image_size`` (224, as trained).
        batch_size: images per forward pass.
    """

    def __init__(self, weights: str | Path = DEFAULT_IMAGE_WEIGHTS, *, image_size: int = 224,
                 batch_size: int = 16) -> None:
        if image_size < 32 or batch_size < 1:
            raise ConfigError(f"image_size must be >= 32 and batch_size >= 1, got {image_size}, {batch_size}")
        self.weights = str(weights)
        self.image_size = int(image_size)
        self.batch_size = int(batch_size)

    dimension = 1280

    def _pixels(self, images: list[np.ndarray]) -> np.ndarray:
        from PIL import Image

        out = np.empty((len(images), 3, self.image_size, self.image_size), dtype=np.float32)  # (N, 3, S, S)
        for i, arr in enumerate(images):
            pil = Image.fromarray(load_image_array(arr)).resize((self.image_size, self.image_size),
                                                                Image.Resampling.BILINEAR)
            x = np.asarray(pil, dtype=np.float32) / 255.0  # (S, S, 3) in [0, 1]
            out[i] = ((x - 0.5) / 0.5).transpose(2, 0, 1)  # Lite models: mean 0.5, std 0.5 → [-1, 1]
        return out

    def __call__(self, input: Images) -> Embeddings:
        images = list(input)
        if not images:
            return []
        import torch

        model = _load_model(self.weights)
        vectors = []
        for start in range(0, len(images), self.batch_size):
            pixels = torch.from_numpy(self._pixels(images[start:start + self.batch_size]))  # (B, 3, S, S)
            with torch.inference_mode():
                fmap = model.extract_features(pixels)  # (B, 1280, S/32, S/32)
                pooled = fmap.mean(dim=(2, 3))  # (B, 1280)
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
            vectors.extend(pooled.numpy().astype(np.float32))
        return vectors

    @staticmethod
    def name() -> str:
        return "genaisys-efficientnet-lite0"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]

    def get_config(self) -> dict[str, Any]:
        return {"weights": self.weights, "image_size": self.image_size, "batch_size": self.batch_size}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> EfficientNetImageEmbedding:
        return EfficientNetImageEmbedding(config.get("weights", DEFAULT_IMAGE_WEIGHTS),
                                          image_size=int(config.get("image_size", 224)),
                                          batch_size=int(config.get("batch_size", 16)))

    def __repr__(self) -> str:
        return f"EfficientNetImageEmbedding(weights={self.weights!r}, image_size={self.image_size})"
