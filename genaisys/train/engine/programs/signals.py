"""Drawing by signal tokens, recorded: asked for a picture, the core emits ``[IMG0]…[IMG3]``.

NExT-GPT's any-to-any output path. The reply to "draw a red circle" is the caption followed by
the image signal tokens; `ChatCore` turns them into a ``generate_image`` call that carries the
caption as text and a reference to the tokens' projected embeddings, which the decoder draws
from. Recorded through the any-to-any and assistant graphs like every program, the oracle's reply
is that very call (``generate_image`` with a ``signal_embeddings`` reference), and the chat
template renders it back as the caption plus the tokens, so training text is inference text.
A record holding a draw carries ``target_caption``: the text whose decoder conditioning the
projected tokens learn to match (the ``decoder`` stage).

Around the draws sit turns where the tokens must not appear: spoken answers (``speak``), tool
requests, photo and shape questions ("is there a red circle?" asks about an image, it does not
ask for one) and talk.

Held out: the colour-shape pairs in `HELDOUT_PAIRS` and the phrasings of
`genaisys.eval.heldout.draw` never appear here.

Example:
    >>> import random
    >>> ask = draw_ask(random.Random(0))
    >>> ask.tool, ask.facts["caption"] in TRAIN_CAPTIONS or ask.facts["caption"] in intents._SCENES
    ('generate_image', True)
    >>> signalled("a red circle").tool_calls[0]["args"]["signal"]["kind"]
    'signal_embeddings'
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.messages import AIMessage

from genaisys.datasets.heldout.draw import PAIRS
from genaisys.datasets.shapes import COLORS, SHAPES
from genaisys.train.engine.phrasing import expand
from genaisys.train.engine.programs import intents
from genaisys.train.engine.programs.intents import Ask, _after, _cannot, _tool_failed, result_text
from genaisys.train.engine.programs.oracle import OracleCore, View, call, merge_calls, plan

__all__ = ["HELDOUT_PAIRS", "ORACLE_SIGNAL", "TRAIN_CAPTIONS", "TRAIN_PAIRS", "as_signal_records", "caption_of",
           "caption_records", "draw_ask", "record_signal_threads", "signalled", "spoken_answer_ask"]

#: Colour-shape pairs no training record asks to draw (the held-out draw suite asks for them).
HELDOUT_PAIRS = PAIRS
TRAIN_PAIRS = tuple((c, s) for c in COLORS for s in SHAPES if (c, s) not in HELDOUT_PAIRS)
TRAIN_CAPTIONS = tuple(f"a {c} {s}" for c, s in TRAIN_PAIRS)
#: The reference an oracle's draw carries: the shape of a real one (one 384-d MiniLM token), no embeddings.
ORACLE_SIGNAL = {"kind": "signal_embeddings", "ref": "sig_oracle", "modality": "image", "shape": [1, 384]}

_OBJECT = ("a {c} {s}", "a {c} {s}", "one {c} {s}", "a {s} in {c}", "a {c}-coloured {s}", "a {c} colored {s}",
           "a single {c} {s}", "a {s} that is {c}", "a plain {c} {s}", "a big {c} {s}", "a small {c} {s}")
_FRAME = (
    "Draw [me |]{d}[.| please.| for me.|!]", "[Make|Create|Generate|Produce] [an image|a picture|a drawing|an "
    "illustration] [of|with|showing] {d}[.|, please.]", "Can you [draw|sketch|paint|make] {d}?",
    "Show me [a picture of |an image of |]{d}.", "I'd like [an image|a drawing|a picture] of {d}[.|, please.]",
    "[Paint|Sketch|Illustrate] {d}[ for me|].", "Please [draw|generate|create] {d}.",
    "[Could|Would] you [draw|make] me {d}?", "I need [a picture|an image] of {d}.", "[Give me|Send me] [an image|a "
    "picture] of {d}.", "[Hey|Hi|OK], draw {d}.", "Time for some art: [draw|paint] {d}.",
)
_DONE = ("Here is {d}.", "Here's {d}.", "Done: {d}.", "I drew {d} for you.", "Here's the picture of {d}.")


def caption_of(color: str, shape: str) -> str:
    """What the core writes before the signal tokens, and what their embeddings learn to match."""
    return f"a {color} {shape}"


def signalled(caption: str) -> AIMessage:
    """The oracle's draw: the caption, then the image signal tokens (a ``generate_image`` call by reference)."""
    return call("generate_image", {"prompt": caption, "signal": dict(ORACLE_SIGNAL)}, text=caption)


