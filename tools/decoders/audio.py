"""Text → sound with a diffusers text-to-audio pipeline of the AudioLDM family (AudioLDM,
AudioLDM 2, MusicLDM: any pipeline taking ``prompt`` and ``audio_length_in_s``).

The waveform is written as a 16-bit PCM mono WAV at the vocoder's sampling rate, stored in the
blob store and under ``output_dir`` with a JSON sidecar of its generation parameters (see
`genaisys.tools.decoders.base`).

Example:
    >>> decoder = DiffusersAudioDecoder(model="path/to/audioldm", audio_length_s=5.0)    # doctest: +SKIP
    >>> decoder.decode("rain on a tin roof").path                                        # doctest: +SKIP
    PosixPath('~/.cache/genaisys/decoded/audio-….wav')
"""

from __future__ import annotations

import io
import wave
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from genaisys.errors import ConfigError
from genaisys.tools.decoders.base import (
    DecodedArtifact,
    DiffusersDecoder,
    write_artifact,
)

__all__ = ["DiffusersAudioDecoder", "DiffusersAudioDecoderConfig", "wav_bytes"]


class DiffusersAudioDecoderConfig(BaseModel):
    """Settings of `DiffusersAudioDecoder`; each generation setting can be overridden per call.

    Attributes:
        model: an AudioLDM-family pipeline: a local folder (``save_pretrained``) or a hub id.
        steps: denoising steps (1 … ``max_steps``).
        guidance_scale: classifier-free guidance (0 … 50).
        negative_prompt: what the sound should not contain.
        audio_length_s: seconds of audio (0.1 … ``max_audio_s``).
        seed: the random seed; None draws one (and records it).
        max_steps, max_audio_s: caps, also for calls from the model.
        output_dir: where WAVs and their JSON sidecars go.
        torch_dtype, device: how the pipeline is loaded and run.
    """

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1)
    steps: int = Field(default=10, ge=1, le=1000)
    guidance_scale: float = Field(default=2.5, ge=0, le=50)
    negative_prompt: str | None = None
    audio_length_s: float = Field(default=5.0, ge=0.1, le=600)
    seed: int | None = Field(default=0, ge=0, lt=2**63)
    max_steps: int = Field(default=200, ge=1, le=1000)
    max_audio_s: float = Field(default=30.0, ge=0.1, le=600)
    output_dir: Path | None = None
    torch_dtype: str = "float32"
    device: str = "cpu"


def wav_bytes(samples: Any, sample_rate: int) -> bytes:
    """A mono float waveform in [-1, 1] (shape ``(n,)``) as 16-bit PCM WAV bytes.

    Example:
        >>> wav_bytes([0.0, 0.5, -0.5], 16000)[:4]
        b'RIFF'
    """
    import numpy as np

    pcm = (np.clip(np.asarray(samples, dtype=np.float32).reshape(-1), -1, 1) * 32767).round().astype("<i2")  # (n,)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(sample_rate))
        out.writeframes(pcm.tobytes())
    return buf.getvalue()


class DiffusersAudioDecoder(DiffusersDecoder):
    """Generate a WAV from text (or ``prompt_embeds``) with an AudioLDM-family pipeline.

    Args:
        config: a `DiffusersAudioDecoderConfig`, or its fields as keywords.
        blobs: the blob store to put WAVs in (pass the graph's); default ``output_dir/blobs``.
        signals: ``ref -> prompt_embeds`` lookup for signal references (``core.signal_embeddings``).
        pipeline: an already built pipeline to use instead of loading ``model``.

    Example:
        >>> DiffusersAudioDecoder(model="no/such/folder/").config.audio_length_s
        5.0
    """

    kind = "audio"
    task = "text-to-audio"
    subject = "sound"
    config_class = DiffusersAudioDecoderConfig

    def _check_limits(self, cfg: Any) -> None:
        if cfg.audio_length_s > cfg.max_audio_s:
            raise ConfigError(f"audio_length_s={cfg.audio_length_s:g} is over max_audio_s={cfg.max_audio_s:g}; "
                              "ask for a shorter clip")

    def decode(
        self,
        prompt: str = "",
        *,
        prompt_embeds: Any = None,
        signal: Any = None,
        negative_prompt: str | None = None,
        seed: int | None = None,
        steps: int | None = None,
        guidance_scale: float | None = None,
        audio_length_s: float | None = None,
    ) -> DecodedArtifact:
        """Generate one clip; store it and write ``audio-<hash>.wav`` + its JSON sidecar.

        Args:
            prompt: what the sound is (may be empty only with ``prompt_embeds`` / ``signal``).
            prompt_embeds: the pipeline's text conditioning (AudioLDM: ``(1, dim)`` CLAP embeddings).
            signal: a signal reference resolved through ``signals``.
            negative_prompt, seed, steps, guidance_scale, audio_length_s: override the config.

        Raises:
            ConfigError: empty prompt, out-of-range settings, or conditioning the pipeline refuses.
        """
        cfg, kwargs, used_seed = self._prepare(prompt, prompt_embeds, signal, {
            "negative_prompt": negative_prompt, "seed": seed, "steps": steps, "guidance_scale": guidance_scale,
            "audio_length_s": audio_length_s})
        kwargs.update(audio_length_in_s=cfg.audio_length_s, output_type="np")
        result = self._call_pipeline(kwargs)
        audios = getattr(result, "audios", None)
        if audios is None or len(audios) == 0:
            raise ConfigError(f"the pipeline returned no audio ({type(result).__name__}); is it text-to-audio?")
        samples = audios[0]  # (n,) float in [-1, 1]
        vocoder = getattr(self.pipeline, "vocoder", None)
        rate = int(getattr(getattr(vocoder, "config", None), "sampling_rate", 16000))
        params = {"model": cfg.model, "pipeline": type(self.pipeline).__name__, "prompt": prompt,
                  "prompt_embeds": kwargs.get("prompt_embeds"), "signal": signal,
                  "negative_prompt": kwargs.get("negative_prompt"), "seed": used_seed, "steps": cfg.steps,
                  "guidance_scale": cfg.guidance_scale, "audio_length_s": cfg.audio_length_s,
                  "sample_rate": rate, "samples": int(len(samples))}
        return write_artifact(wav_bytes(samples, rate), kind=self.kind, suffix=".wav", mime_type="audio/wav",
                              params=params, output_dir=self.output_dir, blobs=self.blobs, decoder=type(self).__name__)

    __call__ = decode
