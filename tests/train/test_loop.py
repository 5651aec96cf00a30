"""The one training loop: learning, accumulation, exact resume, checkpoints, metrics, failure modes."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError
from torch import nn

from genaisys.core.precision import native_bf16
from genaisys.errors import ConfigError, MissingDependencyError, PreflightError, TrainingError
from genaisys.train.loop import LoopConfig, TrainResult, find_latest_checkpoint, train

# ----------------------------------------------------------------------------- toy stages and models


class Regress:
    """y = 3x - 1 with noise-free targets; trains every parameter the model has."""

    name = "toy"

    def setup(self, model):
        return list(model.parameters())

    def collate(self, rows):
        x = torch.tensor([[r] for r in rows], dtype=torch.float32)  # (B, 1)
        return {"x": x, "y": 3 * x - 1}

    def loss(self, model, batch):
        err = model(batch["x"]) - batch["y"]  # (B, 1)
        return (err ** 2).mean(), {"abs_err": err.abs().mean().item()}


class Partly(nn.Module):
    """A frozen 'base' and a trainable head with dropout, so RNG state matters on resume."""

    def __init__(self) -> None:
        super().__init__()
        self.base = nn.Linear(4, 16)
        self.head = nn.Sequential(nn.Linear(16, 16), nn.GELU(), nn.Dropout(0.3), nn.Linear(16, 1))

    def forward(self, x):  # x: (B, 4) -> (B, 1)
        return self.head(torch.tanh(self.base(x)))


class HeadOnly:
    name = "head"

    def setup(self, model):
        model.base.requires_grad_(False)
        return list(model.head.parameters())

    def collate(self, rows):
        x = torch.stack([torch.tensor(r["x"]) for r in rows])  # (B, 4)
        y = torch.tensor([[r["y"]] for r in rows])  # (B, 1)
        return {"x": x, "y": y}

    def loss(self, model, batch):
        return ((model(batch["x"]) - batch["y"]) ** 2).mean(), {}


def _rows(n: int = 22) -> list[dict]:
    g = torch.Generator().manual_seed(1)
    xs = torch.randn(n, 4, generator=g)
    return [{"x": x.tolist(), "y": float(x.sum() * 0.5)} for x in xs]


def _partly() -> Partly:
    torch.manual_seed(123)  # the same 'base' weights in every new model object, as a reloaded LM would be
    return Partly()


def _cfg(tmp_path: Path, **kw) -> LoopConfig:
    base = {"output_dir": tmp_path, "batch_size": 4, "lr": 0.05, "progress": False, "log_every": 1}
    base.update(kw)
    return LoopConfig(**base)


# ----------------------------------------------------------------------------- learning


def test_loss_goes_down_with_grad_accumulation(tmp_path):
    xs = [i / 16 for i in range(32)]
    result = train(nn.Linear(1, 1), xs, Regress(), _cfg(tmp_path, max_steps=40, grad_accum=2, lr=0.2, scheduler="constant"))
    assert isinstance(result, TrainResult)
    assert result.steps == 40 and len(result.losses) == 40
    assert result.final_loss < 0.1 * result.losses[0]
    assert result.samples_per_s > 0 and result.peak_rss_mb > 0 and result.wall_s > 0
    # 32 rows / (4 rows x 2 micro-batches) = 4 steps per epoch
    assert result.extra["steps_per_epoch"] == 4
    assert result.extra["precision"] == "no"  # what the run used, not only what was asked


def test_accumulating_2x4_equals_one_batch_of_8(tmp_path):
    xs = [i / 10 - 1 for i in range(24)]
    torch.manual_seed(5)
    a = nn.Linear(1, 1)
    b = nn.Linear(1, 1)
    b.load_state_dict(a.state_dict())
    ra = train(a, xs, Regress(), _cfg(tmp_path / "a", max_steps=6, batch_size=4, grad_accum=2, max_grad_norm=0.5))
    rb = train(b, xs, Regress(), _cfg(tmp_path / "b", max_steps=6, batch_size=8, grad_accum=1, max_grad_norm=0.5))
    assert ra.losses == pytest.approx(rb.losses, abs=1e-6)
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, atol=1e-6, rtol=0)


def test_short_accumulation_at_epoch_end_is_a_mean(tmp_path):
    # 12 rows, bs 4 -> 3 micro-batches per epoch, grad_accum 2 -> steps of 2 and 1 micro-batches.
    # With shuffle off and one epoch, the 1-micro-batch step must equal a plain bs-4 step.
    xs = [i / 6 for i in range(12)]
    torch.manual_seed(2)
    a, b = nn.Linear(1, 1), nn.Linear(1, 1)
    b.load_state_dict(a.state_dict())
    ra = train(a, xs, Regress(), _cfg(tmp_path / "a", epochs=1, grad_accum=2, shuffle=False, scheduler="constant",
                                      max_grad_norm=None))
    assert ra.steps == 2
    # the same updates by hand: one step on rows 0-7 (bs 8), one on rows 8-11 (bs 4)
    rb1 = train(b, xs[:8], Regress(), _cfg(tmp_path / "b1", max_steps=1, batch_size=8, shuffle=False,
                                           scheduler="constant", max_grad_norm=None))
    assert rb1.losses[0] == pytest.approx(ra.losses[0], abs=1e-6)
    # the optimiser state matters for step 2, so compare against a 2-step run over [8 rows, 4 rows]
    c = nn.Linear(1, 1)
    torch.manual_seed(2)
    c = nn.Linear(1, 1)
    rc = train(c, [xs[:8], xs[8:]], _Chunks(), _cfg(tmp_path / "c", epochs=1, batch_size=1, shuffle=False,
                                                     scheduler="constant", max_grad_norm=None))
    assert rc.losses == pytest.approx(ra.losses, abs=1e-6)
    for pa, pc in zip(a.parameters(), c.parameters()):
        torch.testing.assert_close(pa, pc, atol=1e-6, rtol=0)


class _Chunks(Regress):
    """Each row is a list of x values: one row = one whole batch."""

    def collate(self, rows):
        return super().collate(rows[0])


# ----------------------------------------------------------------------------- determinism and resume


def test_same_seed_same_run_other_seed_other_order(tmp_path):
    rows = _rows()
    r1 = train(_partly(), rows, HeadOnly(), _cfg(tmp_path / "1", max_steps=5))
    r2 = train(_partly(), rows, HeadOnly(), _cfg(tmp_path / "2", max_steps=5))
    r3 = train(_partly(), rows, HeadOnly(), _cfg(tmp_path / "3", max_steps=5, seed=1))
    assert r1.losses == r2.losses
    assert r1.losses != r3.losses


class _Crash(BaseException):
    """Stands for a kill: not an Exception, so nothing on the way up handles it."""


class CrashAt(HeadOnly):
    """HeadOnly that dies on its ``at``-th loss call (``hard``: os._exit, as a SIGKILL would)."""

    def __init__(self, at: int, hard: bool = False) -> None:
        self.at, self.hard, self.calls = at, hard, 0

    def loss(self, model, batch):
        self.calls += 1
        if self.calls == self.at:
            if self.hard:
                import os

                os._exit(3)
            raise _Crash(f"killed at loss call {self.calls}")
        return super().loss(model, batch)


@pytest.mark.parametrize(("grad_accum", "crash_call"), [(1, 5), (2, 9), (4, 13)])
def test_resume_continues_exactly(tmp_path, grad_accum, crash_call):
    # grad_accum 1: the step-3 checkpoint is mid-epoch; 2: at an epoch's end; 4: mid-epoch after a short
    # accumulation (6 micro-batches = steps of 4 + 2). crash_call is the first micro-batch of step 5.
    # 22 rows, bs 4 -> 6 micro-batches/epoch (the last has 2 rows); 6 steps cross epoch boundaries.
    rows = _rows()
    straight_model = _partly()
    straight = train(straight_model, rows, HeadOnly(), _cfg(tmp_path / "straight", max_steps=6, grad_accum=grad_accum))

    run = tmp_path / "crashy"
    # checkpoint at step 3, killed in the middle of step 5 (after step 4 was logged)
    with pytest.raises(_Crash):
        train(_partly(), rows, CrashAt(crash_call), _cfg(run, max_steps=6, grad_accum=grad_accum, save_every=3))
    assert find_latest_checkpoint(run).name == "step-00000003"
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 4
    # "crash": a brand-new model object; resume from the step-3 checkpoint, run to 6
    torch.manual_seed(999)  # a different global RNG state must not matter: the checkpoint restores it
    resumed_model = _partly()
    resumed = train(resumed_model, rows, HeadOnly(), _cfg(run, max_steps=6, grad_accum=grad_accum, save_every=3))
    assert resumed.resumed_from is not None and resumed.resumed_from.name == "step-00000003"
    assert resumed.losses[3] == pytest.approx(straight.losses[3], abs=1e-6)  # the next-step loss
    assert resumed.losses == pytest.approx(straight.losses, abs=1e-6)
    for (n, pa), (_, pb) in zip(straight_model.named_parameters(), resumed_model.named_parameters()):
        torch.testing.assert_close(pa, pb, atol=1e-6, rtol=0, msg=n)
    # metrics: one line per step, the crashed run's step-4 line replaced, not duplicated
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]


class InterruptAt(HeadOnly):
    """Ctrl-C on the ``at``-th loss call."""

    def __init__(self, at: int) -> None:
        self.at, self.calls = at, 0

    def loss(self, model, batch):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return super().loss(model, batch)


def test_ctrl_c_mid_accumulation_saves_the_last_step_and_resumes_exactly(tmp_path):
    rows = _rows()
    straight = train(_partly(), rows, HeadOnly(), _cfg(tmp_path / "s", max_steps=6, grad_accum=2))
    run = tmp_path / "c"
    with pytest.raises(KeyboardInterrupt):  # no save_every: only the interrupt writes a checkpoint
        train(_partly(), rows, InterruptAt(8), _cfg(run, max_steps=6, grad_accum=2))  # call 8 = 2nd micro of step 4
    assert find_latest_checkpoint(run).name == "step-00000003"
    state = json.loads((find_latest_checkpoint(run) / "state.json").read_text())
    assert (state["epoch"], state["batch_in_epoch"]) == (1, 0)  # 6 micro-batches per epoch, 3 steps of 2
    resumed = train(_partly(), rows, HeadOnly(), _cfg(run, max_steps=6, grad_accum=2))
    assert resumed.losses == pytest.approx(straight.losses, abs=1e-6)
    # mid-epoch: interrupted on call 4 (2nd micro of step 2) of another run
    run2 = tmp_path / "c2"
    with pytest.raises(KeyboardInterrupt):
        train(_partly(), rows, InterruptAt(4), _cfg(run2, max_steps=6, grad_accum=2))
    assert json.loads((find_latest_checkpoint(run2) / "state.json").read_text())["batch_in_epoch"] == 2
    assert train(_partly(), rows, HeadOnly(), _cfg(run2, max_steps=6, grad_accum=2)).losses == pytest.approx(
        straight.losses, abs=1e-6)
    # switched off: nothing is saved
    with pytest.raises(KeyboardInterrupt):
        train(_partly(), rows, InterruptAt(4), _cfg(tmp_path / "off", max_steps=6, grad_accum=2, save_on_interrupt=False))
    assert find_latest_checkpoint(tmp_path / "off") is None


def test_resume_in_a_new_process_after_a_hard_kill(tmp_path):
    import subprocess
    import sys

    script = f"""
