"""ShapeImageDecoder: genaisys's own trained image decoder — loading, determinism, prompt_embeds, shipped weights."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from genaisys.tools.decoders.shapes import (
    DEFAULT_FOLDER,
    ShapeImageDecoder,
    ShapeUNetConfig,
    build_shape_unet,
    encode_prompt,
)
from PIL import Image

from genaisys.errors import AssetError, ConfigError
from tests.train.test_shape_decoder import TINY_UNET, BagOfWordsEncoder

# diffusers' DPMSolverMultistepScheduler.set_timesteps calls np.array on a torch tensor; numpy 2 warns.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    from genaisys.train.shape_decoder import (
        ShapeDecoderTrainConfig,
        train_shape_decoder,
    )

    folder = tmp_path_factory.mktemp("shape-decoder")
    torch.set_num_threads(1)
    train_shape_decoder(ShapeDecoderTrainConfig(unet=TINY_UNET, steps=2, batch_size=4, progress=False,
                                                output_dir=folder, sample_steps=3), text_encoder=BagOfWordsEncoder())
    return folder


def test_decode_is_deterministic_for_a_seed(tiny_folder):
    decoder = ShapeImageDecoder(tiny_folder, text_encoder=BagOfWordsEncoder())
    png = decoder.render("a red circle", seed=4)
    assert png == decoder.render("a red circle", seed=4)
    assert png != decoder.render("a red circle", seed=5)
    image = Image.open(io.BytesIO(png))
    assert image.size == (16, 16) and image.mode == "RGB"
    assert Image.open(io.BytesIO(decoder.render("a red circle", seed=4, size=64))).size == (64, 64)


def test_decode_stores_and_writes_an_artifact_like_every_decoder(tiny_folder, tmp_path):
    from genaisys.memory.blobs import BlobStore
    from genaisys.tools.decoders import DecodedArtifact, build_decoder, read_params

    blobs = BlobStore(tmp_path / "blobs")
    decoder = build_decoder("image:shapes", folder=str(tiny_folder), output_dir=str(tmp_path / "out"), blobs=blobs,
                            text_encoder=BagOfWordsEncoder())
    art = decoder.decode("a red circle", seed=4)
    assert isinstance(art, DecodedArtifact) and art.mime_type == "image/png"
    assert art.path.read_bytes() == blobs.get(art.blob_id) == decoder.render("a red circle", seed=4)
    assert read_params(art.path)["params"] == {"prompt": "a red circle", "seed": 4}


def test_prompt_embeds_replace_the_text_encoder(tiny_folder):
    decoder = ShapeImageDecoder(tiny_folder, text_encoder=BagOfWordsEncoder())
    embeds = decoder.encode_prompt(["a blue triangle"])  # (1, 1, 384)
    assert embeds.shape == (1, 1, 384)
    from_text = decoder.render("a blue triangle", seed=0)
    assert decoder.render("anything", seed=0, prompt_embeds=embeds) == from_text
    assert decoder.render("anything", seed=0, prompt_embeds=embeds[:, 0]) == from_text  # pooled (1, 384) works too
    assert decoder.render("a blue triangle", seed=0, prompt_embeds=torch.zeros(1, 1, 384)) != from_text


def test_decode_draws_from_a_signal_reference(tiny_folder, tmp_path):
    from genaisys.tools.decoders import read_params

    plain = ShapeImageDecoder(tiny_folder, text_encoder=BagOfWordsEncoder())
    kept = {"sig_1": plain.encode_prompt(["a blue triangle"])}

    def lookup(ref: str) -> torch.Tensor:
        return kept[ref]

    decoder = ShapeImageDecoder(tiny_folder, text_encoder=BagOfWordsEncoder(), output_dir=tmp_path, signals=lookup)
    signal = {"kind": "signal_embeddings", "ref": "sig_1", "modality": "image", "shape": [1, 384]}
    art = decoder.decode("a red circle", signal=signal, seed=0)  # the signal wins over the text
    assert art.path.read_bytes() == decoder.render("a blue triangle", seed=0) != decoder.render("a red circle", seed=0)
    assert read_params(art.path)["params"] == {"prompt": "a red circle", "seed": 0, "signal": signal}
    with pytest.raises(KeyError):
        decoder.decode("x", signal={"ref": "sig_unknown"})
    with pytest.raises(ConfigError, match="reference string"):
        decoder.decode("x", signal={"kind": "signal_embeddings"})
    with pytest.raises(ConfigError, match="no signal lookup"):
        ShapeImageDecoder(tiny_folder, text_encoder=BagOfWordsEncoder(), output_dir=tmp_path).decode("x", signal=signal)
    with pytest.raises(ConfigError, match="not both"):
        decoder.decode("x", signal=signal, prompt_embeds=kept["sig_1"])
    art = decoder.decode("x", prompt_embeds=kept["sig_1"], seed=0)  # a tensor is recorded by its shape
    assert read_params(art.path)["params"]["prompt_embeds"] == [1, 1, 384]


def test_an_image_does_not_depend_on_its_batch(tiny_folder):
    decoder = ShapeImageDecoder(tiny_folder, text_encoder=BagOfWordsEncoder())
    pair = decoder.generate(["a red circle", "a gray rectangle"], seed=[10, 11])
    alone = decoder.generate(["a gray rectangle"], seed=11)
    assert pair.shape == (2, 16, 16, 3) and pair.dtype == np.uint8
    np.testing.assert_allclose(pair[1].astype(int), alone[0].astype(int), atol=1)


def test_bad_input_is_refused(tiny_folder, tmp_path):
    decoder = ShapeImageDecoder(tiny_folder, text_encoder=BagOfWordsEncoder())
    with pytest.raises(ConfigError, match="384"):
        decoder.render("x", prompt_embeds=torch.zeros(1, 1, 768))
    with pytest.raises(ConfigError, match="batch 1"):
        decoder.render("x", prompt_embeds=torch.zeros(2, 1, 384))
    with pytest.raises(ConfigError, match="non-empty"):
        decoder.encode_prompt([""])
    with pytest.raises(ConfigError, match="seeds"):
        decoder.generate(["a", "b"], seed=[1])
    with pytest.raises(AssetError, match="train_shape_decoder"):
        ShapeImageDecoder(tmp_path)


def test_build_shape_unet_checks_its_config():
    unet = build_shape_unet(TINY_UNET)
    assert unet.config.cross_attention_dim == 384
    assert unet.config.down_block_types == ("DownBlock2D", "CrossAttnDownBlock2D")
    with pytest.raises(ConfigError, match="norm_num_groups"):
        build_shape_unet(ShapeUNetConfig(block_out_channels=(12, 16), norm_num_groups=8))
    with pytest.raises(ConfigError, match="levels"):
        build_shape_unet(ShapeUNetConfig(block_out_channels=(8, 16), norm_num_groups=4, cross_attention_levels=3))
    with pytest.raises(ConfigError, match="divide"):
        build_shape_unet(ShapeUNetConfig(image_size=18, block_out_channels=(8, 16, 16), norm_num_groups=4))


@pytest.mark.packaged
def test_shipped_weights_draw_what_the_prompt_asks():
    from genaisys.datasets.shape_oracle import classify_shape_image

    decoder = ShapeImageDecoder()  # the shipped folder and the packaged MiniLM
    assert DEFAULT_FOLDER.joinpath("MODEL_CARD.md").is_file()
    embeds = encode_prompt(["a red circle", "draw a blue triangle"])
    assert embeds.shape == (2, 1, 384)
    assert torch.allclose(embeds.norm(dim=-1), torch.ones(2, 1), atol=1e-4)
    # Held-out phrasings (never seen in training); one seed each, deterministic.
    prompts = [("draw a blue triangle", "blue", "triangle"), ("show me a yellow circle", "yellow", "circle"),
               ("please generate a teal rectangle", "teal", "rectangle")]
    images = decoder.generate([p for p, _, _ in prompts], seed=0)
    verdicts = [classify_shape_image(image) for image in images]
    assert [(v.color, v.shape) for v in verdicts] == [(c, s) for _, c, s in prompts], verdicts


def test_docstring_examples_run():
    import doctest

    import genaisys.tools.decoders.shapes as module

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
