"""What every decoder shares: where its output goes, how its parameters are kept, pipeline loading.

Every decoder writes what it makes twice, once as a blob and once as a named file:

- **the blob store** (``put(data, mime_type=...)`` → ``"sha256:…"``): the id the graph carries
  in its state and that ``respond`` attaches to the answer;
- **a file on disk** under ``output_dir``: ``<kind>-<first 16 hex of the blob hash>.<png|wav|mp4>``,
  and beside it a **JSON sidecar** ``<file>.json`` holding the generation parameters
  (``{"decoder", "kind", "blob_id", "mime_type", "path", "created", "params": {...}}``). One format
  for PNG, WAV and MP4 alike, readable without an image or video library; the blob's bytes stay
  exactly what the pipeline made, so equal outputs share one blob.

`load_pipeline` loads any diffusers pipeline (a hub id or a local folder) and refuses one made
for another task before loading its weights, naming the class it found.

Example:
    >>> import tempfile
    >>> from genaisys.memory.blobs import BlobStore
    >>> root = tempfile.mkdtemp()
    >>> art = write_artifact(b"RIFF....", kind="speech", suffix=".wav", mime_type="audio/wav",
    ...                      params={"text": "hi"}, output_dir=root, blobs=BlobStore(root + "/blobs"),
    ...                      decoder="EspeakSpeechDecoder")
    >>> art.path.name.startswith("speech-"), read_params(art.path)["params"]
    (True, {'text': 'hi'})
"""

from __future__ import annotations

import inspect
import json
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from genaisys._optional import require
from genaisys.errors import ConfigError
from genaisys.types import Blobs

__all__ = [
    "DiffusersDecoder",
    "DecodedArtifact",
    "RecordedDecoder",
    "build_config",
    "check_task",
    "default_output_dir",
    "load_pipeline",
    "make_blob_store",
    "merge_settings",
    "read_params",
    "resolve_signal",
    "write_artifact",
]

# Pipeline call arguments that mark a task other than text → image / audio / video.
_NOT_TEXT_TO_IMAGE = ("image", "mask_image", "num_frames", "audio_length_in_s", "video", "control_image")
# Loading builds modules under a process-wide "empty weights" patch (accelerate / transformers
# meta-device init): two loads in parallel threads (parallel tool calls) corrupt each other
# ("Cannot copy out of meta tensor"). One load at a time.
_LOAD_LOCK = threading.Lock()
_TASKS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # task: (call arguments it must take, call arguments it must not take)
    "text-to-image": (("prompt",), _NOT_TEXT_TO_IMAGE),
    "text-to-audio": (("prompt", "audio_length_in_s"), ("image", "num_frames")),
    "text-to-video": (("prompt", "num_frames"), ("image", "video", "audio_length_in_s")),
}


@dataclass(frozen=True)
class DecodedArtifact:
    """One decoder output: stored as ``blob_id`` and written to ``path`` (+ ``path.json``).

    ``graphs.media.make_decoder_tools`` reads ``blob_id`` and ``mime_type`` from it.
    """

    blob_id: str
    mime_type: str
    path: Path
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def sidecar(self) -> Path:
        """The JSON file with the generation parameters."""
        return self.path.with_name(self.path.name + ".json")


_SUFFIX = {"image": (".png", "image/png"), "audio": (".wav", "audio/wav"), "video": (".mp4", "video/mp4"),
           "speech": (".wav", "audio/wav")}


