"""What every held-out suite shares: graph turns with their latency, text matching, result building.

A suite that drives a graph turn by turn records each turn's wall time in a `TurnClock`; the
first graph turn of the process is marked, so a report can set the cold start (lazy imports,
first prompt rendering, first allocation of the KV cache) apart from warm turns.

`finish` turns items, predictions and a task into an `EvalResult` exactly as
`genaisys.eval.runner.run_eval` does (records, bootstrap intervals over record groups, the data
hash and code version), so a graph-driven suite's result reads, saves and compares like any other.
"""

from __future__ import annotations

import datetime as _dt
import re
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genaisys.eval.metrics import DEFAULT_RESAMPLES, bootstrap_metrics
from genaisys.eval.parsing import normalize
from genaisys.eval.runner import EvalResult, code_version, model_identity
from genaisys.eval.task import EvalItem, Prediction, data_hash

__all__ = [
    "ERROR",
    "GraphPrediction",
    "TurnClock",
    "answer_holds",
    "declines",
    "finish",
    "graph_only_task",
    "last_ai",
    "tiny_png",
    "tiny_wav",
    "tool_calls_since_user",
    "turn_text",
    "with_budget",
    "workdir",
]

ERROR = "__error__"  # set in a turn's values when the graph raised instead of answering
_first_turn_done = False  # process-wide: the first graph turn of a fresh process is the cold one


@dataclass
class GraphPrediction(Prediction):
    """A `Prediction` plus what the graph state says about the turn (context, citations, perception …)."""

    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "extra": self.extra}


@dataclass
class TurnClock:
    """Seconds per graph turn, per suite, with the process's first (cold) turn marked."""

    turns: list[dict[str, Any]] = field(default_factory=list)

    def run(self, suite: str, graph: Any, content: Any, *, thread_id: str) -> tuple[dict[str, Any], float]:
        """One `run_turn` of ``graph``; returns its state values and the seconds it took."""
        global _first_turn_done
        from genaisys.graphs import run_turn

        cold = not _first_turn_done
        _first_turn_done = True
        start = time.perf_counter()
        try:
            values = run_turn(graph, content, thread_id=thread_id)
        except Exception as exc:  # noqa: BLE001 — a turn that crashes (recursion limit, a core bug) is a wrong
            # answer, recorded with its error, not the end of a long run
            values = {"messages": [], ERROR: f"{type(exc).__name__}: {exc}"}
        seconds = time.perf_counter() - start
        self.turns.append({"suite": suite, "seconds": seconds, "cold": cold})
        return values, seconds

    def summary(self) -> dict[str, Any]:
        """``{"first_turn_s", "warm": {n, mean_s, median_s, p90_s}, "per_suite": {...}}``."""
        def stats(values: Sequence[float]) -> dict[str, float | int]:
            if not values:
                return {"n": 0}
            ordered = sorted(values)
            return {"n": len(values), "mean_s": statistics.fmean(values), "median_s": statistics.median(values),
                    "p90_s": ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], "max_s": ordered[-1]}

        cold = [t["seconds"] for t in self.turns if t["cold"]]
        warm = [t["seconds"] for t in self.turns if not t["cold"]]
        suites = sorted({t["suite"] for t in self.turns})
        return {"first_turn_s": cold[0] if cold else None, "warm": stats(warm),
                "per_suite": {s: stats([t["seconds"] for t in self.turns if t["suite"] == s and not t["cold"]])
                              for s in suites}}


# ----------------------------------------------------------------------------------- matching
_THOUSANDS = re.compile(r"(?<=\d)[,\u202f\u00a0 ](?=\d{3}\b)")
_SPELLING = {"grey": "gray", "colour": "color", "colours": "colors"}
_WHOLE_DECIMAL = re.compile(r"(?<![\d.])(\d+)\.0+(?!\.?\d)")  # 36.0 is 36, as a person reads it


def _norm(text: str) -> str:
    """`normalize` after joining digit groups ("7,420" → "7420"), reading a whole number written
    with zero decimals as that number ("36.0" → "36") and one spelling for grey/colour."""
    joined = _WHOLE_DECIMAL.sub(r"\1", _THOUSANDS.sub("", str(text)))
    joined = re.sub(r"(?<=\d)\.(?=\d)", "\x00", joined)  # keep decimal points through normalize
    words = normalize(joined).replace("\x00", ".").split()
    return " ".join(_SPELLING.get(w, w) for w in words)


def answer_holds(answer: str, pattern: str) -> bool:
    """Whether ``answer`` holds one of the ``|``-separated phrases of ``pattern``, loosely.

    Both sides are normalised (case, punctuation, articles, digit grouping, grey/gray) and a
    phrase must appear as whole words.

    Example:
        >>> answer_holds("It listens on port 7,420.", "7420"), answer_holds("Port 74200.", "7420")
        (True, False)
        >>> answer_holds("The Grey one", "gray|silver")
        True
        >>> answer_holds("The result is 36.0.", "36"), answer_holds("It is 36.05.", "36")
        (True, False)
    """
    text = f" {_norm(answer)} "
    return any(f" {_norm(p)} " in text for p in pattern.split("|") if _norm(p))


