"""Follow-up turns: later turns of a thread whose right answer needs an earlier answer, an
earlier tool result or something the user said.

`followup_turn` draws one from what the thread has done so far:

- results: repeat a calculator result, the first one or the operand before the last step, or
  chain on it ("multiply that by 4", "double it");
- documents: repeat the value an answer quoted, name the product it was about, or compute with
  its number ("add 1000 to that port", "what is that in hours?": the calculator on the quoted value);
- the clock: another place, the year or weekday it gave, years until a date, whether it is the
  weekend there;
- what the user said: their name, city, pets, favourites, a number ("multiply my number by 3"),
  an earlier question or the numbers in it;
- notes, photos and shapes: what was saved or seen.

Each policy reads the real history (the tool results and answers as the graph rendered them), so
a thread whose earlier turn went another way still gets a right answer, or a plain "I don't have
that".

Example:
    >>> quantity("14 days"), quantity("60 requests per minute"), quantity("2.4.1")
    ((14, 'days'), (60, 'requests per minute'), None)
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.messages import AIMessage, ToolMessage

from genaisys.train.engine.phrasing import expand
from genaisys.train.engine.programs import content, intents
from genaisys.train.engine.programs.oracle import View, call, plan
from genaisys.train.engine.programs.turns import Turn

__all__ = ["followup_turn", "quantity"]

_ORDINALS = ("first", "second", "third")


# ------------------------------------------------------------------------------------- helpers
def _tool_results(view: View, name: str) -> list[tuple[dict[str, Any], str]]:
    """Every call to ``name`` in the history before this turn, with its result text, in order."""
    calls: dict[str, dict[str, Any]] = {}
    found = []
    for m in view.history:
        if isinstance(m, AIMessage):
            for c in m.tool_calls:
                calls[c["id"]] = c
        elif isinstance(m, ToolMessage) and m.tool_call_id in calls and calls[m.tool_call_id]["name"] == name:
            found.append((calls[m.tool_call_id]["args"], m.text.strip()))
    return found


def _tool_result(view: View, name: str) -> tuple[dict[str, Any], str] | None:
    """The latest call to ``name`` in the history before this turn, and its result text."""
    found = _tool_results(view, name)
    return found[-1] if found else None


def _said(view: View, text: str) -> bool:
    """Whether an earlier answer of the assistant (not a tool call) contains ``text``."""
    want = text.lower()
    return any(isinstance(m, AIMessage) and not m.tool_calls and want in m.text.lower() for m in view.history)


_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                 "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "eighteen": 18, "twenty": 20, "thirty": 30,
                 "forty": 40, "forty-five": 45, "fifty": 50, "sixty": 60, "ninety": 90}
_QUANTITY = re.compile(r"(\d[\d,]*(?:\.\d+)?|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
                       + r")(?:\s+([A-Za-z][A-Za-z ]*))?", re.I)


def quantity(value: str) -> tuple[int | float, str] | None:
    """A fact's value read as a number and its unit (``None`` unless that is all it is):
    ``"1,000 requests per hour"`` -> ``(1000, "requests per hour")``, ``"7420"`` -> ``(7420, "")``."""
    m = _QUANTITY.fullmatch(value.strip())
    if not m:
        return None
    word = m.group(1).lower()
    number = _NUMBER_WORDS.get(word)
    if number is None:
        f = float(word.replace(",", ""))
        number = int(f) if f.is_integer() else f
    return number, (m.group(2) or "").strip()


# unit → what it converts to: (unit, operator, factor); "/" only where it divides evenly
_CONVERSIONS: dict[str, tuple[tuple[str, str, int], ...]] = {
    "years": (("months", "*", 12),), "year": (("months", "*", 12),), "months": (("years", "/", 12),),
    "weeks": (("days", "*", 7),), "days": (("hours", "*", 24), ("weeks", "/", 7)),
    "hours": (("minutes", "*", 60),), "minutes": (("seconds", "*", 60), ("hours", "/", 60)),
    "seconds": (("milliseconds", "*", 1000),), "MB": (("KB", "*", 1024),), "GB": (("MB", "*", 1024),),
    "litres": (("millilitres", "*", 1000),), "kilograms": (("grams", "*", 1000),),
    "requests per second": (("requests per minute", "*", 60),),
    "requests per minute": (("requests per hour", "*", 60),),
    "requests per hour": (("requests per day", "*", 24),), "requests per day": (("requests per week", "*", 7),),
}
_CONVERT_ASK = ("What is that in {u}?", "Convert that to {u}[, please|].", "So that's how many {u}?", "And in {u}?",
                "How many {u} would that be?", "[Can you |Could you |]turn that into {u}?", "Express that in {u}.",
                "What does that make in {u}?", "[And |]how much is that in {u}?")
_RATE_ASK = ("What does that come to per {per}?", "And per {per}?", "Convert that to a per-{per} [limit|rate].",
             "So how many [requests|calls] [would that be|can I make] in [an|a|one] {per}?",
             "What's the [limit|rate] per {per} then?")
_MATH_ASK = (("+", ("Add {n} to that[ number|].", "What do I get if I add {n} to it?", "And that plus {n}?",
                    "Increase it by {n}.")),
             ("-", ("Subtract {n} from it.", "Take {n} off that[ number|].", "And minus {n}?")),
             ("*2", ("Double it.", "What's twice that?", "What would double that be?", "Twice that is what?")),
             ("*3", ("Triple that[ number|].", "What is three times that?", "If it were three times as much, what "
                     "would it be?", "Make that three times bigger.")),
             ("*", ("Multiply it by {n}.", "What's that times {n}?", "And {n} times that?")),
             ("/2", ("Halve it.", "What's half of that?", "Half of that is what?")))
# fact key → what the user calls the value when they ask for it again
_NOUNS = {"port": "port", "config": "config file", "upload": "upload limit", "timeout": "timeout",
          "version": "version", "license": "license", "install": "install command", "env": "variable",
          "retention": "retention period", "rate": "rate limit", "platforms": "platforms", "requirement": "requirement",
          "cache": "cache folder", "leave": "number of leave days", "hotel": "hotel limit", "charge": "charging time",
          "runtime": "battery life", "warranty": "guarantee", "capacity": "capacity"}
_WEEKEND = ("Saturday", "Sunday")


def _math(op: str, n: int) -> tuple[str, str]:
    """The operator and operand of a ``_MATH_ASK`` entry: ``"*2"`` doubles, ``"+"`` adds ``n``."""
    return (op[0], op[1:]) if len(op) > 1 else (op, str(n))


def _doc_followups(rng: random.Random, doc: Turn, tools: Sequence[str]) -> list[tuple[float, Callable[[], Turn]]]:
    """Follow-ups on a document answer: its subject, its value, and sums with its number."""
    subject, key, value = doc.facts.get("subject"), doc.facts.get("key"), doc.facts.get("value")
    options: list[tuple[float, Callable[[], Turn]]] = []
    if subject:
        def recall_subject() -> Turn:
            question = expand(rng.choice([
                "Remind me which [product|tool|program] that was about.", "Which [product|project|tool] did that "
                "answer come from?", "What was the name of the [product|project|tool] we were just discussing?",
                "Whose [documentation|docs|manual] was that?", "What [product|thing] was my last question about?",
                "[Sorry, |]which one was that about again?"]), rng)
            return Turn("recall_subject", question, plan(expand(rng.choice([
                "That was about {s}.", "We were discussing {s}.", "It was about {s}.", "Your question was about {s}."]),
                rng, s=subject)))
        options.append((1.0, recall_subject))
    if value is None:
        return options
    noun = _NOUNS.get(key.split(":")[0] if key else "")

    def said_or(view: View, then: Callable[[], Any]) -> Any:
        if _said(view, value):
            return then()
        return rng.choice(["I didn't find that value earlier, so I can't work with it.",
                           "I never found that in the documents, so I have nothing to go on."])
    if noun:
        def recall_value() -> Turn:
            question = expand(rng.choice([
                "What was the {n} you [mentioned|found|gave me]?", "Remind me of the {n}[ again|].",
                "Say the {n} again[, please|].", "Sorry, which {n} was it?"]), rng, n=noun)
            answer = expand(rng.choice(["It was {v}.", "The {n} is {v}.", "I said {v}."]), rng, v=value, n=noun)
            return Turn("recall_value", question, lambda view: said_or(view, lambda: answer))
        options.append((0.8, recall_value))
    amount = quantity(value)
    if amount is None or "calculator" not in tools:
        return options
    number, unit = amount

    def compute(question: str, expression: str, say: Callable[[View], str]) -> Turn:
        def first(view: View) -> AIMessage | str:
            return said_or(view, lambda: call("calculator", {"expression": expression}))

        def then(view: View) -> str:
            return say(view) if view.results else first(view)
        return Turn("chain", question, plan(first, then), needs="calculator",
                    facts={"expression": expression, "on_value": True})

    def doc_math() -> Turn:
        op, words = rng.choice(_MATH_ASK)
        n = rng.choice([2, 3, 4, 5, 10, 100, 1000] if op in "+-" else [2, 3, 4, 5, 6, 12])
        sign, operand = _math(op, n)
        expression = f"{number} {sign} {operand}"
        return compute(expand(rng.choice(words), rng, n=n), expression, intents._say_result(expression, rng))
    options.append((1.2, doc_math))
    targets = [t for t in _CONVERSIONS.get(unit, ()) if t[1] == "*" or number % t[2] == 0]
    if targets:
        def convert() -> Turn:
            target, sign, factor = rng.choice(targets)
            expression = f"{number} {sign} {factor}"
            if target.startswith("requests per "):
                question = expand(rng.choice(_RATE_ASK), rng, per=target.rsplit(" ", 1)[1])
            else:
                question = expand(rng.choice(_CONVERT_ASK), rng, u=target)

            def say(view: View) -> str:
                got = intents.result_text(view)
                return expand(rng.choice(["{a} {u} is {v} {t}.", "That's {v} {t} ({e}).", "It comes to {v} {t}."]),
                              rng, capitalize=False, a=number, u=unit, v=got, t=target, e=expression)
            return compute(question, expression, say)
        options.append((1.5, convert))
    return options


def _clock_followups(rng: random.Random, tools: Sequence[str]) -> list[tuple[float, Callable[[], Turn]]]:
    """Follow-ups on a clock reading: its year and weekday, sums with the year, the weekend."""
    def reading(view: View) -> tuple[str, str] | None:
        got = _tool_result(view, "current_time")
        m = re.match(r"(\d{4})-", got[1]) if got else None
        day = re.search(r"\((\w+day)", got[1]) if got else None
        return (m.group(1), day.group(1) if day else "") if m else None

    def recall_year() -> Turn:
        question = expand(rng.choice(["Remind me what year you [said|got].", "So what year is it, by that clock?",
                                      "Which year did the clock [give|show]?"]), rng)

        def answer(view: View) -> str:
            got = reading(view)
            return f"It is {got[0]}." if got else "I don't have a clock reading to go on."
        return Turn("recall_clock", question, plan(answer))

    def weekend() -> Turn:
        ask_weekend = rng.random() < 0.5
        question = expand(rng.choice(["So is it the weekend there?", "Is it a weekend [there|then]?",
                                      "Does that fall on a weekend?"] if ask_weekend else
                                     ["Would that be a working day?", "Is that a weekday?",
                                      "So is it a workday there?"]), rng)

        def answer(view: View) -> str:
            got = reading(view)
            if not got or not got[1]:
                return "I don't have a clock reading to go on."
            day = got[1]
            yes = (day in _WEEKEND) == ask_weekend
            kind = "the weekend" if day in _WEEKEND else "a weekday"
            return f"{'Yes' if yes else 'No'}: it is {day}, which is {kind}."
        return Turn("recall_clock", question, plan(answer))

    options: list[tuple[float, Callable[[], Turn]]] = [(0.5, recall_year), (0.8, weekend)]
    if "calculator" in tools:
        def year_math() -> Turn:
            until = rng.random() < 0.6
            other = rng.randint(2030, 2150) if until else rng.randint(1940, 2015)
            question = expand(rng.choice([
                "How many years [are there |]from [this year|the current year] to {y}?",
                "How long until the year {y}, in years?", "Count the years between now and {y}."] if until else [
                "How old is someone born in {y} this year?", "How many years ago was {y}?",
                "If I was born in {y}, how old do I turn this year?"]), rng, y=other)

            def first(view: View) -> AIMessage | str:
                got = reading(view)
                if not got:
                    return "I don't have a clock reading to go on."
                return call("calculator", {"expression": f"{other} - {got[0]}" if until else f"{got[0]} - {other}"})

            def then(view: View) -> str:
                expression = view.turn[0].tool_calls[0]["args"]["expression"] if view.turn else "?"
                return expand(rng.choice(["{e} = {v}, so {v} years.", "That's {v} years ({e}).", "{v} years."]), rng,
                              capitalize=False, e=expression, v=intents.result_text(view))
            return Turn("chain", question, plan(first, then), needs="calculator")
        options.append((1.0, year_math))
    return options


def _arithmetic_followups(rng: random.Random, calcs: Sequence[Turn]) -> list[tuple[float, Callable[[], Turn]]]:
    """Follow-ups on calculations: the numbers asked about, the first result, the value before."""
    options: list[tuple[float, Callable[[], Turn]]] = []
    asked = [t for t in calcs if t.kind == "arithmetic"]
    if asked:
        expression = asked[-1].facts["expression"]
        m = re.fullmatch(r"([\d.]+) / 100 \* ([\d.]+)", expression)

        def operands() -> Turn:
            if m:
                question = expand(rng.choice(["Which percent did I want worked out?", "What was the percentage in my "
                                              "question?", "What percent of {x} was it?"]), rng, x=m.group(2))
                return Turn("recall_operands", question, plan(f"You asked for {m.group(1)}% of {m.group(2)}."))
            question = expand(rng.choice(["Which numbers did I give you [for|in] the {w}?",
                                          "What [figures|numbers] were in my {w}?",
                                          "What did I ask you to [calculate|compute]?"]), rng, w=_opword(expression))
            return Turn("recall_operands", question, plan(f"You asked me to compute {expression}."))
        options.append((0.6, operands))
    if len(calcs) >= 2:
        def first_result() -> Turn:
            question = expand(rng.choice(["What was the [very |]first result you [got|calculated]?",
                                          "Go back to the first calculation: what did it give?",
                                          "What number did we start with?"]), rng)

            def answer(view: View) -> str:
                found = _tool_results(view, "calculator")
                return (f"The first result was {found[0][1]} ({found[0][0]['expression']})." if found
                        else "I haven't calculated anything yet.")
            return Turn("recall_result", question, plan(answer))
        options.append((0.6, first_result))

    def before_last() -> Turn:
        question = expand(rng.choice(["What was the number before [the last step|that step]?",
                                      "And what did we have before that calculation?",
                                      "What was it before you [changed|worked on] it?"]), rng)

        def answer(view: View) -> str:
            got = _tool_result(view, "calculator")
            m = re.match(r"\s*(-?[\d.]+)", got[0].get("expression", "")) if got else None
            return f"Before that step it was {m.group(1)}." if m else "I don't have an earlier number."
        return Turn("recall_result", question, plan(answer))
    if calcs[-1].facts.get("on_value"):  # the last step worked on one earlier value: that value comes first
        options.append((0.4, before_last))
    return options


def _told_followup(rng: random.Random, told: Turn, tools: Sequence[str]) -> Turn:
    """A question about what the user said earlier in the thread, answered from the conversation."""
    f = told.facts
    if f["tell"] == "name":
        if rng.random() < 0.5:
            q = expand(rng.choice(["What's my name again?", "Do you remember my name?", "What did I say my name was?"]),
                       rng)
            return Turn("recall_told", q, plan(f"Your name is {f['name']}."))
        q = expand(rng.choice(["Which city do I live in?", "Where did I say I live?", "What city am I from?"]), rng)
        return Turn("recall_told", q, plan(f"You live in {f['city']}."))
    if f["tell"] == "pets":
        names = f["pets"]
        if rng.random() < 0.4:
            q = expand(rng.choice(["How many {p} do I have?", "How many {p} did I tell you about?"]), rng, p=f["plural"])
            return Turn("recall_told", q, plan(f"You have {f['count']} {f['plural']}: {', '.join(names)}."))
        i = rng.randrange(len(names))
        q = expand(rng.choice(["What is the name of the {o} one?", "What's the {o} {p} called?",
                               "Which name did I give {o}?"]), rng, o=_ORDINALS[i], p=f["plural"].rstrip("s"))
        return Turn("recall_told", q, plan(f"The {_ORDINALS[i]} one is {names[i]}."))
    if f["tell"] == "favourite":
        q = expand(rng.choice(["What is my favourite {t}?", "Do you remember my favourite {t}?"]), rng, t=f["thing"])
        return Turn("recall_told", q, plan(f"Your favourite {f['thing']} is {f['value']}."))
    if "calculator" in tools and rng.random() < 0.5:
        n = rng.choice([2, 3, 4, 10, 12])
        q = expand(rng.choice(["Multiply my {w} by {n}.", "What is my {w} times {n}?", "Add {n} to my {w}.",
                               "[Multiply|Times] the {w} I [mentioned|told you|noted] by {n}.",
                               "Add {n} to the {w} I [mentioned|told you about]."]), rng, w=f["what"], n=n)
        expression = f"{f['number']} + {n}" if q.startswith("Add") else f"{f['number']} * {n}"
        return Turn("chain", q, plan(call("calculator", {"expression": expression}),
                                     lambda v: intents._say_result(expression, rng)(v)), needs="calculator",
                    facts={"on_value": True})
    q = expand(rng.choice(["What is my {w}?", "What did I say my {w} was?", "Which {w} did I [mention|tell you about]?"]),
               rng, w=f["what"])
    return Turn("recall_told", q, plan(f"Your {f['what']} is {f['number']}."))



_OPWORDS = (("sqrt(", "square root"), (" ** ", "power"), ("/ 100 *", "percentage"), (" * ", "multiplication"),
            (" / ", "division"), (" + ", "addition"), (" - ", "subtraction"))


def _opword(expression: str) -> str:
    for mark, word in _OPWORDS:
        if mark in expression:
            return word
    return "calculation"


def followup_turn(rng: random.Random, earlier: Sequence[Turn], tools: Sequence[str]) -> Turn | None:
    """A follow-up on something an earlier turn of the thread did (``None`` if nothing fits)."""
    options: list[tuple[float, Callable[[], Turn]]] = []
    calcs = [t for t in earlier if t.kind in ("arithmetic", "chain") and t.needs == "calculator" and t.needs in tools]
    if calcs:
        options += _arithmetic_followups(rng, calcs)
        expression = calcs[-1].facts.get("expression") or "that"
        word = _opword(expression)

        def recall_result() -> Turn:
            question = expand(rng.choice([
                "What was the result of that {w} from before?", "What did the {w} come to?",
                "Remind me, what was the answer to the {w}?", "What number did you get for the {w}[ earlier|]?",
                "What was the result of {e} again?", "Can you repeat the result of my [calculation|math question]?",
                "What was that number again?", "Sorry, what was the answer to {e}?",
                "What was the [outcome|answer|result] of [that|the|my] {w}[ earlier| before|]?",
                "[Tell me|Say] again what the {w} [gave|came to].", "How much did the {w} come to?",
                "What did you get when you did the {w}[ for me|]?", "Which number did the {w} give[ me|]?",
                "[Quick question: |Wait, |]what was the {w}'s result?"]), rng, w=word, e=expression)

            def policy(view: View) -> str:
                got = _tool_result(view, "calculator")
                value = got[1] if got else "(no result)"
                return expand(rng.choice(["It was {v}.", "The result was {v}.", "{e} = {v}.", "You got {v}: {e} = {v}.",
                                          "The answer was {v}."]), rng, capitalize=False, v=value, e=(got[0]["expression"] if got else expression))
            return Turn("recall_result", question, policy)

        def chain() -> Turn:
            n = rng.choice([2, 3, 4, 5, 10, 12, 100, 7])
            op, words = rng.choice([("*", ("Multiply that by {n}.", "Now times {n}?", "And that times {n}?",
                                           "What's that multiplied by {n}?", "Multiply the [last |]result by {n}.")),
                                    ("/", ("Divide that by {n}.", "And divided by {n}?", "Now split that into {n}.",
                                           "What is that divided by {n}?", "Divide the [previous|latest] answer by {n}.")),
                                    ("+", ("Add {n} to that.", "Plus {n}?", "And if I add {n}?",
                                           "Add {n} to the [result|answer][ you got|].")),
                                    ("-", ("Subtract {n} from that.", "Minus {n}?", "Take {n} away from that.",
                                           "Take the [result|answer] and subtract {n}.")),
                                    ("*2", ("Double that[ result|].", "Twice that?", "What's double the answer?")),
                                    ("*3", ("Triple that.", "Three times that?", "And tripled?")),
                                    ("/2", ("Halve that.", "Half of that?", "And half of the result?"))])
            question = expand(rng.choice(words), rng, n=n)
            op, n = _math(op, n)

            def first(view: View) -> AIMessage:
                got = _tool_result(view, "calculator")
                value = got[1] if got else "0"
                return call("calculator", {"expression": f"{value} {op} {n}"})

            def then(view: View) -> str:
                expression = view.turn[0].tool_calls[0]["args"]["expression"] if view.turn else "?"
                return intents._say_result(expression, rng)(view)
            return Turn("chain", question, plan(first, then), needs="calculator", facts={"on_value": True})

        options += [(2.0, recall_result), (1.5, chain)]
    clocks = [t for t in earlier if t.kind == "clock" and t.needs in tools]
    if clocks:
        def other_place() -> Turn:
            place, tz = rng.choice(content.PLACES)
            question = expand(rng.choice(["And in {p}?", "What about {p}?", "How about {p}?", "And what time is it in {p}?"]),
                              rng, p=place)
            return Turn("switch", question, plan(call("current_time", {"timezone": tz}), intents._say_time(place, rng)),
                        needs="current_time")
        options.append((1.0, other_place))
    weathers = [t for t in earlier if t.kind == "weather" and t.needs in tools]
    if weathers:
        def other_city() -> Turn:
            city = rng.choice(content.PLACES)[0]
            question = expand(rng.choice(["What about {c}?", "And in {c}?", "How's the weather in {c} then?"]), rng, c=city)
            return Turn("switch", question, plan(call("get_weather", {"city": city}),
                                                 lambda v: intents.result_text(v)), needs="get_weather")
        options.append((1.0, other_city))
    notes = [t for t in earlier if t.kind == "remember" and t.needs in tools]
    if notes:
        note = notes[-1].facts["note"]

        def recall_note() -> Turn:
            question = expand(rng.choice(["What did I ask you to remember?", "What was the note I gave you?",
                                          "Remind me what I told you to save."]), rng)
            return Turn("recall_note", question, plan(f"You asked me to remember that {intents._second_person(note)}."))
        options.append((1.0, recall_note))
    media = [t for t in earlier if t.kind in ("photo", "shape")]
    if media:
        said = media[-1].facts["answer"]

        def recall_media() -> Turn:
            question = expand(rng.choice(["What was in the [picture|image|photo] I sent[ earlier|]?",
                                          "Remind me what the [image|picture|photo] showed.",
                                          "What did you say about my [photo|picture|image]?",
                                          "[And |]what did the [earlier |last |]picture show again?",
                                          "Sorry, what did you see in that [image|photo]?",
                                          "Can you repeat what was in the [photo|picture]?"]), rng)
            return Turn("recall_media", question, plan(f"I said: {said}"))
        options.append((1.0, recall_media))
    asked = [t for t in earlier if isinstance(t.content, str) and t.kind != "tell"]
    if asked:
        def recall_question() -> Turn:
            pick = rng.choice(["first", "last"])
            target = asked[0] if pick == "first" else asked[-1]
            start = "at the start" if pick == "first" else "last"
            question = expand(rng.choice([f"What did I ask {start}?", f"What was my {pick} question?",
                                          f"Remind me what I asked {'at the start' if pick == 'first' else 'just now'}.",
                                          f"Can you repeat my {pick} question[, please|]?",
                                          f"What was the {pick} thing I asked[ you|]?",
                                          f"[Wait, |Sorry, |]what did I say {'first' if pick == 'first' else 'a moment ago'}?"]),
                              rng)
            return Turn("recall_question", question, plan(f"You asked: \"{target.content}\""))
        options.append((0.3, recall_question))
    told = [t for t in earlier if t.kind == "tell"]
    if told:
        options.append((2.5, lambda: _told_followup(rng, rng.choice(told), tools)))
    docs = [t for t in earlier if t.kind == "document" and t.facts.get("fact")]
    if docs:
        fact, subject = docs[-1].facts["fact"], docs[-1].facts.get("subject") or "that"

        def recall_doc() -> Turn:
            question = expand(rng.choice(["What did you say about that earlier?", "Can you repeat what you found?",
                                          "Sorry, what was that again?", "What did the documentation say about {s}?",
                                          "Remind me what you found about {s}.", "[And |]what was the answer about {s}?",
                                          "Repeat what you told me about {s}[, please|]."]), rng, s=subject)
            return Turn("recall_doc", question, plan(f"I said: {fact}"))
        options.append((1.0, recall_doc))
    if clocks:
        options += _clock_followups(rng, tools)
    docs = [t for t in earlier if t.kind == "document"]
    if docs:
        options += _doc_followups(rng, docs[-1], tools)
    if not options:
        return None
    return rng.choices([fn for _, fn in options], [w for w, _ in options])[0]()
