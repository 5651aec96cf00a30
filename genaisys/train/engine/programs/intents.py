"""What users ask a tool-using assistant, phrased many ways, with what a good CPU does about it.

Each intent generator returns an `Ask`: the user's words (composed by
`genaisys.train.engine.phrasing` from patterns with alternatives), the tool the request needs
(or none), and two policies for the oracle — one for when that tool is bound, one for when it is
not (answer without it, or say plainly that it cannot be done here). A policy answers from what
the graph actually returned: the calculator's real result, the clock's real time, the file's
real content.

Example:
    >>> import random
    >>> ask = arithmetic(random.Random(0))
    >>> ask.tool, ask.text[:0]
    ('calculator', '')
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, ToolMessage

from genaisys.train.engine.phrasing import expand
from genaisys.train.engine.programs import content
from genaisys.train.engine.programs.oracle import Policy, View, call, plan

__all__ = ["Ask", "INTENTS", "arithmetic", "result_text"]


@dataclass
class Ask:
    """One user request and how the oracle handles it."""

    intent: str
    text: str
    tool: str | None
    with_tool: Policy
    without_tool: Policy
    facts: dict[str, Any] = field(default_factory=dict)

    def policy(self, tool_names: Sequence[str]) -> Policy:
        return self.with_tool if self.tool is None or self.tool in tool_names else self.without_tool


def result_text(view: View) -> str:
    """The text of this turn's latest tool result."""
    results = view.results
    return results[-1].text.strip() if results else ""


def _cannot(what: str, rng: random.Random) -> str:
    return expand(rng.choice([
        "I can't {w} here: none of my tools does that.",
        "Sorry, I don't have a tool to {w}, so I can't do that right now.",
        "I'm not able to {w} with the tools I have.",
        "I can't {w} — no tool for it is available to me.",
    ]), rng, w=what)


def _tool_failed(view: View) -> bool:
    last = view.results[-1] if view.results else None
    return isinstance(last, ToolMessage) and (last.status == "error" or last.text.startswith(("Error", "refused")))


def _after(answer: Callable[[View], str], failure: str = "That didn't work: {error}") -> Callable[[View], str]:
    """An answer step that reports a failed tool instead of inventing a result."""
    def step(view: View) -> str:
        if _tool_failed(view):
            error = result_text(view).split("\n")[0].removeprefix("Error: ")[:200]
            return failure.format(error=error)
        return answer(view)
    return step


# ---------------------------------------------------------------------------------------- arithmetic
def _number(rng: random.Random) -> int | float:
    kind = rng.random()
    if kind < 0.45:
        return rng.randint(11, 9999)
    if kind < 0.7:
        return rng.randint(2, 99)
    if kind < 0.85:
        return rng.randint(10000, 999999)
    return round(rng.uniform(0.5, 999), rng.choice([1, 2]))


_OPS = {  # op → (symbol, spoken forms)
    "+": ("+", ("{a} plus {b}", "{a} + {b}", "the sum of {a} and {b}", "{a} added to {b}", "{a} and {b} added together")),
    "-": ("-", ("{a} minus {b}", "{a} - {b}", "{b} subtracted from {a}", "the difference between {a} and {b}")),
    "*": ("*", ("{a} times {b}", "{a} * {b}", "{a} multiplied by {b}", "the product of {a} and {b}", "{a} x {b}",
                "{a}×{b}")),
    "/": ("/", ("{a} divided by {b}", "{a} / {b}", "{a} over {b}", "the quotient of {a} and {b}")),
}