def draw_ask(rng: random.Random, pairs: Sequence[tuple[str, str]] = TRAIN_PAIRS) -> Ask:
    """A draw request: a colour-shape pair the shape decoder knows (three in four) or a scene."""
    if rng.random() < 0.75:
        color, shape = rng.choice(list(pairs))
        caption, said = caption_of(color, shape), expand(rng.choice(_OBJECT), rng, c=color, s=shape)
    else:
        scenes = [s for s in intents._SCENES if not any(f"{c} {s_}" in s for c, s_ in HELDOUT_PAIRS)]
        caption = said = rng.choice(scenes)
    text = expand(rng.choice(_FRAME), rng, d=said)
    done = _after(lambda v, r=rng: expand(r.choice(_DONE), r, d=caption), "I couldn't make the image: {error}")
    return Ask("draw", text, "generate_image", plan(signalled(caption), done),
               lambda v, r=rng: _cannot("make images", r), {"caption": caption})


_SPOKEN = ("{q} [Say|Tell me] the answer [aloud|out loud].", "{q} Answer in speech[, please|].",
           "[Say it aloud|Read it to me|Speak the answer]: {q}", "{q} I'd like to hear the answer.")


def spoken_answer_ask(rng: random.Random) -> Ask:
    """Arithmetic whose answer is to be spoken: calculator, then ``speak`` with the result, then text."""
    spoken, expression = intents._expression(rng)
    text = expand(rng.choice(_SPOKEN), rng, q=f"What is {spoken}?")

    def say(view: View) -> AIMessage | str:
        value = result_text(view)
        if _tool_failed(view):
            return f"The calculation failed: {value.removeprefix('Error: ')[:200]}"
        return call("speak", {"prompt": f"{spoken} is {value}."})

    def done(view: View) -> str:
        first = view.results[0].text.strip() if view.results else ""
        return f"{spoken[:1].upper()}{spoken[1:]} is {first}; I said it aloud."

    with_tool = plan(call("calculator", {"expression": expression}), say, _after(done, "I couldn't speak: {error}"))
    return Ask("spoken_answer", text, "speak", with_tool, lambda v, r=rng: _cannot("speak aloud", r),
               {"expression": expression})


