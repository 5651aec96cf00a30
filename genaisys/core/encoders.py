"""Vision towers with one face: ``forward(pixel_values) -> (B, n_tokens, hidden_size)``.

* `EfficientNetLite0Encoder` — the packaged ImageNet EfficientNet-Lite0 (docs/architecture.md, "The
  embedded default"): its last feature map ``(B, 1280, 7, 7)`` at 224 px becomes 49 tokens of 1280-d.
* `HFVisionEncoder` — any Hugging Face vision transformer (CLIP, SigLIP, ViT, …) from an id, a
  local folder or a config dict; features come from a chosen hidden layer (default the
  penultimate one, as LLaVA does) with the CLS token dropped.

Each tower also owns its ``preprocess(images) -> pixel_values``, done with PIL and numpy
(no torchvision: it does not import beside this torch).

Example:
    >>> from PIL import Image
    >>> from genaisys.core.encoders import VisionEncoderConfig, build_vision_encoder
    >>> enc = build_vision_encoder(VisionEncoderConfig(name="efficientnet-lite0", pretrained=False))
    >>> enc(enc.preprocess([Image.new("RGB", (64, 48))])).shape
    torch.Size([1, 49, 1280])
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from pydantic import BaseModel, ConfigDict
from torch import nn

from genaisys._registry import Registry
from genaisys.errors import ConfigError, MediaError

__all__ = [
    "VISION_ENCODERS",
    "EfficientNetLite0Encoder",
    "HFVisionEncoder",
    "VisionEncoderConfig",
    "build_vision_encoder",
    "images_to_array",
    "register_vision_encoder",
]

_CLIP_MEAN, _CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)


class VisionEncoderConfig(BaseModel):
    """Which vision tower to build.

    Attributes:
        name: registry name: ``"efficientnet-lite0"`` or ``"hf"``.
        model: for ``"hf"``: a local folder or hub id of a vision model (or of a CLIP/SigLIP
            dual model, whose vision half is taken).
        config: for ``"hf"``: a config dict (with ``model_type``) to build a randomly
            initialised tower instead (tests, training from scratch).
        pretrained: ``efficientnet-lite0`` only: load the packaged ImageNet weights.
        weights: ``efficientnet-lite0`` only: a .pth state dict to load instead of the packaged one.
        feature_layer: ``"hf"`` only: index into the hidden states (-2 = penultimate, LLaVA).
        drop_cls: ``"hf"`` only: drop the CLS token when the model has one.
        image_size: override the input resolution (default: the model's own).
        image_mean / image_std: override the normalisation (default: the model's own).
        low / high: ``"dual"`` only: the low-res tower (its tokens reach the LM) and the
            high-res tower that refines them (`genaisys.core.dual_encoder`, Mini-Gemini).
    """

    model_config = ConfigDict(extra="forbid")

    name: str = "efficientnet-lite0"
    model: str | None = None
    config: dict[str, Any] | None = None
    pretrained: bool = True
    weights: str | None = None
    feature_layer: int = -2
    drop_cls: bool = True
    image_size: int | None = None
    image_mean: tuple[float, float, float] | None = None
    image_std: tuple[float, float, float] | None = None
    low: VisionEncoderConfig | None = None
    high: VisionEncoderConfig | None = None


def images_to_array(images: list[Image.Image], size: int, mean: tuple[float, ...],
                    std: tuple[float, ...]) -> torch.Tensor:
    """Resize (bicubic, to ``size``×``size``), scale to [0, 1], normalise: ``(N, 3, size, size)`` float32."""
    if not images:
        raise MediaError("no images to preprocess; pass a non-empty list of PIL images")
    arrays = []
    for i, img in enumerate(images):
        if not isinstance(img, Image.Image):
            raise MediaError(f"image {i} is a {type(img).__name__}, not a PIL.Image; open it with PIL first")
        if img.width == 0 or img.height == 0:
            raise MediaError(f"image {i} is empty ({img.width}x{img.height})")
        rgb = img.convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
        arrays.append(np.asarray(rgb, dtype=np.float32) / 255.0)  # (H, W, 3)
    x = (np.stack(arrays) - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()  # (N, 3, H, W)


def load_efficientnet_lite0(weights: str | Path | None = None, *, image_size: int = 224,
                            pretrained: bool = True) -> nn.Module:
    """The packaged EfficientNet-Lite0 (ImageNet, with its classifier head), in eval mode.

    The one place that builds and loads it: the vision tower, the image embedding of the memory
    and the image textualizer all call this.

    Args:
        weights: a ``.pth`` state dict; default the packaged one (`genaisys.assets`).
        image_size: input size (a multiple of 32); "same" padding is computed for it.
        pretrained: load weights; ``False`` keeps the random init (tests).

    Raises:
        ConfigError: a bad image size, or weights that are not an EfficientNet-Lite0 state dict.

    Example:
        >>> load_efficientnet_lite0(pretrained=False)._fc.out_features
        1000
    """
    from genaisys._optional import require

    enet = require("efficientnet_lite_pytorch", "efficientnet-lite-pytorch==0.1.0", feature="EfficientNet-Lite0")
    if image_size % 32:
        raise ConfigError(f"efficientnet-lite0 needs an image_size divisible by 32 (its stride), got {image_size}")
    model = enet.EfficientNet.from_name("efficientnet-lite0", image_size=image_size)
    if pretrained or weights:
        if weights is None:
            from genaisys import assets

            weights = assets.resolve("efficientnet-lite0")
        try:
            state = torch.load(Path(weights).expanduser(), map_location="cpu", weights_only=True)
        except (OSError, RuntimeError) as exc:
            raise ConfigError(f"cannot load EfficientNet-Lite0 weights {str(weights)!r}: {exc}") from exc
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ConfigError(f"{weights} is not an EfficientNet-Lite0 state dict "
                              f"(missing {list(missing)[:3]}, unexpected {list(unexpected)[:3]})")
    return model.eval()


class EfficientNetLite0Encoder(nn.Module):
    """The packaged EfficientNet-Lite0 as a vision tower: ``(B, 3, 224, 224) → (B, 49, 1280)``.

    Lite models were trained on inputs scaled to [-1, 1] (mean 0.5, std 0.5 per channel).

    Example:
        >>> enc = EfficientNetLite0Encoder(pretrained=False)
        >>> enc.hidden_size, enc.image_size, enc.n_tokens
        (1280, 224, 49)
    """

    def __init__(self, *, pretrained: bool = True, weights: str | None = None, image_size: int | None = None,
                 image_mean: tuple[float, float, float] | None = None,
                 image_std: tuple[float, float, float] | None = None) -> None:
        super().__init__()
        self.image_size = image_size or 224
        self.model = load_efficientnet_lite0(weights, image_size=self.image_size, pretrained=pretrained)
        # The classifier head is never used; drop it so it is not mistaken for trainable state.
        self.model._fc = nn.Identity()
        self.hidden_size = 1280
        self.image_mean = image_mean or (0.5, 0.5, 0.5)
        self.image_std = image_std or (0.5, 0.5, 0.5)
        self.n_tokens = (self.image_size // 32) ** 2

    def preprocess(self, images: list[Image.Image]) -> torch.Tensor:
        """PIL images → ``(N, 3, image_size, image_size)`` pixel values."""
        return images_to_array(images, self.image_size, self.image_mean, self.image_std)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        fmap = self.model.extract_features(pixel_values)  # (B, 1280, h, w)
        return fmap.flatten(2).transpose(1, 2)  # (B, h*w, 1280)


def _hf_vision_model(config: VisionEncoderConfig) -> nn.Module:
    from transformers import AutoConfig, AutoModel

    if config.config is not None:
        cfg_dict = dict(config.config)
        model_type = cfg_dict.pop("model_type", None)
        if model_type is None:
            raise ConfigError("an 'hf' vision config dict needs a 'model_type' (e.g. 'clip_vision_model', 'vit')")
        model = AutoModel.from_config(AutoConfig.for_model(model_type, **cfg_dict))
    elif config.model is not None:
        model = AutoModel.from_pretrained(config.model)
    else:
        raise ConfigError("an 'hf' vision encoder needs `model` (id or folder) or `config` (a dict)")
    # Dual models (CLIPModel, SiglipModel) carry the tower we want as `.vision_model`.
    if hasattr(model, "vision_model") and hasattr(model, "text_model"):
        model = model.vision_model
    return model


class HFVisionEncoder(nn.Module):
    """Any Hugging Face vision model as a vision tower: a ViT family or a CNN (ConvNeXt, ResNet).

    Features are ``hidden_states[feature_layer]`` (default -2, the penultimate layer, as LLaVA
    does); the CLS token is dropped when ``drop_cls`` and the model has one (CLIP, ViT; SigLIP
    has none). For a CNN the layer is a stage, and its feature map becomes one token per cell.

    Example:
        >>> cfg = VisionEncoderConfig(name="hf", config={"model_type": "vit", "hidden_size": 32,
        ...     "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 37,
        ...     "image_size": 32, "patch_size": 8})
        >>> enc = HFVisionEncoder(cfg)
        >>> enc(__import__("torch").zeros(1, 3, 32, 32)).shape
        torch.Size([1, 16, 32])
    """

    def __init__(self, config: VisionEncoderConfig) -> None:
        super().__init__()
        self.model = _hf_vision_model(config)
        cfg = getattr(self.model, "config", None)
        self.model_type = getattr(cfg, "model_type", "")
        self.feature_layer = config.feature_layer
        self.drop_cls = config.drop_cls
        mean, std = _norm_for(config, self.model_type)
        self.image_mean, self.image_std = config.image_mean or mean, config.image_std or std
        # Convolutional towers (ConvNeXt, ResNet…) have stages with `hidden_sizes`, not patches:
        # their feature maps (B, C, H, W) become H·W tokens of C features.
        self.is_cnn = hasattr(cfg, "hidden_sizes") and not hasattr(cfg, "hidden_size")
        self.image_size = int(config.image_size or getattr(cfg, "image_size", 224))
        if self.is_cnn:
            with torch.no_grad():  # one probe pass gives each stage's (C, H, W) for this image size
                states = self.model(pixel_values=torch.zeros(1, 3, self.image_size, self.image_size),
                                    output_hidden_states=True).hidden_states
            self._check_layer(len(states) - 1)
            _, channels, height, width = states[self.feature_layer].shape
            self.hidden_size, self.n_patches = int(channels), int(height * width)
            self.n_tokens = self.n_patches
            return
        self.hidden_size = int(cfg.hidden_size)
        self._check_layer(int(cfg.num_hidden_layers))
        self.n_patches = (self.image_size // int(cfg.patch_size)) ** 2
        self.n_tokens = self.n_patches  # the CLS token is dropped or absent
        if not self.drop_cls and self._has_cls():
            self.n_tokens += 1

    def _check_layer(self, n_layers: int) -> None:
        if not -(n_layers + 1) <= self.feature_layer <= n_layers:
            raise ConfigError(f"feature_layer {self.feature_layer} is out of range for a {n_layers}-layer "
                              f"encoder (hidden states run from {-(n_layers + 1)} to {n_layers})")

    def _has_cls(self) -> bool:
        return "siglip" not in self.model_type

    def preprocess(self, images: list[Image.Image]) -> torch.Tensor:
        """PIL images → ``(N, 3, image_size, image_size)`` pixel values."""
        return images_to_array(images, self.image_size, self.image_mean, self.image_std)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        out = self.model(pixel_values=pixel_values, output_hidden_states=True)
        h = out.hidden_states[self.feature_layer]  # (B, n_patches [+1], d), or (B, C, H, W) for a CNN
        if self.is_cnn:
            return h.flatten(2).transpose(1, 2)  # (B, H·W, C)
        if self.drop_cls and h.shape[1] == self.n_patches + 1:
            h = h[:, 1:]
        return h  # (B, n_tokens, d)


def _norm_for(config: VisionEncoderConfig, model_type: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The tower's normalisation: from its preprocessor_config.json if present, else by family."""
    if config.model and (Path(config.model) / "preprocessor_config.json").is_file():
        pre = json.loads((Path(config.model) / "preprocessor_config.json").read_text())
        if "image_mean" in pre and "image_std" in pre:
            return tuple(pre["image_mean"]), tuple(pre["image_std"])
    if model_type.startswith("clip"):
        return _CLIP_MEAN, _CLIP_STD
    return (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)


def _efficientnet_lite0(config: VisionEncoderConfig) -> nn.Module:
    if config.model is not None or config.config is not None:
        raise ConfigError("efficientnet-lite0 takes no `model`/`config`; use `weights` for another .pth file")
    return EfficientNetLite0Encoder(pretrained=config.pretrained, weights=config.weights, image_size=config.image_size,
                                    image_mean=config.image_mean, image_std=config.image_std)


def _dual(config: VisionEncoderConfig) -> nn.Module:
    if config.low is None or config.high is None:
        raise ConfigError("a 'dual' vision encoder needs both `low` and `high` encoder configs")
    from genaisys.core.dual_encoder import DualVisionEncoder

    return DualVisionEncoder(build_vision_encoder(config.low), build_vision_encoder(config.high))


#: The vision-tower registry (and allow-list): ``VisionEncoderConfig.name`` → a factory taking the config.
VISION_ENCODERS = Registry("vision encoder", {"efficientnet-lite0": _efficientnet_lite0, "hf": HFVisionEncoder,
                                              "dual": _dual},
                           pattern=r"[a-z][a-z0-9_.\-]*", hint="'hf' or 'my-tower'")


def register_vision_encoder(name: str, factory: Callable[[VisionEncoderConfig], nn.Module], *,
                            replace: bool = False) -> None:
    """Add a vision tower: ``factory(config)`` → an ``nn.Module`` with ``hidden_size``, ``n_tokens``,
    ``preprocess(images)`` and ``forward(pixel_values) -> (B, n_tokens, hidden_size)``.

    Raises:
        ConfigError: a malformed name, or a taken one without ``replace``.
    """
    VISION_ENCODERS.register(name, factory, replace=replace)


def build_vision_encoder(config: VisionEncoderConfig | dict[str, Any]) -> nn.Module:
    """Build a vision tower from its config (a `VisionEncoderConfig` or a dict of one).

    Raises:
        UnknownNameError: ``config.name`` is not a registered tower.

    Example:
        >>> enc = build_vision_encoder({"name": "efficientnet-lite0", "pretrained": False})
        >>> enc.hidden_size
        1280
    """
    if isinstance(config, dict):
        config = VisionEncoderConfig(**config)
    return VISION_ENCODERS.build(config.name, config)