def _expression(rng: random.Random) -> tuple[str, str]:
    """``(spoken, expression)``: how the user says it and what the calculator is given."""
    kind = rng.random()
    if kind < 0.55:
        op = rng.choice(list(_OPS))
        a, b = _number(rng), _number(rng)
        if op == "/" and b == 0:
            b = 7
        spoken = rng.choice(_OPS[op][1]).format(a=a, b=b)
        return spoken, f"{a} {op} {b}"
    if kind < 0.65:
        n = rng.choice([rng.randint(2, 99) ** 2, rng.randint(100, 99999)])
        return rng.choice(["the square root of {n}", "sqrt({n})", "the square root of {n}", "√{n}"]).format(n=n), \
            f"sqrt({n})"
    if kind < 0.75:
        a, b = rng.randint(2, 12), rng.randint(2, 24)
        return rng.choice(["{a} to the power of {b}", "{a}^{b}", "{a} raised to the {b}th power", "{a}**{b}"]).format(
            a=a, b=b), f"{a} ** {b}"
    if kind < 0.85:
        p, n = rng.choice([5, 10, 12.5, 15, 18, 20, 25, 30, 33, 40, 75]), rng.randint(20, 5000)
        return rng.choice(["{p}% of {n}", "{p} percent of {n}", "what {p}% of {n} is"]).format(p=p, n=n), f"{p} / 100 * {n}"
    a, b, c = _number(rng), _number(rng), rng.randint(2, 40)
    op1, op2 = rng.choice(["+", "-"]), rng.choice(["*", "/"])
    return f"({a} {op1} {b}) {op2} {c}", f"({a} {op1} {b}) {op2} {c}"


_ARITH = (
    "What is {x}?", "What's {x}?", "[Calculate|Compute|Work out|Evaluate] {x}[.| for me.|, please.]",
    "[Can|Could] you [calculate|compute|work out|figure out] {x}?", "How much is {x}?", "{x} = ?",
    "I need {x}[, exactly| worked out|].", "[Quick|Fast] [math|question]: {x}?", "What do you get for {x}?",
    "Please [tell me|give me] {x}.", "[Help me|Let's] [work out|compute] {x}.", "What does {x} come to?",
    "[Do|Run] the [math|numbers|arithmetic] on {x}[ please|].", "I'm trying to figure out {x}. [Can you help?|Any idea?|]",
    "Solve {x}.", "{x}?", "What would {x} be?", "[Hey, |Hi, |]what is {x}[ exactly|]?",
)
_WORD_PROBLEMS = (
    ("I bought {a} boxes with {b} pencils each. How many pencils [is that|do I have]?", "{a} * {b}"),
    ("A trip is {a} km and I've done {b} km. How far [is left|do I still have to go]?", "{a} - {b}"),
    ("We are {b} people splitting a bill of {a} euros. How much does each [person pay|of us owe]?", "{a} / {b}"),
    ("My rent is {a} a month. What [do I pay|is that] over {b} months?", "{a} * {b}"),
    ("I had {a} dollars and spent {b}. How much is left?", "{a} - {b}"),
    ("A train covers {a} km in {b} hours. What is its average speed in km per hour?", "{a} / {b}"),
)


def _say_result(expression: str, rng: random.Random) -> Callable[[View], str]:
    def answer(view: View) -> str:
        value = result_text(view)
        return expand(rng.choice(["{e} = {v}.", "{e} = {v}.", "The result is {v}.", "It comes to {v}.",
                                  "That's {v}.", "{e} equals {v}.", "The answer is {v}."]), rng, capitalize=False, e=expression, v=value)
    return _after(answer, "The calculator could not compute that: {error}")


def arithmetic(rng: random.Random) -> Ask:
    if rng.random() < 0.2:
        pattern, expr = rng.choice(_WORD_PROBLEMS)
        a, b = rng.randint(3, 2000), rng.randint(2, 60)
        text = expand(pattern, rng, a=a, b=b)
        expression = expr.format(a=a, b=b)
    else:
        spoken, expression = _expression(rng)
        text = expand(rng.choice(_ARITH), rng, x=spoken)
    simple = bool(re.fullmatch(r"\d \+ \d|\d \* \d", expression))
    without = (lambda v: f"{expression} = {eval(expression)}.") if simple else (  # noqa: S307 - single digits only
        lambda v, r=rng: expand(r.choice([
            "I don't have a calculator here, so I can't give you an exact value for {e}.",
            "Without a calculator tool I can't compute {e} exactly.",
            "I can't work that out reliably without a calculator; none is available right now."]), r, e=expression))
    return Ask("arithmetic", text, "calculator", plan(call("calculator", {"expression": expression}),
                                                      _say_result(expression, rng)), without,
               {"expression": expression})


