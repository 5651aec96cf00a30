"""Time per drawn image: through the core's signal tokens against through a text prompt, side by side.

Both rows draw the same held-out requests (`genaisys.datasets.heldout.draw.DRAW`) with the shipped
shape decoder, one torch thread each, in one process:

- **signal**: a core with image signal tokens (``--core``, e.g. ``runs/nano-signal/signal/final``)
  in the any-to-any graph: it writes the caption and emits ``[IMG0..3]``; their projected hidden
  states condition the decoder (no text encoder runs);
- **text**: the shipped nano in the same graph: it writes a ``generate_image`` JSON call and the
  decoder embeds its prompt with MiniLM.

Each row reports seconds per graph turn (the user's request → the answer with its image),
seconds per image for the decoder alone (signal embeddings against MiniLM + the same UNet), how
many turns made an image, and how many of those the shape oracle confirms; the last lines print
the ratios signal / text.

Run: ``.venv/bin/python bench/draw_signal.py --core runs/nano-signal/signal/final [--n 12]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from genaisys.datasets.heldout.draw import DRAW
from genaisys.datasets.shape_oracle import oracle_agrees


def _row(name: str, core: str, requests: list[tuple[str, str, str]], work: Path) -> dict[str, Any]:
    from genaisys.core.loading import load_core
    from genaisys.eval.heldout._common import tool_calls_since_user
    from genaisys.eval.heldout.draw import _artifacts
    from genaisys.graphs import build_any_to_any_graph, run_turn
    from genaisys.memory.blobs import BlobStore
    from genaisys.tools.decoders.shapes import ShapeImageDecoder

    chat = load_core(core)
    blobs = BlobStore(work / name / "blobs")
    decoder = ShapeImageDecoder(signals=chat.signal_embeddings, blobs=blobs, output_dir=work / name / "out")
    graph = build_any_to_any_graph(chat, blobs=blobs, decoders={"image": decoder}, checkpointer=":memory:")
    run_turn(graph, "Hello!", thread_id="warm-up")  # the first turn pays for lazy imports and allocation
    turns, decodes, made, right, signalled = [], [], 0, 0, 0
    for i, (request, color, shape) in enumerate(requests):
        start = time.perf_counter()
        values = run_turn(graph, request, thread_id=f"{name}-{i}")
        turns.append(time.perf_counter() - start)
        blobs_made = _artifacts(values, "generate_image")
        calls = [c for c in tool_calls_since_user(values) if c["name"] == "generate_image"]
        if not blobs_made or not calls:
            continue
        made += 1
        right += oracle_agrees(blobs.get(blobs_made[0]), f"a {color} {shape}")
        signal = calls[0]["args"].get("signal")
        signalled += signal is not None
        start = time.perf_counter()  # the decoder alone, from what this turn conditioned it on
        if signal is not None:
            decoder.render("", prompt_embeds=chat.signal_embeddings(signal["ref"]), seed=1)
        else:
            decoder.render(str(calls[0]["args"].get("prompt") or request), seed=1)
        decodes.append(time.perf_counter() - start)
    return {"row": name, "core": core, "turns": len(turns), "s_per_turn": statistics.mean(turns),
            "s_per_decode": statistics.mean(decodes) if decodes else float("nan"), "images": made,
            "oracle_right": right, "via_signal": signalled}


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--core", required=True, help="a core with image signal tokens")
    parser.add_argument("--baseline", default="nano", help="the text-prompt row's core (default: the shipped nano)")
    parser.add_argument("--n", type=int, default=12, help="requests per row")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    requests = list(DRAW[: args.n])
    with tempfile.TemporaryDirectory() as tmp:
        rows = [_row("signal", args.core, requests, Path(tmp)), _row("text", args.baseline, requests, Path(tmp))]
    print(f"{'row':8} {'core':36} {'turns':>5} {'s/turn':>7} {'s/decode':>8} {'images':>6} {'oracle':>6} {'signal':>6}")
    for r in rows:
        print(f"{r['row']:8} {r['core'][-36:]:36} {r['turns']:5d} {r['s_per_turn']:7.2f} {r['s_per_decode']:8.3f} "
              f"{r['images']:6d} {r['oracle_right']:6d} {r['via_signal']:6d}")
    sig, text = rows
    print(f"ratio signal/text: s/turn {sig['s_per_turn'] / text['s_per_turn']:.2f}, "
          f"s/decode {sig['s_per_decode'] / text['s_per_decode']:.2f}")
    return rows


if __name__ == "__main__":
    main()
