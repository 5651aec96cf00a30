"""Conversations with the assistant graph, recorded: the bulk of the core's curriculum.

Each *thread* is built with a configuration a user could choose — a tool set of 0 to 7 tools
(builtins and everyday ones, shuffled, the needed tool sometimes missing), a memory to recall
from or none, a blob store for media — and 1 to 4 user turns mixing:

- requests that need a tool (`intents`), and the answer written from the tool's real result;
- questions about the documents in memory, answered by quoting the chunk that holds the fact
  and citing it ``[n]``, or declined when the recalled chunks do not hold it;
- talk that needs no tool (`talk`, the base model's own answers);
- photos (read through the textualizer) and shapes (read by the encoder);
- follow-ups whose answer needs an earlier answer or tool result ("multiply that by 3", "what
  was the result of the multiplication?", "and in Paris?").

`record_assistant` runs the threads through `build_assistant_graph` around an `OracleCore` and
returns every model call as a training record.

Example:
    >>> records = record_assistant(world, 3, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import io
import random
import re
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.messages import AIMessage

from genaisys.train.engine.phrasing import expand
from genaisys.train.engine.programs import intents
from genaisys.train.engine.programs.followups import followup_turn
from genaisys.train.engine.programs.oracle import OracleCore, View, call, merge_calls, plan
from genaisys.train.engine.programs.turns import ThreadPlan, Turn

__all__ = ["ThreadPlan", "Turn", "followup_turn", "plan_thread", "record_assistant", "record_threads"]

_DEMO_LIKE = ("calculator", "memory_search")  # the configuration README and the demo show


# ------------------------------------------------------------------------------------- documents
def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


def _chunk_with(view: View, evidence: str) -> int | None:
    want = _norm(evidence)
    for chunk in view.context:
        if want in _norm(chunk.text):
            return chunk.number
    return None


def _hits_with(text: str, evidence: str) -> int | None:
    """The number of the memory_search hit (``[n] citation (score …)\\ntext``) holding ``evidence``."""
    want = _norm(evidence)
    for block in re.split(r"\n(?=\[\d+\] )", text):
        m = re.match(r"\[(\d+)\] [^\n]*\n(.*)", block, re.S)
        if m and want in _norm(m.group(2)):
            return int(m.group(1))
    return None


_NOT_FOUND = ("I couldn't find that in the documents I have.", "The documents I can see don't say.",
              "I don't know: nothing in the retrieved documents answers that.",
              "I'm not sure — the documents I found don't cover it.",
              "Sorry, I can't find that in my notes or documents.")


def _abstain(rng: random.Random, subject: str = "") -> str:
    if subject and rng.random() < 0.4:
        return expand(rng.choice(["I don't have any information about {s} in my documents.",
                                  "Nothing in my documents mentions {s}, so I can't say."]), rng, s=subject)
    return rng.choice(_NOT_FOUND)


def _answer_fact(fact: Any, number: int, rng: random.Random) -> str:
    sentence = fact.sentence
    if rng.random() < 0.25 and not sentence.startswith("According"):
        sentence = "According to the documentation, " + sentence[0].lower() + sentence[1:]
    return f"{sentence.rstrip('.')} [{number}]."


#: share of document questions whose answer the documents hold (the rest must be declined)
ANSWERABLE = 0.72


def doc_turn(world: Any, rng: random.Random, tools: Sequence[str], memory: bool,
             answerable_share: float = ANSWERABLE) -> Turn:
    answerable = rng.random() < answerable_share
    if answerable:
        doc = rng.choice(world.documents)
        fact = rng.choice(doc.facts)
        question = expand(rng.choice(fact.questions), rng)
        subject = doc.subject
    else:
        fact = None
        table = world.fact_table
        if rng.random() < 0.5:  # a product the memory has never heard of
            subject = rng.choice(world.unknown_products)
            question = expand(rng.choice(rng.choice(list(table.values()))[2]).replace("{p}", subject), rng)
        else:  # a known product, a fact its manual does not state
            doc = rng.choice([d for d in world.documents if d.facts[0].key.split(":")[0] != "api"])
            subject = doc.subject
            if doc.missing:  # a prose handbook knows the facts of its kind it leaves out
                question = expand(rng.choice(rng.choice(doc.missing)[1]), rng)
            else:
                missing = [k for k in table if k not in {f.key for f in doc.facts}]
                question = expand(rng.choice(table[rng.choice(missing)][2]).replace("{p}", subject), rng)
    search = "memory_search" in tools

    def policy(view: View) -> AIMessage | str:
        if view.step == 0:
            if memory:
                number = _chunk_with(view, fact.evidence) if fact is not None else None
                return _answer_fact(fact, number, rng) if number is not None else _abstain(rng, subject)
            if search:
                return call("memory_search", {"query": question})
            return expand(rng.choice(["I don't have access to any documents about {s}, so I can't look that up.",
                                      "I can't check {s}'s documentation from here."]), rng, s=subject)
        found = _hits_with(intents.result_text(view), fact.evidence) if fact is not None else None
        return _answer_fact(fact, found, rng) if found is not None else _abstain(rng, subject)

    return Turn("document", question, policy, facts={"fact": fact.sentence if fact else None, "subject": subject,
                                                     "key": fact.key if fact else None,
                                                     "value": fact.value if fact else None})


# ------------------------------------------------------------------------------------- media
def _image_block(image: Any, fmt: str = "PNG") -> dict[str, Any]:
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    mime = "image/png" if fmt == "PNG" else "image/jpeg"
    return {"type": "image", "base64": base64.b64encode(buf.getvalue()).decode(), "mime_type": mime}


def _placeholder_photo(rng: random.Random) -> Any:
    import numpy as np
    from PIL import Image

    size = (rng.choice([96, 128, 160]), rng.choice([96, 128]))
    pixels = np.random.default_rng(rng.randrange(2**31)).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def photo_turn(world: Any, rng: random.Random, verdict: str = "first") -> Turn:
    from genaisys.train.engine.programs.photos import photo_question, random_scene

    scene = random_scene(rng)
    question, answer, meta = photo_question(scene, rng, verdict=verdict)
    image = _image_block(_placeholder_photo(rng))
    blocks = [{"type": "text", "text": question}, image] if rng.random() < 0.7 else [image, {"type": "text", "text": question}]

    def before() -> None:
        world.textualizer.scene = scene

    return Turn("photo", blocks, plan(answer), before=before, facts={"label": meta["label"], "answer": answer})


def shape_turn(rng: random.Random, verdict: str = "first", shades: str = "pure") -> Turn:
    from genaisys.core.perception import looks_like_shapes
    from genaisys.train.engine.shapes import render_varied, shape_question
    from genaisys.datasets.shapes import COLORS, SHAPES

    while True:
        image, label = render_varied(rng.choice(list(COLORS)), rng.choice(SHAPES), rng, shades=shades)
        if looks_like_shapes(image)[0] == "native":
            break
    question, answer, meta = shape_question(label, rng, verdict=verdict)
    block = _image_block(image)
    blocks = [{"type": "text", "text": question}, block] if rng.random() < 0.6 else [block, {"type": "text", "text": question}]
    return Turn("shape", blocks, plan(answer), facts={"shape": f"{label['color']} {label['shape']}", "answer": answer})


# ------------------------------------------------------------------------------------- telling
_NAMES = ("Maren", "Tobias", "Ines", "Kwame", "Lucia", "Ravi", "Sofia", "Emeka", "Hana", "Jonas", "Amara",
          "Pavel", "Yuki", "Farid", "Clara", "Mateo")
_CITIES = ("Lyon", "Utrecht", "Graz", "Tampere", "Bergen", "Valencia", "Krakow", "Leeds", "Ghent", "Turin",
           "Aarhus", "Brno", "Cork", "Dresden")
_PETS = (("cats", "cat"), ("dogs", "dog"), ("rabbits", "rabbit"), ("goldfish", "goldfish"), ("hamsters", "hamster"))
_PET_NAMES = ("Pepper", "Biscuit", "Luna", "Olive", "Mango", "Pixel", "Juniper", "Toast", "Clementine", "Ziggy",
              "Basil", "Noodle", "Waffle", "Poppy")
_FAVOURITES = (("colour", ("green", "orange", "purple", "navy blue")), ("book", ("Dune", "Emma", "Beloved")),
               ("fruit", ("mango", "pear", "kiwi", "cherries")), ("sport", ("tennis", "rowing", "handball")))
_NUMBERS = ("lucky number", "locker number", "room number", "apartment number")


def tell_turn(rng: random.Random) -> Turn:
    """The user says something about themselves; the assistant acknowledges it (no tool), so that a
    later turn can ask for it (`followup_turn`)."""
    kind = rng.choice(["name", "pets", "favourite", "number"])
    if kind == "name":
        name, city = rng.choice(_NAMES), rng.choice(_CITIES)
        text = expand(rng.choice(["My name is {n} and I live in {c}.", "Hi, I'm {n}. I live in {c}.",
                                  "I'm {n}, and I'm based in {c}.", "Hello! {n} here, from {c}."]), rng, n=name, c=city)
        reply = expand(rng.choice(["Nice to meet you, {n}! How can I help you today?",
                                   "Hello {n}! {c} sounds lovely. What can I do for you?"]), rng, n=name, c=city)
        facts = {"name": name, "city": city}
    elif kind == "pets":
        plural, single = rng.choice(_PETS)
        names = rng.sample(_PET_NAMES, rng.choice([2, 3]))
        count = {2: "two", 3: "three"}[len(names)]
        listed = ", ".join(names[:-1]) + " and " + names[-1]
        text = expand(rng.choice(["I have {k} {p} named {l}.", "I've got {k} {p}: {l}.", "My {k} {p} are called {l}."]),
                      rng, k=count, p=plural, l=listed)
        reply = expand(rng.choice(["{l} — lovely names! What would you like to know?",
                                   "How nice, {k} {p}! How can I help?"]), rng, l=listed, k=count, p=plural)
        facts = {"pets": names, "plural": plural, "count": count}
    elif kind == "favourite":
        thing, options = rng.choice(_FAVOURITES)
        value = rng.choice(options)
        text = expand(rng.choice(["My favourite {t} is {v}.", "By the way, my favourite {t} is {v}."]), rng, t=thing, v=value)
        reply = expand(rng.choice(["Good choice! {V} it is.", "Noted — {v} is a great {t}."]), rng, v=value, t=thing,
                       V=value[0].upper() + value[1:])
        facts = {"thing": thing, "value": value}
    elif rng.random() < 0.35:  # a bare number to keep for later
        what, number = "number", rng.randint(3, 97)
        text = expand(rng.choice(["Keep the number {x} in mind[ for later|].", "Here's a number for later: {x}.",
                                  "Note this number: {x}.", "Hold on to {x} for me."]), rng, x=number)
        reply = expand(rng.choice(["Okay, {x} — noted.", "Got it: {x}.", "Sure, I'll keep {x} in mind."]), rng, x=number)
        facts = {"number": number, "what": what}
    else:
        what, number = rng.choice(_NUMBERS), rng.randint(3, 97)
        text = expand(rng.choice(["My {w} is {x}.", "Just so you know, my {w} is {x}."]), rng, w=what, x=number)
        reply = expand(rng.choice(["Got it: your {w} is {x}.", "Okay, {x} — I'll keep that in mind."]), rng, w=what, x=number)
        facts = {"number": number, "what": what}
    return Turn("tell", text, plan(reply), facts={"tell": kind, **facts})


def talk_turn(rng: random.Random, replay: dict[str, str]) -> Turn:
    prompt = rng.choice(sorted(replay))
    return Turn("talk", prompt, plan(replay[prompt]))


# ------------------------------------------------------------------------------------- threads
def _intent_turn(rng: random.Random, tools: Sequence[str], weights: dict[str, float] | None = None) -> Turn:
    mix = {**intents.WEIGHTS, **(weights or {})}
    name = rng.choices(list(mix), list(mix.values()))[0]
    ask = intents.INTENTS[name](rng)
    return Turn(name, ask.text, ask.policy(tools), needs=ask.tool, facts=ask.facts, ask=ask)


# How often each kind of turn is drawn (documents: with / without a memory; follow-ups: not first).
# "turns": how often a thread has 1, 2, 3 or 4 user turns.
TURN_WEIGHTS = {"intent": 48, "document": (22, 8), "talk": 12, "photo": 7, "shape": 5, "tell": 5, "followup": 35,
                "turns": (30, 30, 25, 15)}


def plan_thread(world: Any, rng: random.Random, replay: dict[str, str], *, weights: dict[str, Any] | None = None,
                verdict: str = "first", shades: str = "pure", answerable: float = ANSWERABLE) -> ThreadPlan:
    """One thread: its graph configuration and its turns (see the module doc).

    ``weights`` overrides entries of `TURN_WEIGHTS` (its ``"intents"`` entry, entries of
    `~genaisys.train.engine.programs.intents.WEIGHTS`: the mix of tool requests); ``verdict``
    places the yes/no verdict of photo and shape answers
    (`genaisys.train.engine.shapes.shape_question`), ``shades`` picks the shapes' colours
    (`genaisys.train.engine.shapes.render_varied`), ``answerable`` the share of document questions
    the documents answer.
    """
    mix = {**TURN_WEIGHTS, **(weights or {})}
    demo_like = rng.random() < 0.2
    memory = demo_like or rng.random() < 0.6
    n_turns = rng.choices([1, 2, 3, 4], mix["turns"])[0]
    kinds = []
    for i in range(n_turns):
        drawn = {"intent": mix["intent"], "document": mix["document"][0 if memory else 1], "talk": mix["talk"],
                 "photo": mix["photo"], "shape": mix["shape"], "tell": mix["tell"] if i < n_turns - 1 else 0,
                 "followup": mix["followup"] if i else 0}
        kinds.append(rng.choices(list(drawn), list(drawn.values()))[0])
    # the needed tools first (each present with p = 0.85), then distractors up to 0..7 tools
    provisional = [_intent_turn(rng, (), mix.get("intents")) if k == "intent" else None for k in kinds]
    needed = {t.needs for t in provisional if t is not None and t.needs}
    if demo_like:
        tools = list(_DEMO_LIKE)
    else:
        size = rng.choices(range(8), [6, 10, 14, 16, 16, 14, 12, 12])[0]
        tools = [n for n in needed if rng.random() < 0.85]
        pool = [n for n in world.tools if n not in tools]
        builtin = [n for n in pool if n in ("calculator", "current_time", "http_fetch", "read_file", "memory_search",
                                            "memory_write", "generate_image", "speak")]
        while len(tools) < max(size, len(tools)) and pool:
            pick = rng.choice(builtin if builtin and rng.random() < 0.55 else pool)
            pool.remove(pick)
            if pick in builtin:
                builtin.remove(pick)
            tools.append(pick)
        rng.shuffle(tools)
    turns: list[Turn] = []
    for kind, draft in zip(kinds, provisional):
        if kind == "intent":
            assert draft is not None
            draft.policy = draft.ask.policy(tools)
            turns.append(draft)
        elif kind == "document":
            turns.append(doc_turn(world, rng, tools, memory, answerable))
        elif kind == "talk":
            turns.append(talk_turn(rng, replay))
        elif kind == "photo":
            turns.append(photo_turn(world, rng, verdict))
        elif kind == "shape":
            turns.append(shape_turn(rng, verdict, shades))
        elif kind == "tell":
            turns.append(tell_turn(rng))
        else:
            turn = followup_turn(rng, turns, tools)
            turns.append(turn if turn is not None else talk_turn(rng, replay))
    return ThreadPlan(tools, memory, turns)


def record_threads(world: Any, plans: Sequence[ThreadPlan], *, seed: int = 0,
                   progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Run ``plans`` through the assistant graph around the oracle; one record per model call."""
    from genaisys.core.perception import looks_like_shapes
    from genaisys.graphs import build_assistant_graph, run_turn
    from genaisys.graphs.media import ByContent

    oracle = OracleCore.for_world("assistant", world)
    records: list[dict[str, Any]] = []
    for i, thread in enumerate(plans):
        first = len(oracle.calls)
        graph = build_assistant_graph(oracle, tools=world.toolset(thread.tools),
                                      memory=world.memory if thread.memory else None, blobs=world.blobs,
                                      checkpointer=":memory:", textualizers={"image": world.textualizer},
                                      policy=ByContent(looks_like_shapes))
        for j, turn in enumerate(thread.turns):
            if turn.before:
                turn.before()
            oracle.policy = turn.policy
            oracle.meta = {"kind": turn.kind, "turn": j, "tools": len(thread.tools), "memory": thread.memory}
            run_turn(graph, turn.content, thread_id=f"thread-{seed}-{i}")
        for k, (recorded, train_on) in enumerate(merge_calls(oracle.calls[first:])):
            records.append(recorded.to_record(f"assistant-{seed}-{i}-{k}", blobs=world.blobs, train_on=train_on))
        if progress:
            progress(i + 1)
    return records


def record_assistant(world: Any, n_threads: int, *, replay: dict[str, str], seed: int = 0,
                     weights: dict[str, Any] | None = None, verdict: str = "first", shades: str = "pure",
                     answerable: float = ANSWERABLE,
                     progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Plan ``n_threads`` threads (`plan_thread` with ``weights``, ``verdict`` and ``shades``) and
    record them (see `record_threads`)."""
    rng = random.Random(seed)
    plans = [plan_thread(world, rng, replay, weights=weights, verdict=verdict, shades=shades, answerable=answerable)
             for _ in range(n_threads)]
    return record_threads(world, plans, seed=seed, progress=progress)
