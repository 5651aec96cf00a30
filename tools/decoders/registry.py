"""Decoder names → decoder classes, imported lazily (a `genaisys._registry.Registry`).

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

from typing import Any

from genaisys._registry import Registry
from genaisys.types import Blobs

__all__ = ["build_decoder", "build_shapes_decoder", "list_decoders", "register_decoder", "unregister_decoder"]

_REGISTRY = Registry("decoder", {
    "image": "genaisys.tools.decoders.image:DiffusersImageDecoder",
    "audio": "genaisys.tools.decoders.audio:DiffusersAudioDecoder",
    "video": "genaisys.tools.decoders.video:DiffusersVideoDecoder",
    "speech": "genaisys.tools.decoders.speech:EspeakSpeechDecoder",
    "image:shapes": "genaisys.tools.decoders.registry:build_shapes_decoder",
}, pattern=r"[a-z][a-z0-9_]*(:[A-Za-z0-9_.\-]+)?", hint="'image' or 'image:my_model'")


def register_decoder(name: str, factory: Any, *, replace: bool = False) -> None:
    """Add a decoder class or factory (or a ``"module:attribute"`` path) under ``name``.

    The factory takes a config object (positionally) or keyword settings, and returns a decoder:
    anything with ``kind`` and ``decode(prompt, ...) -> DecodedArtifact`` (`genaisys.tools.decoders.base.Decoder`).

    Raises:
        ConfigError: a malformed name, or a taken one without ``replace``.
    """
    _REGISTRY.register(name, factory, replace=replace)


def unregister_decoder(name: str) -> None:
    """Remove a registered decoder (an unknown name raises `UnknownNameError`)."""
    _REGISTRY.unregister(name)


def list_decoders() -> list[str]:
    """The registered decoder names, sorted."""
    return _REGISTRY.names()


def build_decoder(name: str, config: Any = None, **kwargs: Any) -> Any:
    """Build the decoder registered as ``name`` from a config object or keyword settings.

    Raises:
        UnknownNameError: ``name`` is not registered (the message lists the known names).
        ConfigError: bad settings for that decoder.
    """
    factory, _ = _REGISTRY.resolve(name)
    return factory(config, **kwargs) if config is not None else factory(**kwargs)


def build_shapes_decoder(*, folder: str | None = None, device: str = "cpu", output_dir: str | None = None,
                         blobs: Blobs | None = None, text_encoder: Any = None, signals: Any = None) -> Any:
    """genaisys's own shape decoder (default: the shipped weights), writing PNG + sidecar like the others;
    ``signals`` (``chat.signal_embeddings``) lets it draw from a core's signal tokens.

    Returns:
        A `genaisys.tools.decoders.shapes.ShapeImageDecoder`.
    """
    from genaisys.tools.decoders.shapes import ShapeImageDecoder

    return ShapeImageDecoder(folder, device=device, text_encoder=text_encoder, output_dir=output_dir, blobs=blobs,
                             signals=signals)
