"""DiffusersAudioDecoder (tiny AudioLDM) → WAV, DiffusersVideoDecoder (tiny text-to-video) → MP4:
real files that decode, parameters recorded, bounds enforced, wrong pipelines refused."""

from __future__ import annotations

import io
import wave

import pytest

from genaisys.errors import ConfigError
from genaisys.tools.decoders import DiffusersAudioDecoder, DiffusersVideoDecoder, read_params
from genaisys.tools.decoders.video import mp4_bytes


def test_audio_decoder_writes_a_wav_of_the_asked_length(audio_pipeline_dir, tmp_path, blobs):
    decoder = DiffusersAudioDecoder(model=str(audio_pipeline_dir), steps=1, audio_length_s=0.5,
                                    output_dir=tmp_path / "out", blobs=blobs)
    art = decoder.decode("rain on a roof", seed=2)
    assert art.mime_type == "audio/wav" and art.path.suffix == ".wav" and art.path.read_bytes() == blobs.get(art.blob_id)
    with wave.open(io.BytesIO(blobs.get(art.blob_id))) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16000)
        assert wav.getnframes() == art.params["samples"] > 0
    record = read_params(art.path)["params"]
    assert record["pipeline"] == "AudioLDMPipeline" and record["seed"] == 2 and record["audio_length_s"] == 0.5
    assert decoder.decode("rain on a roof", seed=2).blob_id == art.blob_id  # seeded: reproducible
    with pytest.raises(ConfigError, match="over max_audio_s=30"):
        decoder.decode("rain", audio_length_s=31)
    with pytest.raises(ConfigError, match="prompt is empty"):
        decoder.decode("")


def test_video_decoder_writes_an_mp4_with_the_asked_frames(video_pipeline_dir, tmp_path, blobs):
    import av

    decoder = DiffusersVideoDecoder(model=str(video_pipeline_dir), steps=1, num_frames=3, fps=4,
                                    output_dir=tmp_path / "out", blobs=blobs)
    art = decoder.decode("a ball bouncing", width=16, height=16)
    assert art.mime_type == "video/mp4" and art.path.suffix == ".mp4"
    with av.open(str(art.path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        assert (stream.codec_context.name, float(stream.average_rate)) == ("h264", 4.0)
    assert len(frames) == 3 and frames[0].shape == (16, 16, 3)
    assert read_params(art.path)["params"] | {"model": None} == {
        "model": None, "pipeline": "TextToVideoSDPipeline", "prompt": "a ball bouncing", "prompt_embeds": None,
        "signal": None, "negative_prompt": None, "seed": 0, "steps": 1, "guidance_scale": 9.0, "num_frames": 3,
        "fps": 4, "width": 16, "height": 16}
    with pytest.raises(ConfigError, match="num_frames=65 is over max_frames=64"):
        decoder.decode("x", num_frames=65)
    with pytest.raises(ConfigError, match="fps"):
        decoder.decode("x", fps=0)


def test_each_decoder_refuses_another_task_before_loading(image_pipeline_dir, audio_pipeline_dir, tmp_path):
    with pytest.raises(ConfigError, match="StableDiffusionPipeline, not a text-to-audio pipeline"):
        DiffusersAudioDecoder(model=str(image_pipeline_dir), output_dir=tmp_path).decode("x")
    with pytest.raises(ConfigError, match="AudioLDMPipeline, not a text-to-video pipeline"):
        DiffusersVideoDecoder(model=str(audio_pipeline_dir), output_dir=tmp_path).decode("x")


def test_mp4_writer_pads_odd_sizes_and_refuses_bad_shapes():
    import av
    import numpy as np

    data = mp4_bytes(np.full((2, 7, 9, 3), 0.5, np.float32), fps=2)
    with av.open(io.BytesIO(data)) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert frame.shape == (8, 10, 3) and abs(int(frame[0, 0, 0]) - 128) < 8
    with pytest.raises(ConfigError, match="frames, height, width, 3"):
        mp4_bytes(np.zeros((7, 9, 3)), fps=2)
