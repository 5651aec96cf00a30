"""The nano recipe: a smoke run of its stages (slow), the shipped core (packaged)."""

from __future__ import annotations

import json

import pytest

from genaisys.train.nano import NanoRecipe


@pytest.mark.packaged
def test_the_shipped_nano_core_reads_a_shape_it_never_saw():
    from langchain_core.messages import HumanMessage

    from genaisys.core.loading import NANO_DIR, load_core
    from genaisys.core.media import image_block
    from genaisys.datasets.easy_vqa import image_attributes, image_path

    if not (NANO_DIR / "genaisys_core.json").is_file():
        pytest.skip("no trained nano core ships in genaisys/core/nano yet")
    card = json.loads((NANO_DIR / "evaluation.json").read_text())
    assert card["metrics"]["easy-vqa"]["accuracy"]["value"] > 0.5
    chat = load_core("nano", max_new_tokens=8)
    attrs = image_attributes("test")
    right = 0
    for img in sorted(attrs)[:4]:
        colour, shape = attrs[img]
        reply = chat.invoke([HumanMessage([image_block(image_path(img, "test")),
                                           {"type": "text", "text": "What shape is in the image?\n"
                                                                    "Answer with a single word."}])])
        right += shape in reply.content.lower()
    assert right >= 3


@pytest.mark.slow
def test_the_recipe_runs_its_three_stages(tmp_path):
    from genaisys.core.multimodal import MultimodalCore
    from genaisys.train.nano import train_nano

    out = train_nano(NanoRecipe(output_dir=tmp_path, scale=0.01, progress=False), log=lambda s: None)
    t = out["timings"]
    assert [s for s in ("align", "sft", "refine", "dpo") if s in t] == ["align", "sft", "refine"]
    assert t["align"]["final_loss"] < t["align"]["first_loss"]
    assert out["core"] == tmp_path / "refine" / "final"
    core = MultimodalCore.from_pretrained(out["core"])
    assert core.language_model.peft_config and core.n_image_tokens == 49


def test_an_unknown_stage_is_refused_before_any_data_is_made(tmp_path):
    from genaisys.errors import ConfigError
    from genaisys.train.nano import build_nano_data, train_nano

    with pytest.raises(ConfigError, match="unknown nano stage.*known: align, sft, refine"):
        train_nano(NanoRecipe(output_dir=tmp_path, stages=["sft", "polish"]), log=lambda s: None)
    with pytest.raises(ConfigError, match="unknown nano stage.*polish"):  # --data-only goes straight here
        build_nano_data(NanoRecipe(output_dir=tmp_path, stages=["polish"]), log=lambda s: None)
    assert not (tmp_path / "data").exists()


def test_a_stage_loss_is_the_mean_of_its_first_and_last_twentieth():
    from genaisys.train.nano import loss_ends

    assert loss_ends([4.0, 3.0] + [1.0] * 36 + [0.5, 0.7]) == {"first_loss": 3.5, "final_loss": 0.6,
                                                                "loss_steps": 2}
    assert loss_ends([2.0, 1.0]) == {"first_loss": 2.0, "final_loss": 1.0, "loss_steps": 1}  # short runs
    assert loss_ends([]) == {"first_loss": None, "final_loss": None, "loss_steps": 0}


def test_a_run_from_a_trained_core_keeps_the_figures_of_every_stage_that_core_went_through(tmp_path):
    import json

    from genaisys.train.nano import NanoRecipe, earlier_timings

    core = tmp_path / "core"
    core.mkdir()
    stage = {"steps": 3, "wall_s": 1.0, "samples_per_s": 1.0, "first_loss": 1.0, "final_loss": 0.5, "peak_rss_mb": 9}
    (core / "evaluation.json").write_text(json.dumps({"timings": {
        "data_s": 1.0, "records": {"align": 10, "sft": 20, "refine": 30},
        "align": {**stage, "from": "older"}, "sft": stage, "refine": stage}}))
    once_more = earlier_timings(NanoRecipe(stages=["refine"], init_core=core), {"refine": 40})
    assert list(once_more) == ["align", "sft", "refine (earlier run)", "records"]
    assert once_more["align"]["from"] == "older" and once_more["refine (earlier run)"]["from"] == str(core)
    assert once_more["records"] == {"align": 10, "sft": 20, "refine": 40}  # this run's data replaces that stage's
    assert earlier_timings(NanoRecipe(stages=["refine"]), {}) == {}
    # a core refined twice, refined once more: both earlier refines keep a row of their own
    (core / "evaluation.json").write_text(json.dumps({"timings": {
        "sft": stage, "refine (earlier run)": stage, "refine": {**stage, "steps": 7}}}))
    third = earlier_timings(NanoRecipe(stages=["refine"], init_core=core), {})
    assert list(third) == ["sft", "refine (earlier run)", "refine (earlier run 2)", "records"]
    assert third["refine (earlier run 2)"]["steps"] == 7
    # and once more: the rows of a name written by an older version are numbered in order too
    (core / "evaluation.json").write_text(json.dumps({"timings": {
        "refine (earlier run)": stage, "refine (earlier run)'": {**stage, "steps": 5}, "refine": stage}}))
    fourth = earlier_timings(NanoRecipe(stages=["refine"], init_core=core), {})
    assert [k for k in fourth if k.startswith("refine")] == ["refine (earlier run)", "refine (earlier run 2)",
                                                            "refine (earlier run 3)"]
    assert fourth["refine (earlier run 2)"]["steps"] == 5


@pytest.mark.parametrize("name", ["nano-focus.yaml", "nano-followups.yaml", "nano-bestfirst.yaml",
                                  "nano-composed.yaml"])
def test_the_recipe_files_are_valid_recipes_with_known_turn_weights(name):
    from pathlib import Path

    import yaml

    import genaisys.train
    from genaisys.train.engine.programs.assistant import TURN_WEIGHTS
    from genaisys.train.engine.programs.intents import WEIGHTS
    from genaisys.train.nano import NanoRecipe

    fields = yaml.safe_load((Path(genaisys.train.__file__).parent / "configs" / name).read_text())
    recipe = NanoRecipe(**fields)  # extra or mistyped fields fail here
    assert recipe.stages == ["refine"] and recipe.init_core is not None
    assert set(recipe.refine_weights) <= set(TURN_WEIGHTS) | {"intents"}
    assert set(recipe.refine_weights.get("intents", {})) <= set(WEIGHTS)
