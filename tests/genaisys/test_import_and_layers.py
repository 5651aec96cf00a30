"""`import genaisys` stays light, and imports only flow down the layers (DESIGN.md §1)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {"genaisys": ROOT / "genaisys", "genaisys.tools": ROOT / "tools",
           "genaisys.graphs": ROOT / "graphs", "genaisys.memory": ROOT / "memory"}
HEAVY = ["torch", "transformers", "diffusers", "chromadb", "sentence_transformers"]
LAYER_1 = {"genaisys", "genaisys.errors", "genaisys._optional", "genaisys._lazy", "genaisys.assets", "genaisys.types"}
LAYER_2 = ("genaisys.core", "genaisys.tools", "genaisys.memory")
LAYER_3 = ("genaisys.graphs",)


def layer_of(module: str) -> int:
    if module in LAYER_1:
        return 1
    if module.startswith(tuple(p + "." for p in LAYER_2)) or module in LAYER_2:
        return 2
    if module.startswith(tuple(p + "." for p in LAYER_3)) or module in LAYER_3:
        return 3
    return 4  # cli, demo, doctor, train, eval, serve


def iter_modules():
    for package, folder in FOLDERS.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            if package == "genaisys" and parts and parts[0] in ("tools", "graphs", "memory"):
                continue
            yield ".".join([package, *parts]), path


def imported_modules(module: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    # `if TYPE_CHECKING:` imports never run; the lazy re-exports of genaisys/__init__ live there.
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING"
                   for n in ast.walk(node)}
    pkg = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.rsplit(".", node.level - 1)[0] if node.level > 1 else pkg
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            found.add(name)
            found |= {f"{name}.{a.name}" for a in node.names}
    return {m for m in found if m.startswith("genaisys")}


def _resolve(name: str) -> str:
    """Trim `genaisys.x.y.Name` to the longest prefix that is a real module."""
    known = {m for m, _ in iter_modules()}
    while name not in known and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def test_every_import_flows_down():
    bad = []
    for module, path in iter_modules():
        for target in {_resolve(t) for t in imported_modules(module, path)}:
            if layer_of(target) > layer_of(module):
                bad.append(f"{module} (layer {layer_of(module)}) imports {target} (layer {layer_of(target)})")
            if module.startswith("genaisys.core") and target.startswith(("genaisys.tools", "genaisys.memory")):
                bad.append(f"{module} imports {target}: the core must not depend on peripherals")
    assert not bad, "imports that go up a layer:\n" + "\n".join(bad)


def test_layer_checker_catches_an_upward_import(tmp_path):
    fake = tmp_path / "bad.py"
    fake.write_text("from genaisys.graphs.assistant import build_assistant_graph\n")
    targets = {_resolve(t) for t in imported_modules("genaisys.tools.bad", fake)}
    assert any(layer_of(t) > layer_of("genaisys.tools.bad") for t in targets)


def test_import_genaisys_is_light():
    code = (
        "import sys, time, json; t = time.perf_counter(); "
        "import genaisys, genaisys.tools, genaisys.memory, genaisys.graphs, genaisys.core, genaisys.errors, genaisys.assets; "
        "dt = time.perf_counter() - t; "
        f"print(json.dumps({{'heavy': [m for m in {HEAVY!r} if m in sys.modules], 'seconds': dt}}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["heavy"] == [], f"heavy modules imported by `import genaisys`: {result['heavy']}"
    assert result["seconds"] < 2.0


def test_bare_import_of_a_mapped_folder_is_refused():
    out = subprocess.run([sys.executable, "-c", "import tools"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode != 0 and "genaisys.tools" in out.stderr


def test_lazy_attribute_errors_are_clear():
    import genaisys

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        genaisys.nope  # noqa: B018
