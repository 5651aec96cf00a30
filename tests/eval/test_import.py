from __future__ import annotations

import json
import subprocess
import sys


def test_import_is_light() -> None:
    code = ("import json, sys, genaisys.eval, genaisys.eval.tasks, genaisys.eval.cli; "
            "print(json.dumps([m for m in ('torch', 'transformers', 'chromadb', 'numpy', 'langchain_core', "
            "'matplotlib') if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_lazy_exports() -> None:
    import genaisys.eval as ev

    assert set(ev.__all__) <= set(dir(ev))
    assert ev.get_task("easy-vqa").name == "easy-vqa"
    try:
        ev.nothing_here  # noqa: B018
    except AttributeError as exc:
        assert "nothing_here" in str(exc)
    else:
        raise AssertionError("unknown attribute did not raise")
