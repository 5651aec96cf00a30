if __name__ != "genaisys.tools.textualizers":  # a bare `import tools...` from the repo root would load a second copy
    raise ImportError("import this package as genaisys.tools.textualizers, not tools.textualizers (docs/architecture.md, Packaging)")
__doc__ = """Textualizers: audio and video → timed text segments for `ChromaMemory.ingest(textualize=...)`;
images → a description for `ChromaMemory.ingest(describe_image=...)`.

Exported lazily (PEP 562): importing the package loads neither faster-whisper, PyAV, torch nor RapidOCR.

- ``audio.py``  `WhisperAudioTextualizer` — speech → ``kind="speech"`` segments (faster-whisper)
- ``video.py``  `VideoTextualizer` — scene-change keyframes → ``kind="scene"`` segments + speech;
  `timeline_text` renders a VideoChat-Text style timeline
- ``media.py``  `media_textualizer` — one callable dispatching audio vs video by suffix/MIME
- ``image.py``  `ImageTextualizer` — image → one paragraph (ImageNet labels + OCR text) for
  `ChromaMemory.ingest(describe_image=...)`
- ``registry.py`` ``"image" | "audio" | "video" | "media"`` → textualizer (`get_textualizer`)

Example:
    >>> from genaisys.tools.textualizers import media_textualizer
    >>> textualize = media_textualizer()
    >>> callable(textualize)
    True
"""

from typing import TYPE_CHECKING

__all__ = [
    "ImageTextualizer",
    "ImageTextualizerConfig",
    "VideoTextualizer",
    "VideoTextualizerConfig",
    "WhisperAudioTextualizer",
    "WhisperAudioTextualizerConfig",
    "get_textualizer",
    "list_textualizers",
    "media_textualizer",
    "register_textualizer",
    "timeline_text",
    "unregister_textualizer",
]

from genaisys._lazy import lazy_exports

_EXPORTS = {
    "ImageTextualizer": "genaisys.tools.textualizers.image",
    "ImageTextualizerConfig": "genaisys.tools.textualizers.image",
    "WhisperAudioTextualizer": "genaisys.tools.textualizers.audio",
    "WhisperAudioTextualizerConfig": "genaisys.tools.textualizers.audio",
    "VideoTextualizer": "genaisys.tools.textualizers.video",
    "VideoTextualizerConfig": "genaisys.tools.textualizers.video",
    "timeline_text": "genaisys.tools.textualizers.video",
    "media_textualizer": "genaisys.tools.textualizers.media",
    "get_textualizer": "genaisys.tools.textualizers.registry",
    "list_textualizers": "genaisys.tools.textualizers.registry",
    "register_textualizer": "genaisys.tools.textualizers.registry",
    "unregister_textualizer": "genaisys.tools.textualizers.registry",
}

if TYPE_CHECKING:
    from genaisys.tools.textualizers.audio import WhisperAudioTextualizer, WhisperAudioTextualizerConfig
    from genaisys.tools.textualizers.image import ImageTextualizer, ImageTextualizerConfig
    from genaisys.tools.textualizers.media import media_textualizer
    from genaisys.tools.textualizers.registry import (
        get_textualizer,
        list_textualizers,
        register_textualizer,
        unregister_textualizer,
    )
    from genaisys.tools.textualizers.video import VideoTextualizer, VideoTextualizerConfig, timeline_text


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
