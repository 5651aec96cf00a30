"""genaisys's own offline image decoder: a small text-conditioned diffusion model that draws shapes.

No diffusion weights can be downloaded offline (docs/architecture.md), so genaisys trains its own
(`genaisys.train.shape_decoder`): a diffusers `UNet2DConditionModel` in 32×32 pixel space (no
VAE) that draws one easy-VQA-style coloured circle, rectangle or triangle on white, conditioned
on text. The trained weights ship beside this file in ``shapes_model/`` with a model card.

Conditioning: the packaged MiniLM (all-MiniLM-L6-v2) sentence embedding of the prompt
(mean-pooled, L2-normalised) as a one-token sequence, ``(B, 1, 384)`` — `encode_prompt`. The
core's signal tokens reach this decoder through an output projector trained to produce the
same tensor (NExT-GPT's decoder-side alignment), passed as ``prompt_embeds``. Classifier-free
guidance uses the all-zero embedding as "no prompt" (what training dropped the prompt to).

Example:
    >>> unet = build_shape_unet(ShapeUNetConfig(image_size=16, block_out_channels=(8, 16), norm_num_groups=4))
    >>> unet.config.cross_attention_dim, unet.config.down_block_types
    (384, ('DownBlock2D', 'CrossAttnDownBlock2D'))
    >>> decoder = ShapeImageDecoder()  # the shipped weights  # doctest: +SKIP
    >>> png = decoder.render("draw a blue triangle", seed=0)  # doctest: +SKIP
    >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"  # doctest: +SKIP
    True
    >>> decoder.decode("draw a blue triangle", seed=0).mime_type  # stored and written, like every decoder  # doctest: +SKIP
    'image/png'
"""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from genaisys.errors import AssetError, ConfigError
from genaisys.types import Blobs

if TYPE_CHECKING:
    from genaisys.tools.decoders.base import DecodedArtifact

__all__ = [
    "CONDITIONING_DIM",
    "DEFAULT_FOLDER",
    "ShapeImageDecoder",
    "ShapeUNetConfig",
    "build_sampler",
    "build_shape_unet",
    "encode_prompt",
    "load_text_encoder",
    "sample_images",
]

#: Width of MiniLM's embeddings = the UNet's ``cross_attention_dim``.
CONDITIONING_DIM = 384
#: The shipped weights (``config.json`` + ``model.safetensors`` + ``MODEL_CARD.md``).
DEFAULT_FOLDER = Path(__file__).resolve().parent / "shapes_model"

_CONFIG_FILE = "config.json"
_WEIGHTS_FILE = "model.safetensors"


class ShapeUNetConfig(BaseModel):
    """Shape of the denoising UNet (pixel space, so ``in_channels = out_channels = 3``).

    Attributes:
        image_size: side of the square images, in pixels.
        block_out_channels: channels per resolution level (each level halves the side).
        layers_per_block: ResNet layers per level.
        cross_attention_levels: how many of the *lowest-resolution* levels get transformer blocks
            (self- + cross-attention to the prompt); the mid block always has one. Attention at
            32×32 costs most of a CPU step and the prompt only sets global attributes.
        attention_head_dim / norm_num_groups: as in diffusers.
    """

    model_config = ConfigDict(extra="forbid")

    image_size: int = Field(default=32, ge=16)
    block_out_channels: tuple[int, ...] = (32, 64, 64)
    layers_per_block: int = Field(default=1, ge=1)
    cross_attention_levels: int = Field(default=1, ge=0)
    attention_head_dim: int = Field(default=8, ge=1)
    norm_num_groups: int = Field(default=8, ge=1)


def build_shape_unet(config: ShapeUNetConfig | None = None) -> Any:
    """A randomly initialised `UNet2DConditionModel` for ``config`` (``cross_attention_dim=384``)."""
    from diffusers import UNet2DConditionModel

    config = config or ShapeUNetConfig()
    levels = len(config.block_out_channels)
    if config.cross_attention_levels > levels:
        raise ConfigError(f"cross_attention_levels={config.cross_attention_levels} exceeds the {levels} levels")
    if any(c % config.norm_num_groups for c in config.block_out_channels):
        raise ConfigError(f"every block_out_channels {config.block_out_channels} must divide by "
                          f"norm_num_groups={config.norm_num_groups}")
    if config.image_size % 2 ** (levels - 1):
        raise ConfigError(f"image_size {config.image_size} must divide by 2**{levels - 1} for {levels} levels")
    down = tuple("CrossAttnDownBlock2D" if i >= levels - config.cross_attention_levels else "DownBlock2D"
                 for i in range(levels))
    up = tuple("CrossAttnUpBlock2D" if d == "CrossAttnDownBlock2D" else "UpBlock2D" for d in reversed(down))
    return UNet2DConditionModel(
        sample_size=config.image_size,
        in_channels=3,
        out_channels=3,
        block_out_channels=config.block_out_channels,
        layers_per_block=config.layers_per_block,
        down_block_types=down,
        up_block_types=up,
        cross_attention_dim=CONDITIONING_DIM,
        attention_head_dim=config.attention_head_dim,
        norm_num_groups=config.norm_num_groups,
    )


