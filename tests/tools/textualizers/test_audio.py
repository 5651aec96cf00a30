"""WhisperAudioTextualizer: real speech (espeak-ng) → timed segments; bad audio → MediaError."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest
from pydantic import ValidationError

from genaisys.errors import ConfigError, MediaError
from genaisys.tools.textualizers import WhisperAudioTextualizer, WhisperAudioTextualizerConfig


def _duration(wav: Path) -> float:
    with wave.open(str(wav)) as w:
        return w.getnframes() / w.getframerate()


@pytest.mark.packaged
def test_transcribes_known_sentence_with_sane_times(speech_wav: Path) -> None:
    t = WhisperAudioTextualizer()
    segments = t(speech_wav)
    assert segments and all(set(s) == {"start", "end", "text", "kind"} for s in segments)
    assert all(s["kind"] == "speech" for s in segments)
    words = " ".join(s["text"] for s in segments).lower()
    for word in ("quick", "fox", "lazy", "dog", "remember", "number"):
        assert word in words, words
    assert "seven" in words or "7" in words
    total = _duration(speech_wav)
    assert segments[0]["start"] < 1.0
    for s in segments:
        assert 0 <= s["start"] < s["end"] <= total + 0.5
    assert t.last_stats["rtf"] < 5.0  # CPU int8 tiny.en runs faster than real time on the test machine


def test_empty_file_is_a_media_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(MediaError, match="empty"):
        WhisperAudioTextualizer()(empty)


def test_corrupt_file_is_a_media_error(tmp_path: Path) -> None:
    bad = tmp_path / "noise.mp3"
    bad.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(MediaError, match="noise.mp3"):
        WhisperAudioTextualizer()(bad)


def test_truncated_wav_is_a_media_error(tmp_path: Path, speech_wav: Path) -> None:
    cut = tmp_path / "cut.wav"
    cut.write_bytes(speech_wav.read_bytes()[:40])  # the header only, no samples
    with pytest.raises(MediaError, match="cut.wav"):
        WhisperAudioTextualizer()(cut)


def test_wav_cut_mid_data_is_a_media_error(tmp_path: Path, speech_wav: Path) -> None:
    data = speech_wav.read_bytes()
    cut = tmp_path / "half.wav"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match="half.wav is truncated"):
        WhisperAudioTextualizer()(cut)


@pytest.mark.packaged
def test_noise_gives_no_punctuation_only_segments(tmp_path: Path, speech_wav: Path) -> None:
    data = speech_wav.read_bytes()
    noise = tmp_path / "noise.wav"
    noise.write_bytes(data[:44] + bytes(range(256)) * ((len(data) - 44) // 256))
    with wave.open(str(noise)) as w:  # keep the header consistent with the body
        params, frames = w.getparams(), w.readframes(w.getnframes())
    with wave.open(str(noise), "wb") as w:
        w.setparams(params)
        w.writeframes(frames)
    for s in WhisperAudioTextualizer()(noise):
        assert any(ch.isalnum() for ch in s["text"])


def test_missing_file_is_a_media_error(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="no media file"):
        WhisperAudioTextualizer()(tmp_path / "nope.wav")


def test_duration_cap(speech_wav: Path) -> None:
    with pytest.raises(MediaError, match="max_duration_s=1"):
        WhisperAudioTextualizer(max_duration_s=1.0)(speech_wav)


def test_size_cap(speech_wav: Path) -> None:
    with pytest.raises(MediaError, match="max_bytes=100"):
        WhisperAudioTextualizer(max_bytes=100)(speech_wav)


def test_config_forbids_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        WhisperAudioTextualizerConfig(modle="x")


def test_model_folder_must_be_a_ctranslate2_model(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="model.bin"):
        _ = WhisperAudioTextualizer(model=str(tmp_path)).model_path
