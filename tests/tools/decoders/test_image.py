"""DiffusersImageDecoder on a tiny random StableDiffusionPipeline folder: PNG in the blob store and
on disk with its parameters, seeds, prompt_embeds / signal references, and bad input."""

from __future__ import annotations

import io
import json

import pytest

from genaisys.errors import ConfigError
from genaisys.tools.decoders import DiffusersImageDecoder, read_params
from genaisys.tools.decoders.base import load_pipeline
from tests.tools.decoders.conftest import CROSS_DIM


@pytest.fixture(scope="module")
def image_pipe(image_pipeline_dir):
    return load_pipeline(image_pipeline_dir, "text-to-image")


def _decoder(image_pipe, image_pipeline_dir, tmp_path, blobs, **kwargs):
    return DiffusersImageDecoder(model=str(image_pipeline_dir), steps=1, output_dir=tmp_path / "out",
                                 blobs=blobs, pipeline=image_pipe, **kwargs)


def test_loads_the_folder_and_writes_png_blob_and_sidecar(image_pipeline_dir, tmp_path, blobs):
    from PIL import Image

    decoder = DiffusersImageDecoder(model=str(image_pipeline_dir), steps=2, guidance_scale=3.0, seed=7,
                                    negative_prompt="blurry", output_dir=tmp_path / "out", blobs=blobs)
    art = decoder.decode("a blue triangle")
    assert art.mime_type == "image/png" and blobs.mime_type(art.blob_id) == "image/png"
    assert art.path.read_bytes() == blobs.get(art.blob_id)
    with Image.open(io.BytesIO(blobs.get(art.blob_id))) as img:
        assert img.format == "PNG" and img.size == (8, 8)  # the tiny pipeline's default size
    record = read_params(art.path)
    assert json.loads(art.sidecar.read_text()) == record
    assert record["blob_id"] == art.blob_id and record["decoder"] == "DiffusersImageDecoder"
    assert record["params"] | {"model": None} == {
        "model": None, "pipeline": "StableDiffusionPipeline", "prompt": "a blue triangle", "prompt_embeds": None,
        "signal": None, "negative_prompt": "blurry", "seed": 7, "steps": 2, "guidance_scale": 3.0,
        "width": 8, "height": 8}


def test_same_seed_same_image_other_seed_other_image_and_size(image_pipe, image_pipeline_dir, tmp_path, blobs):
    decoder = _decoder(image_pipe, image_pipeline_dir, tmp_path, blobs)
    first, again = decoder.decode("a red circle", seed=3), decoder.decode("a red circle", seed=3)
    other = decoder.decode("a red circle", seed=4)
    assert first.blob_id == again.blob_id != other.blob_id
    big = decoder.decode("a red circle", width=32, height=16)
    assert (big.params["width"], big.params["height"]) == (32, 16)


def test_prompt_embeds_and_signal_references(image_pipe, image_pipeline_dir, tmp_path, blobs):
    import torch

    embeds = torch.randn(1, 4, CROSS_DIM)  # (1, tokens, cross-attention width): an output projector's shape
    store = {"sig_abc": embeds}
    decoder = _decoder(image_pipe, image_pipeline_dir, tmp_path, blobs, signals=store.__getitem__)
    direct = decoder.decode("", prompt_embeds=embeds, seed=1)
    via_ref = decoder.decode("a cat", signal={"kind": "signal_embeddings", "ref": "sig_abc"}, seed=1)
    assert direct.blob_id == via_ref.blob_id  # the embeddings condition the image, not the text
    assert via_ref.params["prompt_embeds"] == {"tensor_shape": [1, 4, CROSS_DIM]}
    assert via_ref.params["signal"]["ref"] == "sig_abc"
    with pytest.raises(ConfigError, match="width 8 .* 16-wide conditioning"):
        decoder.decode("x", prompt_embeds=torch.randn(1, 4, 8))
    with pytest.raises(ConfigError, match="no signal lookup"):
        _decoder(image_pipe, image_pipeline_dir, tmp_path, blobs).decode("x", signal="sig_abc")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"prompt": "   "}, "prompt is empty"),
    ({"prompt": "x", "steps": 0}, "steps"),
    ({"prompt": "x", "steps": 151}, "over max_steps=150"),
    ({"prompt": "x", "width": 100000}, "width"),
    ({"prompt": "x", "height": 30}, "multiple of 8"),
    ({"prompt": "x", "guidance_scale": -1}, "guidance_scale"),
    ({"prompt": "x", "seed": -5}, "seed"),
])
def test_bad_requests_are_clear_errors(image_pipe, image_pipeline_dir, tmp_path, blobs, kwargs, match):
    decoder = _decoder(image_pipe, image_pipeline_dir, tmp_path, blobs)
    with pytest.raises(ConfigError, match=match):
        decoder.decode(**kwargs)
    assert not (tmp_path / "out").exists()  # nothing half-made lands on disk


def test_wrong_folders_and_settings(audio_pipeline_dir, tmp_path):
    with pytest.raises(ConfigError, match="AudioLDMPipeline, not a text-to-image pipeline"):
        DiffusersImageDecoder(model=str(audio_pipeline_dir), output_dir=tmp_path).decode("a dog")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no model_index.json"):
        DiffusersImageDecoder(model=str(tmp_path / "empty"), output_dir=tmp_path).decode("a dog")
    with pytest.raises(ConfigError, match="cannot load a diffusers pipeline from 'no-such/hub-model'"):
        DiffusersImageDecoder(model="no-such/hub-model", output_dir=tmp_path).decode("a dog")
    with pytest.raises(ConfigError, match="max_steps"):
        DiffusersImageDecoder(model="m", max_steps=0)
    with pytest.raises(ConfigError, match="stepz: Extra inputs"):
        DiffusersImageDecoder(model="m", stepz=3)


def test_parallel_calls_are_serialised_and_match_sequential_ones(image_pipe, image_pipeline_dir, tmp_path, blobs):
    from concurrent.futures import ThreadPoolExecutor

    decoder = _decoder(image_pipe, image_pipeline_dir, tmp_path, blobs)
    # different step counts per call: unserialised, one call's set_timesteps would clobber another's
    sequential = [decoder.decode("a shape", seed=s, steps=1 + s).blob_id for s in range(4)]
    with ThreadPoolExecutor(4) as pool:  # LangGraph runs parallel tool calls like this
        parallel = list(pool.map(lambda s: decoder.decode("a shape", seed=s, steps=1 + s).blob_id, range(4)))
    assert parallel == sequential