@functools.lru_cache(maxsize=4)
def load_text_encoder(path: str | None = None, device: str = "cpu") -> Any:
    """The packaged MiniLM `SentenceTransformer` (or the one in folder ``path``), cached per process."""
    from sentence_transformers import SentenceTransformer

    from genaisys import assets

    folder = path or str(assets.resolve("minilm"))
    return SentenceTransformer(folder, device=device)


def encode_prompt(texts: str | list[str], *, text_encoder: Any = None) -> torch.Tensor:
    """Prompts → the decoder's conditioning: ``(B, 1, 384)`` L2-normalised MiniLM sentence embeddings.

    This is the tensor the core's output projector learns to produce from its signal tokens.

    Example:
        >>> encode_prompt(["a red circle", "draw a blue triangle"]).shape  # doctest: +SKIP
        torch.Size([2, 1, 384])
    """
    if isinstance(texts, str):
        texts = [texts]
    if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
        raise ConfigError("encode_prompt needs one or more non-empty prompt strings")
    encoder = text_encoder if text_encoder is not None else load_text_encoder()
    with torch.no_grad():
        emb = encoder.encode(list(texts), convert_to_tensor=True, normalize_embeddings=True)  # (B, 384)
    return emb.detach().float().cpu().unsqueeze(1)  # (B, 1, 384)


def build_sampler(kind: Literal["ddim", "dpm"], scheduler_config: dict[str, Any]) -> Any:
    """A deterministic diffusers sampler (DDIM with eta 0, or DPM-Solver++ multistep) from a DDPM config."""
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

    if kind == "ddim":
        return DDIMScheduler.from_config(scheduler_config)
    if kind == "dpm":
        return DPMSolverMultistepScheduler.from_config(scheduler_config)
    raise ConfigError(f"unknown sampler {kind!r}; use 'ddim' or 'dpm'")


@torch.no_grad()
def sample_images(
    unet: Any,
    scheduler_config: dict[str, Any],
    prompt_embeds: torch.Tensor,
    *,
    seed: int | list[int] = 0,
    steps: int = 20,
    guidance_scale: float = 3.0,
    sampler: Literal["ddim", "dpm"] = "dpm",
) -> np.ndarray:
    """Denoise from seeded Gaussian noise to images: ``(B, 1, 384)`` embeds → uint8 ``(B, H, W, 3)``.

    Each image's starting noise comes from its own seed (``seed + i``, or ``seed[i]``), so an
    image does not depend on the batch it was drawn in. Classifier-free guidance:
    ``eps = eps_uncond + g * (eps_cond - eps_uncond)`` with the all-zero embedding as "no prompt".
    """
    if prompt_embeds.ndim != 3 or prompt_embeds.shape[-1] != CONDITIONING_DIM:
        raise ConfigError(f"prompt_embeds must be (B, L, {CONDITIONING_DIM}); got {tuple(prompt_embeds.shape)}")
    if steps < 1:
        raise ConfigError(f"steps must be at least 1, got {steps}")
    b = prompt_embeds.shape[0]
    seeds = list(seed) if isinstance(seed, (list, tuple)) else [int(seed) + i for i in range(b)]
    if len(seeds) != b:
        raise ConfigError(f"{len(seeds)} seeds for {b} prompts; pass one seed per prompt or a single int")
    device = next(unet.parameters()).device
    size = unet.config.sample_size
    noise = torch.stack([torch.randn(3, size, size, generator=torch.Generator().manual_seed(s)) for s in seeds])
    x = noise.to(device)  # (B, 3, H, W)
    cond = prompt_embeds.to(device=device, dtype=x.dtype)  # (B, L, 384)
    use_cfg = guidance_scale != 1.0
    context = torch.cat([torch.zeros_like(cond), cond]) if use_cfg else cond  # (2B or B, L, 384)
    scheduler = build_sampler(sampler, scheduler_config)
    scheduler.set_timesteps(steps, device=device)
    x = x * scheduler.init_noise_sigma
    for t in scheduler.timesteps:
        inp = torch.cat([x, x]) if use_cfg else x
        inp = scheduler.scale_model_input(inp, t)
        eps = unet(inp, t, encoder_hidden_states=context).sample  # (2B or B, 3, H, W)
        if use_cfg:
            eps_uncond, eps_cond = eps.chunk(2)
            eps = eps_uncond + guidance_scale * (eps_cond - eps_uncond)
        x = scheduler.step(eps, t, x).prev_sample
    images = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)  # (B, 3, H, W)
    return images.permute(0, 2, 3, 1).cpu().numpy()  # (B, H, W, 3)


