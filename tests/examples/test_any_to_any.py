"""examples/any_to_any.py in reduced mode: a photo in through the image textualizer, the answer out
through the speech decoder (or the tiny image decoder without espeak-ng), stored and written to disk;
then a drawing the core is shown again and asked about."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "any_to_any.py"


@pytest.mark.packaged
def test_any_to_any_example_answers_a_photo_aloud(tmp_path):
    out = subprocess.run([sys.executable, str(EXAMPLE), "--max-new-tokens", "12", "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "perceive: image → textualize" in out.stdout
    kind, suffix = ("speech", ".wav") if shutil.which("espeak-ng") else ("image", ".png")
    [written] = (tmp_path / "out").glob(f"{kind}-*{suffix}")
    record = json.loads(written.with_name(written.name + ".json").read_text())
    assert record["blob_id"] in out.stdout and record["kind"] == kind
    blob = tmp_path / "out" / "blobs" / record["blob_id"][7:9] / record["blob_id"][9:]
    assert blob.read_bytes() == written.read_bytes()
    assert written.read_bytes()[:4] == (b"RIFF" if kind == "speech" else b"\x89PNG")
    # 3. the drawing: made by the shape decoder, judged by the oracle, then asked about
    [drawn] = (tmp_path / "out" / "drawn").glob("image-*.png")
    assert "draw: [('generate_image'" in out.stdout and "the shape oracle sees:" in out.stdout
    assert "what did you draw? →" in out.stdout and drawn.read_bytes()[:4] == b"\x89PNG"
