from __future__ import annotations

import os
import zipfile

import pytest

from genaisys import assets
from genaisys._optional import require
from genaisys.errors import AssetError, GenaisysError, MissingDependencyError, UnknownNameError


def test_missing_dependency_names_the_pip_install():
    with pytest.raises(MissingDependencyError, match=r"pip install 'no-such-pkg>=1'") as info:
        require("no_such_module_xyz", "no-such-pkg>=1", feature="testing")
    assert isinstance(info.value, ImportError) and isinstance(info.value, GenaisysError)


def test_unknown_asset_lists_known_names():
    with pytest.raises(UnknownNameError) as info:
        assets.resolve("gpt-5")
    assert "smollm2" in str(info.value) and "minilm" in str(info.value)


def test_corrupt_wheel_is_rejected_and_deleted(tmp_path):
    wheel = tmp_path / "easy_vqa-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("easy_vqa/data/answers.txt", "circle\n")
    target = tmp_path / "assets" / "easy-vqa"
    target.parent.mkdir()
    with pytest.raises(AssetError, match="SHA-256"):
        assets._unpack(assets.ASSETS["easy-vqa"], wheel, target)
    assert not wheel.exists() and not target.exists()


def test_status_does_not_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("GENAISYS_HOME", str(tmp_path))
    rows = {r.name: r for r in assets.status()}
    assert set(rows) == set(assets.ASSETS)
    assert not rows["smollm2"].present and "doctor --fetch smollm2" in rows["smollm2"].fix
    assert rows["pydoc-topics"].present
    assert not any(tmp_path.iterdir())


@pytest.mark.packaged
def test_packaged_assets_resolve_and_match_their_roles():
    assert assets.resolve("smollm2").suffix == ".gguf"
    assert assets.resolve("efficientnet-lite0").suffix == ".pth"
    assert (assets.resolve("minilm") / "modules.json").is_file()
    assert (assets.resolve("easy-vqa") / "answers.txt").is_file()
    assert (assets.resolve("whisper-tiny-en") / "model.bin").is_file()
    assert (assets.resolve("rapidocr") / "ch_PP-OCRv4_det_infer.onnx").is_file()
    folder = assets.smollm2_safetensors()
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()


class _NoFileno:
    """A stderr without a file descriptor, as click's CliRunner and notebooks have."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    def fileno(self) -> int:
        import io

        raise io.UnsupportedOperation("fileno")


@pytest.mark.packaged
def test_a_first_fetch_works_where_stderr_has_no_file_descriptor(tmp_path, monkeypatch):
    # An empty cache: the wheel is downloaded (pip's own cache may serve it) and unpacked.
    monkeypatch.setenv("GENAISYS_HOME", str(tmp_path))
    fake = _NoFileno()
    monkeypatch.setattr("sys.stderr", fake)
    path = assets.resolve("easy-vqa")
    assert (path / "answers.txt").is_file() and path.is_relative_to(tmp_path)
    assert "first use only" in "".join(fake.parts)


@pytest.mark.packaged
def test_a_failed_first_fetch_is_an_asset_error_where_stderr_has_no_file_descriptor(tmp_path, monkeypatch):
    monkeypatch.setattr("sys.stderr", _NoFileno())
    missing = assets.Asset("nothing", "data", "test", "genaisys-no-such-package-xyz==0.0.1", "0" * 64, "x/")
    with pytest.raises(AssetError, match="could not download genaisys-no-such-package-xyz==0.0.1"):
        assets._download_wheel(missing, tmp_path / "wheels")


def test_every_error_class_is_raised_somewhere():
    """A class in the hierarchy that nothing raises promises callers a failure mode that never comes."""
    import re
    from pathlib import Path

    import genaisys.errors

    root = Path(__file__).resolve().parents[2]
    source = "\n".join(p.read_text(encoding="utf-8") for folder in ("genaisys", "tools", "memory", "graphs")
                       for p in (root / folder).rglob("*.py") if p != root / "genaisys" / "errors.py")
    unused = [name for name in genaisys.errors.__all__ if name != "GenaisysError"
              and not re.search(rf"\b{name}\(", source)]
    assert not unused, f"error classes nothing raises: {unused}"


def _fake_convert(gguf, out):
    """Stands in for the 15-second GGUF conversion: slow, counted, and as atomic as the real one."""
    import time

    with open(out.parent / "conversions.log", "a") as log:
        log.write("converted\n")
    time.sleep(0.5)
    tmp = out.parent / f".tmp-{os.getpid()}"
    tmp.mkdir()
    (tmp / "model.safetensors").write_text("weights")
    (tmp / ".complete").write_text("ok")
    tmp.rename(out)


def _first_use(queue):
    try:
        path = assets.smollm2_safetensors()
        queue.put((path / "model.safetensors").read_text())
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        queue.put(repr(exc))


def test_processes_meeting_an_empty_cache_at_once_build_the_model_once(tmp_path, monkeypatch):
    """Test workers that start together on a fresh machine: before the lock, one worker's rebuild
    deleted the folder another had just finished, and its load failed (FileNotFoundError)."""
    import multiprocessing

    monkeypatch.setenv("GENAISYS_HOME", str(tmp_path))
    monkeypatch.setattr(assets, "resolve", lambda name: tmp_path / "smollm2.gguf")
    monkeypatch.setattr(assets, "_convert_smollm2", _fake_convert)
    context = multiprocessing.get_context("fork")  # the patched module goes with the workers
    queue = context.Queue()
    workers = [context.Process(target=_first_use, args=(queue,)) for _ in range(3)]
    for w in workers:
        w.start()
    results = [queue.get(timeout=60) for _ in workers]
    for w in workers:
        w.join(timeout=60)
    assert results == ["weights"] * 3
    assert (assets.cache_dir() / "converted" / "conversions.log").read_text() == "converted\n"
