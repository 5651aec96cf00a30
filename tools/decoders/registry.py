"""Decoder names → decoder classes, imported lazily (STYLE.md §5).

The names are the kinds the any-to-any graph takes (``decoders={"image": ...}``): ``"image"``,
``"audio"``, ``"video"``, ``"speech"``, plus ``"image:shapes"`` — genaisys's own shape decoder
(`genaisys.tools.decoders.shapes.ShapeImageDecoder`, trained here) with its outputs recorded like
the others'. A user may register more (``"image:my_gan"`` …);
the registry is also the allow-list for decoder names read back from configs.

Example:
    >>> from genaisys.tools.decoders import build_decoder, list_decoders
    >>> list_decoders()
    ['audio', 'image', 'image:shapes', 'speech', 'video']
    >>> build_decoder("speech", voice="en-gb").config.voice
    'en-gb'
"""

from __future__ import annotations

import importlib
import re
import threading
from typing import Any

from genaisys.errors import ConfigError, UnknownNameError

__all__ = ["build_decoder", "build_shapes_decoder", "list_decoders", "register_decoder"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*(:[A-Za-z0-9_.\-]+)?$")
_REGISTRY: dict[str, Any] = {
    "image": "genaisys.tools.decoders.image:DiffusersImageDecoder",
    "audio": "genaisys.tools.decoders.audio:DiffusersAudioDecoder",
    "video": "genaisys.tools.decoders.video:DiffusersVideoDecoder",
    "speech": "genaisys.tools.decoders.speech:SpeechDecoder",
    "image:shapes": "genaisys.tools.decoders.registry:build_shapes_decoder",
}
_LOCK = threading.Lock()


def register_decoder(name: str, factory: Any, *, replace: bool = False) -> None:
    """Add a decoder class or factory (or a ``"module:attribute"`` path) under ``name``.

    Raises:
        ConfigError: a malformed name, or a taken one without ``replace``.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"decoder names look like 'image' or 'image:my_model'; got {name!r}")
    if not (callable(factory) or (isinstance(factory, str) and ":" in factory)):
        raise ConfigError(f"factory for {name!r} must be callable or a 'module:attribute' path; got {factory!r}")
    with _LOCK:
        if name in _REGISTRY and not replace:
            raise ConfigError(f"decoder {name!r} is already registered; pass replace=True to overwrite it")
        _REGISTRY[name] = factory


def list_decoders() -> list[str]:
    """The registered decoder names, sorted."""
    with _LOCK:
        return sorted(_REGISTRY)


def build_decoder(name: str, config: Any = None, **kwargs: Any) -> Any:
    """Build the decoder registered as ``name`` from a config object or keyword settings.

    Raises:
        UnknownNameError: ``name`` is not registered (the message lists the known names).
        ConfigError: bad settings for that decoder.
    """
    with _LOCK:
        factory = _REGISTRY.get(name)
    if factory is None:
        raise UnknownNameError("decoder", name, list_decoders())
    if isinstance(factory, str):
        module, _, attr = factory.partition(":")
        factory = getattr(importlib.import_module(module), attr)
    return factory(config, **kwargs) if config is not None else factory(**kwargs)


def build_shapes_decoder(*, folder: str | None = None, device: str = "cpu", output_dir: str | None = None,
                         blobs: Any = None, text_encoder: Any = None) -> Any:
    """genaisys's own shape decoder (default: the shipped weights), writing PNG + sidecar like the others.

    Returns:
        A `genaisys.tools.decoders.base.RecordedDecoder` around a ``ShapeImageDecoder``.
    """
    from genaisys.tools.decoders.base import RecordedDecoder
    from genaisys.tools.decoders.shapes import ShapeImageDecoder

    inner = ShapeImageDecoder(folder, device=device, text_encoder=text_encoder)
    return RecordedDecoder(inner, kind="image", output_dir=output_dir, blobs=blobs)