import sys, json, torch
sys.path.insert(0, {str(Path(__file__).parent.parent.parent)!r})
torch.set_num_threads(1)
from tests.train.test_loop import _partly, _rows, CrashAt, _cfg
from genaisys.train.loop import train
from pathlib import Path
r = train(_partly(), _rows(), CrashAt(int(sys.argv[1]), hard=True), _cfg(Path({str(tmp_path / 'run')!r}), max_steps=5,
          save_every=2))
print(json.dumps(r.losses))
"""

    def run(crash_at: int) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", script, str(crash_at)], capture_output=True, text=True, timeout=120, check=False)

    killed = run(4)  # dies during step 4: the step-2 checkpoint is the latest
    assert killed.returncode == 3, killed.stderr[-2000:]
    assert find_latest_checkpoint(tmp_path / "run").name == "step-00000002"
    resumed = run(10**6)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    straight = train(_partly(), _rows(), HeadOnly(), _cfg(tmp_path / "straight", max_steps=5, save_every=2))
    assert json.loads(resumed.stdout.strip().splitlines()[-1]) == pytest.approx(straight.losses, abs=1e-6)


_DDP_SCRIPT = """
import json, sys
from pathlib import Path
import torch
sys.path.insert(0, {root!r})
torch.set_num_threads(1)
from accelerate import PartialState
from torch import nn
from tests.train.test_loop import CrashAt, HeadOnly, Regress, _Crash, _cfg, _partly, _rows
from genaisys.train.loop import train