# ---------------------------------------------------------------------------------------- clock
_TIME = (
    "What time is it in {p}[ right now| now|]?", "What's the [current |local |]time in {p}?",
    "[Tell me|Give me] the [current |local |]time in {p}.", "Is it [day|night|morning|evening] in {p} [now|right now]?",
    "What's the date [today |right now |]in {p}?", "What day of the week is it in {p}?",
    "[I have a call with|My sister lives in|I'm flying to] {p}[; what| - what|. What] time is it there?",
    "[Check|Look up] the time in {p}[, please|].", "Current time in {p}?", "How late is it in {p}?",
    "Do you know what time it is in {p}?", "[Could|Can] you check the clock for {p}?",
    "What's today's date in {p}?", "Is it still [Monday|Friday|the weekend|today] in {p}?",
)
_TIME_UTC = ("What time is it?", "What's the time [now|right now]?", "What's today's date?", "What day is it today?",
             "Do you know the [time|date]?", "What time is it in UTC?")


def _say_time(place: str, rng: random.Random) -> Callable[[View], str]:
    def answer(view: View) -> str:
        m = re.match(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d)", result_text(view))
        weekday = re.search(r"\((\w+day)", result_text(view))
        if not m:
            return "I couldn't read the clock: " + result_text(view)[:200]
        date, hour = m.groups()
        day = weekday.group(1) if weekday else ""
        where = f" in {place}" if place != "UTC" else " (UTC)"
        return expand(rng.choice(["It's {t} on {d}, {date}{w}.", "In {pl} it is {t} right now ({d}, {date}).",
                                  "The local time{w} is {t}, {d} {date}.", "It is {d}, {date}, {t}{w}."]),
                      rng, t=hour, d=day, date=date, w=where, pl=place)
    return _after(answer, "I couldn't get the time: {error}")


def clock(rng: random.Random) -> Ask:
    if rng.random() < 0.15:
        place, tz = "UTC", "UTC"
        text = expand(rng.choice(_TIME_UTC), rng)
    else:
        place, tz = rng.choice(content.PLACES)
        text = expand(rng.choice(_TIME), rng, p=place)
    return Ask("clock", text, "current_time", plan(call("current_time", {"timezone": tz}), _say_time(place, rng)),
               lambda v, r=rng: _cannot("check the current time", r), {"place": place, "timezone": tz})


# ---------------------------------------------------------------------------------------- web
_FETCH = (
    "[What does|What's on] {u}[ say|]?", "[Fetch|Open|Load|Read|Get] {u}[ for me|][ and summarise it|, please|].",
    "[Can|Could] you [read|open|check] {u}[ and tell me what it says|]?", "Summari[s|z]e {u}.",
    "What is [the page|the article|this link] {u} about?", "[Look at|Visit|Go to] {u} and tell me the [gist|main point].",
    "I can't open {u} [right now|on my phone]; what's on it?", "Here's a link: {u} - what does it say?",
    "Give me the [text|content] of {u}.", "[Pull up|Grab] {u}.",
)


def _say_page(rng: random.Random) -> Callable[[View], str]:
    def answer(view: View) -> str:
        body = result_text(view).split("\n\n", 1)[-1]
        title, _, text = body.partition("\n\n")
        first = re.split(r"(?<=[.!?])\s", text.strip())[0]
        return expand(rng.choice(["The page ({t}) says: {f}", "It's about {t}. {f}", "{f}", "Summary: {f}"]), rng,
                      capitalize=False, t=title.strip(), f=first)
    return _after(answer, "I couldn't fetch that page: {error}")


def web(rng: random.Random) -> Ask:
    url, _, _ = rng.choice(content.PAGES)
    if rng.random() < 0.1:
        url = url.replace("https://", "http://")
    text = expand(rng.choice(_FETCH), rng, u=url)
    return Ask("web", text, "http_fetch", plan(call("http_fetch", {"url": url}), _say_page(rng)),
               lambda v, r=rng: _cannot("open web pages", r), {"url": url})


# ---------------------------------------------------------------------------------------- files
_FILE = (
    "[Open|Read|Show me] [the file |my file |]{f}[.| please.| for me.]", "What's [in|inside] {f}?",
    "What does {f} say?", "[Can|Could] you read {f}[ and tell me what's in it|]?", "Print the contents of {f}.",
    "Summari[s|z]e {f}[ for me|].", "Look in {f} and tell me what it says.", "I need [to see|the contents of] {f}.",
    "[Check|Go through] {f}[, please|].", "Load {f}.",
)


