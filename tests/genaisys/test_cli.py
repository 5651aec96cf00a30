from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

CLI = [sys.executable, "-m", "genaisys.cli"]


def run(*args, env=None):
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env={**os.environ, **(env or {})})


def test_doctor_json_reports_every_asset_and_the_fix(tmp_path):
    out = run("doctor", "--no-load", "--json", env={"GENAISYS_HOME": str(tmp_path)})
    assert out.returncode == 1  # nothing is fetched into an empty cache, and doctor says so
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert not rows["smollm2"]["present"] and rows["smollm2"]["fix"] == "genaisys doctor --fetch smollm2"
    assert rows["pydoc-topics"]["present"]
    assert "espeak-ng" in rows


def test_errors_are_one_line_without_traceback():
    out = run("doctor", "--fetch", "no-such-asset", "--no-load")
    assert out.returncode == 1
    assert "unknown asset 'no-such-asset'" in out.stdout and "Traceback" not in out.stdout + out.stderr


def test_debug_shows_the_traceback():
    out = run("--debug", "doctor", "--fetch", "no-such-asset", "--no-load")
    assert out.returncode == 1 and "Traceback" in out.stderr


@pytest.mark.packaged
def test_doctor_times_the_packaged_models():
    out = run("doctor", "--json")
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert rows["smollm2"]["present"] and rows["smollm2"]["load_seconds"] < 30
    assert rows["minilm"]["load_seconds"] is not None


def test_graph_draw_prints_mermaid_and_writes_png(tmp_path):
    out = run("graph", "draw", "assistant")
    assert out.returncode == 0 and "recall" in out.stdout and "think" in out.stdout
    png = tmp_path / "g.png"
    out = run("graph", "draw", "rag", "--out", str(png))
    assert out.returncode == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = run("graph", "draw", "nope")
    assert out.returncode == 1 and "known: any-to-any, assistant" in out.stdout


def test_mcp_serve_speaks_mcp_over_stdio():
    from genaisys.tools.mcp_client import MCPConnection

    connection = {"transport": "stdio", "command": sys.executable,
                  "args": ["-m", "genaisys.cli", "mcp", "serve", "builtin:calculator"]}
    with MCPConnection("cli", connection) as conn:
        (calc,) = [t for t in conn.tools() if t.name.endswith("calculator")]
        assert "42" in str(calc.invoke({"expression": "6 * 7"}))