class ShapeImageDecoder:
    """Text (or signal-token embeddings) → a PNG of one coloured shape, with genaisys's own weights.

    Args:
        folder: a folder written by `genaisys.train.shape_decoder.train_shape_decoder`
            (``config.json`` + ``model.safetensors``); default: the shipped ``shapes_model/``.
        device: torch device for the UNet.
        text_encoder: a SentenceTransformer to use instead of the packaged MiniLM (tests).
        output_dir: where `decode` writes its PNGs and their JSON sidecars (default
            `genaisys.tools.decoders.base.default_output_dir`).
        blobs: the blob store `decode` puts PNGs in (pass the graph's); default ``output_dir/blobs``.
        signals: ``ref -> prompt_embeds`` lookup for the signal references a core's
            ``generate_image`` calls carry (``chat.signal_embeddings``): with it, ``decode(prompt,
            signal=...)`` draws from the core's projected signal tokens instead of the text.

    Example:
        >>> decoder = ShapeImageDecoder()  # doctest: +SKIP
        >>> png = decoder.render("a red circle", seed=1, steps=20, guidance_scale=3.0)  # doctest: +SKIP
        >>> embeds = decoder.encode_prompt(["a red circle"])  # (1, 1, 384)  # doctest: +SKIP
        >>> png == decoder.render("ignored when prompt_embeds is given", seed=1, prompt_embeds=embeds)  # doctest: +SKIP
        True
    """

    kind = "image"

    def __init__(self, folder: str | Path | None = None, *, device: str = "cpu", text_encoder: Any = None,
                 output_dir: str | Path | None = None, blobs: Blobs | None = None,
                 signals: Callable[[str], Any] | None = None) -> None:
        from safetensors.torch import load_file

        from genaisys.tools.decoders.base import default_output_dir, make_blob_store

        self.folder = Path(folder) if folder is not None else DEFAULT_FOLDER
        config_path, weights_path = self.folder / _CONFIG_FILE, self.folder / _WEIGHTS_FILE
        if not config_path.is_file() or not weights_path.is_file():
            raise AssetError(f"{self.folder} is not a shape decoder folder (needs {_CONFIG_FILE} and "
                             f"{_WEIGHTS_FILE}); train one with genaisys.train.shape_decoder.train_shape_decoder")
        self.config: dict[str, Any] = json.loads(config_path.read_text())
        unet = build_shape_unet(ShapeUNetConfig(**self.config["unet"]))
        missing, unexpected = unet.load_state_dict(load_file(str(weights_path)), strict=False)
        if missing or unexpected:
            raise AssetError(f"{weights_path} does not match its config.json: missing {missing[:3]}, "
                             f"unexpected {unexpected[:3]}; retrain or restore the folder")
        self.unet = unet.to(device).eval()
        self.scheduler_config: dict[str, Any] = self.config["scheduler"]
        self._text_encoder = text_encoder
        defaults = self.config.get("sampling", {})
        self.default_steps: int = int(defaults.get("steps", 20))
        self.default_guidance: float = float(defaults.get("guidance_scale", 3.0))
        self.default_sampler: Literal["ddim", "dpm"] = defaults.get("sampler", "dpm")
        self.output_dir = Path(output_dir).expanduser() if output_dir is not None else default_output_dir()
        self._blobs = make_blob_store(blobs, self.output_dir) if blobs is not None else None
        self.signals = signals

    @property
    def blobs(self) -> Any:  # Copied from genaisys.tools.decoders.base.DiffusersDecoder.blobs
        """The blob store `decode` puts PNGs in."""
        if self._blobs is None:
            from genaisys.tools.decoders.base import make_blob_store

            self._blobs = make_blob_store(None, self.output_dir)
        return self._blobs

    @property
    def image_size(self) -> int:
        """Side of the generated images, in pixels."""
        return int(self.unet.config.sample_size)

    def encode_prompt(self, texts: str | list[str]) -> torch.Tensor:
        """Prompts → ``(B, 1, 384)`` conditioning (see the module-level `encode_prompt`)."""
        return encode_prompt(texts, text_encoder=self._text_encoder)

    def generate(
        self,
        prompts: str | list[str] | None = None,
        *,
        prompt_embeds: torch.Tensor | None = None,
        seed: int | list[int] = 0,
        steps: int | None = None,
        guidance_scale: float | None = None,
        sampler: Literal["ddim", "dpm"] | None = None,
    ) -> np.ndarray:
        """A batch of images as uint8 ``(B, H, W, 3)``; ``prompt_embeds`` (B, L, 384) wins over ``prompts``."""
        if prompt_embeds is None:
            if prompts is None:
                raise ConfigError("pass prompts or prompt_embeds")
            prompt_embeds = self.encode_prompt(prompts)
        elif prompt_embeds.ndim == 2:
            prompt_embeds = prompt_embeds.unsqueeze(1)  # a pooled (B, 384) embedding → (B, 1, 384)
        return sample_images(
            self.unet,
            self.scheduler_config,
            prompt_embeds,
            seed=seed,
            steps=steps or self.default_steps,
            guidance_scale=self.default_guidance if guidance_scale is None else guidance_scale,
            sampler=sampler or self.default_sampler,
        )

    def decode(self, prompt: str, *, signal: Any = None, **settings: Any) -> DecodedArtifact:
        """One image, stored and written like every decoder's output: a `DecodedArtifact`
        (``blob_id``, ``mime_type="image/png"``, ``path``, ``params``) and a JSON sidecar.

        Takes `render`'s settings; the sidecar records the prompt and them. ``signal`` (a core's
        ``{"kind": "signal_embeddings", "ref": ...}``, resolved with ``signals``) conditions the
        image on the core's projected signal tokens; the sidecar then records the reference.

        Raises:
            ConfigError: a signal without a ``signals`` lookup, or a malformed one.
        """
        from genaisys.tools.decoders.base import resolve_signal, write_artifact

        params: dict[str, Any] = {"prompt": prompt, **settings}
        if signal is not None:
            if settings.get("prompt_embeds") is not None:
                raise ConfigError("pass signal or prompt_embeds, not both")
            settings["prompt_embeds"] = resolve_signal(signal, self.signals)
            params["signal"] = {k: v for k, v in signal.items() if k != "embeds"} if isinstance(signal, dict) \
                else {"ref": str(signal)}
        elif settings.get("prompt_embeds") is not None:
            params["prompt_embeds"] = list(settings["prompt_embeds"].shape)  # the tensor itself is not JSON
        png = self.render(prompt, **settings)
        return write_artifact(png, kind=self.kind, suffix=".png", mime_type="image/png",
                              params=params, output_dir=self.output_dir, blobs=self.blobs,
                              decoder=type(self).__name__)

    __call__ = decode

    def render(
        self,
        prompt: str,
        *,
        seed: int = 0,
        steps: int | None = None,
        guidance_scale: float | None = None,
        prompt_embeds: torch.Tensor | None = None,
        size: int | None = None,
    ) -> bytes:
        """One image as PNG bytes, stored nowhere; the same arguments give the same bytes.

        Args:
            prompt: what to draw (ignored when ``prompt_embeds`` is given).
            seed: seeds the starting noise.
            steps / guidance_scale: sampler steps and classifier-free guidance (defaults from
                the model's ``config.json``).
            prompt_embeds: ``(1, L, 384)`` or ``(1, 384)`` conditioning, e.g. from the core's
                output projector; replaces the text encoder.
            size: resize the output to ``size``×``size`` (nearest neighbour keeps it crisp).
        """
        if prompt_embeds is not None and prompt_embeds.shape[0] != 1:
            raise ConfigError(f"decode draws one image: prompt_embeds must have batch 1, got {prompt_embeds.shape[0]}")
        image = self.generate(None if prompt_embeds is not None else prompt, prompt_embeds=prompt_embeds,
                              seed=seed, steps=steps, guidance_scale=guidance_scale)[0]
        pil = Image.fromarray(image)
        if size is not None and size != pil.width:
            pil = pil.resize((size, size), Image.Resampling.NEAREST)
        buf = io.BytesIO()
        pil.save(buf, format="PNG")
        return buf.getvalue()