def _say_file(name: str, rng: random.Random) -> Callable[[View], str]:
    def answer(view: View) -> str:
        text = result_text(view)
        short = text if len(text) < 240 else text[:240].rsplit(" ", 1)[0] + " …"
        return expand(rng.choice(["{n} says:\n{t}", "Here is {n}:\n{t}", "The file contains:\n{t}",
                                  "{n} reads:\n{t}"]), rng, capitalize=False, n=name, t=short)
    return _after(answer, "I couldn't read that file: {error}")


def files(rng: random.Random) -> Ask:
    name, _ = rng.choice(content.FILES)
    text = expand(rng.choice(_FILE), rng, f=name)
    return Ask("file", text, "read_file", plan(call("read_file", {"path": name}), _say_file(name, rng)),
               lambda v, r=rng: _cannot("read files", r), {"file": name})


# ---------------------------------------------------------------------------------------- memory
_REMEMBER = (
    "Remember that {n}.", "[Please |]remember: {n}.", "[Note|Write] down that {n}.", "Save this for later: {n}.",
    "Can you remember that {n}?", "Don't let me forget: {n}.", "Keep a note that {n}.", "[Store|Save] this: {n}.",
    "FYI, {n}. Remember it[ for me|].", "Make a note: {n}.",
)
_RECALL = (
    "[Search|Check] my notes for {q}.", "What did I [tell you|save] about {q}?", "Look up {q} in [my notes|memory].",
    "Do you have anything [saved |stored |]about {q}?", "Find my note about {q}.", "What do my notes say about {q}?",
    "Search [your|the] memory for {q}.",
)


def _second_person(note: str) -> str:
    note = re.sub(r"\bmy\b", "your", note)
    note = re.sub(r"\bI'm\b", "you're", note)
    note = re.sub(r"\bI\b", "you", note)
    return re.sub(r"\bme\b", "you", note)


def remember(rng: random.Random) -> Ask:
    note = rng.choice(content.NOTES)
    text = expand(rng.choice(_REMEMBER), rng, n=note)
    said = _second_person(note)
    done = _after(lambda v, r=rng: expand(r.choice(["Noted: {s}.", "Got it — I'll remember that {s}.",
                                                      "Saved: {s}.", "Done, I've stored that {s}."]), r, s=said),
                  "I couldn't save that: {error}")
    # without a memory tool the note still lives in this conversation: say so rather than refuse
    keep = lambda v, r=rng: expand(r.choice(["I can't save notes for later here, but I'll keep it in mind for this "  # noqa: E731
                                             "conversation: {s}.", "I have no memory tool, so it's only noted in "
                                             "this chat: {s}."]), r, s=said)
    return Ask("remember", text, "memory_write", plan(call("memory_write", {"text": note}), done), keep,
               {"note": note})


_SUBJECTS = {"I parked": "where I parked", "I owe": "the money I owe", "I prefer": "my seat preference",
             "I started": "the sourdough starter", "Leo is": "Leo's allergy"}


def _subject(note: str) -> str:
    """What a note is about, as a user would ask for it: "my bike lock code is 4172" → "my bike lock code"."""
    for start, subject in _SUBJECTS.items():
        if note.startswith(start):
            return subject
    m = re.match(r"(.+?)\s+(is|are|expires|goes|lands)\b", note)
    return m.group(1) if m else " ".join(note.split()[:3])


def recall(rng: random.Random) -> Ask:
    """Asking for something saved earlier: a search of the memory, answered from its hits."""
    note = rng.choice(content.NOTES)
    subject = _subject(note)
    text = expand(rng.choice(_RECALL), rng, q=subject)
    words = set(re.findall(r"[A-Za-z']+", note))  # a word of the subject the saved note itself holds
    key = max([w for w in re.findall(r"[A-Za-z']+", subject) if w in words and w not in ("my", "the")] or [note],
              key=len)
    return Ask("recall", text, "memory_search", plan(call("memory_search", {"query": subject}), _say_hits(rng, key)),
               lambda v, r=rng: _cannot("search your saved notes", r), {"note": note})