class RecordedDecoder:
    """Give any decoder whose ``decode(prompt, **settings)`` returns bytes (or a file ``Path``)
    the same outputs as genaisys's own: blob store + file + JSON sidecar of the settings.

    Args:
        decoder: the decoder (an object with ``decode``, or a callable).
        kind: ``"image"``, ``"audio"``, ``"video"`` or ``"speech"`` (sets the suffix and MIME type).
        output_dir: where files go (default `default_output_dir`).
        blobs: the blob store (pass the graph's); default ``output_dir/blobs``.

    Example:
        >>> import tempfile
        >>> rec = RecordedDecoder(lambda prompt, **kw: b"RIFF" + prompt.encode(), kind="speech",
        ...                       output_dir=tempfile.mkdtemp())
        >>> art = rec.decode("hi", speed=120)
        >>> art.mime_type, read_params(art.path)["params"]
        ('audio/wav', {'prompt': 'hi', 'speed': 120})
    """

    def __init__(self, decoder: Any, *, kind: str, output_dir: str | Path | None = None, blobs: Blobs | None = None) -> None:
        if kind not in _SUFFIX:
            raise ConfigError(f"kind must be one of {', '.join(_SUFFIX)}; got {kind!r}")
        if not (hasattr(decoder, "decode") or callable(decoder)):
            raise ConfigError(f"a decoder has decode(prompt) or is callable; got {type(decoder).__name__}")
        self.decoder, self.kind = decoder, kind
        self.output_dir = Path(output_dir).expanduser() if output_dir is not None else default_output_dir()
        self._blobs = blobs
        self.name = getattr(decoder, "name", None) or type(decoder).__name__

    def decode(self, prompt: str, **settings: Any) -> DecodedArtifact:
        """Run the wrapped decoder and store + write what it made.

        Raises:
            ConfigError: it returned neither bytes nor a file path.
        """
        run = self.decoder.decode if hasattr(self.decoder, "decode") else self.decoder
        result = run(prompt, **settings)
        if isinstance(result, Path) and result.is_file():
            result = result.read_bytes()
        if not isinstance(result, (bytes, bytearray)) or not result:
            raise ConfigError(f"{self.name} returned {type(result).__name__}; RecordedDecoder needs bytes or a file path")
        if self._blobs is None:
            self._blobs = make_blob_store(None, self.output_dir)
        suffix, mime = _SUFFIX[self.kind]
        return write_artifact(bytes(result), kind=self.kind, suffix=suffix, mime_type=mime,
                              params={"prompt": prompt, **settings}, output_dir=self.output_dir, blobs=self._blobs,
                              decoder=self.name)

    __call__ = decode


def default_output_dir() -> Path:
    """``$GENAISYS_DECODED`` or ``~/.cache/genaisys/decoded``."""
    return Path(os.environ.get("GENAISYS_DECODED") or Path.home() / ".cache" / "genaisys" / "decoded").expanduser()


def _atomic_write(target: Path, payload: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "shape"):  # a tensor: record what it was, not its numbers
        return {"tensor_shape": list(value.shape)}
    return str(value)


def write_artifact(
    data: bytes,
    *,
    kind: str,
    suffix: str,
    mime_type: str,
    params: Mapping[str, Any],
    output_dir: str | Path,
    blobs: Blobs | None,
    decoder: str,
) -> DecodedArtifact:
    """Put ``data`` in the blob store, write it under ``output_dir`` with a JSON sidecar of ``params``.

    Raises:
        ConfigError: ``output_dir`` cannot be created or written.
    """
    blob_id = str(blobs.put(data, mime_type=mime_type))
    folder = Path(output_dir).expanduser()
    target = folder / f"{kind}-{blob_id.rsplit(':', 1)[-1][:16]}{suffix}"
    record = {
        "decoder": decoder, "kind": kind, "blob_id": blob_id, "mime_type": mime_type, "path": str(target),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "params": _jsonable(params),
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _atomic_write(target, data)
        _atomic_write(target.with_name(target.name + ".json"),
                      json.dumps(record, indent=2, ensure_ascii=False).encode())
    except OSError as exc:
        raise ConfigError(f"cannot write decoder output to {folder}: {exc}; set output_dir to a writable folder") from exc
    return DecodedArtifact(blob_id=blob_id, mime_type=mime_type, path=target, params=dict(record["params"]))


def read_params(path: str | Path) -> dict[str, Any]:
    """The sidecar record written beside a decoder output (``path`` is the PNG/WAV/MP4 itself).

    Raises:
        ConfigError: no sidecar beside ``path``.
    """
    sidecar = Path(path).with_name(Path(path).name + ".json")
    if not sidecar.is_file():
        raise ConfigError(f"no generation record {sidecar.name} beside {path}; was it written by a genaisys decoder?")
    return json.loads(sidecar.read_text(encoding="utf-8"))


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors())


def build_config(cls: type[BaseModel], config: BaseModel | None, kwargs: dict[str, Any]) -> Any:
    """``config``, or ``cls(**kwargs)``; a bad value is a `ConfigError` naming the field."""
    if config is not None:
        if kwargs:
            raise ConfigError(f"pass either config=... or keyword settings ({', '.join(kwargs)}), not both")
        if not isinstance(config, cls):
            raise ConfigError(f"config must be a {cls.__name__}; got {type(config).__name__}")
        return config
    try:
        return cls(**kwargs)
    except ValidationError as exc:
        raise ConfigError(f"bad {cls.__name__.removesuffix('Config')} settings: {_problems(exc)}") from None


