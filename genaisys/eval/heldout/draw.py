"""``draw``: does the core draw when asked, through its own signal tokens, and only then; does it speak when asked.

Every request goes, in a fresh thread, through ``build_any_to_any_graph(core, tools=[calculator],
decoders={"image": ShapeImageDecoder(signals=core.signal_embeddings), "speech": espeak-ng})``,
the data from `genaisys.datasets.heldout.draw` (colour-shape pairs and phrasings no training
generator uses). What is measured, per the any-to-any issue's targets:

- ``drawn_right``: share of draw requests that produced an image whose colour and shape the
  shape oracle (`genaisys.datasets.shape_oracle`) confirms;
- ``via_signal``: share of draw requests whose ``generate_image`` call came from the core's signal
  tokens (it carries a ``signal_embeddings`` reference), not from a written JSON call;
- side by side on the same requests and seed: ``signal_right`` (images drawn from the signal
  tokens, of the requests that had them) against ``text_right`` (the caption the core wrote, drawn
  through the decoder's own text encoder) and ``request_right`` (the user's whole request drawn
  through the text encoder: no core at all);
- ``images_unasked``: images made on requests that did not ask for one (target 0);
- ``spoken_right``: share of spoken-answer requests that produced a WAV whose Whisper transcript
  holds the answer (``None`` when ``speech=False``).

Example:
    >>> result = run_draw(load_core("runs/nano-signal/signal/final"), out_dir="runs/draw-eval")  # doctest: +SKIP
    >>> result["metrics"]["drawn_right"]  # doctest: +SKIP
    0.917
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from genaisys.datasets.heldout.draw import DRAW, NOT_DRAW, SPOKEN
from genaisys.eval.heldout._common import ERROR, TurnClock, last_ai, tool_calls_since_user, turn_text, workdir

__all__ = ["run_draw", "spoken_holds"]


def _artifacts(values: Mapping[str, Any], tool: str) -> list[str]:
    """Blob ids of what ``tool`` made since the latest user message."""
    from langchain_core.messages import HumanMessage, ToolMessage

    ids: list[str] = []
    for message in reversed(values.get("messages") or []):
        if isinstance(message, HumanMessage):
            break
        if isinstance(message, ToolMessage) and message.name == tool and message.status != "error":
            art = message.artifact
            blob = art.get("blob_id") if isinstance(art, Mapping) else getattr(art, "blob_id", None)
            if blob:
                ids.append(str(blob))
    return ids


def spoken_holds(transcript: str, answer: str) -> bool:
    """Whether a transcript holds a numeric answer, as digits or as Whisper writes small numbers.

    Example:
        >>> spoken_holds("17 plus 25 is 42.", "42"), spoken_holds("It is forty-two.", "42"), spoken_holds("24", "42")
        (True, True, False)
    """
    digits = re.findall(r"\d+", transcript.replace(",", ""))
    if answer in digits:
        return True
    words = {"12": "twelve", "42": "forty-two", "60": "sixty", "63": "sixty-three", "72": "seventy-two",
             "81": "eighty-one", "125": "one hundred and twenty-five"}
    return bool(words.get(answer)) and words[answer] in transcript.lower().replace("forty two", "forty-two")


def run_draw(chat: Any, *, out_dir: str | Path | None = None, decoder_folder: str | Path | None = None,
             speech: bool = True, limit: int | None = None,
             progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the suite on ``chat`` (a `ChatCore`; signal tokens optional); returns metrics and rows and
    writes ``draw.json`` under ``out_dir`` when given.

    Args:
        decoder_folder: a shape decoder folder (default: the shipped one).
        speech: run the spoken-answer requests (needs espeak-ng and the packaged Whisper).
        limit: at most this many requests of each kind (smoke runs).
    """
    from genaisys.datasets.shape_oracle import oracle_agrees
    from genaisys.graphs import build_any_to_any_graph
    from genaisys.memory.blobs import BlobStore
    from genaisys.tools.decoders.shapes import ShapeImageDecoder

    work = workdir(out_dir, "draw")
    blobs = BlobStore(work / "blobs")
    image = ShapeImageDecoder(decoder_folder, signals=getattr(chat, "signal_embeddings", None), blobs=blobs,
                              output_dir=work / "decoded")
    decoders: dict[str, Any] = {"image": image}
    if speech:
        from genaisys.tools.decoders.speech import EspeakSpeechDecoder

        decoders["speech"] = EspeakSpeechDecoder(blobs=blobs, output_dir=work / "decoded")
    graph = build_any_to_any_graph(chat, blobs=blobs, decoders=decoders, tools=["builtin:calculator"],
                                   checkpointer=":memory:")
    clock, rows = TurnClock(), []
    say = progress or (lambda _: None)
    draws, others, spoken = DRAW[:limit], NOT_DRAW[:limit], (SPOKEN[:limit] if speech else ())
    for i, (request, color, shape) in enumerate(draws):
        values, seconds = clock.run("draw", graph, request, thread_id=f"draw-{i}")
        caption = f"a {color} {shape}"
        calls = [c for c in tool_calls_since_user(values) if c["name"] == "generate_image"]
        made = _artifacts(values, "generate_image")
        signal = next((c for c in calls if isinstance(c["args"].get("signal"), Mapping)), None)
        written = next((str(c["args"].get("prompt") or "") for c in calls), "")
        row = {"kind": "draw", "request": request, "caption": caption, "seconds": round(seconds, 2),
               "answer": turn_text(last_ai(values)), "calls": calls, "error": values.get(ERROR),
               "drawn_right": any(oracle_agrees(blobs.get(b), caption) for b in made),
               "via_signal": signal is not None,
               "signal_right": oracle_agrees(blobs.get(made[0]), caption) if signal is not None and made else None,
               # the same request and seed drawn from text: the core's written caption, and the request itself
               "text_right": oracle_agrees(image.render(written, seed=0), caption) if written.strip() else None,
               "request_right": oracle_agrees(image.render(request, seed=0), caption)}
        rows.append(row)
        say(f"draw {i + 1}/{len(draws)}: {request!r} -> signal={row['via_signal']} right={row['drawn_right']}")
    for i, request in enumerate(others):
        values, seconds = clock.run("draw", graph, request, thread_id=f"other-{i}")
        rows.append({"kind": "not_draw", "request": request, "seconds": round(seconds, 2),
                     "answer": turn_text(last_ai(values)), "images": len(_artifacts(values, "generate_image")),
                     "error": values.get(ERROR)})
        say(f"not-draw {i + 1}/{len(others)}: images={rows[-1]['images']}")
    if spoken:
        from genaisys.tools.textualizers import WhisperAudioTextualizer

        whisper = WhisperAudioTextualizer()
    for i, (request, answer) in enumerate(spoken):
        values, seconds = clock.run("draw", graph, request, thread_id=f"spoken-{i}")
        wavs = _artifacts(values, "speak")
        heard = " ".join(seg["text"] for b in wavs for seg in whisper(blobs.path(b))).strip()
        rows.append({"kind": "spoken", "request": request, "answer_expected": answer, "seconds": round(seconds, 2),
                     "answer": turn_text(last_ai(values)), "wavs": len(wavs), "heard": heard,
                     "spoken_right": bool(wavs) and spoken_holds(heard, answer), "error": values.get(ERROR)})
        say(f"spoken {i + 1}/{len(spoken)}: heard {heard!r}")
    result = {"metrics": _metrics(rows), "rows": rows,
              "seconds_per_turn": round(sum(t["seconds"] for t in clock.turns) / max(1, len(clock.turns)), 2)}
    if out_dir is not None:
        (work / "draw.json").write_text(json.dumps(result, indent=1, default=str))
    return result


def _share(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return round(sum(map(bool, values)) / len(values), 3) if values else None


def _metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    draws = [r for r in rows if r["kind"] == "draw"]
    both = [r for r in draws if r["signal_right"] is not None and r["text_right"] is not None]
    return {
        "n_draw": len(draws),
        "drawn_right": _share(draws, "drawn_right"),
        "via_signal": _share(draws, "via_signal"),
        "signal_right": _share(draws, "signal_right"),
        "text_right": _share(draws, "text_right"),
        "request_right": _share(draws, "request_right"),
        # on the requests that had both: signal tokens against the caption through the text encoder
        "paired": {"n": len(both), "signal_right": _share(both, "signal_right"),
                   "text_right": _share(both, "text_right")},
        "n_not_draw": sum(r["kind"] == "not_draw" for r in rows),
        "images_unasked": sum(r.get("images", 0) for r in rows if r["kind"] == "not_draw"),
        "n_spoken": sum(r["kind"] == "spoken" for r in rows),
        "spoken_right": _share([r for r in rows if r["kind"] == "spoken"], "spoken_right"),
    }
