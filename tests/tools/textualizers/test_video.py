"""VideoTextualizer: still shots → one scene each at the right times; speech; bad video → MediaError."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from genaisys.errors import MediaError
from genaisys.tools.textualizers import VideoTextualizer, VideoTextualizerConfig, timeline_text

from .conftest import PHOTOS, SHOT_S


def test_one_scene_per_shot_at_the_right_times(still_mp4: Path) -> None:
    t = VideoTextualizer(speech=False)
    segments = t(still_mp4)
    assert [s["kind"] for s in segments] == ["scene"] * len(PHOTOS)
    for i, s in enumerate(segments):
        assert s["start"] == pytest.approx(i * SHOT_S, abs=0.5)
        assert s["end"] == pytest.approx((i + 1) * SHOT_S, abs=0.5)
        assert s["text"].startswith(f"scene {i + 1} (") and "colours:" in s["text"]
    stats = t.last_stats
    assert stats["keyframes"] == len(PHOTOS)
    assert stats["frames_compared"] < stats["frames_decoded"]  # not every frame is looked at


def test_silent_video_gives_scenes_only(still_mp4: Path) -> None:
    segments = VideoTextualizer()(still_mp4)  # speech on, but there is no audio track: no Whisper run
    assert [s["kind"] for s in segments] == ["scene"] * len(PHOTOS)


def test_threshold_is_configurable(still_mp4: Path) -> None:
    segments = VideoTextualizer(speech=False, scene_threshold=250)(still_mp4)
    assert len(segments) == 1 and segments[0]["start"] == 0 and segments[0]["end"] == pytest.approx(6.0, abs=0.5)


def test_a_pan_inside_one_shot_is_not_a_new_scene(tmp_path: Path) -> None:
    import av
    import numpy as np

    from .conftest import _photo

    out = tmp_path / "pan.mp4"
    photos = [_photo("chelsea"), _photo("rocket")]
    with av.open(str(out), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for photo in photos:
            for k in range(30):  # 3 s per shot, panning 4 px a frame: 120 px (over a third of the width)
                frame = av.VideoFrame.from_ndarray(np.roll(photo, 4 * k, axis=1), format="rgb24")
                container.mux(stream.encode(frame))
        container.mux(stream.encode())
    starts = [s["start"] for s in VideoTextualizer(speech=False)(out)]
    assert starts == [0.0, pytest.approx(3.0, abs=0.5)]
    assert len(VideoTextualizer(speech=False, hist_threshold=0)(out)) > 2  # pixel difference alone over-cuts


@pytest.mark.packaged
def test_scenes_and_speech(shots_mp4: Path) -> None:
    segments = VideoTextualizer()(shots_mp4)
    assert sum(s["kind"] == "scene" for s in segments) == len(PHOTOS)
    speech = " ".join(s["text"] for s in segments if s["kind"] == "speech").lower()
    assert "lazy" in speech and "dog" in speech
    assert [s["start"] for s in segments] == sorted(s["start"] for s in segments)
    text = timeline_text(segments, title="shots.mp4")
    assert "scene 3 (4.0–6.0 s)" in text and "] speech: " in text


def test_timeline_text_has_header_and_sorted_lines() -> None:
    text = timeline_text([{"start": 2, "end": 4, "text": "scene 2", "kind": "scene"},
                          {"start": 0, "end": 1.5, "text": "hi  there", "kind": "speech"}], title="clip.mp4")
    lines = text.splitlines()
    assert lines[0].startswith("Timeline of clip.mp4 (times in seconds")
    assert "do not invent" in text
    assert lines[-2:] == ["[0.0-1.5 s] speech: hi there", "[2.0-4.0 s] scene: scene 2"]


@pytest.mark.parametrize("content", [b"", b"this is just text, not a video\n" * 20, bytes(range(256)) * 16],
                         ids=["empty", "text-renamed", "corrupt"])
def test_bad_video_is_a_media_error(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    with pytest.raises(MediaError, match="bad.mp4"):
        VideoTextualizer(speech=False)(bad)


def test_truncated_mp4_is_a_media_error(tmp_path: Path, still_mp4: Path) -> None:
    data = still_mp4.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(MediaError, match="cut.mp4"):
        VideoTextualizer(speech=False)(cut)


def test_audio_only_file_has_no_video_stream(speech_wav: Path) -> None:
    with pytest.raises(MediaError, match="no video stream"):
        VideoTextualizer(speech=False)(speech_wav)


def test_caps(still_mp4: Path) -> None:
    with pytest.raises(MediaError, match="max_duration_s=2"):
        VideoTextualizer(speech=False, max_duration_s=2)(still_mp4)
    with pytest.raises(MediaError, match="max_bytes=1000"):
        VideoTextualizer(speech=False, max_bytes=1000)(still_mp4)
    with pytest.raises(ValidationError):
        VideoTextualizerConfig(threshold=3)


def test_package_import_is_light() -> None:
    code = ("import sys, genaisys.tools.textualizers as t; t.__doc__; "
            "print(sorted(m for m in ('av', 'faster_whisper', 'ctranslate2', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