def _say_hits(rng: random.Random, key: str) -> Callable[[View], str]:
    def answer(view: View) -> str:
        text = result_text(view)
        for block in re.split(r"\n(?=\[\d+\] )", text):
            m = re.match(r"\[(\d+)\] .*?\n(.*)", block, re.S)
            if m and key.lower() in m.group(2).lower():
                return f"Your note says: {m.group(2).strip()} [{m.group(1)}]."
        return "I found nothing about that in your notes."
    return _after(answer, "The memory search failed: {error}")


# ---------------------------------------------------------------------------------------- decoders
_DRAW = (
    "Draw [me |]{d}.", "[Make|Create|Generate] [an image|a picture] of {d}.", "Can you draw {d}?",
    "Show me [a picture of |an image of |]{d}.", "I'd like [an image|a drawing] of {d}.", "Paint {d}[ for me|].",
    "[Sketch|Illustrate] {d}.", "Please generate {d}.",
)
_SCENES = ("a red circle", "a blue triangle", "a green rectangle", "a yellow circle on a white background",
           "a cat sleeping on a sofa", "a lighthouse at sunset", "a mountain lake", "a cup of coffee",
           "a robot reading a book", "a city skyline at night", "a bowl of fruit", "a dragon made of clouds",
           "a teal triangle", "a brown square", "a black circle", "a gray rectangle", "a sailing boat",
           "a snowy forest", "two birds on a wire", "a bicycle")
_SPEAK = (
    "Say \"{t}\" [aloud|out loud].", "Read this [to me|aloud]: {t}", "[Speak|Say] this: {t}",
    "Can you say \"{t}\" out loud?", "Answer in speech: {t}", "I want to hear \"{t}\".",
)
_PHRASES = ("good morning, everyone", "the meeting starts at ten", "happy birthday, Sam", "drink more water",
            "welcome to the team", "the train leaves at 7:40", "don't forget your keys", "see you tomorrow")


def draw(rng: random.Random) -> Ask:
    scene = rng.choice(_SCENES)
    text = expand(rng.choice(_DRAW), rng, d=scene)
    done = _after(lambda v, r=rng: expand(r.choice(["Here is {d}.", "Here's the image of {d}.", "Done: {d}.",
                                                      "I drew {d} for you."]), r, d=scene),
                  "I couldn't make the image: {error}")
    return Ask("draw", text, "generate_image", plan(call("generate_image", {"prompt": scene}), done),
               lambda v, r=rng: _cannot("make images", r), {"scene": scene})


def speak(rng: random.Random) -> Ask:
    phrase = rng.choice(_PHRASES)
    text = expand(rng.choice(_SPEAK), rng, t=phrase)
    done = _after(lambda v, r=rng: r.choice(["Here it is, read aloud.", f"I said: \"{phrase}\".",
                                             "Here's the audio."]), "I couldn't produce speech: {error}")
    return Ask("speak", text, "speak", plan(call("speak", {"prompt": phrase}), done),
               lambda v, r=rng: _cannot("speak aloud", r), {"phrase": phrase})


# A question whose answer is to be heard: the calculator works it out, then `speak` says the answer
# (not the question), then a short text reply. Phrasings written apart from the held-out draw
# suite's spoken requests (`genaisys.datasets.heldout.draw.SPOKEN`).
_SPOKEN_ASK = (
    "Work out {x} and tell me the answer [out loud|aloud].", "What's {x}? [Please say|Say] it [aloud|out loud].",
    "[Say|Speak] the result of {x} [aloud|out loud].", "[Could|Can] you read out the answer to {x}?",
    "Answer [out loud|aloud|with your voice]: what is {x}?", "How much is {x}? Reply [in speech|with audio].",
    "My hands are full - what is {x}? Say it [aloud|out loud].", "[Calculate|Compute] {x} and speak the answer.",
    "I'd like to hear the answer to {x}.", "[Give me|Tell me] {x} as speech, please.",
)