def merge_settings(config: BaseModel, overrides: Mapping[str, Any]) -> Any:
    """``config`` with per-call ``overrides`` (None keeps the configured value), validated again,
    so a call from the model meets the same bounds as the config; ``steps`` ≤ ``max_steps``.

    Raises:
        ConfigError: a value out of its bounds, naming the field.
    """
    values = {**config.model_dump(), **{k: v for k, v in overrides.items() if v is not None}}
    try:
        merged = type(config).model_validate(values)
    except ValidationError as exc:
        raise ConfigError(f"bad decoder settings: {_problems(exc)}") from None
    steps, cap = getattr(merged, "steps", None), getattr(merged, "max_steps", None)
    if steps is not None and cap is not None and steps > cap:
        raise ConfigError(f"steps={steps} is over max_steps={cap}; ask for fewer steps")
    return merged


def make_blob_store(blobs: Blobs | None, output_dir: Path) -> Any:
    """The caller's blob store, or a `BlobStore` under ``output_dir/blobs``."""
    if blobs is not None:
        if not (hasattr(blobs, "put") and callable(blobs.put)):
            raise ConfigError(f"blobs must be a blob store with put(data, mime_type=...); got {type(blobs).__name__}")
        return blobs
    from genaisys.memory.blobs import BlobStore

    return BlobStore(output_dir / "blobs")


def resolve_signal(signal: Any, signals: Callable[[str], Any] | None) -> Any:
    """``prompt_embeds`` from a signal reference (``"sig_…"`` or ``{"ref": "sig_…", ...}``, as the
    core's ``generate_<kind>`` calls carry it), looked up with ``signals`` (e.g.
    ``ChatCore.signal_embeddings``).

    Raises:
        ConfigError: a reference without a ``signals`` lookup, or a malformed reference.
    """
    ref = signal.get("ref") if isinstance(signal, Mapping) else signal
    if not isinstance(ref, str) or not ref:
        raise ConfigError(f"a signal is a reference string or {{'ref': ...}}; got {signal!r}")
    if signals is None:
        raise ConfigError(f"got signal {ref!r} but this decoder has no signal lookup; build it with "
                          "signals=core.signal_embeddings")
    return signals(ref)


def _pipeline_class(model: str) -> tuple[str, Any]:
    """(class name, class or None) from a local folder's ``model_index.json``; ('', None) for hub ids."""
    folder = Path(model).expanduser()
    if not folder.exists():
        return "", None
    index = folder / "model_index.json"
    if not index.is_file():
        raise ConfigError(f"{folder} is not a diffusers pipeline folder (no model_index.json); "
                          "save one with pipeline.save_pretrained(folder)")
    try:
        name = json.loads(index.read_text(encoding="utf-8")).get("_class_name")
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{index} is not readable JSON: {exc}") from exc
    if isinstance(name, list):  # [module, class] of a custom pipeline: known only after loading
        return str(name[-1]), None
    diffusers = require("diffusers", "diffusers>=0.42", feature="diffusion decoders")
    return str(name), getattr(diffusers, str(name), None)


def check_task(cls: Any, task: str, *, where: str) -> None:
    """Refuse a pipeline class whose ``__call__`` does not fit ``task``, naming what it is."""
    need, refuse = _TASKS[task]
    params = inspect.signature(cls.__call__).parameters
    missing = [p for p in need if p not in params]
    wrong = [p for p in refuse if p in params]
    if missing or wrong:
        why = f"it takes no {', '.join(missing)}" if missing else f"it takes {', '.join(wrong)}"
        raise ConfigError(f"{where} is a {cls.__name__}, not a {task} pipeline ({why}); "
                          f"point this decoder at a {task} pipeline")


def load_pipeline(model: str | Path, task: str, *, torch_dtype: str = "float32", device: str = "cpu") -> Any:
    """Load a diffusers pipeline (hub id or folder) for ``task`` with its progress bar off.

    Raises:
        ConfigError: not a pipeline folder, a pipeline for another task, or it fails to load.
    """
    diffusers = require("diffusers", "diffusers>=0.42", feature="diffusion decoders")
    torch = require("torch", "torch")
    where = str(model)
    _name, cls = _pipeline_class(where)
    if cls is not None:
        check_task(cls, task, where=where)  # before loading any weight
    dtype = getattr(torch, torch_dtype, None)
    if not isinstance(dtype, torch.dtype):
        raise ConfigError(f"torch_dtype {torch_dtype!r} is not a torch dtype (use 'float32', 'bfloat16', 'float16')")
    try:
        with _LOAD_LOCK:
            pipe = diffusers.DiffusionPipeline.from_pretrained(where, dtype=dtype)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ConfigError(f"cannot load a diffusers pipeline from {where!r}: {exc}") from exc
    check_task(type(pipe), task, where=where)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


