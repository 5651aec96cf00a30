"""`media_textualizer`: one callable for `ChromaMemory.ingest(textualize=...)`, audio vs video.

Example:
    >>> from genaisys.tools.textualizers import media_textualizer
    >>> textualize = media_textualizer(speech=False)
    >>> textualize.kind_of("talk.mp3"), textualize.kind_of("clip.mkv")
    ('audio', 'video')
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from genaisys.errors import MediaError
from genaisys.tools.textualizers.audio import WhisperAudioTextualizer, WhisperAudioTextualizerConfig
from genaisys.tools.textualizers.video import VideoTextualizer, VideoTextualizerConfig

__all__ = ["MediaTextualizer", "media_textualizer"]

AUDIO_SUFFIXES = frozenset({".wav", ".mp3", ".flac", ".ogg", ".m4a", ".opus", ".aac"})
VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v"})


class MediaTextualizer:
    """``path → segments``: audio files to `WhisperAudioTextualizer`, videos to `VideoTextualizer`.

    Both are built on first use and reused (the Whisper model loads once).
    """

    def __init__(self, audio: WhisperAudioTextualizerConfig, video: VideoTextualizerConfig) -> None:
        self.audio_config, self.video_config = audio, video
        self._audio: WhisperAudioTextualizer | None = None
        self._video: VideoTextualizer | None = None

    @staticmethod
    def kind_of(path: str | Path) -> str:
        """``"audio"`` or ``"video"`` by suffix, else by MIME type; `MediaError` for anything else."""
        suffix = Path(path).suffix.lower()
        if suffix in AUDIO_SUFFIXES:
            return "audio"
        if suffix in VIDEO_SUFFIXES:
            return "video"
        mime = mimetypes.guess_type(str(path))[0] or ""
        if mime.startswith(("audio/", "video/")):
            return mime.split("/")[0]
        raise MediaError(f"{Path(path).name}: not an audio or video file (suffix {suffix or '(none)'!r}); "
                         f"audio: {', '.join(sorted(AUDIO_SUFFIXES))}; video: {', '.join(sorted(VIDEO_SUFFIXES))}")

    def __call__(self, path: str | Path) -> list[dict[str, Any]]:
        if self.kind_of(path) == "audio":
            if self._audio is None:
                self._audio = WhisperAudioTextualizer(self.audio_config)
            return self._audio(path)
        if self._video is None:
            self._video = VideoTextualizer(self.video_config)
        return self._video(path)


def media_textualizer(audio: WhisperAudioTextualizerConfig | dict[str, Any] | None = None,
                      video: VideoTextualizerConfig | dict[str, Any] | None = None,
                      *, speech: bool = True) -> MediaTextualizer:
    """Return a textualizer for `ChromaMemory.ingest`: audio → speech, video → scenes + speech.

    Args:
        audio: settings for audio files (and, unless ``video`` sets its own, for videos' speech).
        video: settings for video files.
        speech: False turns off transcription of videos' audio tracks.

    Example:
        >>> from genaisys.memory import ChromaMemory                           # doctest: +SKIP
        >>> ChromaMemory("kb").ingest(["talk.wav", "clip.mp4"], textualize=media_textualizer())  # doctest: +SKIP
    """
    if isinstance(audio, WhisperAudioTextualizerConfig):
        audio_cfg = audio
    else:
        audio_cfg = WhisperAudioTextualizerConfig(**(audio or {}))
    if isinstance(video, VideoTextualizerConfig):
        video_cfg = video
    else:
        fields = dict(video or {})
        fields.setdefault("audio", audio_cfg)
        fields.setdefault("speech", speech)
        video_cfg = VideoTextualizerConfig(**fields)
    return MediaTextualizer(audio_cfg, video_cfg)