out = Path({out!r})
torch.manual_seed(5)
lin = nn.Linear(1, 1)
xs = [i / 10 - 1 for i in range(32)]
regress = train(lin, xs, Regress(), _cfg(out / "regress", max_steps=4, cpu=True))
straight = train(_partly(), _rows(32), HeadOnly(), _cfg(out / "straight", max_steps=6, cpu=True))
try:
    train(_partly(), _rows(32), CrashAt(5), _cfg(out / "crashy", max_steps=6, save_every=3, cpu=True))
except _Crash:
    pass
resumed = train(_partly(), _rows(32), HeadOnly(), _cfg(out / "crashy", max_steps=6, save_every=3, cpu=True))
state = PartialState()
if state.is_main_process:
    (out / "result.json").write_text(json.dumps({{
        "processes": state.num_processes, "regress": regress.losses, "weight": lin.weight.item(),
        "straight": straight.losses, "resumed": resumed.losses,
        "files": sorted(p.name for p in resumed.last_checkpoint.iterdir())}}))
"""


def test_two_processes_equal_one_with_the_global_batch_and_resume_exactly(tmp_path):
    """DDP over 2 CPU processes (torchrun + gloo): batch 4 per process = one process with batch 8."""
    import os
    import subprocess
    import sys

    import torch.distributed as dist

    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    script = tmp_path / "ddp.py"
    script.write_text(_DDP_SCRIPT.format(root=str(Path(__file__).parent.parent.parent), out=str(tmp_path)))
    # CPU processes only: on a 1-GPU machine Accelerate's CPU barrier would name cuda:1 (invalid device ordinal)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          str(script)], capture_output=True, text=True, timeout=240, check=False, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads((tmp_path / "result.json").read_text())
    assert got["processes"] == 2
    torch.manual_seed(5)
    lin = nn.Linear(1, 1)
    one = train(lin, [i / 10 - 1 for i in range(32)], Regress(), _cfg(tmp_path / "one", max_steps=4, batch_size=8))
    assert got["regress"] == pytest.approx(one.losses, abs=1e-6)
    assert got["weight"] == pytest.approx(lin.weight.item(), abs=1e-6)
    # resume with dropout on every process: each process's RNG state is in the checkpoint
    assert got["resumed"] == pytest.approx(got["straight"], abs=1e-6)
    assert "rng-1.pt" in got["files"] and "rng.pt" in got["files"]


def test_resume_needs_the_same_number_of_processes(tmp_path):
    train(_partly(), _rows(), HeadOnly(), _cfg(tmp_path, max_steps=2))
    ckpt = find_latest_checkpoint(tmp_path)
    state = json.loads((ckpt / "state.json").read_text())
    state["num_processes"] = 4
    (ckpt / "state.json").write_text(json.dumps(state))
    with pytest.raises(TrainingError, match=r"processes 4 vs 1 \(accelerate launch --num_processes 4\)"):
        train(_partly(), _rows(), HeadOnly(), _cfg(tmp_path, max_steps=4))


def test_checkpoint_holds_only_trainable_parameters(tmp_path):
    from safetensors.torch import load_file

    model = _partly()
    result = train(model, _rows(), HeadOnly(), _cfg(tmp_path, max_steps=2))
    ckpt = result.last_checkpoint
    assert ckpt == find_latest_checkpoint(tmp_path)
    tensors = load_file(str(ckpt / "trainable.safetensors"))
    assert sorted(tensors) == sorted(n for n, _ in model.named_parameters() if n.startswith("head."))
    state = json.loads((ckpt / "state.json").read_text())
    assert state["step"] == 2 and state["stage"] == "head" and state["config"]["batch_size"] == 4
    assert set(state["files"]) == {"trainable.safetensors", "optimizer.pt", "scheduler.pt", "rng.pt"}
    # the default final save: the trainable parameters
    final = load_file(str(tmp_path / "final" / "trainable.safetensors"))
    torch.testing.assert_close(final["head.0.weight"], model.head[0].weight.detach().cpu())


class WithNorms(nn.Module):
    """A frozen base with BatchNorm + dropout, a trainable head with its own BatchNorm."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(11)
        self.base = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.5))
        self.head = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))

    def forward(self, x):  # (B, 4) -> (B, 1)
        return self.head(self.base(x))


