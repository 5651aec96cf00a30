"""Video → timed text: scene-change keyframes (``kind="scene"``) plus the speech of its audio track.

Frames are decoded with PyAV at a reduced rate (``sample_fps``), downscaled to a small
grayscale thumbnail, and a new keyframe starts a shot when the mean absolute difference
against the last keyframe passes ``scene_threshold`` (0–255 scale). One segment per shot:
``"scene 2 (4.0–8.0 s): new shot; colours: blue, white"``. The audio track goes through
`WhisperAudioTextualizer`. `timeline_text` renders the segments as a VideoChat-Text timeline.

Example:
    >>> from genaisys.tools.textualizers import VideoTextualizer, timeline_text
    >>> segments = VideoTextualizer()("clip.mp4")                          # doctest: +SKIP
    >>> print(timeline_text(segments))                                     # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from genaisys._optional import require
from genaisys.errors import MediaError
from genaisys.tools.textualizers.audio import WhisperAudioTextualizer, WhisperAudioTextualizerConfig

__all__ = ["VideoTextualizer", "VideoTextualizerConfig", "timeline_text"]

# basic colour names → RGB, for the "dominant colours" of a keyframe
_COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (0, 0, 0), "white": (255, 255, 255), "grey": (128, 128, 128), "red": (200, 30, 30),
    "orange": (240, 140, 20), "yellow": (235, 220, 40), "green": (40, 160, 50), "cyan": (40, 200, 210),
    "blue": (30, 60, 200), "purple": (130, 50, 160), "pink": (240, 150, 190), "brown": (120, 75, 35),
}


class VideoTextualizerConfig(BaseModel):
    """Settings of `VideoTextualizer`.

    Attributes:
        sample_fps: frames per second looked at (the rest are decoded but not compared).
        scene_threshold: mean absolute grayscale difference (0–255) against the last keyframe
            that starts a new shot.
        hist_threshold: the 16-bin grayscale histogram distance (half L1, 0–1) against the last
            keyframe must also reach this, so a camera pan or moving object inside one shot
            (pixels shift, the histogram barely moves) does not start a new shot; 0: pixel difference only.
        thumb_width: width in pixels of the thumbnail compared (height keeps the aspect ratio).
        min_shot_s: a change sooner than this after the last keyframe does not start a shot.
        colours: name each shot's dominant colours.
        speech: transcribe the audio track.
        audio: settings of the speech textualizer.
        max_duration_s: longer videos are refused with `MediaError`.
        max_bytes: larger files are refused with `MediaError`.
        max_frame_pixels: a video whose frames are larger (width × height) is refused before any
            frame is decoded (a tiny file can declare huge frames: a decompression bomb).
    """

    model_config = ConfigDict(extra="forbid")

    sample_fps: float = Field(default=2.0, gt=0)
    scene_threshold: float = Field(default=30.0, gt=0, le=255)
    hist_threshold: float = Field(default=0.15, ge=0, le=1)
    thumb_width: int = Field(default=64, ge=8, le=512)
    min_shot_s: float = Field(default=0.5, ge=0)
    colours: bool = True
    speech: bool = True
    audio: WhisperAudioTextualizerConfig = Field(default_factory=WhisperAudioTextualizerConfig)
    max_duration_s: float = Field(default=3 * 3600.0, gt=0)
    max_bytes: int = Field(default=4_000_000_000, gt=0)
    max_frame_pixels: int = Field(default=40_000_000, gt=0)  # 8K UHD is 33.2 M


def _dominant_colours(rgb: Any, top: int = 2, min_share: float = 0.15) -> list[str]:
    import numpy as np

    pixels = rgb.reshape(-1, 3).astype(np.float32)  # (n, 3)
    palette = np.array(list(_COLOURS.values()), dtype=np.float32)  # (c, 3)
    nearest = ((pixels[:, None, :] - palette[None, :, :]) ** 2).sum(-1).argmin(1)  # (n,)
    share = np.bincount(nearest, minlength=len(palette)) / len(nearest)  # (c,)
    names = list(_COLOURS)
    order = [i for i in np.argsort(-share)[:top] if share[i] >= min_share]
    return [names[i] for i in order] or [names[int(share.argmax())]]


class VideoTextualizer:
    """Turn a video into timed segments: one ``kind="scene"`` per shot, plus ``kind="speech"``.

    Args:
        config: a `VideoTextualizerConfig` or its fields as keywords.

    Example:
        >>> t = VideoTextualizer(scene_threshold=25, speech=False)
        >>> t.config.sample_fps
        2.0
    """

    def __init__(self, config: VideoTextualizerConfig | None = None, **kwargs: Any) -> None:
        self.config = config or VideoTextualizerConfig(**kwargs)
        self.last_stats: dict[str, float] = {}
        self._speech: WhisperAudioTextualizer | None = None

    def scenes(self, path: str | Path) -> list[dict[str, Any]]:
        """Detect shots; return one ``kind="scene"`` segment per shot.

        Raises:
            MediaError: missing, empty, corrupt or oversized file, or no decodable video frames.
        """
        av = require("av", "av")
        import numpy as np

        cfg = self.config
        file = Path(path).expanduser()
        if not file.is_file():
            raise MediaError(f"no video file at {file}")
        size = file.stat().st_size
        if size == 0:
            raise MediaError(f"{file.name} is empty (0 bytes): nothing to textualize")
        if size > cfg.max_bytes:
            raise MediaError(f"{file.name} is {size} bytes, over max_bytes={cfg.max_bytes}; raise the cap or split it")
        t0 = time.perf_counter()
        keyframes: list[tuple[float, Any]] = []  # (time s, rgb thumbnail (h, w, 3))
        last_gray = last_hist = None
        decoded = sampled = 0
        next_sample = 0.0
        end_time = 0.0
        try:
            with av.open(str(file), metadata_errors="ignore") as container:
                if not container.streams.video:
                    raise MediaError(f"{file.name} has no video stream")
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                if stream.width * stream.height > cfg.max_frame_pixels:
                    raise MediaError(f"{file.name} has {stream.width}×{stream.height} frames, over max_frame_pixels="
                                     f"{cfg.max_frame_pixels} (a decompression bomb?); raise the cap if it is genuine")
                declared = (container.duration or 0) / 1e6
                if declared > cfg.max_duration_s:
                    raise MediaError(f"{file.name} lasts {declared:.0f} s, over max_duration_s="
                                     f"{cfg.max_duration_s:g}; raise the cap or split the file")
                rate = float(stream.average_rate or stream.guessed_rate or 25)
                height = max(2, round(cfg.thumb_width * stream.height / max(1, stream.width)))
                for frame in container.decode(stream):
                    decoded += 1
                    t = float(frame.time) if frame.time is not None else (decoded - 1) / rate
                    end_time = max(end_time, t + 1.0 / rate)
                    if t > cfg.max_duration_s:
                        raise MediaError(f"{file.name} runs past max_duration_s={cfg.max_duration_s:g}; "
                                         "raise the cap or split the file")
                    if t + 1e-6 < next_sample:
                        continue
                    while next_sample <= t + 1e-6:  # a fixed grid: the first frame at or after each k / sample_fps
                        next_sample += 1.0 / cfg.sample_fps
                    sampled += 1
                    rgb = frame.reformat(width=cfg.thumb_width, height=height, format="rgb24").to_ndarray()
                    gray = rgb.astype(np.float32).mean(-1)  # (h, w)
                    hist = np.histogram(gray, bins=16, range=(0, 256))[0] / gray.size  # (16,)
                    if last_gray is None or (float(np.abs(gray - last_gray).mean()) >= cfg.scene_threshold
                                             and 0.5 * float(np.abs(hist - last_hist).sum()) >= cfg.hist_threshold
                                             and t - keyframes[-1][0] >= cfg.min_shot_s):
                        keyframes.append((t, rgb))
                        last_gray, last_hist = gray, hist
                end_time = max(end_time, declared)
        except av.FFmpegError as exc:
            raise MediaError(f"{file.name} is not a readable video (corrupt or unsupported): {exc}") from exc
        if not keyframes:
            raise MediaError(f"{file.name} holds no decodable video frames (empty or truncated)")
        segments = []
        for i, (start, rgb) in enumerate(keyframes):
            end = keyframes[i + 1][0] if i + 1 < len(keyframes) else max(end_time, start)
            text = f"scene {i + 1} ({start:.1f}–{end:.1f} s): " + ("start of video" if i == 0 else "new shot")
            if cfg.colours:
                text += "; colours: " + ", ".join(_dominant_colours(rgb))
            segments.append({"start": round(start, 3), "end": round(end, 3), "text": text, "kind": "scene"})
        self.last_stats = {"frames_decoded": decoded, "frames_compared": sampled, "keyframes": len(keyframes),
                           "duration_s": end_time, "scan_s": time.perf_counter() - t0}
        return segments

    def __call__(self, path: str | Path) -> list[dict[str, Any]]:
        """Scenes then speech (when there is an audio track and ``speech`` is on), sorted by start time.

        Raises:
            MediaError: a bad or oversized video (see `scenes`), or a corrupt audio track.
        """
        segments = self.scenes(path)
        if self.config.speech and self._has_audio(path):
            if self._speech is None:
                audio = self.config.audio.model_copy(update={"max_duration_s": self.config.max_duration_s,
                                                             "max_bytes": self.config.max_bytes})
                self._speech = WhisperAudioTextualizer(audio)
            segments += self._speech(path)
        return sorted(segments, key=lambda s: (s["start"], s["kind"] != "scene"))

    @staticmethod
    def _has_audio(path: str | Path) -> bool:
        av = require("av", "av")
        try:
            with av.open(str(path), metadata_errors="ignore") as container:
                return bool(container.streams.audio)
        except av.FFmpegError as exc:
            raise MediaError(f"{Path(path).name} is not a readable video: {exc}") from exc


def timeline_text(segments: Iterable[Mapping[str, Any]], title: str | None = None) -> str:
    """Render segments as a VideoChat-Text style timeline, with a header on how to read it.

    Example:
        >>> print(timeline_text([{"start": 0, "end": 2, "text": "hello", "kind": "speech"}]))
        Timeline of the video (times in seconds from its start; "[a-b s] kind: text" means that
        between a and b seconds this was seen (scene) or heard (speech)). Answer only from these
        lines; do not invent events, objects or words that are not listed.
        [0.0-2.0 s] speech: hello
    """
    rows = sorted(segments, key=lambda s: (float(s["start"]), float(s["end"])))
    head = (f"Timeline of {title or 'the video'} (times in seconds from its start; \"[a-b s] kind: text\" means that\n"
            "between a and b seconds this was seen (scene) or heard (speech)). Answer only from these\n"
            "lines; do not invent events, objects or words that are not listed.")
    lines = [f"[{float(s['start']):.1f}-{float(s['end']):.1f} s] {s.get('kind') or 'event'}: "
             f"{' '.join(str(s['text']).split())}" for s in rows]
    return "\n".join([head, *lines])
