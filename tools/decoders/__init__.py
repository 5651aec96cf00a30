if __name__ != "genaisys.tools.decoders":  # a bare `import tools...` from the repo root would load a second copy
    raise ImportError("import this package as genaisys.tools.decoders, not tools.decoders (docs/architecture.md, Packaging)")
__doc__ = """Decoders (DAC): text or signal embeddings → image, sound, video or speech.

Exported lazily (PEP 562): importing the package loads neither torch nor diffusers.

- ``image.py``    `DiffusersImageDecoder` — any diffusers text-to-image pipeline → PNG
- ``audio.py``    `DiffusersAudioDecoder` — AudioLDM-family text-to-audio → WAV
- ``video.py``    `DiffusersVideoDecoder` — diffusers text-to-video → MP4 (H.264)
- ``speech.py``   `EspeakSpeechDecoder` — espeak-ng text-to-speech → WAV
- ``shapes.py``   `ShapeImageDecoder` — genaisys's own small text-to-shape diffusion model (shipped weights)
- ``base.py``     output writing (blob store + file + JSON sidecar of the generation
  parameters; `RecordedDecoder` gives any bytes-returning decoder the same), pipeline loading
  with a task check
- ``registry.py`` ``"image" | "audio" | "video" | "speech"`` → decoder class (`build_decoder`)

Each decoder's ``decode(prompt, ...)`` returns a `DecodedArtifact` (``blob_id``, ``mime_type``,
``path``, ``params``); pass them to ``build_any_to_any_graph(decoders={...})`` (or
``graphs.media.make_decoder_tools``) and the core calls them as ``generate_image``, ``speak`` …

Example:
    >>> from genaisys.tools.decoders import build_decoder
    >>> build_decoder("speech").kind
    'speech'
"""

from typing import TYPE_CHECKING

__all__ = [
    "DecodedArtifact",
    "DiffusersAudioDecoder",
    "DiffusersAudioDecoderConfig",
    "DiffusersImageDecoder",
    "DiffusersImageDecoderConfig",
    "DiffusersVideoDecoder",
    "DiffusersVideoDecoderConfig",
    "RecordedDecoder",
    "ShapeImageDecoder",
    "EspeakSpeechDecoder",
    "EspeakSpeechDecoderConfig",
    "build_decoder",
    "list_decoders",
    "read_params",
    "register_decoder",
    "unregister_decoder",
]

from genaisys._lazy import lazy_exports

_EXPORTS = {
    "DecodedArtifact": "genaisys.tools.decoders.base",
    "read_params": "genaisys.tools.decoders.base",
    "RecordedDecoder": "genaisys.tools.decoders.base",
    "ShapeImageDecoder": "genaisys.tools.decoders.shapes",
    "DiffusersImageDecoder": "genaisys.tools.decoders.image",
    "DiffusersImageDecoderConfig": "genaisys.tools.decoders.image",
    "DiffusersAudioDecoder": "genaisys.tools.decoders.audio",
    "DiffusersAudioDecoderConfig": "genaisys.tools.decoders.audio",
    "DiffusersVideoDecoder": "genaisys.tools.decoders.video",
    "DiffusersVideoDecoderConfig": "genaisys.tools.decoders.video",
    "EspeakSpeechDecoder": "genaisys.tools.decoders.speech",
    "EspeakSpeechDecoderConfig": "genaisys.tools.decoders.speech",
    # the old names, deprecated (genaisys.tools.decoders.speech warns when they are used)
    "SpeechDecoder": "genaisys.tools.decoders.speech",
    "SpeechDecoderConfig": "genaisys.tools.decoders.speech",
    "build_decoder": "genaisys.tools.decoders.registry",
    "list_decoders": "genaisys.tools.decoders.registry",
    "register_decoder": "genaisys.tools.decoders.registry",
    "unregister_decoder": "genaisys.tools.decoders.registry",
}

if TYPE_CHECKING:
    from genaisys.tools.decoders.audio import DiffusersAudioDecoder, DiffusersAudioDecoderConfig
    from genaisys.tools.decoders.base import DecodedArtifact, RecordedDecoder, read_params
    from genaisys.tools.decoders.image import DiffusersImageDecoder, DiffusersImageDecoderConfig
    from genaisys.tools.decoders.registry import (
        build_decoder,
        list_decoders,
        register_decoder,
        unregister_decoder,
    )
    from genaisys.tools.decoders.shapes import ShapeImageDecoder
    from genaisys.tools.decoders.speech import EspeakSpeechDecoder, EspeakSpeechDecoderConfig
    from genaisys.tools.decoders.video import DiffusersVideoDecoder, DiffusersVideoDecoderConfig


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