def test_frozen_parts_run_in_eval_mode_and_trained_buffers_are_checkpointed(tmp_path):
    from safetensors.torch import load_file

    model = WithNorms()
    base_stats = model.base[1].running_mean.clone()
    head_stats = model.head[1].running_mean.clone()
    modes = []

    class Watch(HeadOnly):
        def loss(self, model, batch):
            modes.append((model.base.training, model.base[2].training, model.head.training, model.head[1].training))
            return super().loss(model, batch)

    straight = train(model, _rows(), Watch(), _cfg(tmp_path / "s", max_steps=4))
    assert set(modes) == {(False, False, True, True)}
    assert torch.equal(model.base[1].running_mean.cpu(), base_stats)  # the frozen encoder is as loaded
    assert not torch.equal(model.head[1].running_mean.cpu(), head_stats)  # the trained part's statistics moved
    saved = load_file(str(straight.last_checkpoint / "trainable.safetensors"))
    assert {"head.1.running_mean", "head.1.running_var", "head.1.num_batches_tracked"} <= set(saved)
    assert not any(k.startswith("base.") for k in saved)
    # resume restores the statistics too
    with pytest.raises(_Crash):
        train(WithNorms(), _rows(), CrashAt(4), _cfg(tmp_path / "c", max_steps=4, save_every=2))
    resumed = WithNorms()
    train(resumed, _rows(), HeadOnly(), _cfg(tmp_path / "c", max_steps=4, save_every=2))
    for (n, a), (_, b) in zip(model.state_dict().items(), resumed.state_dict().items()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0, msg=n)


def test_keep_checkpoints_and_save_every(tmp_path):
    train(_partly(), _rows(), HeadOnly(), _cfg(tmp_path, max_steps=7, save_every=2, keep_checkpoints=2))
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["step-00000006", "step-00000007"]


def test_crash_mid_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    rows = _rows()
    real_save = torch.save
    calls = {"n": 0}

    def dying_save(obj, f, *a, **kw):
        # checkpoint 2 = torch.save calls 1-3 (optimizer, scheduler, rng); die inside checkpoint 4's 2nd file
        calls["n"] += 1
        if calls["n"] == 5:
            raise _Crash("killed mid-save")
        return real_save(obj, f, *a, **kw)

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(_Crash):
        train(_partly(), rows, HeadOnly(), _cfg(tmp_path, max_steps=4, save_every=2))
    monkeypatch.setattr(torch, "save", real_save)
    assert find_latest_checkpoint(tmp_path).name == "step-00000002"
    assert list((tmp_path / "checkpoints").glob(".tmp-*"))  # the half-written folder is there but ignored
    straight = train(_partly(), rows, HeadOnly(), _cfg(tmp_path / "straight", max_steps=4, save_every=2))
    resumed = train(_partly(), rows, HeadOnly(), _cfg(tmp_path, max_steps=4, save_every=2))
    assert resumed.resumed_from.name == "step-00000002"
    assert resumed.losses == pytest.approx(straight.losses, abs=1e-6)
    assert not list((tmp_path / "checkpoints").glob(".tmp-*"))  # cleaned by the next save


