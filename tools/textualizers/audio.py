"""Speech → timestamped text segments with faster-whisper (CTranslate2 Whisper, CPU int8).

The segments have exactly the shape `genaisys.memory.ChromaMemory.add_timeline` indexes:
``{"start": s, "end": s, "text": str, "kind": "speech"}``.

Example:
    >>> from genaisys.tools.textualizers import WhisperAudioTextualizer
    >>> t = WhisperAudioTextualizer()              # packaged Whisper tiny.en  # doctest: +SKIP
    >>> t("talk.wav")[0]                                                   # doctest: +SKIP
    {'start': 0.0, 'end': 2.4, 'text': 'Hello there.', 'kind': 'speech'}
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from genaisys._optional import require
from genaisys.errors import ConfigError, MediaError

__all__ = ["WhisperAudioTextualizer", "WhisperAudioTextualizerConfig"]

_SAMPLE_RATE = 16_000  # Whisper's input rate


class WhisperAudioTextualizerConfig(BaseModel):
    """Settings of `WhisperAudioTextualizer`.

    Attributes:
        model: a CTranslate2 Whisper model folder; None: the packaged ``whisper-tiny-en``.
        compute_type: CTranslate2 compute type (``int8`` on CPU is fast and small).
        cpu_threads: CPU threads for decoding.
        beam_size: 1 is greedy (fastest).
        language: language code, or None to let the model detect it (English-only models: ``en``).
        max_duration_s: longer audio is refused with `MediaError`.
        max_bytes: larger files are refused with `MediaError`.
        vad_filter: skip silence with faster-whisper's Silero VAD.
    """

    model_config = ConfigDict(extra="forbid")

    model: str | None = None
    compute_type: str = "int8"
    cpu_threads: int = Field(default=1, ge=1)
    beam_size: int = Field(default=1, ge=1)
    language: str | None = "en"
    max_duration_s: float = Field(default=3 * 3600.0, gt=0)
    max_bytes: int = Field(default=2_000_000_000, gt=0)
    vad_filter: bool = False


@functools.lru_cache(maxsize=2)
def _load_model(folder: str, compute_type: str, cpu_threads: int) -> Any:
    fw = require("faster_whisper", "faster-whisper")
    return fw.WhisperModel(folder, device="cpu", compute_type=compute_type, cpu_threads=cpu_threads)


def _check_file(file: Path, max_bytes: int) -> None:
    if not file.is_file():
        raise MediaError(f"no media file at {file}")
    size = file.stat().st_size
    if size == 0:
        raise MediaError(f"{file.name} is empty (0 bytes): nothing to transcribe")
    if size > max_bytes:
        raise MediaError(f"{file.name} is {size} bytes, over max_bytes={max_bytes}; raise the cap or split the file")


def _check_wav_complete(file: Path) -> None:
    """A RIFF WAV whose data chunk is shorter than its header declares was cut off: `MediaError`."""
    import struct

    with file.open("rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return
            cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if cid == b"data":
                have = file.stat().st_size - f.tell()
                if size not in (0, 0xFFFFFFFF) and have < 0.99 * size:  # 0 / 0xFFFFFFFF: streamed, size unknown
                    raise MediaError(f"{file.name} is truncated: its header declares {size} bytes of audio, "
                                     f"the file holds {have}; re-export or re-download it")
                return
            f.seek(size + (size & 1), 1)


def decode_audio(path: str | Path, max_duration_s: float, max_bytes: int) -> Any:
    """Decode any audio (or a video's audio track) to 16 kHz mono float32; `MediaError` if bad or too long."""
    av = require("av", "av")
    file = Path(path).expanduser()
    _check_file(file, max_bytes)
    _check_wav_complete(file)
    try:
        with av.open(str(file), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise MediaError(f"{file.name} has no audio track")
            stream = container.streams.audio[0]
            declared = (float(stream.duration * stream.time_base) if stream.duration and stream.time_base
                        else (container.duration or 0) / 1e6)
            if declared > max_duration_s:
                raise MediaError(f"{file.name} lasts {declared:.0f} s, over max_duration_s={max_duration_s:g}; "
                                 "raise the cap or split the file")
    except av.FFmpegError as exc:
        raise MediaError(f"{file.name} is not readable audio/video (corrupt or unsupported): {exc}") from exc
    fw = require("faster_whisper", "faster-whisper")
    try:
        samples = fw.decode_audio(str(file), sampling_rate=_SAMPLE_RATE)  # (n,) float32
    except (av.FFmpegError, ValueError, IndexError) as exc:
        raise MediaError(f"{file.name}: its audio could not be decoded (corrupt or truncated): {exc}") from exc
    if samples.size == 0:
        raise MediaError(f"{file.name} holds no audio samples (empty or truncated)")
    if samples.size / _SAMPLE_RATE > max_duration_s:
        raise MediaError(f"{file.name} lasts {samples.size / _SAMPLE_RATE:.0f} s, over "
                         f"max_duration_s={max_duration_s:g}; raise the cap or split the file")
    return samples


class WhisperAudioTextualizer:
    """Transcribe speech into timed segments (``kind="speech"``) with a CTranslate2 Whisper model.

    Args:
        config: a `WhisperAudioTextualizerConfig` or its fields as keywords.

    Raises:
        ConfigError: the model folder does not exist.

    Example:
        >>> t = WhisperAudioTextualizer(cpu_threads=1)                          # doctest: +SKIP
        >>> [s["text"] for s in t("hello.wav")]                                 # doctest: +SKIP
        ['Hello world.']
    """

    def __init__(self, config: WhisperAudioTextualizerConfig | None = None, **kwargs: Any) -> None:
        self.config = config or WhisperAudioTextualizerConfig(**kwargs)
        self.last_stats: dict[str, float] = {}

    @property
    def model_path(self) -> Path:
        """The Whisper model folder used."""
        if self.config.model is None:
            from genaisys import assets

            return Path(assets.resolve("whisper-tiny-en"))
        folder = Path(self.config.model).expanduser()
        if not (folder / "model.bin").is_file():
            raise ConfigError(f"{folder} is not a CTranslate2 Whisper model folder (no model.bin); "
                              "convert one with ct2-transformers-converter or leave model=None")
        return folder

    def transcribe_samples(self, samples: Any) -> list[dict[str, Any]]:
        """Transcribe 16 kHz mono float32 samples ``(n,)``; return the speech segments."""
        cfg = self.config
        model = _load_model(str(self.model_path), cfg.compute_type, cfg.cpu_threads)
        t0 = time.perf_counter()
        language = cfg.language if model.model.is_multilingual else "en"  # English-only models take only "en"
        segments, _info = model.transcribe(samples, beam_size=cfg.beam_size, language=language,
                                           vad_filter=cfg.vad_filter, condition_on_previous_text=False)
        out = []
        for seg in segments:
            text = " ".join(seg.text.split())
            if any(ch.isalnum() for ch in text):  # drop punctuation-only output (noise, silence)
                out.append({"start": round(max(0.0, float(seg.start)), 3),
                            "end": round(max(float(seg.start), float(seg.end)), 3), "text": text, "kind": "speech"})
        audio_s = samples.size / _SAMPLE_RATE
        elapsed = time.perf_counter() - t0
        self.last_stats = {"audio_s": audio_s, "transcribe_s": elapsed, "rtf": elapsed / audio_s if audio_s else 0.0}
        return out

    def __call__(self, path: str | Path) -> list[dict[str, Any]]:
        """Transcribe an audio file (or a video's audio track) into ``kind="speech"`` segments.

        Raises:
            MediaError: missing, empty, corrupt or truncated file, no audio track, or over the caps.
        """
        samples = decode_audio(path, self.config.max_duration_s, self.config.max_bytes)
        return self.transcribe_samples(samples)
