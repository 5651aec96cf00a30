"""Training genaisys's own shape decoder: a tiny UNet learns, runs are seeded, the folder loads."""

from __future__ import annotations

import json
import zlib

import pytest
import torch
from genaisys.tools.decoders.shapes import ShapeImageDecoder, ShapeUNetConfig

from genaisys.errors import ConfigError
from genaisys.train.shape_decoder import (
    ShapeDecoderTrainConfig,
    evaluate_shape_decoder,
    train_shape_decoder,
)

# diffusers' DPMSolverMultistepScheduler.set_timesteps calls np.array on a torch tensor; numpy 2 warns.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

TINY_UNET = ShapeUNetConfig(image_size=16, block_out_channels=(8, 16), norm_num_groups=4, attention_head_dim=4)


class BagOfWordsEncoder:
    """A deterministic stand-in for MiniLM with its ``encode`` face: each word gets a fixed random
    384-d vector (seeded by its CRC32); a text is the normalised sum of its words' vectors."""

    def encode(self, texts, *, convert_to_tensor=True, normalize_embeddings=True):
        rows = []
        for text in texts:
            vec = torch.zeros(384)
            for word in text.lower().replace(",", " ").split():
                vec += torch.randn(384, generator=torch.Generator().manual_seed(zlib.crc32(word.encode())))
            rows.append(vec / vec.norm() if normalize_embeddings else vec)
        return torch.stack(rows)  # (B, 384)


def _config(tmp_path=None, **overrides):
    base = {"unet": TINY_UNET, "steps": 40, "batch_size": 8, "lr": 3e-3, "warmup_steps": 5, "log_every": 10,
            "progress": False, "output_dir": tmp_path, "sample_steps": 2}
    return ShapeDecoderTrainConfig(**{**base, **overrides})


def test_tiny_decoder_loss_goes_down_and_the_folder_loads(tmp_path):
    result = train_shape_decoder(_config(tmp_path, steps=30, batch_size=6), text_encoder=BagOfWordsEncoder())
    assert result.steps == 30 and len(result.losses) == 30
    assert result.final_loss < 0.75 * result.first_loss, (result.first_loss, result.final_loss)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [10, 20, 30]
    assert all(r["samples_per_s"] > 0 for r in rows)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["unet"]["block_out_channels"] == [8, 16]
    assert saved["training"]["steps"] == 30
    assert "draw a {color} {shape}" in saved["prompts"]["heldout_templates"]
    assert not set(saved["prompts"]["heldout_templates"]) & set(saved["prompts"]["train_templates"])
    decoder = ShapeImageDecoder(tmp_path, text_encoder=BagOfWordsEncoder())
    png = decoder.render("draw a red circle", seed=0, steps=2)
    assert png.startswith(b"\x89PNG") and png == decoder.render("draw a red circle", seed=0, steps=2)


def test_training_is_seeded():
    enc = BagOfWordsEncoder()
    a = train_shape_decoder(_config(steps=3), text_encoder=enc).losses
    b = train_shape_decoder(_config(steps=3), text_encoder=enc).losses
    c = train_shape_decoder(_config(steps=3, seed=1), text_encoder=enc).losses
    assert a == b
    assert a != c


def test_final_oracle_eval_runs_on_held_out_phrasings():
    result = train_shape_decoder(_config(steps=2, eval_images_per_prompt=1), text_encoder=BagOfWordsEncoder())
    assert result.oracle is not None
    assert result.oracle["n"] == 6 * 24  # 6 held-out phrasings x 8 colours x 3 shapes
    assert 0.0 <= result.oracle["accuracy"] <= 1.0
    assert set(result.oracle["per_template"]) == {
        "draw a {color} {shape}", "please generate a {color} {shape}", "show me a {color} {shape}",
        "a {shape} colored {color}", "make a picture with a {color} {shape}", "i would like to see a {color} {shape}"}