def spoken_answer(rng: random.Random) -> Ask:
    """Arithmetic answered aloud: ``calculator``, then ``speak`` on the answer, then a short reply.

    Without ``speak`` bound the answer is written and the reply says it cannot speak; without the
    calculator it says it cannot compute the value exactly (and speaks no guess).

    Example:
        >>> from langchain_core.messages import HumanMessage
        >>> ask = spoken_answer(random.Random(0))
        >>> bound = [{"type": "function", "function": {"name": n}} for n in ("calculator", "speak")]
        >>> ask.tool, ask.with_tool(View([HumanMessage(ask.text)], bound, "")).tool_calls[0]["name"]
        ('speak', 'calculator')
    """
    spoken, expression = _expression(rng)
    text = expand(rng.choice(_SPOKEN_ASK), rng, x=spoken)
    said = rng.choice(["{e} is {v}.", "The answer is {v}.", "It's {v}.", "{e} equals {v}.", "That comes to {v}."])
    done = rng.choice(["I said it aloud: {v}.", "Here is the answer, spoken: {v}.", "{v} - you can hear it in the audio.",
                       "Done, I read the answer out: {v}."])

    def policy(view: View, can_speak: bool) -> AIMessage | str:
        calculated = [m.text.strip() for m in view.results if m.name == "calculator"]
        spoke = any(m.name == "speak" for m in view.results)
        if not calculated:
            if "calculator" in view.tool_names:
                return call("calculator", {"expression": expression})
            return expand(rng.choice(["I can't work out {e} exactly without a calculator, so I won't say a guess aloud.",
                                      "Without a calculator I can't give an exact value for {e}."]), rng, e=expression)
        if _tool_failed(view) and not spoke:
            return "The calculator could not compute that: " + result_text(view).removeprefix("Error: ")[:200]
        if not can_speak:
            return expand("I can't speak aloud here, but {e} = {v}.", rng, capitalize=False, e=expression,
                          v=calculated[-1])
        if not spoke:
            return call("speak", {"prompt": expand(said, rng, e=expression, v=calculated[-1])})
        if _tool_failed(view):
            return f"{expression} = {calculated[-1]}, but I couldn't say it aloud: {result_text(view)[:200]}"
        return expand(done, rng, capitalize=False, v=calculated[-1])

    return Ask("spoken", text, "speak", lambda v: policy(v, True), lambda v: policy(v, False),
               {"expression": expression})


# ---------------------------------------------------------------------------------------- everyday tools
def _tool_ask(intent: str, tool: str, patterns: Sequence[str], args: dict[str, Any], slots: dict[str, Any],
              what: str, say: Sequence[str], rng: random.Random) -> Ask:
    text = expand(rng.choice(patterns), rng, **slots)
    done = _after(lambda v, r=rng: expand(r.choice(list(say)), r, capitalize=False, result=result_text(v), **slots))
    return Ask(intent, text, tool, plan(call(tool, args), done), lambda v, r=rng: _cannot(what, r), dict(args))


def weather(rng: random.Random) -> Ask:
    city = rng.choice(content.PLACES)[0]
    unit = "fahrenheit" if rng.random() < 0.2 else "celsius"
    args = {"city": city} if unit == "celsius" else {"city": city, "unit": unit}
    return _tool_ask("weather", "get_weather", (
        "What's the weather [like |]in {c}[ today| right now|]?", "Is it raining in {c}?",
        "How [warm|cold|hot] is it in {c}" + (" in Fahrenheit" if unit == "fahrenheit" else "") + "?",
        "[Check|Tell me] the weather [for|in] {c}.", "Do I need an umbrella in {c}?",
        "Weather in {c}" + (" in fahrenheit" if unit == "fahrenheit" else "") + "?"), args, {"c": city},
        "check the weather", ("{result}", "Right now: {result}"), rng)


