"""EspeakSpeechDecoder on espeak-ng: a real WAV with its voice settings recorded; bad input refused;
(packaged) Whisper hears the words back."""

from __future__ import annotations

import io
import wave

import pytest

from genaisys.errors import ConfigError
from genaisys.tools.decoders import EspeakSpeechDecoder, read_params
from tests.tools.decoders.conftest import espeak_or_skip


def test_speaks_text_into_a_wav_with_its_settings(tmp_path, blobs):
    espeak_or_skip()
    decoder = EspeakSpeechDecoder(voice="en-gb", speed=150, output_dir=tmp_path / "out", blobs=blobs)
    art = decoder.decode("Hello   from\ngenaisys.")
    with wave.open(io.BytesIO(blobs.get(art.blob_id))) as wav:
        seconds = wav.getnframes() / wav.getframerate()
    assert art.mime_type == "audio/wav" and art.path.read_bytes() == blobs.get(art.blob_id)
    assert 0.5 < seconds < 5
    params = read_params(art.path)["params"]
    assert {k: params[k] for k in ("engine", "text", "voice", "speed", "pitch")} == {
        "engine": "espeak-ng", "text": "Hello from genaisys.", "voice": "en-gb", "speed": 150, "pitch": 50}
    slower = decoder.decode("Hello from genaisys.", speed=90)
    assert slower.params["duration_s"] > params["duration_s"]


def test_bad_input(tmp_path, blobs):
    espeak_or_skip()
    decoder = EspeakSpeechDecoder(output_dir=tmp_path / "out", blobs=blobs, max_chars=20)
    with pytest.raises(ConfigError, match="empty"):
        decoder.decode(" \n ")
    with pytest.raises(ConfigError, match="over max_chars=20"):
        decoder.decode("word " * 10)
    with pytest.raises(ConfigError, match="no voice 'xx-nosuch'"):
        decoder.decode("hi", voice="xx-nosuch")
    with pytest.raises(ConfigError, match="voice"):
        decoder.decode("hi", voice="en; rm -rf /")  # never reaches a command line anyway
    with pytest.raises(ConfigError, match="speed"):
        decoder.decode("hi", speed=10_000)
    # text that looks like options is spoken, not parsed: it goes in through stdin
    assert decoder.decode("-w /tmp/x --help").params["text"] == "-w /tmp/x --help"


def test_missing_program_says_how_to_install(tmp_path):
    with pytest.raises(ConfigError, match="apt-get install espeak-ng"):
        EspeakSpeechDecoder(executable="espeak-ng-not-here", output_dir=tmp_path).decode("hi")


@pytest.mark.packaged
def test_whisper_hears_what_was_spoken(tmp_path, blobs):
    espeak_or_skip()
    from genaisys.tools.textualizers import WhisperAudioTextualizer

    art = EspeakSpeechDecoder(speed=150, output_dir=tmp_path, blobs=blobs).decode("The quick brown fox jumps over the lazy dog.")
    heard = " ".join(s["text"] for s in WhisperAudioTextualizer()(art.path)).lower()
    assert "quick" in heard and "lazy dog" in heard  # whisper tiny.en on espeak-ng: not every word


def test_the_old_class_names_still_resolve_with_a_warning():
    import genaisys.tools.decoders.speech as speech

    with pytest.warns(DeprecationWarning, match="SpeechDecoder is now EspeakSpeechDecoder"):
        assert speech.SpeechDecoder is speech.EspeakSpeechDecoder
    with pytest.warns(DeprecationWarning, match="SpeechDecoderConfig is now EspeakSpeechDecoderConfig"):
        assert speech.SpeechDecoderConfig is speech.EspeakSpeechDecoderConfig