def _corrupt_file(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["flip_weights", "truncate_state", "drop_rng", "flip_optimizer"])
def test_corrupt_checkpoint_is_a_clear_error(tmp_path, damage):
    train(_partly(), _rows(), HeadOnly(), _cfg(tmp_path, max_steps=2))
    ckpt = find_latest_checkpoint(tmp_path)
    if damage == "flip_weights":
        _corrupt_file(ckpt / "trainable.safetensors")
        match = "trainable.safetensors is corrupt"
    elif damage == "flip_optimizer":
        _corrupt_file(ckpt / "optimizer.pt")
        match = "optimizer.pt is corrupt"
    elif damage == "truncate_state":
        (ckpt / "state.json").write_text((ckpt / "state.json").read_text()[:40])
        match = "state.json is corrupt"
    else:
        (ckpt / "rng.pt").unlink()
        match = "lacks rng.pt"
    with pytest.raises(TrainingError, match=match):
        train(_partly(), _rows(), HeadOnly(), _cfg(tmp_path, max_steps=4))


def test_mismatched_checkpoint_names_what_differs(tmp_path):
    rows = _rows()
    train(_partly(), rows, HeadOnly(), _cfg(tmp_path, max_steps=2))
    with pytest.raises(TrainingError, match="batch_size 4 vs 2"):
        train(_partly(), rows, HeadOnly(), _cfg(tmp_path, max_steps=4, batch_size=2))
    with pytest.raises(TrainingError, match="dataset rows 22 vs 20"):
        train(_partly(), rows[:20], HeadOnly(), _cfg(tmp_path, max_steps=4))

    class Wider(Partly):
        def __init__(self):
            super().__init__()
            self.head[3] = nn.Linear(16, 2)

        def forward(self, x):
            return super().forward(x)[:, :1]

    with pytest.raises(TrainingError, match=r"shape mismatch: .*'head.3.weight \[1, 16\] vs \[2, 16\]'"):
        train(Wider(), rows, HeadOnly(), _cfg(tmp_path, max_steps=4))

    class AllOf(HeadOnly):
        name = "head"

        def setup(self, model):
            return list(model.parameters())

    with pytest.raises(TrainingError, match="trained tensors missing from the checkpoint: .*base.bias"):
        train(_partly(), rows, AllOf(), _cfg(tmp_path, max_steps=4))


def test_resume_refuses_other_frozen_weights(tmp_path):
    rows = _rows()
    train(_partly(), rows, HeadOnly(), _cfg(tmp_path, max_steps=2))
    other = _partly()
    with torch.no_grad():
        other.base.weight[0, 0] += 0.01  # another "base model" of the same shape
    with pytest.raises(TrainingError, match=r"frozen weights are not the ones .*\['base.weight'\]"):
        train(other, rows, HeadOnly(), _cfg(tmp_path, max_steps=4))
    r = train(other, rows, HeadOnly(), _cfg(tmp_path, max_steps=4, check_frozen=False))
    assert r.steps == 4


def test_resume_options(tmp_path):
    rows = _rows()
    train(_partly(), rows, HeadOnly(), _cfg(tmp_path, max_steps=2, save_every=1, keep_checkpoints=None))
    with pytest.raises(TrainingError, match="already holds checkpoints"):
        train(_partly(), rows, HeadOnly(), _cfg(tmp_path, max_steps=3), resume=False)
    with pytest.raises(TrainingError, match="does not exist"):
        train(_partly(), rows, HeadOnly(), _cfg(tmp_path, max_steps=3), resume=tmp_path / "nope")
    # an explicit older checkpoint: continues from step 1
    r = train(_partly(), rows, HeadOnly(), _cfg(tmp_path, max_steps=3),
              resume=tmp_path / "checkpoints" / "step-00000001")
    assert r.resumed_from.name == "step-00000001" and r.steps == 3 and len(r.losses) == 3
    # a finished run resumed again does nothing more
    again = train(_partly(), rows, HeadOnly(), _cfg(tmp_path, max_steps=3))
    assert again.steps == 3 and again.losses == r.losses


# ----------------------------------------------------------------------------- a tiny random HF causal LM


def _tiny_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(7)  # the frozen base is identical in every new object, as a reloaded checkpoint's would be
    cfg = LlamaConfig(vocab_size=48, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                      intermediate_size=37, max_position_embeddings=64, tie_word_embeddings=False,
                      attention_dropout=0.2)
    return LlamaForCausalLM(cfg)


class LastLayerLM:
    """Causal LM loss; trains the last decoder layer's MLP and the LM head, the rest stays frozen."""

    name = "lm"

    def setup(self, model):
        model.requires_grad_(False)
        trainable = list(model.model.layers[-1].mlp.parameters()) + list(model.lm_head.parameters())
        for p in trainable:
            p.requires_grad_(True)
        return trainable

    def collate(self, rows):
        ids = torch.tensor(rows)  # (B, T)
        return {"input_ids": ids, "labels": ids}

    def loss(self, model, batch):
        out = model(input_ids=batch["input_ids"], labels=batch["labels"])
        return out.loss, {}


def _token_rows(n: int = 24, length: int = 12) -> list[list[int]]:
    g = torch.Generator().manual_seed(3)
    starts = torch.randint(0, 40, (n,), generator=g)
    return [[int(s) + (i % 4) for i in range(length)] for s in starts]  # a learnable repeating pattern


