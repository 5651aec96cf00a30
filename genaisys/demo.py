"""`genaisys demo`: the main job, offline, on the embedded default.

It ingests a small bundled corpus (the Python help topics and scikit-image photos) into a fresh
store, runs the assistant graph over a few scripted user turns, shows each step as it happens
(node, tool call with arguments, retrieved sources, answer) and writes the transcript as
Markdown and JSON. Each turn has an expectation (a tool that should be chosen, words the answer
should hold); the report says plainly whether the model met it — the untrained default is
expected to miss some until the nano core is trained.

Example:
    >>> from genaisys.demo import DEMO_TURNS
    >>> [t.name for t in DEMO_TURNS]
    ['retrieval', 'arithmetic', 'photo', 'follow-up']
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DEMO_TURNS", "DemoTurn", "TurnRecord", "run_demo"]

PHOTOS = ("chelsea", "astronaut", "coffee", "rocket", "page")


@dataclass(frozen=True)
class DemoTurn:
    """One scripted user turn and what a good assistant would do with it."""

    name: str
    text: str
    image: str | None = None  # a scikit-image photo name
    expect_tool: str | None = None
    expect_words: tuple[str, ...] = ()


DEMO_TURNS = (
    DemoTurn("retrieval", "How does the with statement work in Python?",
             expect_words=("context manager",)),
    DemoTurn("arithmetic", "What is 1234 * 5678?", expect_tool="calculator", expect_words=("7006652",)),
    DemoTurn("photo", "What animal is in this photo?", image="chelsea", expect_words=("cat",)),
    DemoTurn("follow-up", "What was the result of the multiplication I asked you about?",
             expect_words=("7006652",)),
)


@dataclass
class TurnRecord:
    """What happened in one turn, as written to the transcript."""

    name: str
    user: str
    image: str | None
    steps: list[dict[str, Any]] = field(default_factory=list)
    answer: str = ""
    tools_called: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    expected_tool: str | None = None
    tool_ok: bool | None = None
    words_ok: bool | None = None
    seconds: float = 0.0


def _write_corpus(corpus: Path) -> tuple[Path, list[tuple[Path, str, str]]]:
    """The pydoc topics as text files, and the photos with their scikit-image descriptions."""
    import pydoc_data.topics
    import skimage.data
    import skimage.io

    text_dir = corpus / "pydoc"
    text_dir.mkdir(parents=True, exist_ok=True)
    for topic, body in pydoc_data.topics.topics.items():
        (text_dir / f"{topic}.txt").write_text(body, encoding="utf-8")
    photos = []
    for name in PHOTOS:
        path = corpus / "photos" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        skimage.io.imsave(path, getattr(skimage.data, name)(), check_contrast=False)
        description = " ".join((getattr(skimage.data, name).__doc__ or name).strip().split("\n\n")[0].split())
        photos.append((path, name, description))
    return text_dir, photos


def _describe_update(node: str, update: dict[str, Any]) -> list[dict[str, Any]]:
    """Turn one LangGraph `updates` chunk into transcript steps."""
    steps: list[dict[str, Any]] = []
    for decision in (update or {}).get("perception", []) or []:
        steps.append({"node": node, "kind": "perception", "route": decision.get("route"),
                      "reason": decision.get("reason")})
    for hit in (update or {}).get("context", []) or []:
        steps.append({"node": node, "kind": "source", "citation": hit.get("citation") or hit.get("source"),
                      "score": round(float(hit.get("score", 0.0)), 3)})
    for msg in (update or {}).get("messages", []) or []:
        kind = getattr(msg, "type", "")
        if kind == "ai":
            for call in getattr(msg, "tool_calls", []) or []:
                steps.append({"node": node, "kind": "tool_call", "tool": call["name"], "args": call["args"]})
            for bad in getattr(msg, "invalid_tool_calls", []) or []:
                steps.append({"node": node, "kind": "invalid_tool_call", "error": bad.get("error"),
                              "text": bad.get("args")})
            if msg.text.strip():
                steps.append({"node": node, "kind": "answer", "text": msg.text.strip()})
        elif kind == "tool":
            steps.append({"node": node, "kind": "tool_result", "tool": getattr(msg, "name", ""),
                          "text": str(msg.content)[:500]})
    return steps or [{"node": node, "kind": "step"}]


def _print_step(console: Any, step: dict[str, Any]) -> None:
    kind = step["kind"]
    head = f"[bold cyan]{step['node']:>8}[/] "
    if kind == "perception":
        console.print(head + f"[yellow]{step['route']}[/] {step['reason']}")
    elif kind == "source":
        console.print(head + f"[green]source[/] {step['citation']} (score {step['score']})")
    elif kind == "tool_call":
        console.print(head + f"[magenta]tool call[/] {step['tool']}({json.dumps(step['args'])})")
    elif kind == "invalid_tool_call":
        console.print(head + f"[red]invalid tool call[/] {step['error']}")
    elif kind == "tool_result":
        console.print(head + f"[magenta]tool result[/] {step['tool']}: {step['text'][:200]}")
    elif kind == "answer":
        console.print(head + f"[bold]answer[/] {step['text']}")
    else:
        console.print(head + "done")


def _markdown(records: list[TurnRecord], meta: dict[str, Any]) -> str:
    lines = ["# genaisys demo transcript", "",
             f"Core: `{meta['core']}` — store: `{meta['store']}` — {meta['chunks']} chunks, "
             f"{meta['photos']} photos — thread `{meta['thread_id']}`", "",
             "| turn | expected tool | tools called | tool ok | answer holds expected words | seconds |",
             "|---|---|---|---|---|---|"]
    for r in records:
        lines.append(f"| {r.name} | {r.expected_tool or '—'} | {', '.join(r.tools_called) or '—'} | "
                     f"{_yn(r.tool_ok)} | {_yn(r.words_ok)} | {r.seconds:.1f} |")
    for r in records:
        lines += ["", f"## {r.name}", "", f"**User:** {r.user}" + (f" *(image: {r.image})*" if r.image else ""), ""]
        for s in r.steps:
            if s["kind"] == "perception":
                lines.append(f"- `{s['node']}` image read {s['route']}: {s['reason']}")
            elif s["kind"] == "source":
                lines.append(f"- `{s['node']}` source: {s['citation']} (score {s['score']})")
            elif s["kind"] == "tool_call":
                lines.append(f"- `{s['node']}` tool call: `{s['tool']}({json.dumps(s['args'])})`")
            elif s["kind"] == "tool_result":
                lines.append(f"- `{s['node']}` tool result ({s['tool']}): {s['text'][:300]!r}")
            elif s["kind"] == "invalid_tool_call":
                lines.append(f"- `{s['node']}` invalid tool call: {s['error']}")
        lines += ["", f"**Assistant:** {r.answer or '(no answer)'}"]
    return "\n".join(lines) + "\n"


def _yn(value: bool | None) -> str:
    return "—" if value is None else ("yes" if value else "**no**")


def run_demo(out_dir: str | Path = "genaisys-demo", *, core: str = "nano", console: Any = None,
             turns: tuple[DemoTurn, ...] = DEMO_TURNS, max_new_tokens: int = 96) -> list[TurnRecord]:
    """Run the offline demo and write ``transcript.md`` and ``transcript.json`` into ``out_dir``.

    Args:
        out_dir: folder for the fresh store, the checkpoints and the transcript (recreated).
        core: a `genaisys.load_core` spec; ``"nano"`` is the embedded default.
        console: a `rich.console.Console` (a quiet one is made when ``None``).
        turns: the scripted user turns.
        max_new_tokens: generation budget per model call.

    Returns:
        One `TurnRecord` per turn.
    """
    from rich.console import Console

    from genaisys.core import load_core
    from genaisys.core.media import image_block
    from genaisys.graphs import build_assistant_graph, sqlite_checkpointer
    from genaisys.assets import cache_dir
    from genaisys.memory import BlobStore, ChromaMemory, SentenceTransformerEmbedding
    from genaisys.tools import get_tool

    console = console or Console(quiet=True)
    out = Path(out_dir)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)

    with console.status("ingesting the bundled corpus (pydoc topics, scikit-image photos)…"):
        text_dir, photos = _write_corpus(out / "corpus")
        blobs = BlobStore(out / "blobs")
        # A fresh store every run; the embedding cache makes runs after the first skip MiniLM work.
        embedding = SentenceTransformerEmbedding(cache=cache_dir() / "embeddings.sqlite")
        memory = ChromaMemory(path=out / "memory", blobs=blobs, embedding=embedding)
        memory.ingest(text_dir)
        for path, name, description in photos:
            memory.add_image(path, description=f"Photo '{name}': {description}", metadata={"photo": name})
    stats = memory.stats()
    console.print(f"[bold]memory[/]: {stats}")

    with console.status(f"loading core {core!r}…"):
        chat = load_core(core, blobs=blobs, max_new_tokens=max_new_tokens)
    tools = [get_tool("builtin:calculator"), get_tool("builtin:memory_search", memory=memory)]
    checkpointer = sqlite_checkpointer(out / "checkpoints.sqlite")
    # blobs=: inline images move to the blob store, so checkpoints hold ids, not base64.
    graph = build_assistant_graph(chat, tools=tools, memory=memory, blobs=blobs, checkpointer=checkpointer)
    thread_id = "demo"
    config = {"configurable": {"thread_id": thread_id}}

    records: list[TurnRecord] = []
    for turn in turns:
        console.rule(f"[bold]{turn.name}[/]: {turn.text}" + (f" [image: {turn.image}]" if turn.image else ""))
        content: Any = turn.text
        if turn.image:
            content = [{"type": "text", "text": turn.text}, image_block(out / "corpus" / "photos" / f"{turn.image}.png")]
        record = TurnRecord(turn.name, turn.text, turn.image, expected_tool=turn.expect_tool)
        t0 = time.perf_counter()
        for chunk in graph.stream({"messages": [{"role": "user", "content": content}]}, config,
                                  stream_mode="updates"):
            for node, update in chunk.items():
                for step in _describe_update(node, update if isinstance(update, dict) else {}):
                    record.steps.append(step)
                    _print_step(console, step)
        record.seconds = time.perf_counter() - t0
        final = graph.get_state(config).values["messages"][-1]
        record.answer = final.text.strip() if getattr(final, "type", "") == "ai" else ""
        record.tools_called = [s["tool"] for s in record.steps if s["kind"] == "tool_call"]
        record.sources = [s["citation"] for s in record.steps if s["kind"] == "source"]
        if turn.expect_tool:
            record.tool_ok = turn.expect_tool in record.tools_called
        if turn.expect_words:
            record.words_ok = all(w.lower() in record.answer.lower().replace(",", "") for w in turn.expect_words)
        verdict = (f"expected tool {turn.expect_tool!r}: {'called' if record.tool_ok else 'NOT called'}; "
                   if turn.expect_tool else "")
        verdict += f"answer holds {list(turn.expect_words)}: {'yes' if record.words_ok else 'no'}"
        console.print(f"[dim]{verdict} ({record.seconds:.1f} s)[/]")
        records.append(record)

    meta = {"core": core, "store": str(out / "memory"), "chunks": stats.get("chunks"),
            "photos": len(photos), "thread_id": thread_id}
    (out / "transcript.json").write_text(json.dumps({"meta": meta, "turns": [asdict(r) for r in records]},
                                                    indent=2, default=str))
    (out / "transcript.md").write_text(_markdown(records, meta))
    console.print(f"transcript: {out / 'transcript.md'} and {out / 'transcript.json'}")
    return records
