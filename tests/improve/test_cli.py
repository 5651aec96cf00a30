"""``genaisys train nano``: the recipe's command trains, then evaluates and ships on request."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

from typer.testing import CliRunner

from genaisys.cli import app


def test_nano_command_builds_the_recipe(monkeypatch, tmp_path):
    from pydantic import BaseModel, ConfigDict

    class NanoRecipe(BaseModel):  # the fields the command sets, as genaisys.train.nano defines them
        model_config = ConfigDict(extra="forbid")
        output_dir: Path = Path("runs/nano")
        seed: int = 0
        scale: float = 1.0
        threads: int | None = None
        progress: bool = True
        sft_lr: float = 4e-4

    got = []

    def train_nano(recipe, *, log=print):
        got.append(recipe)
        log("align: done")
        return {"core": recipe.output_dir / "dpo" / "final", "timings": {"total_s": 1.0},
                "data": {"tool_heldout": recipe.output_dir / "heldout.jsonl"}}

    evaluated, shipped, commands = [], [], []

    def evaluate_nano(core, out_dir, *, log=print):
        evaluated.append((core, out_dir))
        return {"metrics": {}, "text": {}}

    def ship_nano(core, *, recipe, timings, evaluation, command):
        shipped.append(core)
        commands.append(command)
        return tmp_path / "shipped"

    built = []

    def build_nano_data(recipe, *, log=print):
        built.append(recipe)
        return {"counts": {"refine": 7}, "refine": recipe.output_dir / "data" / "refine.jsonl"}

    fake = types.ModuleType("genaisys.train.nano")
    fake.NanoRecipe, fake.train_nano, fake.build_nano_data = NanoRecipe, train_nano, build_nano_data
    fake_improve = types.ModuleType("genaisys.improve.nano")
    fake_improve.evaluate_nano, fake_improve.ship_nano = evaluate_nano, ship_nano
    monkeypatch.setitem(sys.modules, "genaisys.train.nano", fake)
    monkeypatch.setitem(sys.modules, "genaisys.improve.nano", fake_improve)
    res = CliRunner().invoke(app, ["train", "nano", "--output", str(tmp_path), "--scale", "0.01", "--threads", "2",
                                         "--set", "sft_lr=3e-4", "--no-progress"])
    assert res.exit_code == 0, res.output
    (recipe,) = got
    assert (recipe.output_dir, recipe.scale, recipe.threads, recipe.sft_lr, recipe.progress) == (tmp_path, 0.01, 2, 3e-4,
                                                                                                False)
    assert "align: done" in res.output and f"trained nano core: {tmp_path / 'dpo' / 'final'}" in res.output
    assert evaluated == [(tmp_path / "dpo" / "final", tmp_path / "eval")] and not shipped
    res = CliRunner().invoke(app, ["train", "nano", "--json", "--no-evaluate", "--output", str(tmp_path)])
    assert json.loads(res.stdout)["timings"] == {"total_s": 1.0} and len(evaluated) == 1
    res = CliRunner().invoke(app, ["train", "nano", "--ship", "--no-evaluate", "--output", str(tmp_path)])
    assert res.exit_code == 0 and len(evaluated) == 2 and shipped == [tmp_path / "dpo" / "final"]
    # a recipe file gives the fields; --set and the flags win over it; the card is told the command
    recipe_file = tmp_path / "recipe.yaml"
    recipe_file.write_text("sft_lr: 1.0e-4\nscale: 0.5\nseed: 3\n")
    res = CliRunner().invoke(app, ["train", "nano", "--ship", "--recipe", str(recipe_file), "--seed", "4",
                                   "--set", "scale=0.25"])
    assert res.exit_code == 0, res.output
    assert (got[-1].sft_lr, got[-1].scale, got[-1].seed) == (1e-4, 0.25, 4)
    assert commands == ["genaisys train nano --ship", f"genaisys train nano --ship --recipe {recipe_file} --seed 4 --set 'scale=0.25'"]
    for bad in ("- a list\n", "key: [unclosed\n"):
        recipe_file.write_text(bad)
        res = CliRunner().invoke(app, ["train", "nano", "--recipe", str(recipe_file)])
        assert res.exit_code == 2 and "recipe file" in res.output
    res = CliRunner().invoke(app, ["train", "nano", "--set", "sft_learning_rate=1"])
    assert res.exit_code == 2 and "bad nano recipe: sft_learning_rate" in res.output
    # --data-only writes the data and stops: nothing trained, evaluated or shipped
    res = CliRunner().invoke(app, ["train", "nano", "--data-only", "--output", str(tmp_path), "--scale", "0.15"])
    assert res.exit_code == 0, res.output
    assert [r.scale for r in built] == [0.15] and len(got) == 4 and len(evaluated) == 3  # unchanged
    assert f"refine: {tmp_path / 'data' / 'refine.jsonl'}" in res.output and 'counts: {"refine": 7}' in res.output
