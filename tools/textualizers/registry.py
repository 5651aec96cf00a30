"""Textualizer names → textualizers, imported lazily (a `genaisys._registry.Registry`).

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

from typing import Any

from pydantic import ValidationError

from genaisys._registry import Registry
from genaisys.errors import ConfigError

__all__ = ["get_textualizer", "list_textualizers", "register_textualizer", "unregister_textualizer"]

_REGISTRY = Registry("textualizer", {
    "image": "genaisys.tools.textualizers.image:ImageTextualizer",
    "audio": "genaisys.tools.textualizers.audio:WhisperAudioTextualizer",
    "video": "genaisys.tools.textualizers.video:VideoTextualizer",
    "media": "genaisys.tools.textualizers.media:media_textualizer",
}, pattern=r"[a-z][a-z0-9_]*(:[A-Za-z0-9_.\-]+)?", hint="'image' or 'image:my_captioner'")


def register_textualizer(name: str, factory: Any, *, replace: bool = False) -> None:
    """Add a textualizer class or factory (or a ``"module:attribute"`` path) under ``name``.

    The factory takes a config object (positionally) or keyword settings, and returns a
    textualizer: anything with ``textualize(media) -> list[Segment]``
    (`genaisys.tools.textualizers.base.Textualizer`).

    Raises:
        ConfigError: a malformed name, or a taken one without ``replace``.
    """
    _REGISTRY.register(name, factory, replace=replace)


def unregister_textualizer(name: str) -> None:
    """Remove a registered textualizer (an unknown name raises `UnknownNameError`)."""
    _REGISTRY.unregister(name)


def list_textualizers() -> list[str]:
    """The registered textualizer names, sorted."""
    return _REGISTRY.names()


def get_textualizer(name: str, config: Any = None, **kwargs: Any) -> Any:
    """Build the textualizer registered as ``name`` from its config object or keyword settings.

    Raises:
        UnknownNameError: an unknown name (the message lists the known ones).
        ConfigError: settings that textualizer does not accept.
    """
    factory, _ = _REGISTRY.resolve(name)
    try:
        if name == "media" and config is not None:
            raise ConfigError("the 'media' textualizer takes audio=... and video=... settings, not one config")
        return factory(config, **kwargs) if config is not None else factory(**kwargs)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"bad settings for the {name!r} textualizer: {problems}") from None
