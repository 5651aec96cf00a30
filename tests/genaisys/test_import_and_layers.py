"""`import genaisys` stays light, and imports only flow down the layers (docs/architecture.md).

The layers, from the bottom:

1. ``genaisys`` itself, ``errors``, ``_optional``, ``_lazy``, ``_registry``, ``types``, ``assets`` — no torch at import;
2. ``core`` (the CPU), ``tools``, ``memory`` (peripherals and storage), ``datasets`` (the data
   training and evaluation share) — the core imports no peripheral;
3. ``graphs`` (the programs);
4. ``train``, ``eval``, ``serve``, ``demo``, ``doctor`` — users of everything below; train and eval
   never import each other;
5. ``improve`` (what uses training and evaluation together) and ``cli``.

Every import counts, also one inside a function, and so do the lazy paths that ``__getattr__``
exports and registries resolve (``"genaisys.x.y"`` / ``"genaisys.x.y:Name"`` strings). The one
exception: names that moved up a layer keep their old path through `genaisys._lazy.moved_exports`,
which warns on use.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {"genaisys": ROOT / "genaisys", "genaisys.tools": ROOT / "tools",
           "genaisys.graphs": ROOT / "graphs", "genaisys.memory": ROOT / "memory"}
HEAVY = ["torch", "transformers", "diffusers", "chromadb", "sentence_transformers"]
LAYER_1 = {"genaisys", "genaisys.errors", "genaisys._optional", "genaisys._lazy", "genaisys._registry", "genaisys.assets",
           "genaisys.types"}
LAYER_2 = ("genaisys.core", "genaisys.tools", "genaisys.memory", "genaisys.datasets")
LAYER_3 = ("genaisys.graphs",)
LAYER_5 = ("genaisys.improve", "genaisys.cli")
APART = ("genaisys.train", "genaisys.eval")  # same layer, never importing each other


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return module in packages or module.startswith(tuple(p + "." for p in packages))


def layer_of(module: str) -> int:
    if module in LAYER_1:
        return 1
    if _within(module, LAYER_2):
        return 2
    if _within(module, LAYER_3):
        return 3
    if _within(module, LAYER_5):
        return 5
    return 4  # demo, doctor, train, eval, serve


def subpackage(module: str) -> str:
    """``genaisys.train.engine.shapes`` → ``genaisys.train``; top-level modules stand alone."""
    return ".".join(module.split(".")[:2])


def iter_modules():
    for package, folder in FOLDERS.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            if package == "genaisys" and parts and parts[0] in ("tools", "graphs", "memory"):
                continue
            yield ".".join([package, *parts]), path


_LAZY_PATH = re.compile(r"^genaisys(\.\w+)+(:\w+)?$")


def _moved_maps(tree: ast.AST) -> set[int]:
    """Nodes inside `moved_exports(...)` calls and ``_MOVED = ...`` assignments: the deprecated paths."""
    nodes = set()
    for node in ast.walk(tree):
        call = isinstance(node, ast.Call) and getattr(node.func, "id", "") == "moved_exports"
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        moved = any(getattr(t, "id", "") == "_MOVED" for t in targets)
        if call:
            nodes |= {id(n) for arg in node.args[1:2] for n in ast.walk(arg)}
        elif moved:
            nodes |= {id(n) for n in ast.walk(node)}
    return nodes


def lazy_paths(module: str, path: Path) -> set[str]:
    """The modules a file names as lazy import paths (lazy exports, registries), less deprecated ones."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    moved = _moved_maps(tree)
    return {node.value.split(":")[0] for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _LAZY_PATH.match(node.value)
            and id(node) not in moved}


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


def edges() -> dict[str, set[str]]:
    """Module → the genaisys modules it imports or names as a lazy path.

    ``genaisys/__init__`` is the facade: its lazy re-exports of user-facing names reach every layer
    by design, and load nothing until used, so only its real imports count.
    """
    return {module: {_resolve(t) for t in imported_modules(module, path)
                     | (lazy_paths(module, path) if module != "genaisys" else set())} - {module}
            for module, path in iter_modules()}


def problems(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for module, targets in graph.items():
        for target in targets:
            if layer_of(target) > layer_of(module):
                bad.append(f"{module} (layer {layer_of(module)}) imports {target} (layer {layer_of(target)})")
            if _within(module, ("genaisys.core",)) and _within(target, ("genaisys.tools", "genaisys.memory")):
                bad.append(f"{module} imports {target}: the core must not depend on peripherals")
            a, b = subpackage(module), subpackage(target)
            if a != b and {a, b} == set(APART):
                bad.append(f"{module} imports {target}: training and evaluation never import each other; "
                           "shared data goes to genaisys.datasets, what uses both to genaisys.improve")
    return bad


def package_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of subpackages that import each other, directly or around a loop (Tarjan's SCCs)."""
    pkgs: dict[str, set[str]] = {}
    for module, targets in graph.items():
        pkgs.setdefault(subpackage(module), set()).update(subpackage(t) for t in targets)
    for src in pkgs:
        pkgs[src].discard(src)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in pkgs.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(pkgs):
        if v not in index:
            visit(v)
    return groups


def test_every_import_flows_down():
    bad = problems(edges())
    assert not bad, "imports that go up a layer or across:\n" + "\n".join(sorted(bad))


def test_no_import_cycles_between_subpackages():
    assert package_cycles(edges()) == []


def test_layer_checker_catches_an_upward_import(tmp_path):
    fake = tmp_path / "bad.py"
    fake.write_text("from genaisys.graphs.assistant import build_assistant_graph\n")
    targets = {_resolve(t) for t in imported_modules("genaisys.tools.bad", fake)}
    assert any(layer_of(t) > layer_of("genaisys.tools.bad") for t in targets)


def test_layer_checker_catches_train_and_eval_importing_each_other_and_lazy_paths(tmp_path):
    fake = tmp_path / "bad.py"
    fake.write_text("def f():\n    from genaisys.eval.runner import EvalResult\n"
                    "_LAZY = {'x': 'genaisys.improve.round'}\n"
                    "_MOVED = {'y': 'genaisys.improve.nano'}\n")
    targets = {_resolve(t) for t in imported_modules("genaisys.train.bad", fake) | lazy_paths("genaisys.train.bad", fake)}
    assert targets == {"genaisys.eval.runner", "genaisys.improve.round"}
    bad = problems({"genaisys.train.bad": targets})
    assert any("never import each other" in b for b in bad) and any("layer 5" in b for b in bad)


def test_cycle_finder_sees_a_loop_through_three_packages():
    graph = {"genaisys.core.a": {"genaisys.tools.b"}, "genaisys.tools.b": {"genaisys.memory.c"},
             "genaisys.memory.c": {"genaisys.core.a"}, "genaisys.graphs.d": {"genaisys.core.a"}}
    assert package_cycles(graph) == [["genaisys.core", "genaisys.memory", "genaisys.tools"]]


def test_moved_names_still_resolve_with_a_warning():
    import importlib

    for package, name in [("genaisys.eval", "improvement_round"), ("genaisys.train", "evaluate_nano"),
                          ("genaisys.train.engine", "failures_to_records"), ("genaisys.train.nano", "ship_nano"),
                          ("genaisys.eval.loop", "LoopReport"), ("genaisys.train.engine.failures", "append_adversarial")]:
        with pytest.warns(DeprecationWarning, match=f"{name} moved to genaisys.improve"):
            assert callable(getattr(importlib.import_module(package), name))


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
