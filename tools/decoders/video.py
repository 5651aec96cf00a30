"""Text → video with any diffusers text-to-video pipeline (``prompt`` + ``num_frames``, e.g.
``TextToVideoSDPipeline``), encoded as an H.264 MP4 with PyAV.

The MP4 lands in the blob store and under ``output_dir`` with a JSON sidecar of its generation
parameters (see `genaisys.tools.decoders.base`).

Example:
    >>> decoder = DiffusersVideoDecoder(model="path/to/text-to-video", num_frames=16, fps=8)  # doctest: +SKIP
    >>> decoder.decode("a red ball bouncing").path                                           # doctest: +SKIP
    PosixPath('~/.cache/genaisys/decoded/video-….mp4')
"""

from __future__ import annotations

import io
from fractions import Fraction
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

__all__ = ["DiffusersVideoDecoder", "DiffusersVideoDecoderConfig", "mp4_bytes"]


class DiffusersVideoDecoderConfig(BaseModel):
    """Settings of `DiffusersVideoDecoder`; each generation setting can be overridden per call.

    Attributes:
        model: a text-to-video pipeline: a local folder (``save_pretrained``) or a hub id.
        steps: denoising steps (1 … ``max_steps``).
        guidance_scale: classifier-free guidance (0 … 50).
        negative_prompt: what the video should not show.
        num_frames: frames to generate (1 … ``max_frames``).
        fps: frames per second of the MP4.
        width, height: pixels (multiples of 8, 8 … 1024); None: the pipeline's default size.
        seed: the random seed; None draws one (and records it).
        max_steps, max_frames: caps, also for calls from the model.
        output_dir: where MP4s and their JSON sidecars go.
        torch_dtype, device: how the pipeline is loaded and run.
    """

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1)
    steps: int = Field(default=25, ge=1, le=1000)
    guidance_scale: float = Field(default=9.0, ge=0, le=50)
    negative_prompt: str | None = None
    num_frames: int = Field(default=16, ge=1, le=1024)
    fps: int = Field(default=8, ge=1, le=60)
    width: int | None = Field(default=None, ge=8, le=1024, multiple_of=8)
    height: int | None = Field(default=None, ge=8, le=1024, multiple_of=8)
    seed: int | None = Field(default=0, ge=0, lt=2**63)
    max_steps: int = Field(default=150, ge=1, le=1000)
    max_frames: int = Field(default=64, ge=1, le=1024)
    output_dir: Path | None = None
    torch_dtype: str = "float32"
    device: str = "cpu"


def mp4_bytes(frames: Any, fps: int) -> bytes:
    """Frames ``(F, H, W, 3)`` (uint8, or float in [0, 1]) as an H.264 (yuv420p) MP4.

    Odd sizes are padded by one pixel (yuv420p needs even width and height).

    Example:
        >>> import numpy as np
        >>> mp4_bytes(np.zeros((2, 16, 16, 3), np.uint8), fps=4)[4:8]
        b'ftyp'
    """
    av = require("av", "av", feature="writing MP4 video")
    import numpy as np

    array = np.asarray(frames)
    if array.ndim != 4 or array.shape[-1] < 3 or array.shape[0] < 1:
        raise ConfigError(f"video frames must be (frames, height, width, 3); got shape {array.shape}")
    if array.dtype != np.uint8:
        array = (np.clip(array, 0, 1) * 255).round().astype(np.uint8)
    array = array[..., :3]
    pad_h, pad_w = array.shape[1] % 2, array.shape[2] % 2
    if pad_h or pad_w:
        array = np.pad(array, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(int(fps), 1))
        stream.width, stream.height, stream.pix_fmt = array.shape[2], array.shape[1], "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        for rgb in array:  # (H, W, 3)
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


class DiffusersVideoDecoder(DiffusersDecoder):
    """Generate an MP4 from text (or ``prompt_embeds``) with a diffusers text-to-video pipeline.

    Args:
        config: a `DiffusersVideoDecoderConfig`, or its fields as keywords.
        blobs: the blob store to put MP4s in (pass the graph's); default ``output_dir/blobs``.
        signals: ``ref -> prompt_embeds`` lookup for signal references (``core.signal_embeddings``).
        pipeline: an already built pipeline to use instead of loading ``model``.

    Example:
        >>> DiffusersVideoDecoder(model="no/such/folder/").config.fps
        8
    """

    kind = "video"
    task = "text-to-video"
    subject = "video"
    config_class = DiffusersVideoDecoderConfig

    def _check_limits(self, cfg: Any) -> None:
        if cfg.num_frames > cfg.max_frames:
            raise ConfigError(f"num_frames={cfg.num_frames} is over max_frames={cfg.max_frames}; ask for fewer frames")

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
        num_frames: int | None = None,
        fps: int | None = None,
        width: int | None = None,
        height: int | None = None,
    ) -> DecodedArtifact:
        """Generate one clip; store it and write ``video-<hash>.mp4`` + its JSON sidecar.

        Args:
            prompt: what the video shows (may be empty only with ``prompt_embeds`` / ``signal``).
            prompt_embeds: conditioning ``(1, tokens, dim)``.
            signal: a signal reference resolved through ``signals``.
            negative_prompt, seed, steps, guidance_scale, num_frames, fps, width, height: override the config.

        Raises:
            ConfigError: empty prompt, out-of-range settings, or conditioning the pipeline refuses.
        """
        cfg, kwargs, used_seed = self._prepare(prompt, prompt_embeds, signal, {
            "negative_prompt": negative_prompt, "seed": seed, "steps": steps, "guidance_scale": guidance_scale,
            "num_frames": num_frames, "fps": fps, "width": width, "height": height})
        kwargs.update(num_frames=cfg.num_frames, output_type="np")
        if cfg.width is not None:
            kwargs["width"] = cfg.width
        if cfg.height is not None:
            kwargs["height"] = cfg.height
        result = self._call_pipeline(kwargs)
        frames = getattr(result, "frames", None)
        if frames is None or len(frames) == 0:
            raise ConfigError(f"the pipeline returned no frames ({type(result).__name__}); is it text-to-video?")
        import numpy as np

        clip = np.asarray(frames[0])  # (F, H, W, 3) float in [0, 1]
        params = {"model": cfg.model, "pipeline": type(self.pipeline).__name__, "prompt": prompt,
                  "prompt_embeds": kwargs.get("prompt_embeds"), "signal": signal,
                  "negative_prompt": kwargs.get("negative_prompt"), "seed": used_seed, "steps": cfg.steps,
                  "guidance_scale": cfg.guidance_scale, "num_frames": int(clip.shape[0]), "fps": cfg.fps,
                  "width": int(clip.shape[2]), "height": int(clip.shape[1])}
        return write_artifact(mp4_bytes(clip, cfg.fps), kind=self.kind, suffix=".mp4", mime_type="video/mp4",
                              params=params, output_dir=self.output_dir, blobs=self.blobs, decoder=type(self).__name__)

    __call__ = decode