def _records_with_captions(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give each record that holds a draw its ``target_caption``; a record with two is dropped."""
    out = []
    for rec in records:
        prompts = [tc["arguments"].get("prompt") for turn in rec["conversations"] if turn["from"] == "gpt"
                   for tc in turn.get("tool_calls", []) if isinstance(tc["arguments"].get("signal"), dict)]
        if len(prompts) > 1:
            continue
        if prompts:
            rec["target_caption"] = prompts[0]
        out.append(rec)
    return out


def record_signal_threads(world: Any, n_threads: int, *, replay: dict[str, str], seed: int = 0,
                          progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Record ``n_threads`` threads (1-3 turns, at most one draw) through the any-to-any graph (three in
    five) or the assistant graph, the decoder tools bound nearly always beside 0-2 others."""
    from genaisys.core.perception import looks_like_shapes
    from genaisys.graphs import build_any_to_any_graph, build_assistant_graph, run_turn
    from genaisys.graphs.media import ByContent
    from genaisys.train.engine.programs.assistant import Turn, photo_turn, shape_turn, talk_turn
    from genaisys.train.engine.programs.tools import stand_in_decoders

    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    oracles = {g: OracleCore.for_world(g, world) for g in ("any_to_any", "assistant")}
    for i in range(n_threads):
        extra = rng.sample(["calculator", "calculator", "current_time", "memory_search", "get_weather", "read_file"],
                           rng.randint(0, 2))
        extra = list(dict.fromkeys(extra))
        kinds = ["image", "speech"]
        if rng.random() < 0.12:
            kinds.remove(rng.choice(kinds))
        which = "any_to_any" if rng.random() < 0.6 else "assistant"
        oracle = oracles[which]
        policy = ByContent(looks_like_shapes)
        if which == "any_to_any":
            decoders = {k: v for k, v in stand_in_decoders().items() if k in kinds}
            graph = build_any_to_any_graph(oracle, blobs=world.blobs, textualizers={"image": world.textualizer},
                                           decoders=decoders, policy=policy, tools=world.toolset(extra),
                                           memory=world.memory if "memory_search" in extra else None,
                                           checkpointer=":memory:")
        else:
            names = [*extra, *(["generate_image"] if "image" in kinds else []),
                     *(["speak"] if "speech" in kinds else [])]
            graph = build_assistant_graph(oracle, tools=world.toolset(names), blobs=world.blobs,
                                          memory=world.memory if "memory_search" in extra else None,
                                          checkpointer=":memory:", textualizers={"image": world.textualizer},
                                          policy=policy)
        bound = [*extra, *(["generate_image"] if "image" in kinds else []), *(["speak"] if "speech" in kinds else [])]
        first, drew = len(oracle.calls), False
        for j in range(rng.choice([1, 1, 2, 3])):
            kind = rng.choices(["draw", "speak", "spoken", "photo", "shape", "talk", "tool"],
                               [40 if not drew else 0, 8, 8, 10, 12, 10, 12])[0]
            if kind == "spoken" and "calculator" not in bound:  # a spoken answer here is a calculation's
                kind = "speak"
            if kind in ("draw", "speak", "spoken", "tool"):
                ask = {"draw": draw_ask, "speak": intents.speak, "spoken": spoken_answer_ask}.get(
                    kind, lambda r: intents.INTENTS[r.choice(["arithmetic", "clock", "weather", "file"])](r))(rng)
                turn = Turn(ask.intent, ask.text, ask.policy(bound), needs=ask.tool)
                drew = drew or kind == "draw"
            elif kind == "photo":
                turn = photo_turn(world, rng, "last")
            elif kind == "shape":
                turn = shape_turn(rng, "last", "wide")
            else:
                turn = talk_turn(rng, replay)
            if turn.before:
                turn.before()
            oracle.policy = turn.policy
            oracle.meta = {"kind": turn.kind, "turn": j, "tools": len(bound), "source": "signal"}
            run_turn(graph, turn.content, thread_id=f"signal-{seed}-{i}")
        recorded = [r.to_record(f"signal-{seed}-{i}-{k}", blobs=world.blobs, train_on=on)
                    for k, (r, on) in enumerate(merge_calls(oracle.calls[first:]))]
        records += _records_with_captions(recorded)
        if progress:
            progress(i + 1)
    return records


_MORE_COLOURS = ("pink", "orange", "purple", "white", "cyan", "violet", "gold", "silver", "navy", "maroon", "olive",
                 "lime", "beige", "magenta", "turquoise", "indigo")
_MORE_SHAPES = ("square", "star", "heart", "oval", "hexagon", "pentagon", "diamond", "cross", "ring", "arrow")
_SIZES = ("", "", "", "small ", "big ", "large ", "tiny ")


def caption_records(n: int, tools: list[Any], *, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` one-turn draws of varied captions, for fitting the output projector alone
    (`genaisys.train.stages.decoder.fit_output_projector`): the projector sees many colours,
    shapes and sizes and their combinations, so that it maps what the core wrote to the caption's
    conditioning for pairs it never drew (the held-out ones are never among them).

    ``tools``: the tool list the records carry (a draw's recorded ``tools``: the prompt's tool
    section is what the graph renders).
    """
    rng = random.Random(seed)
    colours, shapes = list(COLORS) + list(_MORE_COLOURS), list(SHAPES) + list(_MORE_SHAPES)
    out = []
    while len(out) < n:
        colour, shape = rng.choice(colours), rng.choice(shapes)
        if (colour, shape) in HELDOUT_PAIRS:
            continue
        words = f"{rng.choice(_SIZES)}{colour} {shape}"
        caption = f"{'an' if words[0] in 'aeiou' else 'a'} {words}"
        text = expand(rng.choice(_FRAME), rng, d=caption)
        reply = {"from": "gpt", "value": caption, "tool_calls": [
            {"name": "generate_image", "arguments": {"prompt": caption, "signal": dict(ORACLE_SIGNAL)}}]}
        out.append({"id": f"caption-{seed}-{len(out)}", "tools": tools, "target_caption": caption,
                    "conversations": [{"from": "human", "value": text}, reply], "meta": {"source": "signal-captions"}})
    return out


def as_signal_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Earlier records with the core drawing by signal tokens: each ``generate_image`` call gets the
    oracle's signal reference and the record its ``target_caption`` (records drawing twice are dropped)."""
    out = []
    for rec in records:
        for turn in rec["conversations"]:
            for tc in turn.get("tool_calls", []) if turn["from"] == "gpt" else []:
                if tc["name"] == "generate_image" and tc["arguments"].get("prompt"):
                    tc["arguments"] = {**tc["arguments"], "signal": dict(ORACLE_SIGNAL)}
        out.append(rec)
    return _records_with_captions(out)
