"""Text → speech with espeak-ng (a system program: ``apt-get install espeak-ng``).

espeak-ng is a formant synthesiser: small, fast (~50× real time here), fully offline and
intelligible to Whisper, which makes it the DAC for spoken answers. The text goes to its standard
input (never onto its command line), SSML is off, and the length is capped. The WAV lands in the
blob store and under ``output_dir`` with a JSON sidecar of the voice settings (see
`genaisys.tools.decoders.base`). ``genaisys doctor`` reports whether espeak-ng is installed.

Example:
    >>> decoder = EspeakSpeechDecoder(voice="en-us", speed=160)
    >>> decoder.config.voice
    'en-us'
    >>> decoder.decode("Hello from genaisys.").mime_type                               # doctest: +SKIP
    'audio/wav'
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from genaisys.errors import ConfigError, MediaError
from genaisys.tools.decoders.base import (
    DecodedArtifact,
    build_config,
    default_output_dir,
    make_blob_store,
    merge_settings,
    write_artifact,
)
from genaisys.types import Blobs

__all__ = ["EspeakSpeechDecoder", "EspeakSpeechDecoderConfig", "espeak_ng_path"]


class EspeakSpeechDecoderConfig(BaseModel):
    """Settings of `EspeakSpeechDecoder`; voice settings can be overridden per call.

    Attributes:
        voice: an espeak-ng voice (``espeak-ng --voices``), e.g. ``"en-us"``, ``"en-gb"``, ``"fr"``,
            ``"en-us+f3"`` (a variant after ``+``).
        speed: words per minute (80 … 450).
        pitch: 0 … 99.
        amplitude: volume, 0 … 200.
        max_chars: longer text is refused.
        timeout_s: espeak-ng is stopped after this long.
        executable: the program name or path.
        output_dir: where WAVs and their JSON sidecars go.
    """

    model_config = ConfigDict(extra="forbid")

    voice: str = Field(default="en-us", pattern=r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)?(\+[A-Za-z0-9_\-]+)?$")
    speed: int = Field(default=160, ge=80, le=450)
    pitch: int = Field(default=50, ge=0, le=99)
    amplitude: int = Field(default=100, ge=0, le=200)
    max_chars: int = Field(default=5000, ge=1, le=100_000)
    timeout_s: float = Field(default=60.0, gt=0)
    executable: str = "espeak-ng"
    output_dir: Path | None = None


def espeak_ng_path(executable: str = "espeak-ng") -> str | None:
    """The espeak-ng program's path, or None when it is not installed."""
    return shutil.which(executable)


class EspeakSpeechDecoder:
    """Speak text with espeak-ng into a WAV (22.05 kHz mono 16-bit).

    Args:
        config: an `EspeakSpeechDecoderConfig`, or its fields as keywords.
        blobs: the blob store to put WAVs in (pass the graph's); default ``output_dir/blobs``.

    Example:
        >>> EspeakSpeechDecoder(speed=140).config.speed
        140
    """

    kind = "speech"

    def __init__(self, config: EspeakSpeechDecoderConfig | None = None, *, blobs: Blobs | None = None,
                 **kwargs: Any) -> None:
        self.config = config = build_config(EspeakSpeechDecoderConfig, config, kwargs)
        self.output_dir = (config.output_dir or default_output_dir()).expanduser()
        self._blobs = make_blob_store(blobs, self.output_dir) if blobs is not None else None
        self.name = f"EspeakSpeechDecoder(espeak-ng {config.voice})"

    @property
    def blobs(self) -> Any:
        """The blob store outputs go to."""
        if self._blobs is None:
            self._blobs = make_blob_store(None, self.output_dir)
        return self._blobs

    def executable(self) -> str:
        """The espeak-ng path.

        Raises:
            ConfigError: espeak-ng is not installed.
        """
        exe = espeak_ng_path(self.config.executable)
        if exe is None:
            raise ConfigError(f"{self.config.executable!r} was not found on PATH; install it "
                              "(Debian/Ubuntu: apt-get install espeak-ng) or set executable= to its path")
        return exe

    def decode(self, prompt: str, *, voice: str | None = None, speed: int | None = None,
               pitch: int | None = None, amplitude: int | None = None) -> DecodedArtifact:
        """Speak ``prompt``; store the WAV and write ``speech-<hash>.wav`` + its JSON sidecar.

        Raises:
            ConfigError: empty or over-long text, bad voice settings, unknown voice, no espeak-ng.
            MediaError: espeak-ng failed or produced no audio.
        """
        if not isinstance(prompt, str):
            raise ConfigError(f"the text to speak must be a string; got {type(prompt).__name__}")
        text = " ".join(prompt.split())
        if not text:
            raise ConfigError("the text to speak is empty")
        cfg = merge_settings(self.config, {"voice": voice, "speed": speed, "pitch": pitch, "amplitude": amplitude})
        if len(text) > cfg.max_chars:
            raise ConfigError(f"the text to speak has {len(text)} characters, over max_chars={cfg.max_chars}; "
                              "shorten it or raise the cap")
        exe = self.executable()
        with tempfile.TemporaryDirectory(prefix="genaisys-speech-") as tmp:
            out = Path(tmp) / "speech.wav"
            command = [exe, "--stdin", "-v", cfg.voice, "-s", str(cfg.speed), "-p", str(cfg.pitch),
                       "-a", str(cfg.amplitude), "-w", str(out)]
            t0 = time.perf_counter()
            try:
                run = subprocess.run(command, input=text.encode("utf-8"), capture_output=True,
                                     timeout=cfg.timeout_s, check=False)
            except subprocess.TimeoutExpired:
                raise MediaError(f"espeak-ng took over timeout_s={cfg.timeout_s:g} s; shorten the text") from None
            seconds = time.perf_counter() - t0
            stderr = run.stderr.decode("utf-8", "replace").strip()
            if run.returncode != 0 or not out.is_file():
                if "voice does not exist" in stderr:
                    raise ConfigError(f"espeak-ng has no voice {cfg.voice!r}; list them with `espeak-ng --voices`")
                raise MediaError(f"espeak-ng failed (exit {run.returncode}): {stderr or 'no message'}")
            data = out.read_bytes()
        try:
            with wave.open(io.BytesIO(data), "rb") as wav:
                rate, frames = wav.getframerate(), wav.getnframes()
        except (wave.Error, EOFError) as exc:
            raise MediaError(f"espeak-ng wrote no valid WAV: {exc}") from exc
        if frames == 0:
            raise MediaError("espeak-ng produced no audio for this text")
        params = {"engine": "espeak-ng", "text": text, "voice": cfg.voice, "speed": cfg.speed, "pitch": cfg.pitch,
                  "amplitude": cfg.amplitude, "sample_rate": rate, "duration_s": round(frames / rate, 3),
                  "synthesis_s": round(seconds, 3)}
        return write_artifact(data, kind=self.kind, suffix=".wav", mime_type="audio/wav", params=params,
                              output_dir=self.output_dir, blobs=self.blobs, decoder=type(self).__name__)

    __call__ = decode


# The names before the class said which backend it runs; they still resolve, with a DeprecationWarning.
_RENAMED = {"SpeechDecoder": "EspeakSpeechDecoder", "SpeechDecoderConfig": "EspeakSpeechDecoderConfig"}


def __getattr__(name: str) -> Any:
    if name in _RENAMED:
        import warnings

        warnings.warn(f"{name} is now {_RENAMED[name]} (genaisys.tools.decoders.speech)", DeprecationWarning,
                      stacklevel=2)
        return globals()[_RENAMED[name]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
