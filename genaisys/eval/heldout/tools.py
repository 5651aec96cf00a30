"""``heldout-tools``: the assistant graph's first decision over varied tool sets.

96 plainly worded requests, written for this suite: 74 need one of eight tools (``calculator``,
``current_time``, ``http_fetch``, ``read_file``, ``memory_search``, ``memory_write``,
``generate_image``, ``speak``) and 22 need none (chit-chat, general knowledge, writing). Each item
binds its own tool set of 0 to 7 tools, drawn with the seed: the needed tool plus distractors,
or — for 10 requests — distractors only, where the right behaviour is to answer without a tool
(or say it cannot).

Each request runs through ``build_assistant_graph(core, tools=..., approve=True,
checkpointer=":memory:")`` with the builders' defaults; the graph pauses before any tool runs and
the pending calls are read from the interrupt. Tools are the real ones (`genaisys.tools.get_tool`
and `genaisys.graphs.media.make_decoder_tools` over stand-in decoders); the memory tools get a
real `ChromaMemory` but the graph gets no ``memory=``, so no recalled context steers the choice.

A record is right when the first call names the right tool, its arguments validate against the
tool's ``args_schema`` and the key argument holds what was asked (loosely normalised: the
calculator's expression must evaluate to the asked value, a timezone must be the place's IANA
name, a URL or path must be the one given, a prompt or note must hold its key words) — or,
when no tool fits, when no tool is called.

Metrics: ``accuracy``, ``routing_accuracy`` (tool choice only), ``args_valid`` (over calls),
``args_match`` (over right-tool calls), ``tool_recall``, ``recall_<tool>`` for each tool,
``no_tool_accuracy`` (requests needing none), ``absent_tool_accuracy`` (the needed tool not
offered). ``labels`` (tool names + ``"(none)"``) drive the confusion matrix; an unusable call
is ``"(invalid)"``.

Example:
    >>> task = HeldoutToolsTask()
    >>> len(task.load()), sorted({i.meta["kind"] for i in task.load()})
    (96, ['absent', 'none', 'tool'])
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from genaisys.eval.heldout._common import (
    ERROR,
    GraphPrediction,
    TurnClock,
    answer_holds,
    finish,
    graph_only_task,
    last_ai,
    tiny_png,
    tiny_wav,
    turn_text,
    workdir,
)
from genaisys.eval.metrics import accuracy
from genaisys.eval.runner import EvalResult
from genaisys.eval.task import BaseTask, EvalItem, Prediction

__all__ = ["ABSENT", "REQUESTS", "TOOL_NAMES", "HeldoutToolsTask", "key_argument_ok"]

TOOL_NAMES = ("calculator", "current_time", "http_fetch", "read_file", "memory_search", "memory_write",
              "generate_image", "speak")
NONE = "(none)"
INVALID = "(invalid)"

# (id, request, needed tool or None, key-argument check: (argument, kind, value))
REQUESTS: tuple[tuple[str, str, str | None, tuple[str, str, Any] | None], ...] = (
    ("calc-01", "Multiply 4387 by 26 for me.", "calculator", ("expression", "number", 114062)),
    ("calc-02", "I need the exact value of 983 minus 1456.", "calculator", ("expression", "number", -473)),
    ("calc-03", "Divide 7245 by 35, please.", "calculator", ("expression", "number", 207)),
    ("calc-04", "Work out 17 squared plus 3 cubed.", "calculator", ("expression", "number", 316)),
    ("calc-05", "What do I get if I raise 3 to the 11th power?", "calculator", ("expression", "number", 177147)),
    ("calc-06", "Square root of 5329?", "calculator", ("expression", "number", 73)),
    ("calc-07", "Add up 129.5, 88.25 and 42.", "calculator", ("expression", "number", 259.75)),
    ("calc-08", "My restaurant bill was 86 euros and I want to leave a 15% tip. How much is the tip exactly?",
     "calculator", ("expression", "number", 12.9)),
    ("calc-09", "What is 12 factorial?", "calculator", ("expression", "number", 479001600)),
    ("calc-10", "Compute (45 + 19) * (12 - 7).", "calculator", ("expression", "number", 320)),
    ("calc-11", "How much is 2.75 times 64?", "calculator", ("expression", "number", 176)),
    ("calc-12", "A train covers 342 km in 4.5 hours. Calculate its average speed in km per hour.", "calculator",
     ("expression", "number", 76)),
    ("calc-13", "Give me 1000 divided by 16.", "calculator", ("expression", "number", 62.5)),
    ("calc-14", "What's the remainder when 1001 is divided by 13?", "calculator", ("expression", "number", 0)),
    ("clock-01", "What's the current time in Sydney?", "current_time", ("timezone", "oneof", ("Australia/Sydney",))),
    ("clock-02", "Tell me the date today in New York.", "current_time",
     ("timezone", "oneof", ("America/New_York", "US/Eastern"))),
    ("clock-03", "What time is it right now in London?", "current_time",
     ("timezone", "oneof", ("Europe/London", "GB"))),
    ("clock-04", "Is it morning or evening in Los Angeles at the moment?", "current_time",
     ("timezone", "oneof", ("America/Los_Angeles", "US/Pacific"))),
    ("clock-05", "What day of the week is it in Berlin now?", "current_time", ("timezone", "oneof", ("Europe/Berlin",))),
    ("clock-06", "Current UTC time, please.", "current_time", ("timezone", "oneof", ("UTC", "Etc/UTC", "GMT", "Z"))),
    ("clock-07", "What is the local time in Mumbai?", "current_time",
     ("timezone", "oneof", ("Asia/Kolkata", "Asia/Calcutta"))),
    ("clock-08", "Check the clock for me: what time is it in São Paulo?", "current_time",
     ("timezone", "oneof", ("America/Sao_Paulo",))),
    ("clock-09", "What's today's date?", "current_time", None),
    ("clock-10", "How late is it in Singapore right now?", "current_time", ("timezone", "oneof", ("Asia/Singapore",))),
    ("fetch-01", "Download https://docs.python.org/3/whatsnew/ and summarise what's new.", "http_fetch",
     ("url", "url", "https://docs.python.org/3/whatsnew/")),
    ("fetch-02", "Can you get the contents of https://en.wikipedia.org/wiki/Lighthouse for me?", "http_fetch",
     ("url", "url", "https://en.wikipedia.org/wiki/Lighthouse")),
    ("fetch-03", "Please load the web page at https://example.com/status and tell me if the service is up.",
     "http_fetch", ("url", "url", "https://example.com/status")),
    ("fetch-04", "Grab the JSON from https://api.github.com/repos/python/cpython and tell me the star count.",
     "http_fetch", ("url", "url", "https://api.github.com/repos/python/cpython")),
    ("fetch-05", "What does the page https://www.gnu.org/licenses/gpl-3.0.html say about distribution?",
     "http_fetch", ("url", "url", "https://www.gnu.org/licenses/gpl-3.0.html")),
    ("fetch-06", "Fetch https://httpbin.org/get and show me the response.", "http_fetch",
     ("url", "url", "https://httpbin.org/get")),
    ("fetch-07", "Look at https://news.ycombinator.com and list the top headline.", "http_fetch",
     ("url", "url", "https://news.ycombinator.com")),
    ("fetch-08", "Open this link and read it to me: https://www.rfc-editor.org/rfc/rfc9110", "http_fetch",
     ("url", "url", "https://www.rfc-editor.org/rfc/rfc9110")),
    ("fetch-09", "Retrieve https://pypi.org/project/requests/ and tell me the latest version.", "http_fetch",
     ("url", "url", "https://pypi.org/project/requests/")),
    ("file-01", "Show me what's inside todo.md.", "read_file", ("path", "path", "todo.md")),
    ("file-02", "Read the file config/settings.yaml and tell me the log level.", "read_file",
     ("path", "path", "config/settings.yaml")),
    ("file-03", "Open meeting-notes.txt and list the action items.", "read_file", ("path", "path", "meeting-notes.txt")),
    ("file-04", "What does the file data/sales_2023.csv contain?", "read_file", ("path", "path", "data/sales_2023.csv")),
    ("file-05", "Please read CHANGELOG.md from my files.", "read_file", ("path", "path", "CHANGELOG.md")),
    ("file-06", "Can you look at the file recipes/pancakes.txt and tell me the ingredients?", "read_file",
     ("path", "path", "recipes/pancakes.txt")),
    ("file-07", "Print the contents of the local file report_draft.txt.", "read_file",
     ("path", "path", "report_draft.txt")),
    ("file-08", "Read requirements.txt and tell me which packages are listed.", "read_file",
     ("path", "path", "requirements.txt")),
    ("file-09", "Load the file letters/landlord.txt so we can edit it together.", "read_file",
     ("path", "path", "letters/landlord.txt")),
    ("msearch-01", "Search my notes for the Wi-Fi password of the cabin.", "memory_search",
     ("query", "holds", "wi fi|wifi|password|cabin")),
    ("msearch-02", "Look up in my saved memories where I put the spare car keys.", "memory_search",
     ("query", "holds", "keys|key|car")),
    ("msearch-03", "Did I save anything about my passport renewal? Check your memory.", "memory_search",
     ("query", "holds", "passport")),
    ("msearch-04", "Find what I noted about the plumber's phone number.", "memory_search",
     ("query", "holds", "plumber|plumbers")),
    ("msearch-05", "Search the knowledge base for our refund policy.", "memory_search",
     ("query", "holds", "refund|refunds")),
    ("msearch-06", "Check my stored notes: what did I write about the Lisbon trip?", "memory_search",
     ("query", "holds", "lisbon")),
    ("msearch-07", "Look through memory for the name of my physiotherapist.", "memory_search",
     ("query", "holds", "physiotherapist|physio|physical therapist")),
    ("msearch-08", "What do my notes say about the quarterly budget review? Search them.", "memory_search",
     ("query", "holds", "budget")),
    ("msearch-09", "Find the recipe I saved for lentil soup.", "memory_search", ("query", "holds", "lentil|lentils")),
    ("mwrite-01", "Remember that my dentist appointment is on Tuesday at 9:30.", "memory_write",
     ("text", "holds_all", ("dentist", "tuesday"))),
    ("mwrite-02", "Please save this note: the garage door code is 4417.", "memory_write",
     ("text", "holds_all", ("garage", "4417"))),
    ("mwrite-03", "Store in your memory that Priya prefers tea over coffee.", "memory_write",
     ("text", "holds_all", ("priya", "tea"))),
    ("mwrite-04", "Make a note that the project deadline moved to March 14.", "memory_write",
     ("text", "holds_all", ("deadline", "march"))),
    ("mwrite-05", "Keep in mind for later: my bike lock combination is 2-8-5.", "memory_write",
     ("text", "holds_all", ("bike",))),
    ("mwrite-06", "Write down in memory: the boiler was serviced on 3 May.", "memory_write",
     ("text", "holds_all", ("boiler",))),
    ("mwrite-07", "Save the fact that our team's stand-up moved to 10:15.", "memory_write",
     ("text", "holds_all", ("stand up|standup",))),
    ("mwrite-08", "Please remember my niece's birthday is on 21 August.", "memory_write",
     ("text", "holds_all", ("niece", "august"))),
    ("image-01", "Draw a picture of a lighthouse at sunset.", "generate_image", ("prompt", "holds", "lighthouse")),
    ("image-02", "Create an image of a red fox sleeping in the snow.", "generate_image", ("prompt", "holds", "fox")),
    ("image-03", "Can you generate an illustration of a robot watering plants?", "generate_image",
     ("prompt", "holds", "robot")),
    ("image-04", "Make me a picture of a bowl of ramen.", "generate_image", ("prompt", "holds", "ramen")),
    ("image-05", "I'd like an image of a sailboat on a calm lake.", "generate_image",
     ("prompt", "holds", "sailboat|sail boat|boat")),
    ("image-06", "Paint a watercolour-style picture of a mountain village.", "generate_image",
     ("prompt", "holds", "village|mountain")),
    ("image-07", "Generate a logo-like image of an owl reading a book.", "generate_image", ("prompt", "holds", "owl")),
    ("image-08", "Produce a drawing of a hot-air balloon over fields.", "generate_image",
     ("prompt", "holds", "balloon")),
    ("speak-01", 'Say "good night, sleep well" out loud.', "speak", ("prompt", "holds", "good night")),
    ("speak-02", "Read this sentence aloud: The meeting starts at noon.", "speak",
     ("prompt", "holds", "meeting starts at noon")),
    ("speak-03", "Please speak the words 'welcome to the library'.", "speak", ("prompt", "holds", "welcome to the library")),
    ("speak-04", "Can you say 'happy birthday, Marta' as audio?", "speak", ("prompt", "holds", "happy birthday")),
    ("speak-05", "Turn this into speech: Please fasten your seat belts.", "speak",
     ("prompt", "holds", "fasten your seat belts")),
    ("speak-06", "I want to hear you say 'the oven is preheated'.", "speak", ("prompt", "holds", "oven is preheated")),
    ("speak-07", "Voice this message for me: dinner is ready.", "speak", ("prompt", "holds", "dinner is ready")),
    ("none-01", "Hi there, how's your day going?", None, None),
    ("none-02", "Thanks a lot, that helped!", None, None),
    ("none-03", "Who painted the Mona Lisa?", None, None),
    ("none-04", "Write a two-line poem about the sea.", None, None),
    ("none-05", "Explain what photosynthesis is in one sentence.", None, None),
    ("none-06", "What is the plural of 'mouse'?", None, None),
    ("none-07", "Give me a synonym for 'happy'.", None, None),
    ("none-08", "Suggest a name for a grey kitten.", None, None),
    ("none-09", "Tell me a fun fact about octopuses.", None, None),
    ("none-10", "How do you say 'thank you' in Japanese?", None, None),
    ("none-11", "Good morning!", None, None),
    ("none-12", "Summarise the plot of Cinderella in two sentences.", None, None),
    ("none-13", "What is the difference between weather and climate?", None, None),
    ("none-14", "Can you recommend a good habit for better sleep?", None, None),
    ("none-15", "Write a short thank-you note to a neighbour who watered my plants.", None, None),
    ("none-16", "Which ocean is the largest?", None, None),
    ("none-17", "What does 'CPU' stand for?", None, None),
    ("none-18", "Goodbye, talk to you tomorrow.", None, None),
    ("none-19", "Is a tomato a fruit or a vegetable?", None, None),
    ("none-20", "List three things to pack for a beach day.", None, None),
    ("none-21", "Who was the first person to walk on the Moon?", None, None),
    ("none-22", "Make up a riddle about a clock.", None, None),
)
# Requests whose needed tool is left out of the offered set: the right move is to answer without one.
ABSENT = frozenset({"calc-05", "calc-12", "clock-04", "clock-09", "fetch-05", "file-07", "msearch-07",
                    "mwrite-06", "image-06", "speak-06"})


def _tool_set(item_id: str, needed: str | None, absent: bool, seed: int) -> list[str]:
    rng = random.Random(f"heldout-tools:{seed}:{item_id}")
    if needed is None:
        chosen = rng.sample(TOOL_NAMES, rng.randint(0, 7))
    elif absent:
        chosen = rng.sample([t for t in TOOL_NAMES if t != needed], rng.randint(1, 6))
    else:
        chosen = [needed, *rng.sample([t for t in TOOL_NAMES if t != needed], rng.randint(0, 6))]
        rng.shuffle(chosen)
    return chosen


def _url_key(url: str) -> str:
    text = str(url).strip().lower()
    for prefix in ("https://", "http://"):
        text = text.removeprefix(prefix)
    return text.removeprefix("www.").rstrip("/")


def key_argument_ok(check: tuple[str, str, Any] | None, args: Mapping[str, Any]) -> bool:
    """Whether the key argument of a call holds what the request asked (``None`` check: any).

    Example:
        >>> key_argument_ok(("expression", "number", 42), {"expression": "6 * 7"})
        True
        >>> key_argument_ok(("url", "url", "https://example.com/a"), {"url": "http://www.example.com/a/"})
        True
    """
    if check is None:
        return True
    arg, kind, want = check
    got = args.get(arg)
    if kind == "oneof":  # current_time: a missing timezone means its default, UTC
        value = str(got if got is not None else "UTC").strip().lower()
        return value in {w.lower() for w in want}
    if got is None:
        return False
    if kind == "number":
        from genaisys.tools.calculator import CalculatorError, evaluate

        try:
            value = float(evaluate(str(got)))
        except (CalculatorError, ValueError, TypeError, OverflowError, ZeroDivisionError):
            return False
        return abs(value - float(want)) <= 1e-6 * max(1.0, abs(float(want)))
    if kind == "url":
        return _url_key(str(got)) == _url_key(want)
    if kind == "path":
        path = str(got).strip().replace("\\", "/").removeprefix("./")
        return path == want or path.endswith("/" + want)
    if kind == "holds":
        return answer_holds(str(got), want)
    if kind == "holds_all":
        return all(answer_holds(str(got), part) for part in want)
    raise ValueError(f"unknown key-argument check {kind!r}")


class HeldoutToolsTask(BaseTask):
    """Tool choice of the assistant graph's first decision (see the module docstring)."""

    name = "heldout-tools"
    labels = (*TOOL_NAMES, NONE)

    def __init__(self) -> None:
        self._schemas: dict[str, Any] = {}

    def load(self, *, limit: int | None = None, seed: int = 0) -> list[EvalItem]:
        items = []
        for item_id, request, tool, check in REQUESTS:
            absent = item_id in ABSENT
            kind = "none" if tool is None else ("absent" if absent else "tool")
            tools = _tool_set(item_id, tool, absent, seed)
            items.append(EvalItem(id=item_id, prompt=request,
                                  reference={"tool": None if absent else tool, "needed": tool,
                                             "check": list(check) if check else None},
                                  meta={"kind": kind, "tools": tools}))
        random.Random(seed).shuffle(items)  # a seeded sample: the first N of a shuffle
        return items[:limit] if limit is not None else items

    def prepare_model(self, model: Any) -> Any:
        raise graph_only_task(self.name)

    # ------------------------------------------------------------------------------ tools
    def build_tools(self, folder: Path, *, embedding: Any = None) -> dict[str, Any]:
        """The eight real tools by name (nothing runs: the graph pauses before every call)."""
        from genaisys.graphs.media import make_decoder_tools
        from genaisys.memory import BlobStore, ChromaMemory
        from genaisys.tools import get_tool

        files = folder / "files"
        files.mkdir(parents=True, exist_ok=True)
        blobs = BlobStore(folder / "blobs")
        memory = ChromaMemory(folder / "memory", collection="heldout-tools", embedding=embedding,
                              image_embedding=False, blobs=blobs)
        tools = [get_tool("builtin:calculator"), get_tool("builtin:clock"), get_tool("builtin:http_fetch"),
                 get_tool("builtin:file_reader", roots=[files]), get_tool("builtin:memory_search", memory=memory),
                 get_tool("builtin:memory_write", memory=memory),
                 *make_decoder_tools({"image": tiny_png, "speech": tiny_wav}, blobs=blobs)]
        by_name = {t.name: t for t in tools}
        self._schemas = {name: getattr(t, "args_schema", None) for name, t in by_name.items()}
        return by_name

    def run(self, chat: Any, *, limit: int | None = None, seed: int = 0, folder: str | Path | None = None,
            clock: TurnClock | None = None, model_id: str | None = None, embedding: Any = None,
            log: Any = None) -> EvalResult:
        """Ask every request through its own assistant graph and score the first decision."""
        from genaisys.graphs import build_assistant_graph

        from genaisys.eval.runner import model_identity

        clock = clock or TurnClock()
        items = self.load(limit=limit, seed=seed)
        tools = self.build_tools(workdir(folder, "tools"), embedding=embedding)
        predictions: list[Prediction] = []
        for n, item in enumerate(items, 1):
            graph = build_assistant_graph(chat, tools=[tools[name] for name in item.meta["tools"]], approve=True,
                                          checkpointer=":memory:")
            values, seconds = clock.run("tools", graph, item.prompt, thread_id=f"heldout-tools-{item.id}")
            pending = [c for i in values.get("__interrupt__") or [] for c in (i.value or {}).get("tool_calls") or []]
            message = last_ai(values)
            invalid = [dict(c) for c in getattr(message, "invalid_tool_calls", None) or []] if not pending else []
            predictions.append(GraphPrediction(
                text=turn_text(message), tool_calls=[{"name": c["name"], "args": dict(c.get("args") or {})}
                                                     for c in pending],
                extra={"interrupted": bool(pending), "invalid_tool_calls": invalid, "seconds": seconds,
                       "error": values.get(ERROR)}))
            if log is not None:
                log(f"  tools {n}/{len(items)} {item.id}: {predictions[-1].tool_calls[:1] or 'no call'}")
        return finish(self, items, predictions, model_id=model_id or model_identity(chat)[0], model=chat,
                      limit=limit, seed=seed)

    # ---------------------------------------------------------------------------- scoring
    def _valid(self, name: str, args: Mapping[str, Any]) -> bool:
        if not self._schemas:
            import tempfile

            self.build_tools(Path(tempfile.mkdtemp(prefix="genaisys-heldout-tools-")))
        schema = self._schemas.get(name)
        if schema is None or not hasattr(schema, "model_validate"):
            return False
        try:
            schema.model_validate(dict(args))
        except ValueError:  # pydantic.ValidationError is a ValueError
            return False
        return True

    def score(self, item: EvalItem, prediction: Prediction) -> dict[str, Any]:
        want = item.reference["tool"]
        check = item.reference.get("check")
        extra = getattr(prediction, "extra", {}) or {}
        call = prediction.tool_calls[0] if prediction.tool_calls else None
        if call is not None:
            pred = call["name"]
        elif extra.get("invalid_tool_calls"):
            pred = INVALID
        else:
            pred = NONE
        valid = self._valid(call["name"], call.get("args") or {}) if call is not None else None
        right_tool = pred == (want or NONE)
        match = key_argument_ok(tuple(check) if check else None, call.get("args") or {}) \
            if right_tool and call is not None else None
        correct = right_tool and (want is None or (bool(valid) and bool(match)))
        return {"id": item.id, "kind": item.meta["kind"], "needed": item.reference["needed"],
                "ref": want or NONE, "pred": pred, "tools": list(item.meta["tools"]),
                "n_tools": len(item.meta["tools"]), "n_calls": len(prediction.tool_calls),
                "right_tool": right_tool, "args_valid": valid, "args_match": match, "correct": correct,
                "seconds": extra.get("seconds"), "error": extra.get("error")}

    def metrics(self, records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        called = [r for r in records if r["args_valid"] is not None]
        matched = [r for r in records if r["args_match"] is not None]
        need = [r for r in records if r["kind"] == "tool"]
        out = {"accuracy": accuracy([r["correct"] for r in records]),
               "routing_accuracy": accuracy([r["right_tool"] for r in records]),
               "args_valid": accuracy([r["args_valid"] for r in called]),
               "args_match": accuracy([r["args_match"] for r in matched]),
               "tool_recall": accuracy([r["right_tool"] for r in need]),
               "no_tool_accuracy": accuracy([r["correct"] for r in records if r["kind"] == "none"]),
               "absent_tool_accuracy": accuracy([r["correct"] for r in records if r["kind"] == "absent"])}
        for tool in TOOL_NAMES:
            out[f"recall_{tool}"] = accuracy([r["right_tool"] for r in need if r["ref"] == tool])
        return out
