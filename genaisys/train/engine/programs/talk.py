"""Requests that need no tool, answered the way the base language model answers them (replay).

Fine-tuning a 135M model on tool use and documents can erase what it knew. So the requests
that need no tool — small talk, general knowledge, definitions, writing, advice — are answered
with the *base* model's own greedy answer to the plain request (self-distillation): inside a
graph, with tools bound and context recalled, the core learns to answer them exactly as it
would have alone. `talk_prompts` composes the requests; `base_answers` asks the base model
(batched, cached in a JSON file so a rerun does not ask again) and keeps the answers that end
properly.

Example:
    >>> import random
    >>> prompts = talk_prompts(random.Random(0), 5)
    >>> len(prompts), len(set(prompts))
    (5, 5)
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from genaisys.train.engine.phrasing import expand

__all__ = ["base_answers", "fact_prompts", "talk_prompts"]

_CONCEPTS = ("photosynthesis", "gravity", "inflation", "democracy", "a black hole", "DNA", "an atom", "a volcano",
             "the water cycle", "evolution", "a vaccine", "climate change", "an ecosystem", "a rainbow",
             "electricity", "a recession", "machine learning", "the internet", "a noun", "a metaphor",
             "a prime number", "an algorithm", "the immune system", "a galaxy", "an earthquake", "friction",
             "a haiku", "the Renaissance", "a comet", "a battery", "a cloud", "a mammal", "oxygen", "a virus",
             "a verb", "an adjective", "the moon", "the sun", "a tsunami", "a glacier", "compound interest")
_TASKS = ("boil an egg", "tie a tie", "make a cup of tea", "fall asleep faster", "learn a new language",
          "save money", "stay focused while studying", "write a good email", "prepare for a job interview",
          "start running", "keep houseplants alive", "make friends in a new city", "reduce stress",
          "organise my desk", "cook rice", "remember names", "get better at chess", "write a short story")
_TOPICS = ("the ocean", "autumn leaves", "a rainy day", "friendship", "the city at night", "coffee", "mountains",
           "a lazy cat", "spring", "the stars", "homework", "a train journey", "winter mornings", "the sea")
_ANIMALS = ("octopuses", "elephants", "penguins", "owls", "dolphins", "ants", "giraffes", "bees", "sharks",
            "cats", "dogs", "koalas", "crows", "turtles", "whales", "hummingbirds")
_PATTERNS: tuple[tuple[str, dict[str, Sequence[str]]], ...] = (
    ("What is {c}?", {"c": _CONCEPTS}), ("[Explain|Describe] {c} [in simple words|briefly|to a child].", {"c": _CONCEPTS}),
    ("How do I {t}?", {"t": _TASKS}), ("Give me [a tip|some advice|three tips] [on how|for how] to {t}.", {"t": _TASKS}),
    ("Write a [haiku|short poem|limerick] about {p}.", {"p": _TOPICS}), ("Tell me a fun fact about {a}.", {"a": _ANIMALS}),
    ("Why are {a} [interesting|special]?", {"a": _ANIMALS}), ("Write one sentence about {p}.", {"p": _TOPICS}),
    ("Can you suggest a name for a {k}?", {"k": ("pet goldfish", "bakery", "book club", "robot", "band", "boat")}),
    ("What is the difference between {x}?", {"x": ("weather and climate", "a virus and bacteria", "speed and velocity",
                                                   "a lake and a pond", "an ape and a monkey", "baking and roasting")}),
)
_SMALL_TALK = ("Hi!", "Hello there.", "Good morning!", "How are you today?", "Thanks, that helps.", "Thank you!",
               "Who are you?", "What can you do?", "Tell me a joke.", "I'm bored. Any ideas?", "Good night!",
               "Can you help me?", "That's great, thanks.", "What's your name?", "Nice to meet you.",
               "I had a long day.", "Do you like music?", "Say something nice.", "Bye!", "Are you a robot?")


_COUNTRIES = ("Portugal", "Norway", "Kenya", "Argentina", "Egypt", "Poland", "Thailand", "Greece", "Chile",
              "Ireland", "Peru", "Sweden", "Vietnam", "Morocco", "Austria", "Hungary", "Finland", "Cuba", "Nigeria",
              "Denmark", "Turkey", "Belgium", "Colombia", "Indonesia", "Switzerland", "New Zealand", "Mexico")
_FACT_PATTERNS: tuple[tuple[str, dict[str, Sequence[str]]], ...] = (
    ("What is the capital [city |]of {c}?", {"c": _COUNTRIES}),
    ("Which language is [mostly|mainly|usually] spoken in {c}?", {"c": _COUNTRIES}),
    ("On which continent is {c}?", {"c": _COUNTRIES}),
    ("How many {u} are [there |]in [a|one] {w}?", {"u": ("hours", "minutes", "seconds", "months", "weeks"),
                                                   "w": ("day", "hour", "year", "minute")}),
    ("How many legs does {a} have?", {"a": ("an ant", "a dog", "a bird", "an octopus", "a horse", "a beetle",
                                            "a chicken", "a crab", "a snake", "a kangaroo")}),
    ("What colour is {f}[ usually|]?", {"f": ("a banana", "a lime", "a tomato", "a carrot", "a plum", "a snowflake",
                                              "a blueberry", "a cucumber", "a lemon", "a strawberry")}),
    ("What is the opposite of '{w}'?", {"w": ("big", "fast", "early", "happy", "light", "open", "full", "old",
                                              "wet", "loud", "up", "soft")}),
    ("What is the plural of '{w}'?", {"w": ("mouse", "child", "goose", "tooth", "leaf", "box", "foot", "city")}),
    ("What do you call a baby {a}?", {"a": ("cat", "dog", "cow", "horse", "sheep", "goat", "bear", "duck")}),
    ("What sound does a {a} make?", {"a": ("cow", "dog", "cat", "duck", "sheep", "owl", "lion", "frog")}),
    ("Who [wrote|is the author of] '{b}'?", {"b": ("Hamlet", "Pride and Prejudice", "1984", "Don Quixote",
                                                   "The Odyssey", "Oliver Twist", "War and Peace", "Macbeth")}),
    ("Which planet is [closest to|farthest from] the sun?", {}),
    ("What is the [largest|biggest] {x} [on Earth|in the world]?", {"x": ("ocean", "desert", "continent", "animal",
                                                                          "country")}),
    ("What is the chemical symbol for {e}?", {"e": ("gold", "iron", "oxygen", "sodium", "carbon", "silver",
                                                    "helium")}),
    ("What do [cows|caterpillars|pandas|koalas] eat?", {}),
    ("In which [season|month] does {h} [take place|fall][ in the northern hemisphere|]?",
     {"h": ("Christmas", "Halloween", "New Year's Day")}),
)


def fact_prompts(rng: random.Random, n: int, *, excluded: Sequence[str] = ()) -> list[str]:
    """``n`` distinct short general-knowledge questions (for replay: the base model's short
    factual answers are what fine-tuning tends to erase); ``excluded`` questions are never made.

    Example:
        >>> len(fact_prompts(random.Random(0), 5))
        5
    """
    import re

    def normalize(text: str) -> str:
        return " ".join(re.sub(r"[^a-z0-9 ]+", " ", text.lower()).split())

    banned = {normalize(e) for e in excluded}
    out: list[str] = []
    for _ in range(n * 30):
        if len(out) >= n:
            break
        pattern, slots = rng.choice(_FACT_PATTERNS)
        text = expand(pattern, rng, **{k: rng.choice(v) for k, v in slots.items()})
        if text not in out and normalize(text) not in banned:
            out.append(text)
    return out


def talk_prompts(rng: random.Random, n: int) -> list[str]:
    """``n`` distinct requests that need no tool (small talk and composed general questions)."""
    out: list[str] = []
    pool = list(_SMALL_TALK)
    rng.shuffle(pool)
    for _ in range(n * 20):
        if len(out) >= n:
            break
        if pool and rng.random() < 0.15:
            text = pool.pop()
        else:
            pattern, slots = rng.choice(_PATTERNS)
            text = expand(pattern, rng, **{k: rng.choice(v) for k, v in slots.items()})
        if text not in out:
            out.append(text)
    return out


def base_answers(prompts: Sequence[str], cache: str | Path, *, excluded: Sequence[str] = (), batch_size: int = 8,
                 max_new_tokens: int = 120, progress: Callable[[str], Any] | None = None) -> dict[str, str]:
    """The base SmolLM2's greedy answer to each prompt (asked alone, default system prompt),
    cached in ``cache``; an answer cut by the token limit keeps its finished sentences.

    Raises:
        ValueError: a prompt is in ``excluded`` (evaluation questions never become training data).
    """
    banned = {e.strip().lower() for e in excluded}
    leaked = [p for p in prompts if p.strip().lower() in banned]
    if leaked:
        raise ValueError(f"evaluation questions in the replay prompts: {leaked[:3]}")
    path = Path(cache)
    known: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    todo = [p for p in prompts if p not in known]
    if todo:
        from langchain_core.messages import HumanMessage

        from genaisys.core.loading import load_core

        base = load_core("asset:smollm2", max_new_tokens=max_new_tokens)
        for i in range(0, len(todo), batch_size):
            chunk = todo[i:i + batch_size]
            for prompt, reply in zip(chunk, base.batch([[HumanMessage(p)] for p in chunk]), strict=True):
                ended = reply.response_metadata.get("finish_reason") == "stop"
                known[prompt] = {"answer": reply.text.strip(), "ended": ended}
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(known, indent=1, ensure_ascii=False))
            if progress:
                progress(f"replay answers: {min(i + batch_size, len(todo))}/{len(todo)}")
    out = {}
    for p in prompts:
        answer = known[p]["answer"] if known[p]["ended"] else _whole_sentences(known[p]["answer"])
        if answer:
            out[p] = answer
    return out


def _whole_sentences(text: str) -> str:
    """An answer cut by the token limit, up to its last finished sentence ('' if none is long enough)."""
    import re

    ends = [m.end() for m in re.finditer(r"[.!?](?=\s|$)", text)]
    cut = text[:ends[-1]].strip() if ends else ""
    return cut if len(cut) >= 40 else ""
