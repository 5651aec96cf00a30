"""Build a real wheel, install it into a fresh venv and import every subpackage from outside the repo."""

from __future__ import annotations

import json
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_installs_every_subpackage(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(dist), str(ROOT)], check=True, capture_output=True, cwd=tmp_path)
    (wheel,) = dist.glob("genaisys-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    packages = sorted({n.rsplit("/", 1)[0].replace("/", ".") for n in names if n.endswith("/__init__.py")})
    assert {"genaisys", "genaisys.core", "genaisys.tools", "genaisys.graphs", "genaisys.memory"} <= set(packages)
    assert not any(n.startswith(("tools/", "graphs/", "memory/", "tests/")) for n in names)
    assert "genaisys/serve/chat.html" in names and "genaisys/py.typed" in names  # package data ships
    assert "genaisys/datasets/heldout/docs/harbor-README.md" in names and "genaisys.improve" in packages

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    py = env_dir / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", str(wheel)],
                   check=True, capture_output=True)
    # Dependencies come from the test's own environment (read-only), the package from the wheel.
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")

    code = ("import importlib, json, sys; mods = %r; "
            "print(json.dumps({m: importlib.import_module(m).__file__ for m in mods}))" % packages)
    out = subprocess.run([str(py), "-c", code], check=True, capture_output=True, text=True, cwd=tmp_path)
    files = json.loads(out.stdout)
    for module, file in files.items():
        assert file.startswith(str(env_dir)), f"{module} imported from {file}, not from the installed wheel"
