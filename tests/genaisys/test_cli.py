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
    assert rows["smollm2"]["present"] and rows["smollm2"]["load_seconds"] > 0  # measured, not a speed gate
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


@pytest.mark.packaged
def test_memory_commands_ingest_search_remove(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Notes\n\nThe flux capacitor needs 1.21 gigawatts.\n")
    (docs / "b.txt").write_bytes(b"\x00\x01binary posing as text")
    import skimage.data
    from PIL import Image

    Image.fromarray(skimage.data.chelsea()).save(docs / "photo.png")
    store = str(tmp_path / "store")
    out = run("memory", "ingest", str(docs), "--path", store, "--json")
    report = json.loads(out.stdout)
    assert out.returncode == 3 and report["chunks_added"] == 1  # partial success: b.txt skipped, a.md kept
    assert report["skipped"][0]["path"].endswith("b.txt") and "binary" in report["skipped"][0]["reason"]
    hits = json.loads(run("memory", "search", "how much power does it need", "--path", store, "--json").stdout)
    assert hits[0]["citation"] == "a.md#chars=0-49"
    hits = json.loads(run("memory", "search", "a photo of a cat", "--path", store, "--json").stdout)
    assert hits[0]["citation"] == "photo.png" and "cat" in hits[0]["text"].lower()  # its textualization
    assert run("memory", "rm", str(docs / "a.md"), "--path", store).returncode == 0
    assert json.loads(run("memory", "stats", "--path", store).stdout)["chunks"] == 1  # the photo's description


@pytest.mark.packaged
def test_ask_and_chat_on_the_nano_core(tmp_path):
    import skimage.data
    from PIL import Image

    Image.fromarray(skimage.data.chelsea()).save(tmp_path / "cat.png")
    store = str(tmp_path / "s")
    out = run("ask", "What is in this photo?", "-a", str(tmp_path / "cat.png"), "--store", store,
              "--max-new-tokens", "8", "--json")
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout)["answer"].strip()
    chat = subprocess.run([*CLI, "chat", "--store", store, "--thread", "t", "--max-new-tokens", "8"],
                          input=f"/attach {tmp_path / 'cat.png'}\nWhat is this?\nAnd now?\n/quit\n",
                          capture_output=True, text=True)
    assert chat.returncode == 0, chat.stderr[-2000:]
    assert chat.stdout.count("assistant>") == 2 and "attached" in chat.stdout
    assert not list((tmp_path / "s").rglob("*feedback*"))  # nothing rated: no feedback file


@pytest.mark.packaged
def test_memory_ingest_indexes_audio_by_its_timeline(tmp_path):
    import shutil

    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng): no speech to ingest")
    wav = tmp_path / "talk.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), "The meeting moves to Thursday at noon."], check=True)
    store = str(tmp_path / "store")
    out = run("memory", "ingest", str(wav), "--path", store, "--json")
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
    hits = json.loads(run("memory", "search", "when is the meeting", "--path", store, "--json").stdout)
    assert hits[0]["citation"].startswith("talk.wav#t=") and "thursday" in hits[0]["text"].lower()


@pytest.mark.packaged
def test_a_broken_attachment_is_refused_and_the_thread_still_works(tmp_path):
    from tests.graphs.fakes import broken_media
    from tests.standard_suites import tiny_vision_core

    core = tmp_path / "tiny-core"
    tiny_vision_core().save_pretrained(core)
    data, _ = broken_media()["truncated.png"]
    (tmp_path / "truncated.png").write_bytes(data)
    common = ("--store", str(tmp_path / "s"), "--core", str(core), "--max-new-tokens", "4")
    refused = run("ask", "What is in this photo?", "-a", str(tmp_path / "truncated.png"), *common)
    assert refused.returncode == 1, refused.stdout + refused.stderr[-2000:]
    assert "attachment 1 (image) cannot be used" in refused.stdout and "Traceback" not in refused.stdout + refused.stderr
    later = run("ask", "hello", "--json", *common)  # the same (default) thread
    assert later.returncode == 0, later.stdout + later.stderr[-2000:]
    assert json.loads(later.stdout)["thread"] == "cli"


def test_a_turn_shows_its_answer_token_by_token_and_once(capsys):
    from langchain_core.language_models import FakeListChatModel

    from genaisys.cli import _Live
    from genaisys.graphs import build_assistant_graph, run_turn

    graph = build_assistant_graph(FakeListChatModel(responses=["Paris, see [1]."]), checkpointer=False)
    live, printed = _Live("assistant> "), []

    def watch(mode, payload):
        live(mode, payload)
        printed.append(capsys.readouterr().out)  # what the terminal shows after each event

    state = run_turn(graph, "Capital of France?", thread_id="t", stream=watch)
    live.finish(state["messages"][-1].text)
    assert "".join(printed) + capsys.readouterr().out == "assistant> Paris, see [1].\n"  # no markup eaten, not twice
    assert len([p for p in printed if p]) > 3  # it came in pieces, as decoded
    # an answer that the graph changed after it streamed is shown as kept
    live = _Live("assistant> ")
    live("custom", {"type": "token", "text": "<tool_call>{broken"})
    live.finish("I could not run that tool.")
    assert capsys.readouterr().out == "assistant> <tool_call>{broken\n(answer as kept) I could not run that tool.\n"
