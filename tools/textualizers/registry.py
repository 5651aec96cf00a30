"""Textualizer names → textualizers, imported lazily (STYLE.md §5).

Each name is the media kind it reads, as the any-to-any graph's ``textualizers={...}`` takes
them, plus ``"media"`` (audio or video by file type, for `ChromaMemory.ingest`):

=========  =========================================================================
``image``  `ImageTextualizer` — ImageNet labels (EfficientNet-Lite0) + OCR text (RapidOCR)
``audio``  `WhisperAudioTextualizer` — timed speech (Whisper tiny.en, faster-whisper)
``video``  `VideoTextualizer` — scene-change keyframes + speech
``media``  `media_textualizer` — audio or video by suffix / MIME type
=========  =========================================================================

Example:
    >>> from genaisys.tools.textualizers import get_textualizer, list_textualizers
    >>> list_textualizers()
    ['audio', 'image', 'media', 'video']
    >>> get_textualizer("video", speech=False).config.speech
    False
"""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import ValidationError

from genaisys.errors import ConfigError, UnknownNameError

__all__ = ["get_textualizer", "list_textualizers"]

_REGISTRY = {
    "image": "genaisys.tools.textualizers.image:ImageTextualizer",
    "audio": "genaisys.tools.textualizers.audio:WhisperAudioTextualizer",
    "video": "genaisys.tools.textualizers.video:VideoTextualizer",
    "media": "genaisys.tools.textualizers.media:media_textualizer",
}


def list_textualizers() -> list[str]:
    """The registered textualizer names, sorted."""
    return sorted(_REGISTRY)


def get_textualizer(name: str, config: Any = None, **kwargs: Any) -> Any:
    """Build the textualizer registered as ``name`` from its config object or keyword settings.

    Raises:
        UnknownNameError: an unknown name (the message lists the known ones).
        ConfigError: settings that textualizer does not accept.
    """
    path = _REGISTRY.get(name)
    if path is None:
        raise UnknownNameError("textualizer", name, list_textualizers())
    module, _, attr = path.partition(":")
    factory = getattr(importlib.import_module(module), attr)
    try:
        if name == "media" and config is not None:
            raise ConfigError("the 'media' textualizer takes audio=... and video=... settings, not one config")
        return factory(config, **kwargs) if config is not None else factory(**kwargs)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"bad settings for the {name!r} textualizer: {problems}") from None
