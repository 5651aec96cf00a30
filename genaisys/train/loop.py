"""The one training loop: any `Stage` on any ``nn.Module``, on Accelerate.

`train` runs a stage (`genaisys.train.stage.Stage`) over a map-style dataset with Accelerate
(one CPU, one GPU or many — launch with ``accelerate launch`` for several), gradient
accumulation, optional mixed precision, gradient clipping, a warmup + cosine/linear/constant
schedule, a progress bar, JSONL metrics (and TensorBoard when asked for and installed), and
checkpoints that resume *exactly*: the loss of the next step after a resume equals the loss the
uninterrupted run had at that step.

What a checkpoint holds (``output_dir/checkpoints/step-00000012/``):

- ``trainable.safetensors`` — only the parameters the stage trains, by name (never the frozen LM),
  and the persistent buffers of the trained modules (a trainable BatchNorm's statistics);
- ``optimizer.pt``, ``scheduler.pt`` — optimiser and schedule state (and ``scaler.pt``, fp16's loss scale);
- ``rng.pt`` — python, numpy and torch (CPU and CUDA) random states (``rng-<rank>.pt`` for each
  further process);
- ``state.json`` — step, epoch, micro-batches consumed in the epoch, the loss history, the
  `LoopConfig`, the stage name, the number of processes, the trained names and shapes, a
  fingerprint of the frozen weights and a SHA-256 per file.

On several devices (``accelerate launch``, DDP) every process writes its RNG state and process 0
the rest, into an ``output_dir`` the processes share; a resume needs the same number of processes.

A checkpoint is written into a temporary folder and renamed into place, so a kill mid-save never
leaves a broken checkpoint behind (the half-written folder is ignored and removed by the next save).
Checkpoints are written every ``save_every`` steps, at the end, and on Ctrl-C: an interrupt in the
middle of an accumulation rolls back to the last finished step (its RNG state included) and saves
that, so running the same command again continues exactly.
Files whose hash does not match, parameters that do not match the model, frozen weights other
than the ones the checkpoint was trained on, or a changed batch size / seed / process count raise
`genaisys.errors.TrainingError` saying what differs.

Modes: the model trains in train mode except its frozen parts — a module none of whose
parameters train runs in eval mode, so a frozen encoder's BatchNorm statistics stay as loaded.

Metrics: every ``log_every`` steps (and at the last) one JSON line goes to
``output_dir/metrics.jsonl``: ``{"step", "loss", "lr", "samples_per_s", "epoch", "grad_norm", **extra}``
— ``loss`` and the stage's extra metrics are means over the steps since the previous line,
``lr`` is the rate the next step uses, ``epoch`` counts fractionally. A resume drops the lines
a crashed run wrote after its checkpoint, so each step appears once.

Data order is a pure function of ``(seed, epoch)``: epoch ``e`` visits the rows in
``torch.randperm(n, generator=seed + e)`` order (or in order when ``shuffle=False``), so a resume
skips the consumed batches without touching them. ``Stage.collate`` must not draw from the global
random generators (Accelerate collates one batch ahead); dropout and other randomness *inside*
``Stage.loss`` is reproduced exactly.

Mixed precision: ``"bf16"`` runs under ``torch.autocast`` on any device Accelerate supports,
the CPU included — whether that is faster depends on the CPU's bf16 support: on this project's
2-core AMD EPYC (avx512_bf16) it trained SmolLM2-135M's last MLP 1.6× faster than float32
(4.7 vs 2.8 samples/s, batch 4 × 32 tokens, one thread), losses within 0.03; ``"fp16"`` needs an accelerator (CUDA, XPU or MPS): on a CPU-only machine Accelerate
would silently train in float32, so `train` refuses it with a `ConfigError`.

TensorBoard: ``tensorboard=True`` without the ``tensorboard`` package raises
`MissingDependencyError` (``pip install tensorboard``) before any step runs — asked-for logging is
never skipped silently. Scalars go to ``output_dir/tensorboard``.

Example:
    >>> import tempfile, torch
    >>> from torch import nn
    >>> class Regress:  # fit y = 2x
    ...     name = "toy"
    ...     def setup(self, model): return list(model.parameters())
    ...     def collate(self, rows): return {"x": torch.tensor(rows).float().unsqueeze(1)}
    ...     def loss(self, model, batch):
    ...         return ((model(batch["x"]) - 2 * batch["x"]) ** 2).mean(), {}
    >>> _ = torch.manual_seed(0)
    >>> out = tempfile.mkdtemp()
    >>> cfg = LoopConfig(output_dir=out, max_steps=20, batch_size=4, lr=0.1, progress=False)
    >>> result = train(nn.Linear(1, 1), [i / 10 for i in range(16)], Regress(), cfg)
    >>> result.steps, result.final_loss < result.losses[0]
    (20, True)
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import resource
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from genaisys.errors import ConfigError, TrainingError

__all__ = ["LoopConfig", "TrainResult", "find_latest_checkpoint", "train"]

logger = logging.getLogger("genaisys.train")

CHECKPOINT_FORMAT = 1
_CKPT_DIR = "checkpoints"
_CKPT_PREFIX = "step-"
_FILES = ("trainable.safetensors", "optimizer.pt", "scheduler.pt", "rng.pt")
# Changing any of these changes which rows form which batch, so a resume could not continue exactly.
_ORDER_FIELDS = ("batch_size", "grad_accum", "seed", "shuffle", "drop_last")


class LoopConfig(BaseModel):
    """Settings of the one training loop.

    ``max_steps`` counts optimiser steps (one step = ``grad_accum`` micro-batches of ``batch_size``
    rows per device). When ``max_steps`` is set it wins over ``epochs``.

    Example:
        >>> LoopConfig(output_dir="runs/x", max_steps=100, lr=2e-5).scheduler
        'cosine'
    """

    model_config = ConfigDict(extra="forbid")

    output_dir: Path = Field(description="Checkpoints, metrics.jsonl, final/ and tensorboard/ go here.")
    max_steps: int | None = Field(None, ge=1, description="Optimiser steps to run; wins over epochs.")
    epochs: int = Field(1, ge=1, description="Passes over the data when max_steps is not set.")
    batch_size: int = Field(8, ge=1, description="Rows per micro-batch per device.")
    grad_accum: int = Field(1, ge=1, description="Micro-batches per optimiser step.")
    lr: float = Field(1e-4, gt=0)
    weight_decay: float = Field(0.0, ge=0, description="AdamW decay on matrices (biases and norms are not decayed).")
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = Field(0, ge=0)
    scheduler: Literal["cosine", "linear", "constant"] = "cosine"
    max_grad_norm: float | None = Field(1.0, gt=0, description="Clip the global gradient norm; None: no clipping.")
    seed: int = 0
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"
    cpu: bool = Field(False, description="Train on the CPU even when an accelerator is present.")
    save_every: int | None = Field(None, ge=1, description="Checkpoint every N steps (and always at the end).")
    keep_checkpoints: int | None = Field(2, ge=1, description="Keep the N newest checkpoints; None keeps all.")
    log_every: int = Field(10, ge=1, description="Write a metrics line every N steps (and at the last one).")
    shuffle: bool = True
    drop_last: bool = False
    num_workers: int = Field(0, ge=0)
    progress: bool = Field(True, description="Show a progress bar with loss and samples/s.")
    tensorboard: bool = False
    save_on_interrupt: bool = Field(True, description="Ctrl-C (KeyboardInterrupt) saves the last finished step "
                                    "before stopping (one process only).")
    check_frozen: bool = Field(True, description="On resume, refuse frozen weights that differ from the checkpoint's "
                               "(a fingerprint per frozen parameter).")

    @field_validator("mixed_precision", mode="before")
    @classmethod
    def _yaml_no(cls, value: Any) -> Any:
        return "no" if value is False else value  # YAML 1.1 reads a bare `no` as false

    @model_validator(mode="after")
    def _check(self) -> LoopConfig:
        if not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"betas must each be in [0, 1), got {self.betas}")
        return self


@dataclass
class TrainResult:
    """What a `train` call did.

    Attributes:
        steps: the global optimiser step reached (a resumed run counts from the start of the run).
        final_loss: the last step's loss (None if no step ever ran).
        losses: one loss per step from step 1 — the mean over that step's micro-batches (and
            processes); on resume the earlier steps come from the checkpoint.
        wall_s: seconds this call took, set-up and saving included.
        samples_per_s: rows trained per second in this call (all processes together).
        peak_rss_mb: the process's peak resident memory (since it started), MiB.
        output_dir / metrics_path: where the run lives; ``metrics.jsonl``.
        resumed_from: the checkpoint this call continued from, if any.
        last_checkpoint: the newest checkpoint folder (the final step's).
        peak_device_mb: peak CUDA memory allocated during this call, MiB (None off CUDA).
        extra: ``total_steps``, ``steps_per_epoch``, ``epoch``, ``num_processes``, ``precision`` (the
            mixed precision the run used: ``"no"`` where bf16 was asked on a CPU without native bf16).
    """

    steps: int
    final_loss: float | None
    losses: list[float]
    wall_s: float
    samples_per_s: float
    peak_rss_mb: float
    output_dir: Path
    metrics_path: Path
    resumed_from: Path | None = None
    last_checkpoint: Path | None = None
    peak_device_mb: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- data order


class _EpochSampler:
    """Row order of epoch ``e`` = ``randperm(n)`` from a generator seeded ``seed + e`` (or in order)."""

    def __init__(self, n: int, seed: int, shuffle: bool) -> None:
        self.n, self.seed, self.shuffle, self.epoch = n, seed, shuffle, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        import torch

        if not self.shuffle:
            return iter(range(self.n))
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())


def _lr_lambda(scheduler: str, warmup: int, total: int) -> Callable[[int], float]:
    """Multiplier of the base lr after ``step`` scheduler steps: linear warmup, then the decay."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if scheduler == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        if scheduler == "linear":
            return max(0.0, 1.0 - progress)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


# --------------------------------------------------------------------------- checkpoints


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _checkpoints(output_dir: Path) -> list[Path]:
    """Complete checkpoints (those with a state.json) under ``output_dir``, oldest first."""
    root = Path(output_dir) / _CKPT_DIR
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        if p.is_dir() and p.name.startswith(_CKPT_PREFIX) and (p / "state.json").is_file():
            try:
                found.append((int(p.name[len(_CKPT_PREFIX):]), p))
            except ValueError:
                continue
    return [p for _, p in sorted(found)]


def find_latest_checkpoint(output_dir: str | Path) -> Path | None:
    """The newest complete checkpoint folder of a run, or None.

    Example:
        >>> find_latest_checkpoint("/nonexistent/run") is None
        True
    """
    found = _checkpoints(Path(output_dir))
    return found[-1] if found else None


def _rng_state() -> dict[str, Any]:
    import numpy as np
    import torch

    version, state, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    out: dict[str, Any] = {
        "python": [version, list(state), gauss],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def _set_rng_state(rng: Mapping[str, Any]) -> None:
    import numpy as np
    import torch

    version, state, gauss = rng["python"]
    random.setstate((version, tuple(state), gauss))
    kind, keys, pos, has_gauss, cached = rng["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(rng["torch"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _save_checkpoint(accelerator: Any, output_dir: Path, step: int, tensors: dict[str, Any], optimizer: Any,
                     scheduler: Any, state: dict[str, Any], keep: int | None) -> Path:
    """Write a checkpoint atomically: everything into ``.tmp-…``, fsync, then one rename.

    Every process takes part (each writes its own RNG state; process 0 the rest), so on several
    devices ``output_dir`` must be on a file system they share.
    """
    import torch
    from safetensors.torch import save_file

    rank, main = accelerator.process_index, accelerator.is_main_process
    root = output_dir / _CKPT_DIR
    final = root / f"{_CKPT_PREFIX}{step:08d}"
    tmp = root / f".tmp-{final.name}"
    accelerator.wait_for_everyone()
    if main:
        root.mkdir(parents=True, exist_ok=True)
        for stale in root.glob(".tmp-*"):  # left by a run killed mid-save
            shutil.rmtree(stale, ignore_errors=True)
        tmp.mkdir()
        save_file({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}, str(tmp / "trainable.safetensors"))
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")  # DDP: the same on every process
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
    accelerator.wait_for_everyone()
    torch.save(_rng_state(), tmp / ("rng.pt" if rank == 0 else f"rng-{rank}.pt"))
    accelerator.wait_for_everyone()
    if main:
        if accelerator.scaler is not None:  # fp16's loss scale and growth tracker: part of an exact resume
            torch.save(accelerator.scaler.state_dict(), tmp / "scaler.pt")
        names = sorted(p.name for p in tmp.iterdir())
        state = dict(state, files={name: _sha256(tmp / name) for name in names})
        (tmp / "state.json").write_text(json.dumps(state, indent=1))
        for name in (*names, "state.json"):
            with open(tmp / name, "rb") as f:
                os.fsync(f.fileno())
        if final.exists():  # the same step saved again (a resumed run that re-saves): replace it
            shutil.rmtree(final)
        os.replace(tmp, final)
        _fsync_dir(root)
        if keep is not None:
            for old in _checkpoints(output_dir)[:-keep]:
                shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def _read_checkpoint(path: Path, rank: int = 0) -> dict[str, Any]:
    """Load and verify a checkpoint folder; every failure is a `TrainingError` naming the fix."""
    import torch
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_dir():
        raise TrainingError(f"checkpoint {path} does not exist; pass resume=True to pick the latest one, "
                            "or resume=False to start fresh")
    state_file = path / "state.json"
    try:
        state = json.loads(state_file.read_text())
    except FileNotFoundError:
        raise TrainingError(f"checkpoint {path} has no state.json: it is incomplete (a save was interrupted); "
                            "resume from an earlier checkpoint or start fresh") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TrainingError(f"checkpoint {path}: state.json is corrupt ({exc}); resume from an earlier checkpoint") from exc
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise TrainingError(f"checkpoint {path} has format {state.get('format') if isinstance(state, dict) else '?'}; "
                            f"this genaisys reads format {CHECKPOINT_FORMAT}")
    for name in dict.fromkeys([*_FILES, *state.get("files", {})]):
        f = path / name
        if not f.is_file():
            raise TrainingError(f"checkpoint {path} lacks {name}; resume from an earlier checkpoint or start fresh")
        expected = state.get("files", {}).get(name)
        if expected != _sha256(f):
            raise TrainingError(f"checkpoint {path}: {name} is corrupt (SHA-256 does not match state.json); "
                                "resume from an earlier checkpoint or start fresh")
    try:
        return {
            "state": state,
            "tensors": load_file(str(path / "trainable.safetensors")),
            "optimizer": torch.load(path / "optimizer.pt", map_location="cpu", weights_only=True),
            "scheduler": torch.load(path / "scheduler.pt", map_location="cpu", weights_only=True),
            "rng": torch.load(path / (f"rng-{rank}.pt" if rank and (path / f"rng-{rank}.pt").is_file() else "rng.pt"),
                              map_location="cpu", weights_only=True),
            "scaler": (torch.load(path / "scaler.pt", map_location="cpu", weights_only=True)
                       if (path / "scaler.pt").is_file() else None),
        }
    except Exception as exc:  # safetensors/pickle raise many types for damaged files
        raise TrainingError(f"checkpoint {path} cannot be read ({type(exc).__name__}: {exc}); "
                            "resume from an earlier checkpoint or start fresh") from exc


def _check_compatible(ckpt: Mapping[str, Any], path: Path, *, stage_name: str, config: LoopConfig, n_rows: int,
                      shapes: dict[str, list[int]], groups: list[list[str]], num_processes: int,
                      frozen: dict[str, float] | None = None) -> None:
    state = ckpt["state"]
    problems = []
    if state.get("num_processes", 1) != num_processes:  # batches are dealt out per process
        problems.append(f"processes {state.get('num_processes', 1)} vs {num_processes} "
                        f"(accelerate launch --num_processes {state.get('num_processes', 1)})")
    if state.get("stage") != stage_name:
        problems.append(f"stage {state.get('stage')!r} vs {stage_name!r}")
    old_cfg = state.get("config", {})
    for key in _ORDER_FIELDS:
        new = getattr(config, key)
        if old_cfg.get(key) != new:
            problems.append(f"{key} {old_cfg.get(key)!r} vs {new!r}")
    if state.get("n_rows") != n_rows:
        problems.append(f"dataset rows {state.get('n_rows')} vs {n_rows}")
    old_shapes = state.get("trainable", {})
    missing = sorted(set(old_shapes) - set(shapes))
    unexpected = sorted(set(shapes) - set(old_shapes))
    if missing:
        problems.append(f"checkpoint tensors the model does not train: {missing[:5]}{' …' if len(missing) > 5 else ''}")
    if unexpected:
        problems.append(f"trained tensors missing from the checkpoint: {unexpected[:5]}"
                        f"{' …' if len(unexpected) > 5 else ''}")
    wrong = [f"{k} {old_shapes[k]} vs {shapes[k]}" for k in sorted(set(shapes) & set(old_shapes)) if old_shapes[k] != shapes[k]]
    if wrong:
        problems.append(f"shape mismatch: {wrong[:5]}")
    if not missing and not unexpected and state.get("param_groups") != groups:
        problems.append("optimiser parameter groups differ (weight_decay switched on/off or parameters reordered)")
    old_frozen = state.get("frozen")
    if frozen is not None and old_frozen is not None:
        if set(old_frozen) != set(frozen):
            diff = sorted(set(old_frozen) ^ set(frozen))
            problems.append(f"frozen parameters differ: {diff[:5]}{' …' if len(diff) > 5 else ''}")
        else:
            changed = [n for n in frozen if not math.isclose(frozen[n], old_frozen[n], rel_tol=1e-6, abs_tol=1e-9)]
            if changed:
                problems.append(f"the frozen weights are not the ones this checkpoint was trained on (fingerprints of "
                                f"{len(changed)} differ, e.g. {changed[:3]}): load the same base model, or set "
                                "check_frozen=False if the change is meant")
    if problems:
        raise TrainingError(f"checkpoint {path} does not match this run: " + "; ".join(problems)
                            + ". Resume with the settings, data and model it was made with, or start fresh "
                            "(resume=False and a new output_dir)")


# --------------------------------------------------------------------------- logging


class _Metrics:
    """Appends JSON lines to ``metrics.jsonl`` (and TensorBoard scalars) on the main process."""

    def __init__(self, path: Path, *, resume_step: int | None, tensorboard_dir: Path | None, enabled: bool) -> None:
        self.path, self.enabled, self.writer = path, enabled, None
        if not enabled:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is None:
            path.write_text("")
        elif path.exists():  # drop lines a crashed run wrote after its last checkpoint
            kept = []
            for line in path.read_text().splitlines():
                try:
                    if json.loads(line).get("step", 0) <= resume_step:
                        kept.append(line)
                except json.JSONDecodeError:
                    continue  # a line cut by the crash
            path.write_text("".join(k + "\n" for k in kept))
        if tensorboard_dir is not None:
            self.writer = _open_tensorboard(tensorboard_dir)

    def log(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.writer is not None:
            for key, value in record.items():
                if key != "step" and isinstance(value, (int, float)):
                    self.writer.add_scalar(f"train/{key}", value, record["step"])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _open_tensorboard(log_dir: Path) -> Any:
    """A ``SummaryWriter``; `MissingDependencyError` with the pip hint when tensorboard is absent."""
    from genaisys._optional import require

    require("tensorboard", "tensorboard", feature="TensorBoard logging (LoopConfig.tensorboard=True)")
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=str(log_dir))


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


# --------------------------------------------------------------------------- the loop


def _gpu_available(config: LoopConfig) -> bool:
    import torch

    return not config.cpu and (torch.cuda.is_available() or (hasattr(torch, "xpu") and torch.xpu.is_available())
                               or torch.backends.mps.is_available())


def _make_accelerator(config: LoopConfig) -> Any:
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, GradientState, PartialState

    from genaisys.core.precision import native_bf16

    if config.mixed_precision == "fp16":
        if not _gpu_available(config):
            raise ConfigError("mixed_precision='fp16' needs a GPU (CUDA, XPU or MPS); on the CPU Accelerate would "
                              "silently train in float32. Use mixed_precision='bf16' or 'no' on the CPU")
    precision = config.mixed_precision
    if precision == "bf16" and not _gpu_available(config) and not native_bf16():
        # Without AVX512-BF16/AMX, CPU bf16 is emulated: a Linear ran 6.7x slower than float32 on an
        # AVX2 EPYC. Float32 trains the same model, only faster here.
        logger.warning("mixed_precision='bf16': this CPU has no native bf16 (AVX512-BF16 or AMX), where "
                       "autocast runs several times slower than float32; training in float32")
        precision = "no"
    kwargs = {"gradient_accumulation_steps": config.grad_accum, "mixed_precision": precision,
              "cpu": config.cpu}
    try:
        return Accelerator(**kwargs)
    except ValueError as exc:
        # Accelerate keeps one process-wide state; a second train() call in the same process with
        # another precision meets the first call's state. Reset it when there is nothing to break.
        if "already been initialized" not in str(exc) or PartialState().num_processes > 1:
            raise ConfigError(f"cannot set up Accelerate: {exc}") from exc
        AcceleratorState._reset_state(True)
        GradientState._reset_state()
        return Accelerator(**kwargs)


def _named_trainable(model: Any, params: Sequence[Any], stage_name: str) -> list[tuple[str, Any]]:
    """Name every parameter the stage returned, in the stage's order."""
    names = {id(p): n for n, p in model.named_parameters()}
    out, seen = [], set()
    for p in params:
        if id(p) in seen:
            continue
        seen.add(id(p))
        if id(p) not in names:
            raise TrainingError(f"stage {stage_name!r}: setup() returned a parameter of shape {tuple(p.shape)} that "
                                "is not a parameter of the model; register it on the model (as a submodule) first")
        if not p.requires_grad:
            raise TrainingError(f"stage {stage_name!r}: setup() returned {names[id(p)]!r} but it has "
                                "requires_grad=False; unfreeze it in setup()")
        out.append((names[id(p)], p))
    if not out:
        raise TrainingError(f"stage {stage_name!r}: setup() returned no trainable parameters")
    return out


def _set_train_modes(model: Any, trainable_ids: set[int]) -> None:
    """Train mode, except for frozen parts: a module none of whose parameters train runs in eval
    mode, so a frozen encoder's BatchNorm statistics and a frozen block's dropout stay as loaded."""

    def visit(module: Any) -> None:
        params = list(module.parameters())
        if params and not any(id(p) in trainable_ids for p in params):
            module.eval()
            return
        module.train(True)
        for child in module.children():
            visit(child)

    visit(model)


def _frozen_fingerprint(model: Any, trainable_ids: set[int]) -> dict[str, float]:
    """Sum of |w| over every 101st element (float64) per frozen parameter: ~1% of the work of a
    full pass (0.14 s, not 0.8 s, for SmolLM2-135M on one busy core); it tells one base model from another."""
    import torch

    with torch.no_grad():
        return {n: float(p.detach().reshape(-1)[::101].double().abs().sum()) for n, p in model.named_parameters()
                if id(p) not in trainable_ids}


def _trained_buffer_names(model: Any) -> list[str]:
    """Persistent buffers of the modules that train (a trainable BatchNorm's running statistics):
    training changes them, so checkpoints carry them beside the trainable parameters."""
    names = []
    for prefix, module in model.named_modules():
        if not module.training:
            continue
        for name, buf in module.named_buffers(recurse=False):
            if buf is not None and name not in module._non_persistent_buffers_set:
                names.append(f"{prefix}.{name}" if prefix else name)
    return names


def _resolve_resume(output_dir: Path, resume: bool | str | Path) -> Path | None:
    if resume is False:
        if _checkpoints(output_dir):
            raise TrainingError(f"{output_dir} already holds checkpoints of an earlier run; pass resume=True to "
                                "continue it, or choose a new output_dir to start fresh")
        return None
    if resume is True:
        return find_latest_checkpoint(output_dir)
    return Path(resume)


def train(model: Any, dataset: Any, stage: Any, config: LoopConfig, *,
          save_fn: Callable[[Any, Path], None] | None = None,
          preflight: Callable[[Mapping[str, Any]], None] | None = None,
          resume: bool | str | Path = True) -> TrainResult:
    """Train ``model`` with ``stage`` over ``dataset``; checkpoint, log and resume.

    Args:
        model: the ``torch.nn.Module`` (a core, or any module); ``stage.setup`` picks what trains.
        dataset: map-style rows (``len`` and ``[i]``): a list, a torch ``Dataset``, a HF ``datasets.Dataset``.
        stage: a `genaisys.train.stage.Stage`. On several devices ``stage.loss`` receives the
            wrapped (DDP) model: call it, do not reach into its attributes.
        config: the `LoopConfig`.
        save_fn: ``save_fn(model, path)`` writes the trained model into ``output_dir/final`` at the
            end (on the unwrapped model, main process only). Default: the trainable parameters
            as ``final/trainable.safetensors``.
        preflight: called with the first batch (on the device) before any forward or optimiser
            step; raise `genaisys.errors.TrainingError` to stop a run that would train on garbage.
        resume: True — continue from the newest checkpoint in ``output_dir`` if there is one;
            a path — continue from that checkpoint; False — start fresh (refused when
            ``output_dir`` already holds checkpoints).

    Returns:
        A `TrainResult`.

    Raises:
        TrainingError: a bad checkpoint, a stage that trains nothing, a non-finite loss.
        ConfigError: settings the hardware cannot honour (fp16 on a CPU).
        MissingDependencyError: ``tensorboard=True`` without tensorboard installed.

    Example:
        >>> import tempfile, torch
        >>> from torch import nn
        >>> class Mean:
        ...     name = "mean"
        ...     def setup(self, model): return list(model.parameters())
        ...     def collate(self, rows): return {"y": torch.tensor(rows)}
        ...     def loss(self, model, batch): return ((model.weight - batch["y"]) ** 2).mean(), {}
        >>> m = nn.Linear(1, 1, bias=False)
        >>> cfg = LoopConfig(output_dir=tempfile.mkdtemp(), max_steps=3, batch_size=2, progress=False)
        >>> train(m, [1.0, 2.0, 3.0, 4.0], Mean(), cfg).steps
        3
    """
    import torch
    from accelerate.utils import set_seed
    from torch.utils.data import DataLoader

    if not isinstance(config, LoopConfig):
        raise ConfigError(f"config must be a LoopConfig, got {type(config).__name__}")
    for attr in ("name", "setup", "collate", "loss"):
        if not hasattr(stage, attr):
            raise ConfigError(f"stage {stage!r} lacks {attr!r}; a stage implements genaisys.train.stage.Stage")
    try:
        n_rows = len(dataset)
        if n_rows:
            dataset[0]  # probe indexing before anything is set up
    except TypeError as exc:
        raise ConfigError(f"dataset must be map-style (len() and [i]), got {type(dataset).__name__}: {exc}") from exc
    if n_rows == 0:
        raise ConfigError("dataset is empty; give train() at least one row")

    output_dir = Path(config.output_dir)
    ckpt_path = _resolve_resume(output_dir, resume)
    t_start = time.perf_counter()

    accelerator = _make_accelerator(config)
    main = accelerator.is_main_process
    if accelerator.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(accelerator.device)
    set_seed(config.seed)

    # What trains, and the optimiser groups: decay matrices, not biases/norm scales.
    named = _named_trainable(model, stage.setup(model), stage.name)
    trainable_ids = {id(p) for _, p in named}
    _set_train_modes(model, trainable_ids)
    buffer_names = _trained_buffer_names(model)
    shapes = {n: list(p.shape) for n, p in named} | {n: list(model.get_buffer(n).shape) for n in buffer_names}
    frozen = _frozen_fingerprint(model, trainable_ids)
    # a matrix that trains only in part (signal rows of an embedding: masked gradients) is never decayed
    decayed = {id(p) for n, p in named if p.ndim >= 2 and config.weight_decay > 0
               and not getattr(p, "_genaisys_signal_mask", False)}
    decay = [(n, p) for n, p in named if id(p) in decayed]
    no_decay = [(n, p) for n, p in named if id(p) not in decayed]
    groups = [g for g in (decay, no_decay) if g]
    group_names = [[n for n, _ in g] for g in groups]
    optimizer = torch.optim.AdamW(
        [{"params": [p for _, p in g], "weight_decay": config.weight_decay if g is decay else 0.0} for g in groups],
        lr=config.lr, betas=config.betas)

    sampler = _EpochSampler(n_rows, config.seed, config.shuffle)

    def collate(rows: Sequence[Any]) -> tuple[int, Mapping[str, Any]]:
        # a packed group of rows (genaisys.train.run.RowGroup) counts as the rows it holds
        return sum(getattr(r, "n_rows", 1) for r in rows), stage.collate(rows)

    # A private generator keeps DataLoader from drawing on the global torch RNG at each new
    # iterator — otherwise a resumed run's dropout masks would shift by one draw.
    loader = DataLoader(dataset, batch_size=config.batch_size, sampler=sampler, collate_fn=collate,
                        drop_last=config.drop_last, num_workers=config.num_workers,
                        generator=torch.Generator().manual_seed(config.seed))
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    batches_per_epoch = len(loader)
    if batches_per_epoch == 0:
        raise ConfigError(f"no full batch: {n_rows} rows, batch_size={config.batch_size} per device × "
                          f"{accelerator.num_processes} devices with drop_last=True; lower batch_size")
    steps_per_epoch = math.ceil(batches_per_epoch / config.grad_accum)  # a partial accumulation ends each epoch
    tail = batches_per_epoch % config.grad_accum
    total_steps = config.max_steps if config.max_steps is not None else config.epochs * steps_per_epoch
    if config.warmup_steps >= total_steps:
        logger.warning("warmup_steps=%d >= the run's %d steps: the lr never reaches its peak %g",
                       config.warmup_steps, total_steps, config.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer.optimizer if hasattr(optimizer, "optimizer") else optimizer,
        _lr_lambda(config.scheduler, config.warmup_steps, total_steps))

    step, epoch, batch_in_epoch, losses = 0, 0, 0, []
    if ckpt_path is not None:
        ckpt = _read_checkpoint(ckpt_path, accelerator.process_index)
        _check_compatible(ckpt, ckpt_path, stage_name=stage.name, config=config, n_rows=n_rows, shapes=shapes,
                          groups=group_names, num_processes=accelerator.num_processes,
                          frozen=frozen if config.check_frozen else None)
        with torch.no_grad():
            for n, p in named:
                p.copy_(ckpt["tensors"][n].to(p.device, p.dtype))
            for n in buffer_names:
                buf = accelerator.unwrap_model(model).get_buffer(n)
                buf.copy_(ckpt["tensors"][n].to(buf.device, buf.dtype))
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        if accelerator.scaler is not None:
            if ckpt["scaler"] is not None:
                accelerator.scaler.load_state_dict(ckpt["scaler"])
            else:
                logger.warning("checkpoint %s was not written under fp16: the loss scale starts afresh", ckpt_path)
        st = ckpt["state"]
        step, epoch, batch_in_epoch, losses = st["step"], st["epoch"], st["batch_in_epoch"], list(st["losses"])
        _set_rng_state(ckpt["rng"])
        logger.info("resumed from %s at step %d (epoch %d, batch %d)", ckpt_path, step, epoch, batch_in_epoch)

    metrics_path = output_dir / "metrics.jsonl"
    metrics = _Metrics(metrics_path, resume_step=step if ckpt_path is not None else None,
                       tensorboard_dir=output_dir / "tensorboard" if config.tensorboard else None, enabled=main)

    def state_dict() -> dict[str, Any]:
        return {"format": CHECKPOINT_FORMAT, "step": step, "epoch": epoch, "batch_in_epoch": batch_in_epoch,
                "losses": losses, "stage": stage.name, "n_rows": n_rows, "trainable": shapes,
                "param_groups": group_names, "num_processes": accelerator.num_processes, "frozen": frozen,
                "config": config.model_dump(mode="json")}

    last_ckpt: Path | None = ckpt_path

    def trained_tensors() -> dict[str, Any]:
        unwrapped = accelerator.unwrap_model(model)  # .to(device) replaced the buffer objects: look them up
        return dict(named) | {n: unwrapped.get_buffer(n) for n in buffer_names}

    def save() -> None:
        nonlocal last_ckpt
        last_ckpt = _save_checkpoint(accelerator, output_dir, step, trained_tensors(), optimizer, scheduler, state_dict(),
                                     config.keep_checkpoints)

    progress = None
    if config.progress and main:
        from tqdm.auto import tqdm

        progress = tqdm(total=total_steps, initial=step, desc=f"train {stage.name}", unit="step", dynamic_ncols=True)

    samples_run, t_train = 0, time.perf_counter()
    window = {"loss": 0.0, "n": 0, "samples": 0, "t": time.perf_counter(), "extra": {}}
    step_loss, step_extra, micro = 0.0, {}, 0
    preflight_done = preflight is None
    # The RNG state at the last step boundary, and whether model/optimiser/counters agree on a
    # step: a Ctrl-C in mid-accumulation rolls back to that boundary and saves it.
    boundary_rng, consistent = _rng_state(), True
    try:
        while step < total_steps:
            epoch_loader = accelerator.skip_first_batches(loader, batch_in_epoch) if batch_in_epoch else loader
            # Accelerate's loader sets its sampler's epoch from its own pass counter, which a resumed
            # run (or the skipping loader) starts at 0: set it from the run's epoch, every pass.
            if hasattr(epoch_loader, "set_epoch"):
                epoch_loader.set_epoch(epoch)
            sampler.set_epoch(epoch)
            for n_samples, batch in epoch_loader:
                if not preflight_done:
                    preflight(batch)
                    preflight_done = True
                    _set_train_modes(accelerator.unwrap_model(model), trainable_ids)  # in case it switched to eval
                with accelerator.accumulate(model):
                    with accelerator.autocast():
                        loss, extra = stage.loss(model, batch)
                    if not torch.isfinite(loss.detach()).all():
                        raise TrainingError(f"stage {stage.name!r}: loss is {loss.item()} at step {step + 1}; "
                                            "lower lr, enable max_grad_norm, or check the batch")
                    # Accelerate divides by grad_accum; the short accumulation that ends an epoch
                    # (batches_per_epoch % grad_accum micro-batches) is scaled back to a mean.
                    scale = config.grad_accum / tail if tail and batch_in_epoch >= batches_per_epoch - tail else 1.0
                    accelerator.backward(loss * scale if scale != 1.0 else loss)
                    grad_norm = None
                    if accelerator.sync_gradients and config.max_grad_norm is not None:
                        grad_norm = accelerator.clip_grad_norm_([p for _, p in named], config.max_grad_norm)
                    consistent = not accelerator.sync_gradients  # parameters change before the counters do
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                batch_in_epoch += 1
                micro += 1
                samples_run += n_samples * accelerator.num_processes
                window["samples"] += n_samples * accelerator.num_processes
                step_loss += accelerator.reduce(loss.detach().float(), reduction="mean").item()
                for k, v in (extra or {}).items():
                    step_extra[k] = step_extra.get(k, 0.0) + float(v)
                if not accelerator.sync_gradients:
                    continue
                # ---- one optimiser step done
                if not accelerator.optimizer_step_was_skipped:  # fp16 overflow skips the step, not the schedule
                    with warnings.catch_warnings():
                        # under fp16 Accelerate re-wraps optimizer.step to see skipped steps; torch takes
                        # that for a scheduler stepped before its optimizer, which it is not
                        warnings.filterwarnings("ignore", message="Seems like `optimizer.step\\(\\)` has been overridden")
                        scheduler.step()
                step += 1
                loss_value = step_loss / micro
                losses.append(loss_value)
                window["loss"] += loss_value
                window["n"] += 1
                for k, v in step_extra.items():
                    window["extra"][k] = window["extra"].get(k, 0.0) + v / micro
                if grad_norm is not None:
                    window["extra"]["grad_norm"] = window["extra"].get("grad_norm", 0.0) + float(grad_norm)
                step_loss, step_extra, micro = 0.0, {}, 0
                if step % config.log_every == 0 or step == total_steps:
                    now = time.perf_counter()
                    sps = window["samples"] / max(now - window["t"], 1e-9)
                    record = {"step": step, "loss": window["loss"] / window["n"],
                              "lr": scheduler.get_last_lr()[0], "samples_per_s": sps,
                              "epoch": epoch + batch_in_epoch / batches_per_epoch}
                    record.update({k: v / window["n"] for k, v in window["extra"].items()})
                    metrics.log(record)
                    window = {"loss": 0.0, "n": 0, "samples": 0, "t": now, "extra": {}}
                if progress is not None:
                    progress.update(1)
                    elapsed = time.perf_counter() - t_train
                    progress.set_postfix(loss=f"{loss_value:.4f}", samples_s=f"{samples_run / max(elapsed, 1e-9):.1f}")
                if batch_in_epoch >= batches_per_epoch:  # this step ended the epoch
                    epoch, batch_in_epoch = epoch + 1, 0
                if (config.save_every and step % config.save_every == 0) or step == total_steps:
                    save()
                boundary_rng, consistent = _rng_state(), True
                if step >= total_steps:
                    break
            if batch_in_epoch >= batches_per_epoch:
                epoch, batch_in_epoch = epoch + 1, 0
    except KeyboardInterrupt:
        saved_step = _ckpt_step(last_ckpt) if last_ckpt is not None else 0
        if config.save_on_interrupt and consistent and accelerator.num_processes == 1 and step > saved_step:
            batch_in_epoch -= micro  # the micro-batches of the unfinished step run again on resume
            _set_rng_state(boundary_rng)
            optimizer.zero_grad(set_to_none=True)
            save()
            logger.warning("interrupted: saved step %d to %s; run again to resume", step, last_ckpt)
        raise
    finally:
        if progress is not None:
            progress.close()
        metrics.close()

    if last_ckpt is None or step != _ckpt_step(last_ckpt):  # finished run resumed again: nothing new to save
        save()
    train_s = time.perf_counter() - t_train
    accelerator.wait_for_everyone()
    if main:
        final_dir = output_dir / "final"
        final_dir.mkdir(parents=True, exist_ok=True)
        unwrapped = accelerator.unwrap_model(model)
        if save_fn is not None:
            save_fn(unwrapped, final_dir)
        else:
            from safetensors.torch import save_file

            save_file({n: t.detach().to("cpu").contiguous() for n, t in trained_tensors().items()},
                      str(final_dir / "trainable.safetensors"))
    peak_dev = None
    if torch.cuda.is_available() and accelerator.device.type == "cuda":
        peak_dev = torch.cuda.max_memory_allocated(accelerator.device) / 2**20
    return TrainResult(
        steps=step, final_loss=losses[-1] if losses else None, losses=losses,
        wall_s=time.perf_counter() - t_start, samples_per_s=samples_run / max(train_s, 1e-9),
        peak_rss_mb=_peak_rss_mb(), output_dir=output_dir, metrics_path=metrics_path,
        resumed_from=ckpt_path, last_checkpoint=last_ckpt, peak_device_mb=peak_dev,
        extra={"total_steps": total_steps, "steps_per_epoch": steps_per_epoch, "epoch": epoch,
               "num_processes": accelerator.num_processes, "precision": accelerator.mixed_precision},
    )


def _ckpt_step(path: Path) -> int:
    try:
        return int(Path(path).name[len(_CKPT_PREFIX):])
    except ValueError:
        return -1
