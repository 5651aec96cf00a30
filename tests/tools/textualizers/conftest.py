"""Fixtures: speech from espeak-ng, and an MP4 of still photos with that speech as its audio track."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

SENTENCE = "The quick brown fox jumps over the lazy dog. Please remember the number seven."
SHOT_S = 2.0  # each photo is one still shot of this length
FPS = 4
PHOTOS = ("chelsea", "astronaut", "coffee")


def _espeak() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng): no speech to test with")
    return exe


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A WAV of espeak-ng saying SENTENCE."""
    out = tmp_path_factory.mktemp("speech") / "sentence.wav"
    subprocess.run([_espeak(), "-s", "150", "-w", str(out), SENTENCE], check=True, timeout=60)
    return out


def _photo(name: str, size: tuple[int, int] = (320, 240)) -> np.ndarray:
    import skimage.data
    from PIL import Image

    pixels = getattr(skimage.data, name)()  # (h, w, 3) uint8
    return np.asarray(Image.fromarray(pixels).convert("RGB").resize(size))  # (240, 320, 3)


def _write_shots(out: Path, speech_wav: Path | None) -> Path:
    """An MP4: the PHOTOS as still shots of SHOT_S seconds at FPS, with ``speech_wav`` as audio if given."""
    import av

    with av.open(str(out), "w") as container:
        video = container.add_stream("mpeg4", rate=FPS)
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        audio = container.add_stream("aac", rate=16000) if speech_wav is not None else None
        for name in PHOTOS:
            frame = av.VideoFrame.from_ndarray(_photo(name), format="rgb24")
            for _ in range(int(SHOT_S * FPS)):
                container.mux(video.encode(frame))
        container.mux(video.encode())
        if audio is None:
            return out
        with av.open(str(speech_wav)) as wav:
            resampler = av.AudioResampler(format="fltp", layout="mono", rate=16000)
            for frame in wav.decode(audio=0):
                for chunk in resampler.resample(frame):
                    container.mux(audio.encode(chunk))
            for chunk in resampler.resample(None):
                container.mux(audio.encode(chunk))
        container.mux(audio.encode())
    return out


@pytest.fixture(scope="session")
def still_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three photos as still shots, no audio track (needs no espeak-ng)."""
    return _write_shots(tmp_path_factory.mktemp("video") / "still.mp4", None)


@pytest.fixture(scope="session")
def shots_mp4(tmp_path_factory: pytest.TempPathFactory, speech_wav: Path) -> Path:
    """Three photos as still shots with the espeak speech as the audio track."""
    return _write_shots(tmp_path_factory.mktemp("video") / "shots.mp4", speech_wav)
