"""Tiny random diffusers pipelines built from configs (no hub), saved as folders once per module.

Sizes are transformers-tester sizes: hidden 8–32, one block per stage, a 26-letter
character vocabulary, 8×8 latents; one inference step runs in well under a second on one thread.
"""

from __future__ import annotations

import shutil
import string
from pathlib import Path

import pytest

CROSS_DIM = 16  # the image/video UNets' cross-attention width = the CLIP text encoder's hidden size


def _scheduler():
    from diffusers import DDIMScheduler

    return DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                         set_alpha_to_one=False, steps_offset=1)


def _clip_text(vocab_size_hint: int = 0):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in string.ascii_lowercase:
        vocab[c] = len(vocab)
        vocab[c + "</w>"] = len(vocab)
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=16)
    encoder = CLIPTextModel(CLIPTextConfig(
        bos_token_id=0, eos_token_id=1, pad_token_id=1, vocab_size=len(vocab), hidden_size=CROSS_DIM,
        intermediate_size=32, num_attention_heads=2, num_hidden_layers=1, max_position_embeddings=16))
    return tokenizer, encoder


def _vae(channels: int):
    from diffusers import AutoencoderKL

    return AutoencoderKL(block_out_channels=(8,), in_channels=channels, out_channels=channels,
                         down_block_types=("DownEncoderBlock2D",), up_block_types=("UpDecoderBlock2D",),
                         latent_channels=4, norm_num_groups=4, sample_size=8)


def build_tiny_image_pipeline():
    """A random StableDiffusionPipeline: 8×8 images (VAE scale factor 1), cross-attention width 16."""
    import torch
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel

    torch.manual_seed(0)
    tokenizer, encoder = _clip_text()
    unet = UNet2DConditionModel(
        block_out_channels=(16,), layers_per_block=1, sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("CrossAttnDownBlock2D",), up_block_types=("CrossAttnUpBlock2D",),
        cross_attention_dim=CROSS_DIM, norm_num_groups=8, attention_head_dim=4)
    return StableDiffusionPipeline(unet=unet, vae=_vae(3), text_encoder=encoder, tokenizer=tokenizer,
                                   scheduler=_scheduler(), safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)


def build_tiny_audio_pipeline():
    """A random AudioLDMPipeline (CLAP text encoder, Roberta tokenizer, SpeechT5 HiFi-GAN at 16 kHz)."""
    import torch
    from diffusers import AudioLDMPipeline, UNet2DConditionModel
    from transformers import (
        ClapTextConfig,
        ClapTextModelWithProjection,
        RobertaTokenizer,
        SpeechT5HifiGan,
        SpeechT5HifiGanConfig,
    )

    torch.manual_seed(0)
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4, "Ġ": 5}
    for c in string.ascii_lowercase:
        vocab[c] = len(vocab)
        vocab["Ġ" + c] = len(vocab)
    tokenizer = RobertaTokenizer(vocab=vocab, merges=[], model_max_length=16)
    encoder = ClapTextModelWithProjection(ClapTextConfig(
        bos_token_id=0, eos_token_id=2, pad_token_id=1, vocab_size=len(vocab), hidden_size=16, intermediate_size=32,
        num_attention_heads=2, num_hidden_layers=1, projection_dim=16, max_position_embeddings=24))
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=(8, 16), class_embed_type="simple_projection", projection_class_embeddings_input_dim=16,
        class_embeddings_concat=True, norm_num_groups=4, attention_head_dim=4)
    vocoder = SpeechT5HifiGan(SpeechT5HifiGanConfig(
        model_in_dim=8, sampling_rate=16000, upsample_initial_channel=16, upsample_rates=[8, 8],
        upsample_kernel_sizes=[16, 16], resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3, 5]],
        normalize_before=False))
    return AudioLDMPipeline(vae=_vae(1), text_encoder=encoder, tokenizer=tokenizer, unet=unet,
                            scheduler=_scheduler(), vocoder=vocoder)


def build_tiny_video_pipeline():
    """A random TextToVideoSDPipeline (UNet3D), 8×8 frames."""
    import torch
    from diffusers import TextToVideoSDPipeline, UNet3DConditionModel

    torch.manual_seed(0)
    tokenizer, encoder = _clip_text()
    unet = UNet3DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"), up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
        cross_attention_dim=CROSS_DIM, attention_head_dim=4, norm_num_groups=4)
    return TextToVideoSDPipeline(vae=_vae(3), text_encoder=encoder, tokenizer=tokenizer, unet=unet,
                                 scheduler=_scheduler())


def _save(pipe, folder: Path) -> Path:
    pipe.save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def image_pipeline_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _save(build_tiny_image_pipeline(), tmp_path_factory.mktemp("pipes") / "tiny-sd")


@pytest.fixture(scope="module")
def audio_pipeline_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _save(build_tiny_audio_pipeline(), tmp_path_factory.mktemp("pipes") / "tiny-audioldm")


@pytest.fixture(scope="module")
def video_pipeline_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _save(build_tiny_video_pipeline(), tmp_path_factory.mktemp("pipes") / "tiny-t2v")


@pytest.fixture
def blobs(tmp_path: Path):
    from genaisys.memory.blobs import BlobStore

    return BlobStore(tmp_path / "blobs")


def espeak_or_skip() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng): the speech decoder needs it")
    return exe