def currency(rng: random.Random) -> Ask:
    codes = list(("USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "INR", "CNY", "MXN", "SEK"))
    a, b = rng.sample(codes, 2)
    amount = rng.choice([5, 10, 20, 50, 100, 250, 1000, 1500, 12.5, 75])
    return _tool_ask("currency", "convert_currency", (
        "Convert {n} {a} to {b}.", "How much is {n} {a} in {b}?", "What are {n} {a} worth in {b}?",
        "[Change|Exchange] {n} {a} into {b}[, please|].", "{n} {a} to {b}?"),
        {"amount": amount, "from_currency": a, "to_currency": b}, {"n": amount, "a": a, "b": b},
        "convert currencies", ("{result}.", "That's {result}."), rng)


def units(rng: random.Random) -> Ask:
    pairs = [("km", "mi", "kilometres", "miles"), ("mi", "km", "miles", "kilometres"), ("kg", "lb", "kilograms", "pounds"),
             ("lb", "kg", "pounds", "kilograms"), ("m", "ft", "metres", "feet"), ("l", "gal", "litres", "gallons"),
             ("ft", "m", "feet", "metres"), ("cups", "ml", "cups", "millilitres")]
    a, b, sa, sb = rng.choice(pairs)
    value = rng.choice([1, 2, 5, 10, 12, 26.2, 42, 100, 3.5, 180])
    return _tool_ask("units", "convert_units", (
        "Convert {v} {sa} to {sb}.", "How many {sb} [is|are] {v} {sa}?", "What is {v} {sa} in {sb}?",
        "{v} {sa} in {sb}?"), {"value": value, "from_unit": a, "to_unit": b}, {"v": value, "sa": sa, "sb": sb},
        "convert units", ("{result}.", "That's {result}."), rng)


def email(rng: random.Random) -> Ask:
    to = rng.choice(["ana@example.com", "lee@example.org", "team@example.net", "boss@example.com", "mum@example.org"])
    subject = rng.choice(["Running late", "Lunch on Friday", "Report attached", "Thank you", "Meeting notes"])
    body = rng.choice(["I'll be ten minutes late.", "Are you free for lunch on Friday?", "Please find the report attached.",
                       "Thanks for your help today!", "The notes from today's meeting are in the shared folder."])
    return _tool_ask("email", "send_email", (
        "Email {to} with the subject \"{s}\" saying: {b}", "Send an e-mail to {to}, subject \"{s}\": {b}",
        "[Write|Send] {to} a message titled \"{s}\": \"{b}\""), {"to": to, "subject": subject, "body": body},
        {"to": to, "s": subject, "b": body}, "send e-mails", ("Done — {result}", "{result}"), rng)


def calendar(rng: random.Random) -> Ask:
    title = rng.choice(["Dentist", "Team lunch", "Call with Priya", "Yoga class", "Project review", "Dinner with Sam"])
    date = rng.choice(["2026-03-14", "2026-05-02", "2026-11-20", "2026-07-08", "tomorrow", "next Monday"])
    hour = rng.choice(["09:00", "12:30", "15:00", "18:45", "08:15"])
    return _tool_ask("calendar", "create_event", (
        "Add \"{t}\" to my calendar on {d} at {h}.", "Put {t} in my calendar for {d} at {h}.",
        "Schedule {t} on {d} at {h}.", "Create an event called {t} on {d}, {h}."),
        {"title": title, "date": date, "time": hour}, {"t": title, "d": date, "h": hour},
        "manage your calendar", ("Done. {result}", "{result}"), rng)


def timer(rng: random.Random) -> Ask:
    minutes = rng.choice([1, 3, 5, 10, 12, 15, 20, 25, 30, 45])
    label = rng.choice(["", "", "tea", "pasta", "laundry", "break"])
    args = {"minutes": minutes, **({"label": label} if label else {})}
    return _tool_ask("timer", "set_timer", (
        "Set a timer for {m} minutes" + (" for the {l}." if label else "."), "Start a {m}-minute timer" +
        (" for {l}." if label else "."), "Remind me in {m} minutes" + (" about the {l}." if label else ".")), args,
        {"m": minutes, "l": label}, "set timers", ("{result}", "Okay. {result}"), rng)


def stock(rng: random.Random) -> Ask:
    symbol = rng.choice(["AAPL", "MSFT", "TSLA", "NVDA", "AMZN", "GOOGL", "SAP", "ASML", "NFLX", "IBM"])
    return _tool_ask("stock", "get_stock_price", (
        "What's {s} trading at?", "Share price of {s}?", "How is {s} stock doing today?", "Check the price of {s}."),
        {"symbol": symbol}, {"s": symbol}, "look up share prices", ("{result}", "Latest price — {result}"), rng)


def define(rng: random.Random) -> Ask:
    word = rng.choice(sorted(content.WORDS))
    return _tool_ask("define", "define_word", (
        "What does \"{w}\" mean?", "Define {w}.", "Look up the word {w}.", "What's the meaning of {w}?"),
        {"word": word}, {"w": word}, "look up words in a dictionary", ("{result}", "According to the dictionary, {result}"),
        rng)


def country(rng: random.Random) -> Ask:
    name = rng.choice(content.COUNTRIES)[0]
    return _tool_ask("country", "country_facts", (
        "Tell me about {c}: capital, currency, population.", "What currency does {c} use?",
        "How many people live in {c}?", "Look up facts about {c}."), {"country": name}, {"c": name},
        "look up country facts", ("{result}", "Here's what I found: {result}"), rng)


def dice(rng: random.Random) -> Ask:
    sides, count = rng.choice([6, 6, 20, 12, 8]), rng.choice([1, 1, 2, 3])
    return _tool_ask("dice", "roll_dice", (
        "Roll {n} d{s}.", "Roll {n} dice with {s} sides.", "Throw {n} {s}-sided [die|dice] for me."),
        {"sides": sides, "count": count}, {"n": count, "s": sides}, "roll dice", ("{result}",), rng)


def todo(rng: random.Random) -> Ask:
    task = rng.choice(["buy stamps", "call the bank", "water the plants", "renew the car insurance", "book flights"])
    return _tool_ask("todo", "add_todo", (
        "Add \"{t}\" to my to-do list.", "Put {t} on my list.", "New task: {t}.", "Remind me to {t} - add it to my todos."),
        {"task": task}, {"t": task}, "manage your to-do list", ("{result}", "Done. {result}"), rng)


def music(rng: random.Random) -> Ask:
    song = rng.choice(content.SONGS)
    return _tool_ask("music", "play_music", ("Play {s}.", "Put on {s}[, please|].", "I want to listen to {s}."),
                     {"query": song}, {"s": song}, "play music", ("{result}", "Enjoy! {result}"), rng)


def news(rng: random.Random) -> Ask:
    topic = rng.choice(content.TOPICS)
    return _tool_ask("news", "get_news", (
        "What's the latest news on {t}?", "Any news about {t} today?", "Give me today's headlines on {t}."),
        {"topic": topic}, {"t": topic}, "read the news", ("{result}",), rng)


def lights(rng: random.Random) -> Ask:
    room = rng.choice(["kitchen", "living room", "bedroom", "office", "hallway"])
    on = rng.random() < 0.7
    args = {"room": room} if on else {"room": room, "on": False}
    return _tool_ask("lights", "set_lights", (
        ("Turn on the lights in the {r}.", "Switch the {r} lights on.", "Lights on in the {r}, please.") if on else
        ("Turn off the lights in the {r}.", "Switch the {r} lights off.", "Lights off in the {r}.")), args, {"r": room},
        "control the lights", ("{result}", "Done: {result}"), rng)


INTENTS: dict[str, Callable[[random.Random], Ask]] = {
    "arithmetic": arithmetic, "clock": clock, "web": web, "file": files, "remember": remember, "recall": recall,
    "draw": draw,
    "speak": speak, "spoken": spoken_answer, "weather": weather, "currency": currency, "units": units, "email": email,
    "calendar": calendar, "timer": timer, "stock": stock, "define": define, "country": country, "dice": dice,
    "todo": todo, "music": music, "news": news, "lights": lights,
}
"""Intent name → generator. Tool-needing intents only; talk, documents and photos live elsewhere."""

# how often each intent is drawn (the builtin tools the assistant ships with come first)
WEIGHTS = {"arithmetic": 14, "clock": 8, "web": 7, "file": 7, "remember": 7, "recall": 5, "draw": 6, "speak": 4,
           "spoken": 3, "weather": 3, "currency": 2, "units": 2, "email": 2, "calendar": 2, "timer": 2, "stock": 1.5,
           "define": 1.5, "country": 1.5, "dice": 1, "todo": 1.5, "music": 1, "news": 1, "lights": 1}


def tool_args_json(ask: Ask) -> str:
    """The arguments an ask's tool call carries, as JSON (for reports)."""
    return json.dumps(ask.facts, sort_keys=True)


def answered_text(message: AIMessage) -> str:
    return message.text if isinstance(message, AIMessage) else str(message)