def test_tiny_hf_causal_lm_trains_only_its_trainable_part_and_resumes(tmp_path):
    from safetensors.torch import load_file

    rows = _token_rows()
    model = _tiny_llama()
    frozen_before = model.model.layers[0].self_attn.q_proj.weight.detach().clone()
    straight = train(model, rows, LastLayerLM(), _cfg(tmp_path / "s", max_steps=8, lr=0.01, grad_accum=2))
    assert straight.final_loss < straight.losses[0]
    assert torch.equal(frozen_before, model.model.layers[0].self_attn.q_proj.weight.detach().cpu())
    saved = load_file(str(straight.last_checkpoint / "trainable.safetensors"))
    assert sorted(saved) == sorted(["lm_head.weight", "model.layers.1.mlp.down_proj.weight",
                                    "model.layers.1.mlp.gate_proj.weight", "model.layers.1.mlp.up_proj.weight"])

    with pytest.raises(_Crash):
        train(_tiny_llama(), rows, _CrashWrap(LastLayerLM(), at=11),
              _cfg(tmp_path / "c", max_steps=8, lr=0.01, grad_accum=2, save_every=4))
    resumed_model = _tiny_llama()
    resumed = train(resumed_model, rows, LastLayerLM(), _cfg(tmp_path / "c", max_steps=8, lr=0.01, grad_accum=2,
                                                            save_every=4))
    assert resumed.losses == pytest.approx(straight.losses, abs=1e-6)
    for (n, pa), (_, pb) in zip(model.named_parameters(), resumed_model.named_parameters()):
        torch.testing.assert_close(pa, pb, atol=1e-6, rtol=0, msg=n)


class _CrashWrap:
    def __init__(self, stage, at: int) -> None:
        self.stage, self.at, self.calls, self.name = stage, at, 0, stage.name

    def setup(self, model):
        return self.stage.setup(model)

    def collate(self, rows):
        return self.stage.collate(rows)

    def loss(self, model, batch):
        self.calls += 1
        if self.calls == self.at:
            raise _Crash("killed")
        return self.stage.loss(model, batch)


def test_hf_datasets_rows(tmp_path):
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict({"x": [i / 16 for i in range(16)]})

    class FromDicts(Regress):
        def collate(self, rows):
            return super().collate([r["x"] for r in rows])

    r = train(nn.Linear(1, 1), ds, FromDicts(), _cfg(tmp_path, max_steps=3))
    assert r.steps == 3


# ----------------------------------------------------------------------------- metrics, preflight, failure modes


def test_metrics_jsonl(tmp_path):
    xs = [i / 16 for i in range(32)]
    result = train(nn.Linear(1, 1), xs, Regress(), _cfg(tmp_path, max_steps=7, log_every=3, warmup_steps=2))
    lines = [json.loads(line) for line in result.metrics_path.read_text().splitlines()]
    assert [r["step"] for r in lines] == [3, 6, 7]
    for r in lines:
        assert {"step", "loss", "lr", "samples_per_s", "epoch", "abs_err", "grad_norm"} <= set(r)
        assert r["samples_per_s"] > 0
    # the logged loss is the mean of the window's step losses
    assert lines[0]["loss"] == pytest.approx(sum(result.losses[:3]) / 3)
    assert lines[-1]["loss"] == pytest.approx(result.losses[6])
    assert lines[-1]["epoch"] == pytest.approx(7 / 8)  # 8 batches per epoch, 7 consumed


def test_lr_schedule_warmup_then_cosine(tmp_path):
    xs = [i / 16 for i in range(16)]
    result = train(nn.Linear(1, 1), xs, Regress(), _cfg(tmp_path, max_steps=10, warmup_steps=4, lr=0.01))
    lrs = [json.loads(line)["lr"] for line in result.metrics_path.read_text().splitlines()]
    # logged after each step = the lr the *next* step uses: warmup 2/4, 3/4, 4/4, then cosine down to 0
    assert lrs[:3] == pytest.approx([0.005, 0.0075, 0.01])
    assert all(a >= b for a, b in itertools.pairwise(lrs[2:]))
    assert lrs[-1] == pytest.approx(0.0, abs=1e-12)


def test_preflight_sees_the_first_batch_before_any_step(tmp_path):
    model = nn.Linear(1, 1)
    before = [p.detach().clone() for p in model.parameters()]
    seen = []

    def preflight(batch):
        seen.append(batch)
        assert all(torch.equal(a, b.detach().cpu()) for a, b in zip(before, model.parameters()))

    train(model, [i / 8 for i in range(8)], Regress(), _cfg(tmp_path / "ok", max_steps=2), preflight=preflight)
    assert len(seen) == 1 and seen[0]["x"].shape == (4, 1)

    def refuse(batch):
        raise PreflightError("all labels are masked: check the chat template")

    with pytest.raises(PreflightError, match="all labels are masked"):
        train(model, [0.1] * 8, Regress(), _cfg(tmp_path / "bad", max_steps=2), preflight=refuse)
    assert find_latest_checkpoint(tmp_path / "bad") is None


def test_non_finite_loss_stops_with_the_step(tmp_path):
    class Nan(Regress):
        def loss(self, model, batch):
            loss, extra = super().loss(model, batch)
            return loss * float("nan"), extra

    with pytest.raises(TrainingError, match="loss is nan at step 1"):
        train(nn.Linear(1, 1), [0.0] * 8, Nan(), _cfg(tmp_path, max_steps=2))


