"""media_textualizer: dispatch by suffix/MIME, and ChromaMemory.ingest indexing audio and video by time."""

from __future__ import annotations

from pathlib import Path

import pytest

from genaisys.errors import MediaError
from genaisys.tools.textualizers import media_textualizer


def test_dispatch_by_suffix_and_mime() -> None:
    t = media_textualizer()
    assert t.kind_of("a/talk.WAV") == "audio" and t.kind_of("clip.webm") == "video"
    assert t.kind_of("clip.mpeg") == "video"  # no listed suffix: by MIME type
    with pytest.raises(MediaError, match="not an audio or video file"):
        t.kind_of("notes.txt")


def test_video_without_speech_dispatches_to_scenes(still_mp4: Path) -> None:
    segments = media_textualizer(speech=False)(still_mp4)
    assert {s["kind"] for s in segments} == {"scene"} and len(segments) == 3


@pytest.mark.packaged
def test_ingest_audio_and_video_into_chroma_memory(tmp_path: Path, speech_wav: Path, shots_mp4: Path) -> None:
    from genaisys.memory import ChromaMemory
    from genaisys.memory.embeddings import HashingEmbedding

    bad = tmp_path / "broken.mp4"
    bad.write_text("a text file renamed .mp4\n")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    noise = tmp_path / "noise.mp3"
    noise.write_bytes(bytes(range(256)) * 16)
    memory = ChromaMemory(tmp_path / "kb", embedding=HashingEmbedding(dim=64))
    report = memory.ingest([speech_wav, shots_mp4, bad, empty, noise], textualize=media_textualizer())
    assert report.files_ingested == 2
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert set(reasons) == {"broken.mp4", "empty.wav", "noise.mp3"}
    assert "not a readable video" in reasons["broken.mp4"] and "empty" in reasons["empty.wav"]
    assert "noise.mp3" in reasons["noise.mp3"]
    hits = memory.search("lazy dog", k=4)
    assert hits and all("#t=" in h.citation for h in hits)
    sources = {Path(h.source).name for h in hits}
    assert {"sentence.wav", "shots.mp4"} <= sources
    scene_hits = memory.search("scene new shot colours", k=4, where={"kind": "video"})
    assert scene_hits and scene_hits[0].citation.startswith("shots.mp4#t=")


def test_settings_flow_to_both_textualizers() -> None:
    from pydantic import ValidationError

    t = media_textualizer(audio={"beam_size": 2}, video={"scene_threshold": 20})
    assert t.audio_config.beam_size == 2 and t.video_config.audio.beam_size == 2
    assert t.video_config.scene_threshold == 20 and t.video_config.speech
    with pytest.raises(ValidationError):
        media_textualizer(audio={"beam": 2})
