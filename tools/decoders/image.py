"""Text → image with any diffusers text-to-image pipeline (a hub id or a saved folder).

The prompt is text, or ``prompt_embeds`` — e.g. the output projector's conditioning behind the
core's signal tokens, looked up by reference through ``signals=core.signal_embeddings``. The PNG
lands in the blob store and under ``output_dir`` with a JSON sidecar of its generation
parameters (see `genaisys.tools.decoders.base`).

Example:
    >>> decoder = DiffusersImageDecoder(model="path/to/pipeline", steps=20, seed=0)    # doctest: +SKIP
    >>> art = decoder.decode("a blue triangle")                                         # doctest: +SKIP
    >>> art.blob_id, art.path                                                           # doctest: +SKIP
    ('sha256:…', PosixPath('~/.cache/genaisys/decoded/image-….png'))
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from genaisys._optional import require
from genaisys.errors import ConfigError
from genaisys.tools.decoders.base import (
    DecodedArtifact,
    DiffusersDecoder,
    write_artifact,
)

__all__ = ["DiffusersImageDecoder", "DiffusersImageDecoderConfig"]


class DiffusersImageDecoderConfig(BaseModel):
    """Settings of `DiffusersImageDecoder`; each generation setting can be overridden per call.

    Attributes:
        model: a diffusers text-to-image pipeline: a local folder (``save_pretrained``) or a hub id.
        steps: denoising steps (1 … ``max_steps``).
        guidance_scale: classifier-free guidance (0 … 50; ≤ 1 turns guidance off).
        negative_prompt: what the image should not show.
        width, height: pixels (multiples of 8, 8 … 2048); None: the pipeline's default size.
        seed: the random seed; None draws one (and records it).
        max_steps: the cap on ``steps``, also for calls from the model.
        output_dir: where PNGs and their JSON sidecars go (default `base.default_output_dir`).
        torch_dtype, device: how the pipeline is loaded and run (CPU float32 by default).
    """

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1)
    steps: int = Field(default=25, ge=1, le=1000)
    guidance_scale: float = Field(default=7.5, ge=0, le=50)
    negative_prompt: str | None = None
    width: int | None = Field(default=None, ge=8, le=2048, multiple_of=8)
    height: int | None = Field(default=None, ge=8, le=2048, multiple_of=8)
    seed: int | None = Field(default=0, ge=0, lt=2**63)
    max_steps: int = Field(default=150, ge=1, le=1000)
    output_dir: Path | None = None
    torch_dtype: str = "float32"
    device: str = "cpu"


class DiffusersImageDecoder(DiffusersDecoder):
    """Generate a PNG from text (or ``prompt_embeds``) with a diffusers text-to-image pipeline.

    Args:
        config: a `DiffusersImageDecoderConfig`, or its fields as keywords.
        blobs: the blob store to put PNGs in (pass the graph's); default ``output_dir/blobs``.
        signals: ``ref -> prompt_embeds`` lookup for signal references (``core.signal_embeddings``).
        pipeline: an already built pipeline to use instead of loading ``model``.

    Example:
        >>> DiffusersImageDecoder(model="no/such/folder/").config.steps
        25
    """

    kind = "image"
    task = "text-to-image"
    subject = "image"
    config_class = DiffusersImageDecoderConfig

    def _check_embeds(self, embeds: Any) -> Any:
        """``(1, tokens, dim)`` conditioning as wide as the UNet attends to, on its device and dtype."""
        torch = require("torch", "torch")
        if not isinstance(embeds, torch.Tensor):
            raise ConfigError(f"prompt_embeds must be a torch tensor (1, tokens, dim); got {type(embeds).__name__}")
        if embeds.dim() == 2:
            embeds = embeds.unsqueeze(0)  # (tokens, dim) -> (1, tokens, dim)
        if embeds.dim() != 3 or embeds.shape[0] != 1 or embeds.shape[1] < 1:
            raise ConfigError(f"prompt_embeds must be (1, tokens, dim); got shape {tuple(embeds.shape)}")
        unet = getattr(self.pipeline, "unet", None)
        want = getattr(getattr(unet, "config", None), "cross_attention_dim", None)
        if isinstance(want, int) and embeds.shape[-1] != want:
            raise ConfigError(
                f"prompt_embeds have width {embeds.shape[-1]} but this pipeline's UNet attends to "
                f"{want}-wide conditioning; align the output projector to this decoder (out_dim={want})")
        return embeds.to(device=self.config.device, dtype=getattr(torch, self.config.torch_dtype))

    def decode(
        self,
        prompt: str = "",
        *,
        prompt_embeds: Any = None,
        signal: Any = None,
        negative_prompt: str | None = None,
        seed: int | None = None,
        steps: int | None = None,
        guidance_scale: float | None = None,
        width: int | None = None,
        height: int | None = None,
    ) -> DecodedArtifact:
        """Generate one image; store it and write ``image-<hash>.png`` + its JSON sidecar.

        Args:
            prompt: what to draw (may be empty only when ``prompt_embeds`` or ``signal`` is given;
                it is then recorded but the embeddings condition the image).
            prompt_embeds: conditioning ``(1, tokens, dim)`` (dim = the UNet's cross-attention width).
            signal: a signal reference (``"sig_…"`` or ``{"ref": ...}``) resolved through ``signals``.
            negative_prompt, seed, steps, guidance_scale, width, height: override the config.

        Returns:
            A `DecodedArtifact` (``blob_id``, ``mime_type="image/png"``, ``path``, ``params``).

        Raises:
            ConfigError: empty prompt without embeddings, out-of-range settings, embeddings of the
                wrong shape, or a pipeline that is not text-to-image.
        """
        cfg, kwargs, used_seed = self._prepare(prompt, prompt_embeds, signal, {
            "negative_prompt": negative_prompt, "seed": seed, "steps": steps, "guidance_scale": guidance_scale,
            "width": width, "height": height})
        kwargs["output_type"] = "pil"
        if cfg.width is not None:
            kwargs["width"] = cfg.width
        if cfg.height is not None:
            kwargs["height"] = cfg.height
        result = self._call_pipeline(kwargs)
        image = _first_image(result)
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        params = {"model": cfg.model, "pipeline": type(self.pipeline).__name__, "prompt": prompt,
                  "prompt_embeds": kwargs.get("prompt_embeds"), "signal": signal,
                  "negative_prompt": kwargs.get("negative_prompt"), "seed": used_seed, "steps": cfg.steps,
                  "guidance_scale": cfg.guidance_scale, "width": image.width, "height": image.height}
        return write_artifact(buf.getvalue(), kind=self.kind, suffix=".png", mime_type="image/png", params=params,
                              output_dir=self.output_dir, blobs=self.blobs, decoder=type(self).__name__)

    __call__ = decode


def _first_image(result: Any) -> Any:
    """The first image of a pipeline output (PIL, or a (H, W, C) float/uint8 array) as PIL."""
    from PIL import Image

    images = getattr(result, "images", None)
    if images is None and isinstance(result, (tuple, list)) and result:
        images = result[0]
    if images is None or len(images) == 0:
        raise ConfigError(f"the pipeline returned no images ({type(result).__name__}); is it text-to-image?")
    first = images[0]
    if isinstance(first, Image.Image):
        return first.convert("RGB")
    import numpy as np

    array = np.asarray(first)
    if array.ndim != 3:
        raise ConfigError(f"the pipeline returned an image of shape {array.shape}; expected (H, W, C)")
    if array.dtype != np.uint8:
        array = (np.clip(array, 0, 1) * 255).round().astype(np.uint8)
    return Image.fromarray(array[..., :3] if array.shape[-1] >= 3 else array[..., 0]).convert("RGB")