def test_bad_stages_and_data(tmp_path):
    class Nothing(Regress):
        def setup(self, model):
            return []

    class Stranger(Regress):
        def setup(self, model):
            return [nn.Parameter(torch.zeros(3))]

    with pytest.raises(TrainingError, match="returned no trainable parameters"):
        train(nn.Linear(1, 1), [0.0] * 4, Nothing(), _cfg(tmp_path, max_steps=1))
    with pytest.raises(TrainingError, match="not a parameter of the model"):
        train(nn.Linear(1, 1), [0.0] * 4, Stranger(), _cfg(tmp_path, max_steps=1))
    with pytest.raises(ConfigError, match="dataset is empty"):
        train(nn.Linear(1, 1), [], Regress(), _cfg(tmp_path, max_steps=1))
    with pytest.raises(ConfigError, match="map-style"):
        train(nn.Linear(1, 1), iter([0.0]), Regress(), _cfg(tmp_path, max_steps=1))
    with pytest.raises(ConfigError, match="lacks 'collate'"):
        train(nn.Linear(1, 1), [0.0], type("NoCollate", (), {"name": "x", "setup": None, "loss": None})(),
              _cfg(tmp_path, max_steps=1))


def test_epochs_set_the_length_and_drop_last_needs_a_full_batch(tmp_path):
    # 10 rows, bs 4: 3 micro-batches per epoch (4, 4, 2); grad_accum 2 -> 2 steps per epoch
    r = train(nn.Linear(1, 1), [i / 10 for i in range(10)], Regress(), _cfg(tmp_path / "e", epochs=3, grad_accum=2))
    assert r.steps == 6 and r.extra["epoch"] == 3
    seen = []

    class Sizes(Regress):
        def loss(self, model, batch):
            seen.append(len(batch["x"]))
            return super().loss(model, batch)

    train(nn.Linear(1, 1), [i / 10 for i in range(10)], Sizes(), _cfg(tmp_path / "d", epochs=1, drop_last=True))
    assert seen == [4, 4]
    with pytest.raises(ConfigError, match="no full batch: 3 rows, batch_size=4"):
        train(nn.Linear(1, 1), [0.0] * 3, Regress(), _cfg(tmp_path / "x", max_steps=1, drop_last=True))


def test_custom_save_fn_gets_final_dir(tmp_path):
    got = {}

    def save_fn(model, path):
        got["model"], got["path"] = model, path
        (path / "weights.pt").write_bytes(b"x")

    model = nn.Linear(1, 1)
    train(model, [0.0] * 4, Regress(), _cfg(tmp_path, max_steps=1), save_fn=save_fn)
    assert got["model"] is model and got["path"] == tmp_path / "final"
    assert (tmp_path / "final" / "weights.pt").exists()


# ----------------------------------------------------------------------------- precision and tensorboard


def test_fp16_on_cpu_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="fp16.*needs a GPU"):
        train(nn.Linear(1, 1), [0.0] * 4, Regress(), _cfg(tmp_path, max_steps=1, mixed_precision="fp16", cpu=True))


def test_bf16_autocast_trains(tmp_path, caplog):
    seen = []

    class Watch(Regress):
        def loss(self, model, batch):
            # Accelerate casts the prepared model's *outputs* back to float32; the matmuls inside run in bf16
            kind = batch["x"].device.type
            seen.append(torch.get_autocast_dtype(kind) if torch.is_autocast_enabled(kind) else torch.float32)
            return ((model(batch["x"]) - batch["y"]) ** 2).mean(), {}

    xs = [i / 16 for i in range(32)]
    if native_bf16():
        r = train(nn.Linear(1, 1), xs, Watch(), _cfg(tmp_path, max_steps=20, mixed_precision="bf16"))
        assert seen[0] == torch.bfloat16
    else:  # emulated bf16 is several times slower than float32: the loop says so and trains in float32
        with caplog.at_level("WARNING", logger="genaisys.train"):
            r = train(nn.Linear(1, 1), xs, Watch(), _cfg(tmp_path, max_steps=20, mixed_precision="bf16"))
        assert seen[0] == torch.float32 and "no native bf16" in caplog.text
    assert r.final_loss < 0.5 * r.losses[0]
    # a later float32 run in the same process is not stuck in bf16 (Accelerate's process-wide state)
    seen.clear()
    train(nn.Linear(1, 1), xs, Watch(), _cfg(tmp_path / "fp32", max_steps=1))
    assert seen[0] == torch.float32


def test_bf16_without_native_support_trains_in_float32(tmp_path, caplog, monkeypatch):
    # the CPU check decoding uses too (genaisys.core.precision), forced to say no
    monkeypatch.setattr("genaisys.core.precision.native_bf16", lambda: False)
    seen = []

    class Watch(Regress):
        def loss(self, model, batch):
            kind = batch["x"].device.type
            seen.append(torch.get_autocast_dtype(kind) if torch.is_autocast_enabled(kind) else torch.float32)
            return ((model(batch["x"]) - batch["y"]) ** 2).mean(), {}

    with caplog.at_level("WARNING", logger="genaisys.train"):
        r = train(nn.Linear(1, 1), [i / 16 for i in range(8)], Watch(),
                  _cfg(tmp_path, max_steps=2, mixed_precision="bf16"))
    assert seen[0] == torch.float32 and "no native bf16" in caplog.text
    assert r.extra["precision"] == "no"  # the model card reports this, not the bf16 that was asked