_DECLINE = re.compile(
    r"\b(i\s+(do\s+not|don'?t|cannot|can'?t|could\s*not|couldn'?t)\s+(know|find|tell|say|answer|see|help|locate)|"
    r"i\s+(do\s+not|don'?t)\s+have\s+(any\s+)?(information|details|data|access|that)|"
    r"(do|does|did)\s+not\s+(say|mention|state|specify|contain|include|cover|list)|"
    r"(doesn'?t|don'?t|didn'?t)\s+(say|mention|state|specify|contain|include|cover|list)|"
    r"(is|are|was)\s*n'?o?t\s+(mentioned|specified|stated|documented|covered|provided|listed|given|known)|"
    r"no\s+(information|mention|details?|data|record)|not\s+(mentioned|specified|stated|documented|covered|"
    r"provided|available|listed|given|sure|known|able\s+to)|unable\s+to|cannot\s+be\s+(found|determined)|"
    r"can'?t\s+be\s+(found|determined)|i'?m\s+not\s+sure|i\s+am\s+not\s+sure|nothing\s+in\s+my\s+memory|"
    r"not\s+in\s+(the|my)\s+(documents?|context|memory|notes)|there\s+is\s+no\s+(information|mention))\b",
    re.I)


def declines(answer: str) -> bool:
    """Whether an answer declines (says it does not know / cannot find it) instead of answering.

    Example:
        >>> declines("I don't know: nothing in my memory supports an answer."), declines("It is 42.")
        (True, False)
    """
    return bool(_DECLINE.search(str(answer).replace("\u2019", "'")))


# ------------------------------------------------------------------------------------- graphs
def last_ai(values: Mapping[str, Any]) -> Any:
    """The last AI message in a graph's state values (``None`` when there is none)."""
    from langchain_core.messages import AIMessage

    for message in reversed(values.get("messages") or []):
        if isinstance(message, AIMessage):
            return message
    return None


def turn_text(message: Any) -> str:
    """The text of an AI message ('' for ``None``)."""
    if message is None:
        return ""
    from genaisys.graphs.state import message_text

    return message_text(message).strip()


def tool_calls_since_user(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every tool call the model made since the latest user message: ``[{"name", "args"}]``."""
    from langchain_core.messages import AIMessage, HumanMessage

    calls: list[dict[str, Any]] = []
    for message in reversed(values.get("messages") or []):
        if isinstance(message, HumanMessage):
            break
        if isinstance(message, AIMessage):
            calls[:0] = [{"name": c["name"], "args": dict(c.get("args") or {})} for c in message.tool_calls]
    return calls


def with_budget(chat: Any, max_new_tokens: int | None) -> Any:
    """``chat`` bound to a smaller generation budget when it has one (genaisys cores), else ``chat``."""
    if max_new_tokens and getattr(chat, "max_new_tokens", None) is not None:
        return chat.bind(max_new_tokens=max_new_tokens)
    return chat


def graph_only_task(name: str) -> Any:
    """What a graph-driven suite's ``prepare_model`` raises: it cannot run as one chat call per item."""
    from genaisys.errors import ConfigError

    return ConfigError(f"{name} drives whole graphs turn by turn and cannot run as one model call per item; "
                       f"run it with `genaisys eval heldout --suites {name.removeprefix('heldout-')}` or "
                       "genaisys.eval.heldout.run_heldout(core, out_dir)")


# ------------------------------------------------------------------------------------ results
def finish(task: Any, items: Sequence[EvalItem], predictions: Sequence[Prediction], *, model_id: str,
           model: Any = None, limit: int | None = None, seed: int = 0, n_resamples: int = DEFAULT_RESAMPLES,
           extra_meta: Mapping[str, Any] | None = None) -> EvalResult:
    """Score ``predictions`` with ``task`` and return an `EvalResult` shaped as `run_eval` shapes it."""
    records = task.score_all(items, predictions)
    for rec, item, pred in zip(records, items, predictions):
        rec.setdefault("prediction", pred.text)
        rec.setdefault("input", {"prompt": item.prompt, "images": list(item.images), "reference": item.reference})
        if pred.tool_calls:
            rec.setdefault("tool_calls", pred.tool_calls)
    intervals = bootstrap_metrics(task.metrics, records, n_resamples=n_resamples, seed=seed)
    params = model_identity(model)[1] if model is not None else {}
    meta = {"task_options": task.options(), "model_params": params, "data_sha256": data_hash(items),
            "n_items": len(items), "n_cached": 0, "limit": limit, "seed": seed,
            "bootstrap": {"n_resamples": n_resamples, "confidence": 0.95, "unit": "group"},
            "labels": list(task.labels) if getattr(task, "labels", None) else None,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), **code_version(),
            **dict(extra_meta or {})}
    return EvalResult(task=task.name, model_id=model_id, metrics={k: v.as_dict() for k, v in intervals.items()},
                      records=records, meta=meta)


# ----------------------------------------------------------------------------- tiny decoders
def tiny_png(prompt: str) -> bytes:
    """An 8×8 grey PNG: a stand-in image decoder, so a decoder tool can be offered without a pipeline."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (128, 128, 128)).save(buf, format="PNG")
    return buf.getvalue()


def tiny_wav(text: str) -> bytes:
    """A tenth of a second of silence as WAV: a stand-in speech decoder."""
    import io
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * 800)
    return buf.getvalue()


def workdir(path: str | Path | None, name: str) -> Path:
    """A folder for a suite's memory, blobs and files: ``path/name``, or a fresh temporary one."""
    import tempfile

    folder = Path(path) / name if path is not None else Path(tempfile.mkdtemp(prefix=f"genaisys-{name}-"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