class DiffusersDecoder:
    """What the diffusers decoders share: their config, output folder, blob store, and the
    pipeline, loaded on first use and called one at a time (a pipeline keeps per-call state — its
    scheduler's timesteps — and LangGraph runs parallel tool calls in threads).

    Subclasses set ``kind``, ``task`` (the pipeline task `load_pipeline` checks), ``config_class``
    and ``subject`` (what a prompt describes, for the empty-prompt message). Their ``decode`` is one
    template: `_prepare` (check the prompt, resolve a signal, merge and bound the settings, pick the
    seed, validate and cast the conditioning), `_call_pipeline`, then the kind's own encoding and
    `write_artifact`.

    Args:
        config: a config of ``config_class``, or its fields as keywords.
        blobs: the blob store to put outputs in (pass the graph's); default ``output_dir/blobs``.
        signals: ``ref -> prompt_embeds`` lookup for signal references (``core.signal_embeddings``).
        pipeline: an already built pipeline to use instead of loading ``model``.
    """

    kind = ""
    task = ""
    subject = ""
    config_class: type[BaseModel] = BaseModel

    def __init__(self, config: BaseModel | None = None, *, blobs: Blobs | None = None,
                 signals: Callable[[str], Any] | None = None, pipeline: Any = None, **kwargs: Any) -> None:
        self.config = config = build_config(self.config_class, config, kwargs)
        self.output_dir = (config.output_dir or default_output_dir()).expanduser()
        self._blobs = make_blob_store(blobs, self.output_dir) if blobs is not None else None
        self.signals = signals
        self._pipe = pipeline
        self._lock = threading.RLock()
        self.name = f"{type(self).__name__}({config.model})"

    @property
    def blobs(self) -> Any:
        """The blob store outputs go to."""
        if self._blobs is None:
            self._blobs = make_blob_store(None, self.output_dir)
        return self._blobs

    @property
    def pipeline(self) -> Any:
        """The diffusers pipeline, loaded on first use."""
        with self._lock:
            if self._pipe is None:
                self._pipe = load_pipeline(self.config.model, self.task, torch_dtype=self.config.torch_dtype,
                                           device=self.config.device)
        return self._pipe

    def _check_limits(self, cfg: Any) -> None:
        """Refuse merged settings over the config's caps (a kind with caps overrides this)."""

    def _check_embeds(self, embeds: Any) -> Any:
        """``prompt_embeds`` as a tensor on the pipeline's device and dtype (a kind checks its shape too)."""
        torch = require("torch", "torch")
        if not isinstance(embeds, torch.Tensor):
            raise ConfigError(f"prompt_embeds must be a torch tensor; got {type(embeds).__name__}")
        return embeds.to(device=self.config.device, dtype=getattr(torch, self.config.torch_dtype))

    def _prepare(self, prompt: str, prompt_embeds: Any, signal: Any,
                 overrides: Mapping[str, Any]) -> tuple[Any, dict[str, Any], int]:
        """The steps every decode shares; returns ``(settings, pipeline arguments, seed used)``.

        Raises:
            ConfigError: a prompt that is not text, an empty one without embeddings, settings out
                of bounds, or conditioning of the wrong kind.
        """
        torch = require("torch", "torch")
        if not isinstance(prompt, str):
            raise ConfigError(f"prompt must be text; got {type(prompt).__name__}")
        if signal is not None and prompt_embeds is None:
            prompt_embeds = resolve_signal(signal, self.signals)
        if not prompt.strip() and prompt_embeds is None:
            raise ConfigError(f"the {self.kind} prompt is empty: describe the {self.subject} to make "
                              "(or pass prompt_embeds)")
        cfg = merge_settings(self.config, overrides)
        self._check_limits(cfg)
        used_seed = cfg.seed if cfg.seed is not None else secrets.randbelow(2**63)
        kwargs: dict[str, Any] = {
            "num_inference_steps": cfg.steps, "guidance_scale": cfg.guidance_scale,
            "generator": torch.Generator(device=cfg.device).manual_seed(used_seed),
        }
        if prompt_embeds is not None:
            kwargs["prompt_embeds"] = self._check_embeds(prompt_embeds)
        else:
            kwargs["prompt"] = prompt
        if cfg.negative_prompt and cfg.guidance_scale > 1:
            kwargs["negative_prompt"] = cfg.negative_prompt
        return cfg, kwargs, used_seed

    def _call_pipeline(self, kwargs: Mapping[str, Any]) -> Any:
        """Run the pipeline, one call at a time; its shape and argument errors become a `ConfigError`."""
        try:
            with self._lock:
                return self.pipeline(**kwargs)
        except (RuntimeError, ValueError, TypeError) as exc:
            raise ConfigError(f"the {self.kind} pipeline refused these settings: {exc}") from exc