def test_tensorboard_without_the_package_fails_before_training(tmp_path, monkeypatch):
    import importlib.util

    if importlib.util.find_spec("tensorboard") is not None:
        pytest.skip("tensorboard is installed here")
    model = nn.Linear(1, 1)
    before = model.weight.detach().clone()
    with pytest.raises(MissingDependencyError, match="pip install 'tensorboard'"):
        train(model, [0.0] * 4, Regress(), _cfg(tmp_path, max_steps=1, tensorboard=True))
    assert torch.equal(before, model.weight.detach().cpu())


def test_tensorboard_writes_events_when_installed(tmp_path):
    pytest.importorskip("tensorboard")
    train(nn.Linear(1, 1), [0.0] * 8, Regress(), _cfg(tmp_path, max_steps=2, tensorboard=True))
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="fp16 needs a GPU; runs where one is present")
def test_fp16_on_gpu_trains_and_resumes_exactly(tmp_path):
    rows = _rows()
    straight = train(_partly(), rows, HeadOnly(), _cfg(tmp_path / "s", max_steps=6, mixed_precision="fp16"))
    assert straight.final_loss < straight.losses[0]
    with pytest.raises(_Crash):
        train(_partly(), rows, CrashAt(5), _cfg(tmp_path / "c", max_steps=6, mixed_precision="fp16", save_every=3))
    assert (find_latest_checkpoint(tmp_path / "c") / "scaler.pt").is_file()
    resumed = train(_partly(), rows, HeadOnly(), _cfg(tmp_path / "c", max_steps=6, mixed_precision="fp16", save_every=3))
    assert resumed.losses == pytest.approx(straight.losses, abs=1e-6)


def test_tensorboard_writer_gets_every_scalar(tmp_path, monkeypatch):
    from genaisys.train import loop

    scalars = []

    class Writer:
        def add_scalar(self, tag, value, step):
            scalars.append((tag, step))

        def close(self):
            scalars.append(("closed", -1))

    monkeypatch.setattr(loop, "_open_tensorboard", lambda log_dir: Writer())
    train(nn.Linear(1, 1), [0.0] * 8, Regress(), _cfg(tmp_path, max_steps=2, tensorboard=True))
    assert ("train/loss", 1) in scalars and ("train/lr", 2) in scalars and scalars[-1] == ("closed", -1)


# ----------------------------------------------------------------------------- config validation


def test_loop_config_validation(tmp_path):
    with pytest.raises(ValidationError, match="extra"):
        LoopConfig(output_dir=tmp_path, learning_rate=1e-3)
    with pytest.raises(ValidationError, match=r"betas must each be in \[0, 1\)"):
        LoopConfig(output_dir=tmp_path, betas=(0.9, 1.0))
    with pytest.raises(ValidationError, match="scheduler"):
        LoopConfig(output_dir=tmp_path, scheduler="exponential")
    with pytest.raises(ValidationError, match="mixed_precision"):
        LoopConfig(output_dir=tmp_path, mixed_precision="fp8")
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        LoopConfig(output_dir=tmp_path, grad_accum=0)
    assert LoopConfig(output_dir=tmp_path).model_dump()["epochs"] == 1


# ----------------------------------------------------------------------------- the packaged SmolLM2-135M


class LastMLP(LastLayerLM):
    """Only the last decoder layer's MLP trains (SmolLM2 ties its head to the 28M-row embedding)."""

    def setup(self, model):
        model.requires_grad_(False)
        trainable = list(model.model.layers[-1].mlp.parameters())
        for p in trainable:
            p.requires_grad_(True)
        return trainable


@pytest.mark.packaged
def test_smollm2_checkpoints_hold_only_the_trained_part_and_resume(tmp_path):
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    from genaisys.assets import smollm2_safetensors

    folder = smollm2_safetensors()
    rows = [[(7 * i + j) % 500 + 100 for j in range(12)] for i in range(8)]
    cfg = {"max_steps": 2, "batch_size": 2, "lr": 1e-4, "save_every": 1}
    straight = train(AutoModelForCausalLM.from_pretrained(folder), rows, LastMLP(), _cfg(tmp_path / "s", **cfg))
    ckpt = straight.last_checkpoint
    saved = load_file(str(ckpt / "trainable.safetensors"))
    assert sorted(saved) == [f"model.layers.29.mlp.{k}_proj.weight" for k in ("down", "gate", "up")]
    size_mb = (ckpt / "trainable.safetensors").stat().st_size / 2**20
    assert size_mb < 12  # 2.65M float32 parameters, not the 135M-parameter LM (~513 MiB)

    with pytest.raises(_Crash):
        train(AutoModelForCausalLM.from_pretrained(folder), rows, _CrashWrap(LastMLP(), at=2), _cfg(tmp_path / "c", **cfg))
    resumed = train(AutoModelForCausalLM.from_pretrained(folder), rows, LastMLP(), _cfg(tmp_path / "c", **cfg))
    assert resumed.resumed_from.name == "step-00000001"
    assert resumed.losses == pytest.approx(straight.losses, abs=1e-5)
