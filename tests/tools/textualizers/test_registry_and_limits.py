"""Textualizers by name, and the bad-media cases the other test files do not
cover: an image over max_bytes, a video whose tiny file declares huge frames, an audio file
that declares a long duration in a few bytes."""

from __future__ import annotations

import io
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from genaisys.errors import ConfigError, MediaError, UnknownNameError
from genaisys.tools.textualizers import (
    ImageTextualizer,
    VideoTextualizer,
    WhisperAudioTextualizer,
    get_textualizer,
    list_textualizers,
)
from genaisys.tools.textualizers.media import MediaTextualizer


def test_every_textualizer_has_a_name_and_a_config() -> None:
    assert list_textualizers() == ["audio", "image", "media", "video"]
    image = get_textualizer("image", top_k=2, ocr=False)
    assert isinstance(image, ImageTextualizer) and image.config.top_k == 2
    audio = get_textualizer("audio", cpu_threads=1)
    assert isinstance(audio, WhisperAudioTextualizer) and audio.config.cpu_threads == 1
    video = get_textualizer("video", VideoTextualizer(speech=False).config)
    assert isinstance(video, VideoTextualizer) and video.config.speech is False
    assert isinstance(get_textualizer("media", speech=False), MediaTextualizer)
    with pytest.raises(UnknownNameError, match="unknown textualizer 'smell'; known: audio, image, media, video"):
        get_textualizer("smell")
    with pytest.raises(ConfigError, match="top_k"):
        get_textualizer("image", top_k=0)
    with pytest.raises(ConfigError, match="Extra inputs"):
        get_textualizer("video", thresold=3)


def test_image_over_max_bytes_is_refused(tmp_path: Path) -> None:
    from PIL import Image

    png = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(png)
    with pytest.raises(MediaError, match="over max_bytes=1000"):
        ImageTextualizer(ocr=False, max_bytes=1000)(png)


def test_video_declaring_huge_frames_is_refused_before_decoding(tmp_path: Path) -> None:
    import av

    bomb = tmp_path / "bomb.mp4"
    with av.open(str(bomb), "w") as container:  # flat frames compress to almost nothing
        stream = container.add_stream("libx264", rate=2)
        stream.width, stream.height, stream.pix_fmt = 2048, 2048, "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.zeros((2048, 2048, 3), np.uint8), format="rgb24")
        for _ in range(2):
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    assert bomb.stat().st_size < 20_000  # 4 M pixels a frame in a few KB
    t0 = time.perf_counter()
    with pytest.raises(MediaError, match=r"2048×2048 frames, over max_frame_pixels=1000000 \(a decompression bomb\?\)"):
        VideoTextualizer(speech=False, max_frame_pixels=1_000_000)(bomb)
    assert time.perf_counter() - t0 < 1.0


def test_audio_declaring_hours_in_a_tiny_file_is_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * 800)
    data = bytearray(buf.getvalue())
    declared = 8000 * 2 * 3600 * 4  # the header claims 4 hours of audio
    data[40:44] = declared.to_bytes(4, "little")
    data[4:8] = (declared + 36).to_bytes(4, "little")
    liar = tmp_path / "liar.wav"
    liar.write_bytes(bytes(data))
    with pytest.raises(MediaError, match="liar.wav is truncated: its header declares 230400000 bytes"):
        WhisperAudioTextualizer()(liar)
