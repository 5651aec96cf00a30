"""VideoTextualizer: still shots → one scene each at the right times; keyframe tags; speech; bad video → MediaError."""

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
    t = VideoTextualizer(speech=False, tags=False)
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
    segments = VideoTextualizer(tags=False)(still_mp4)  # speech on, but there is no audio track: no Whisper run
    assert [s["kind"] for s in segments] == ["scene"] * len(PHOTOS)


def test_threshold_is_configurable(still_mp4: Path) -> None:
    segments = VideoTextualizer(speech=False, tags=False, scene_threshold=250)(still_mp4)
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
    starts = [s["start"] for s in VideoTextualizer(speech=False, tags=False)(out)]
    assert starts == [0.0, pytest.approx(3.0, abs=0.5)]
    assert len(VideoTextualizer(speech=False, tags=False, hist_threshold=0)(out)) > 2  # pixel difference alone over-cuts


def test_tags_off_leaves_scenes_untagged(still_mp4: Path) -> None:
    t = VideoTextualizer(speech=False, tags=False)
    segments = t(still_mp4)
    assert t.tagger() is None and t.last_stats["tagged"] == 0 and t.last_stats["tag_s"] == 0
    assert all("labels" not in s and "tags:" not in s["text"] for s in segments)
    assert "Tags" not in timeline_text(segments)


def test_tags_default_follows_the_asset_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENAISYS_HOME", str(tmp_path / "empty-cache"))  # nothing fetched: tags stay off, no download
    assert VideoTextualizerConfig().tags is None
    assert VideoTextualizer().tagger() is None
    assert VideoTextualizer(image={"weights": str(tmp_path / "absent.pth")}).tagger() is None
    weights = tmp_path / "lite0.pth"
    weights.write_bytes(b"not loaded until a keyframe is tagged")
    tagger = VideoTextualizer(image={"weights": str(weights)}).tagger()  # a named weights file: on
    assert tagger is not None and tagger.config.weights == str(weights)
    assert tagger.config.ocr is False  # the packaged RapidOCR is not fetched: OCR left off, not downloaded
    assert VideoTextualizer(tags=True).tagger() is not None  # explicit: on (fetches on first use)


def test_textualize_gives_the_timeline_text_a_graph_node_reads(still_mp4: Path) -> None:
    from langchain_core.messages import HumanMessage

    from genaisys.graphs.media import make_textualize_node

    t = VideoTextualizer(speech=False, tags=False)
    text = t.textualize(still_mp4)
    lines = text.splitlines()
    assert lines[0].startswith("Timeline of the video (times in seconds")
    assert [line.split("]")[0] for line in lines[3:]] == ["[0.0-2.0 s", "[2.0-4.0 s", "[4.0-6.0 s"]

    class Blobs:  # the blob store contract: path(blob_id) -> Path
        def path(self, blob_id: str) -> Path:
            return still_mp4

    node = make_textualize_node(blobs=Blobs(), textualizers={"video": t})
    state = {"messages": [HumanMessage([{"type": "video", "file_id": "b1"}])],
             "perception": [{"index": 0, "kind": "video", "blob_id": "b1", "route": "textualize", "reason": "r"}]}
    [block] = node(state)["messages"][0].content
    assert block["type"] == "text" and text in block["text"] and "{'start'" not in block["text"]


def test_timeline_lists_the_tags_once_in_order() -> None:
    segments = [{"start": 2, "end": 4, "kind": "scene", "text": "scene 2", "labels": [{"label": "espresso", "prob": 0.9}]},
                {"start": 0, "end": 2, "kind": "scene", "text": "scene 1",
                 "labels": [{"label": "tabby", "prob": 0.5}, {"label": "espresso", "prob": 0.1}]}]
    lines = timeline_text(segments).splitlines()
    assert lines[3] == "Tags (what the keyframes show): tabby, espresso"
    assert lines[4:] == ["[0.0-2.0 s] scene: scene 1", "[2.0-4.0 s] scene: scene 2"]


# what EfficientNet-Lite0 says on each 320×240 still (checked: chelsea → Egyptian cat 84%, astronaut →
# bobsled 42%, coffee → espresso 43%)
_CAT = {"Egyptian cat", "tabby", "tiger cat"}
_COFFEE = {"espresso", "cup", "coffee mug"}


@pytest.mark.packaged
def test_scenes_tags_and_speech_at_the_right_times(shots_mp4: Path) -> None:
    """End to end: photos + espeak speech → a timeline with the spoken words and the right labels in time."""
    t = VideoTextualizer(tags=True)
    segments = t(shots_mp4)
    scenes = [s for s in segments if s["kind"] == "scene"]
    assert len(scenes) == len(PHOTOS) and t.last_stats["tagged"] == 1
    assert [s["start"] for s in segments] == sorted(s["start"] for s in segments)

    def labels_at(when: float) -> set[str]:  # the labels of the scene showing at `when` seconds
        return {item["label"] for s in scenes if s["start"] <= when < s["end"] for item in s["labels"]}

    assert PHOTOS == ("chelsea", "astronaut", "coffee")
    cat_window, coffee_window = labels_at(0.5 * SHOT_S), labels_at(2.5 * SHOT_S)
    assert cat_window & _CAT and not cat_window & _COFFEE
    assert coffee_window & _COFFEE and not coffee_window & _CAT
    assert not labels_at(1.5 * SHOT_S) & (_CAT | _COFFEE)  # the astronaut shot is neither
    speech = [s for s in segments if s["kind"] == "speech"]
    words = " ".join(s["text"] for s in speech).lower()
    assert "lazy" in words and "dog" in words and ("seven" in words or "7" in words)
    assert speech[0]["start"] < 1.0 and speech[-1]["end"] <= 3 * SHOT_S + 0.5  # the sentence lasts ~5 s
    text = timeline_text(segments, title="shots.mp4")
    assert "Egyptian cat" in text.splitlines()[3]  # the Tags line
    scene1 = next(line for line in text.splitlines() if "scene 1 (0.0–2.0 s)" in line)
    assert scene1.startswith("[0.0-2.0 s] scene:") and any(label in scene1 for label in _CAT)
    scene3 = next(line for line in text.splitlines() if "scene 3 (4.0–6.0 s)" in line)
    assert scene3.startswith("[4.0-6.0 s] scene:") and "espresso" in scene3
    assert "] speech: " in text and "lazy dog" in text.lower()


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
        VideoTextualizer(speech=False, tags=False)(bad)


def test_truncated_mp4_is_a_media_error(tmp_path: Path, still_mp4: Path) -> None:
    data = still_mp4.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(MediaError, match="cut.mp4"):
        VideoTextualizer(speech=False, tags=False)(cut)


def test_audio_only_file_has_no_video_stream(speech_wav: Path) -> None:
    with pytest.raises(MediaError, match="no video stream"):
        VideoTextualizer(speech=False, tags=False)(speech_wav)


def test_caps(still_mp4: Path) -> None:
    with pytest.raises(MediaError, match="max_duration_s=2"):
        VideoTextualizer(speech=False, tags=False, max_duration_s=2)(still_mp4)
    with pytest.raises(MediaError, match="max_bytes=1000"):
        VideoTextualizer(speech=False, tags=False, max_bytes=1000)(still_mp4)
    with pytest.raises(ValidationError):
        VideoTextualizerConfig(threshold=3)


def test_package_import_is_light() -> None:
    code = ("import sys, genaisys.tools.textualizers as t; t.__doc__; "
            "print(sorted(m for m in ('av', 'faster_whisper', 'ctranslate2', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