def test_evaluate_counts_only_the_templates_asked_for(tmp_path):
    train_shape_decoder(_config(tmp_path, steps=1), text_encoder=BagOfWordsEncoder())
    decoder = ShapeImageDecoder(tmp_path, text_encoder=BagOfWordsEncoder())
    scores = evaluate_shape_decoder(decoder.unet, decoder.scheduler_config, templates=("draw a {color} {shape}",),
                                    steps=1, text_encoder=BagOfWordsEncoder())
    assert scores["n"] == 24 and list(scores["per_template"]) == ["draw a {color} {shape}"]


def test_bad_configs_are_refused():
    with pytest.raises(ValueError):
        ShapeDecoderTrainConfig(steps=0)
    with pytest.raises(ValueError):
        ShapeDecoderTrainConfig(lerning_rate=1e-3)  # a typo is refused, not ignored
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA"):
            train_shape_decoder(_config(steps=1, device="cuda"), text_encoder=BagOfWordsEncoder())


def test_precomputed_embeddings_stand_in_for_the_text_encoder(tmp_path):
    from genaisys.train.shape_decoder import (
        PrecomputedTextEncoder,
        export_prompt_embeddings,
    )

    path = tmp_path / "prompts.safetensors"
    assert export_prompt_embeddings(path, text_encoder=BagOfWordsEncoder()) == 24 * (10 + 6)
    table = PrecomputedTextEncoder.from_file(path)
    live = BagOfWordsEncoder().encode(["draw a red circle", "red circle"])
    assert torch.allclose(table.encode(["draw a red circle", "red circle"]), live)
    a = train_shape_decoder(_config(steps=2), text_encoder=table).losses
    assert a == train_shape_decoder(_config(steps=2), text_encoder=BagOfWordsEncoder()).losses
    with pytest.raises(ConfigError, match="not in the precomputed table"):
        table.encode(["a purple hexagon"])
    with pytest.raises(ConfigError, match="export-embeddings"):
        PrecomputedTextEncoder.from_file(tmp_path / "missing.safetensors")


def test_precomputed_embeddings_honour_encode_options():
    from genaisys.train.shape_decoder import PrecomputedTextEncoder

    enc = PrecomputedTextEncoder({"a red circle": torch.full((384,), 2.0)})
    rows = enc.encode(["a red circle"])
    assert torch.allclose(rows.norm(dim=-1), torch.ones(1))  # a raw row comes back unit-length
    assert enc.encode(["a red circle"], convert_to_tensor=False).shape == (1, 384)
    assert type(enc.encode(["a red circle"], convert_to_tensor=False)).__module__ == "numpy"
    with pytest.raises(ConfigError, match="normalized embeddings only"):
        enc.encode(["a red circle"], normalize_embeddings=False)


def test_holdout_pairs_are_never_drawn_and_scored_apart(tmp_path, monkeypatch):
    import genaisys.train.shape_decoder as mod

    drawn = []
    real_render = mod.render_shape
    monkeypatch.setattr(mod, "render_shape", lambda c, s, **kw: drawn.append((c, s)) or real_render(c, s, **kw))
    cfg = _config(tmp_path, steps=6, eval_images_per_prompt=1, holdout_pairs=[("blue", "triangle"), ("gray", "circle")])
    result = train_shape_decoder(cfg, text_encoder=BagOfWordsEncoder())
    assert len(drawn) == 6 * 8 and not {("blue", "triangle"), ("gray", "circle")} & set(drawn)
    assert result.oracle["holdout_pairs"]["n"] == 2 * (10 + 6)  # 2 pairs x every phrasing
    card = (tmp_path / "MODEL_CARD.md").read_text()
    assert "never drawn in training: blue triangle, gray circle" in card and "--holdout-pairs blue:triangle" in card
    with pytest.raises(ValueError, match="purple"):
        ShapeDecoderTrainConfig(holdout_pairs=[("purple", "circle")])


def test_docstring_examples_run():
    import doctest

    import genaisys.train.shape_decoder as module

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_the_old_module_path_still_imports_with_a_warning():
    import importlib
    import sys

    sys.modules.pop("genaisys.train.image_decoder", None)
    with pytest.warns(DeprecationWarning, match="moved to genaisys.train.shape_decoder"):
        old = importlib.import_module("genaisys.train.image_decoder")
    assert old.train_shape_decoder is train_shape_decoder
