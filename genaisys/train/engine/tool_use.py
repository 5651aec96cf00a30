"""Tool-use conversations for the builtin tools, with distractors that need no tool.

Each request is a phrasing template × slot values (arithmetic expressions, cities/timezones,
URLs, file names). The gpt turn calls the right tool with arguments validated against the tool's
own ``args_schema`` while generating; some conversations go on with the tool's result and a
short final answer (the calculator and file reader really run; clock results are formatted by
the clock's own function at a seeded instant; web pages are canned texts in the fetch tool's
own result format — nothing touches the network). **Distractors** (chit-chat, general
knowledge, writing, questions *about* tools) are answered in plain text from a small curated set:
they teach the model to answer directly when no tool is needed.

Templates and distractors come in two disjoint splits: ``"train"`` for training and
``"heldout"`` for evaluation on phrasings never trained on (`tool_routing_items` writes them in
the ``tool-routing`` task's JSONL format). Neither split reproduces the evaluation's built-in
requests (`genaisys.eval.tasks.tool_routing._ITEMS`; a test checks it).

Every record lists all the tools (``"tools": [...]``), as the evaluation binds them all, so the
model learns to *choose*.

Example:
    >>> recs = tool_conversations(3, seed=0)
    >>> [r["conversations"][0]["from"] for r in recs]
    ['human', 'human', 'human']
    >>> items = tool_routing_items(2, seed=0)
    >>> sorted(items[0])
    ['args', 'id', 'prompt', 'tool']
"""

from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from genaisys.errors import ConfigError

__all__ = ["DISTRACTORS", "TEMPLATES", "TOOL_NAMES", "tool_conversations", "tool_routing_items"]

# registry name → the name the model calls
TOOL_NAMES = {"builtin:calculator": "calculator", "builtin:clock": "current_time",
              "builtin:http_fetch": "http_fetch", "builtin:file_reader": "read_file"}
_DEFAULT_TOOLS = tuple(TOOL_NAMES)
_SPLITS = ("train", "heldout")

# {x} is the slot: an expression, a place, a URL or a file name.
TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "train": {
        "calculator": (
            "What's {x}?",
            "Can you work out {x} for me?",
            "Please evaluate {x}.",
            "I need the exact value of {x}.",
            "Use the calculator to get {x}.",
            "Quick math: {x} = ?",
            "What do I get from {x}?",
            "Help me compute {x}, I need it exact.",
            "Tell me the result of {x}.",
            "My homework asks for {x}. What is the answer?",
            "Find {x}.",
            "Do the arithmetic: {x}",
            "I'm splitting a bill and need {x} worked out.",
            "Run {x} through the calculator.",
            "Precisely, what is the value of {x}?",
            "{x} - how much is that exactly?",
        ),
        "current_time": (
            "What's the time in {x} right now?",
            "Tell me the current time in {x}.",
            "What day of the week is it in {x} today?",
            "Is it morning or evening in {x} at the moment?",
            "Check the clock for {x}, please.",
            "What's the local time in {x}?",
            "I have a call with someone in {x}; what time is it there?",
            "What's the date right now in {x}?",
            "Current time in {x}?",
            "Could you tell me what time it is over in {x}?",
            "Is it still daytime in {x}? Check the current time.",
            "My friend lives in {x}. Is it too late to call them now?",
            "Get the current date and weekday for {x}.",
        ),
        "http_fetch": (
            "Grab the contents of {x} for me.",
            "What does the page at {x} say?",
            "Can you load {x} and summarize it?",
            "Go to {x} and tell me what's there.",
            "Get me the text of {x}.",
            "Please download {x} and give me the gist.",
            "Look up {x} and report back.",
            "Open the web page {x}.",
            "What is written on {x}?",
            "Read this link for me: {x}",
            "Fetch {x} and tell me the main points.",
            "I can't open {x} right now; what's on that page?",
        ),
        "read_file": (
            "Open {x} and tell me what it says.",
            "What's inside {x}?",
            "Read the file {x}, please.",
            "Can you show me the contents of {x}?",
            "Print out {x}.",
            "Load {x} and summarize it.",
            "I need to see what {x} contains.",
            "Look in my file {x} and tell me what's written there.",
            "Go through {x} and give me the highlights.",
            "Read out the file called {x}.",
            "Pull the text from {x}, please.",
        ),
    },
    "heldout": {
        "calculator": (
            "Could you figure out {x}?",
            "Give me the value of {x}.",
            "What does {x} equal?",
            "Solve {x} for me, please.",
            "I'd like to know {x}, precisely.",
        ),
        "current_time": (
            "I am curious about the clock in {x}: what does it read?",
            "Give me the current date and time for {x}.",
            "How late is it in {x} now?",
            "What hour is it in {x}?",
        ),
        "http_fetch": (
            "Pull up {x}, please.",
            "Visit {x} and describe the page.",
            "What's on {x}?",
            "Retrieve {x} for me.",
        ),
        "read_file": (
            "Display the file {x}.",
            "What does {x} say?",
            "Check the contents of {x} for me.",
            "Have a look at {x} and tell me what's in it.",
        ),
    },
}

# (place as asked, IANA timezone)
_PLACES = (
    ("New York", "America/New_York"), ("London", "Europe/London"), ("Mumbai", "Asia/Kolkata"),
    ("Sydney", "Australia/Sydney"), ("Berlin", "Europe/Berlin"), ("Los Angeles", "America/Los_Angeles"),
    ("Singapore", "Asia/Singapore"), ("Cairo", "Africa/Cairo"), ("São Paulo", "America/Sao_Paulo"),
    ("Dubai", "Asia/Dubai"), ("Madrid", "Europe/Madrid"), ("Seoul", "Asia/Seoul"),
    ("Auckland", "Pacific/Auckland"), ("Chicago", "America/Chicago"), ("Moscow", "Europe/Moscow"),
    ("Toronto", "America/Toronto"), ("Shanghai", "Asia/Shanghai"), ("Jakarta", "Asia/Jakarta"),
    ("Lagos", "Africa/Lagos"), ("Rome", "Europe/Rome"), ("Tokyo", "Asia/Tokyo"), ("Paris", "Europe/Paris"),
    ("Mexico City", "America/Mexico_City"), ("Honolulu", "Pacific/Honolulu"), ("UTC", "UTC"),
)

# (URL, page text, one-line summary) — canned pages, never fetched
_PAGES = (
    ("https://en.wikipedia.org/wiki/Alan_Turing", "Alan Turing (1912-1954) was an English mathematician and "
     "computer scientist, widely considered the father of theoretical computer science.",
     "a Wikipedia article on Alan Turing, the English mathematician and computer science pioneer"),
    ("https://docs.python.org/3/library/json.html", "json - JSON encoder and decoder. json exposes an API "
     "familiar to users of the standard library marshal and pickle modules.",
     "the Python documentation of the json module (JSON encoding and decoding)"),
    ("https://www.gutenberg.org/ebooks/1342", "Pride and Prejudice by Jane Austen. Free eBook. "
     "Read online or download in EPUB, Kindle or plain text.",
     "the Project Gutenberg page for Jane Austen's Pride and Prejudice, free to download"),
    ("https://pypi.org/project/httpx/", "httpx 0.28.1. The next generation HTTP client. "
     "pip install httpx. Released: Dec 6, 2024.",
     "the PyPI page of httpx, a next-generation HTTP client for Python"),
    ("https://github.com/langchain-ai/langgraph", "LangGraph: build resilient language agents as graphs. "
     "Low-level orchestration framework for stateful agents.",
     "the GitHub repository of LangGraph, a framework for building stateful agents as graphs"),
    ("https://arxiv.org/abs/2304.08485", "Visual Instruction Tuning. Haotian Liu, Chunyuan Li, Qingyang Wu, "
     "Yong Jae Lee. We present LLaVA, a large multimodal model.",
     "the arXiv abstract of Visual Instruction Tuning, the paper that introduced LLaVA"),
    ("https://www.bbc.com/weather", "BBC Weather: forecasts for the UK and the world. "
     "Search for a location to see the 14-day forecast.",
     "the BBC Weather home page, with forecasts for the UK and worldwide"),
    ("https://news.ycombinator.com/", "Hacker News. new | past | comments | ask | show | jobs | submit. "
     "A list of the top technology stories of the day.",
     "the Hacker News front page, a list of today's top technology stories"),
    ("https://www.rust-lang.org/learn", "Learn Rust. Get started with Rust: the book, Rust by Example, "
     "and rustlings exercises.",
     "the Rust website's learning page: the Rust book, Rust by Example and rustlings"),
    ("https://example.com/pricing", "Pricing. Basic: $9 per month. Pro: $29 per month. "
     "Enterprise: contact sales.",
     "a pricing page: Basic at $9/month, Pro at $29/month, Enterprise on request"),
    ("https://blog.example.net/2025/spring-recipes", "Five spring recipes: asparagus risotto, pea soup, "
     "lemon pasta, strawberry salad and rhubarb crumble.",
     "a blog post with five spring recipes, from asparagus risotto to rhubarb crumble"),
    ("https://www.nasa.gov/missions/", "NASA missions: Artemis, Europa Clipper, the James Webb Space "
     "Telescope and more.",
     "NASA's missions page, listing Artemis, Europa Clipper and the James Webb Space Telescope"),
)

# (file name, content) — written to a scratch folder and read with the real file reader
_FILES = (
    ("todo.md", "- buy milk\n- call the plumber\n- finish the quarterly report"),
    ("report.txt", "Q3 sales grew 12% over Q2, led by the northern region."),
    ("config.yaml", "model: nano\nbatch_size: 8\nlearning_rate: 0.0002"),
    ("main.py", "def main():\n    print('hello, world')\n\nif __name__ == '__main__':\n    main()"),
    ("requirements.txt", "httpx==0.28.1\npydantic>=2\nlanggraph>=1.2"),
    ("CHANGELOG.md", "## 1.2.0\n- added the clock tool\n- fixed a crash on empty input"),
    ("docs/intro.md", "# Introduction\nThis guide shows how to install and run the assistant."),
    ("logs/app.log", "2025-03-01 10:02:11 INFO started\n2025-03-01 10:02:15 WARNING slow disk"),
    ("letter.txt", "Dear Sam,\nThank you for the lovely flowers. See you on Sunday!\nAlex"),
    ("recipes/pancakes.txt", "Mix 200 g flour, 2 eggs and 300 ml milk. Fry in butter."),
    ("meeting_minutes.txt", "Attendees: Ana, Ben. Decision: ship version 2 on Friday."),
    ("data/cities.csv", "city,population\nOslo,709000\nLima,10000000"),
    ("shopping_list.txt", "apples, rice, olive oil, coffee"),
    ("setup.cfg", "[metadata]\nname = demo\nversion = 0.1.0"),
)

# (prompt, answer): requests that need no tool, answered in plain text
DISTRACTORS: dict[str, tuple[tuple[str, str], ...]] = {
    "train": (
        ("Hi there!", "Hello! How can I help you today?"),
        ("Good morning!", "Good morning! What can I do for you?"),
        ("Thank you so much.", "You're welcome! Let me know if you need anything else."),
        ("Who are you?", "I'm a small assistant. I can answer questions and use tools such as a calculator, "
         "a clock, a web fetcher and a file reader."),
        ("Tell me a joke.", "Why did the scarecrow win an award? Because he was outstanding in his field."),
        ("Write a short poem about the sea.", "Waves fold silver on the sand,\nthe tide hums low and slow,\n"
         "the sea keeps secrets close at hand\nthat only sailors know."),
        ("Give me a synonym for 'happy'.", "Joyful."),
        ("What is the largest planet in our solar system?", "Jupiter."),
        ("Who wrote Romeo and Juliet?", "William Shakespeare."),
        ("What is the chemical symbol for gold?", "Au."),
        ("How many continents are there?", "Seven: Africa, Antarctica, Asia, Australia, Europe, "
         "North America and South America."),
        ("Which river flows through Cairo?", "The Nile."),
        ("Name three primary colors.", "Red, yellow and blue."),
        ("Why is the sky blue?", "Air molecules scatter short blue wavelengths of sunlight much more than "
         "red ones, so blue light reaches our eyes from every direction."),
        ("What does a calculator do?", "A calculator performs arithmetic: it adds, subtracts, multiplies, "
         "divides and often computes powers, roots and other functions."),
        ("What is a time zone?", "A time zone is a region that keeps the same standard time, usually "
         "defined as an offset from UTC."),
        ("What is a URL?", "A URL (uniform resource locator) is the address of a resource on the web, "
         "such as https://example.com/page."),
        ("What is a README file for?", "A README explains what a project is, how to install it and how "
         "to use it; it is usually the first file people read."),
        ("Translate 'thank you' into French.", "Merci."),
        ("How do you say 'cat' in German?", "Katze."),
        ("Give me a tip for sleeping better.", "Keep a regular schedule: go to bed and get up at the "
         "same time every day, even at weekends."),
        ("Suggest a name for a black cat.", "How about Shadow?"),
        ("What is photosynthesis?", "Photosynthesis is how plants use sunlight, water and carbon dioxide "
         "to make sugar and release oxygen."),
        ("Summarize the story of Cinderella in one sentence.", "A kind young woman mistreated by her "
         "stepfamily attends a royal ball with a fairy godmother's help, loses a glass slipper, and is "
         "found and married by the prince."),
        ("Is a tomato a fruit or a vegetable?", "Botanically a tomato is a fruit, though it is usually "
         "cooked and eaten as a vegetable."),
        ("What is the opposite of 'ancient'?", "Modern."),
        ("Write a one-line birthday message for my sister.", "Happy birthday to the best sister in the "
         "world - may your year be full of joy!"),
        ("Can you recommend a classic novel?", "Try 'Pride and Prejudice' by Jane Austen."),
        ("What language is spoken in Brazil?", "Portuguese."),
        ("Explain what an API is in one sentence.", "An API is a defined set of rules that lets one "
         "program ask another program for data or actions."),
        ("How are you doing?", "I'm doing well, thanks for asking! How can I help?"),
        ("Goodbye!", "Goodbye! Have a great day."),
        ("What is the boiling point of water at sea level in Celsius?", "100 °C."),
        ("Who painted the Mona Lisa?", "Leonardo da Vinci."),
        ("Give me a motivational quote.", "\"The secret of getting ahead is getting started.\" - Mark Twain"),
        ("What's a good way to learn Python?", "Start with the official tutorial, then write small "
         "programs every day and read other people's code."),
        ("How many legs does a spider have?", "Eight."),
        ("In which year did the Second World War end?", "1945."),
        ("How many minutes are in an hour?", "Sixty."),
        ("Which time zone does London use in winter?", "Greenwich Mean Time (GMT), which is UTC+0."),
        ("What is the square of a number?", "The number multiplied by itself; for example, the square of 3 is 9."),
        ("What is a website?", "A collection of related web pages under one domain name, viewed in a browser."),
        ("Can you help me write an email to my boss asking for Friday off?", "Subject: Day off on Friday\n\n"
         "Hi, could I take this Friday off? My work is up to date and I will make sure nothing is left open. "
         "Thank you!"),
        ("Give me two ideas for a rainy weekend.", "Bake bread at home, or visit a museum you have never been to."),
        ("What's the difference between weather and climate?", "Weather is the short-term state of the "
         "atmosphere; climate is its average over many years."),
        ("Finish this sentence: The early bird...", "...catches the worm."),
    ),
    "heldout": (
        ("Hey, nice to meet you!", "Nice to meet you too! What can I do for you?"),
        ("Write a limerick about a dog.", "A dog with a passion for socks\nwould hide them in shoes and "
         "in box;\nwhen asked where they went,\nhe looked innocent,\nthen buried the lot by the docks."),
        ("What is the capital of Italy?", "Rome."),
        ("Who discovered penicillin?", "Alexander Fleming, in 1928."),
        ("How do you say 'hello' in Italian?", "Ciao."),
        ("What does a clock measure?", "Time: hours, minutes and seconds."),
        ("Give me an antonym for 'brave'.", "Cowardly."),
        ("What is the smallest prime number?", "2."),
        ("Thanks, you've been great.", "Happy to help! Come back any time."),
        ("Recommend a board game for a family evening.", "Ticket to Ride is easy to learn and fun for "
         "all ages."),
        ("What is the freezing point of water in Fahrenheit?", "32 °F."),
        ("Who was the first person to walk on the Moon?", "Neil Armstrong, in 1969."),
        ("Compose a two-line poem about rain.", "Soft rain on the window pane,\nwashing the city clean again."),
        ("What's the plural of 'mouse'?", "Mice."),
        ("Describe a cat in three words.", "Curious, graceful, independent."),
        ("What does a web browser do?", "It fetches web pages from the internet and displays them."),
        ("Which ocean is the largest?", "The Pacific Ocean."),
        ("Good night!", "Good night! Sleep well."),
        ("Suggest a healthy breakfast.", "Oatmeal with fruit and a handful of nuts."),
        ("What is the main ingredient of guacamole?", "Avocado."),
    ),
}

_FINAL = {
    "calculator": ("{x} = {r}.", "The result is {r}.", "{r}.", "That comes to {r}."),
    "current_time": ("It is {time} on {weekday}, {date} in {place}.",
                     "In {place} it is currently {time} ({weekday}, {date})."),
    "http_fetch": ("The page is {summary}.", "{url} is {summary}."),
    "read_file": ("{x} contains:\n{content}", "Here is what {x} says:\n{content}"),
}


# ---------------------------------------------------------------------------------------------- slots
def _expression(rng: random.Random) -> tuple[str, str]:
    """``(as asked, calculator expression)`` for one random arithmetic request."""
    a, b, c = rng.randint(2, 999), rng.randint(2, 99), rng.randint(2, 20)
    kind = rng.randrange(10)
    if kind == 0:
        return rng.choice([f"{a} * {b}", f"{a} times {b}", f"{a} multiplied by {b}", f"{a} x {b}"]), f"{a}*{b}"
    if kind == 1:
        return rng.choice([f"{a} + {b * c}", f"{a} plus {b * c}", f"the sum of {a} and {b * c}"]), f"{a}+{b * c}"
    if kind == 2:
        return rng.choice([f"{a} - {b}", f"{a} minus {b}", f"{b} subtracted from {a}"]), f"{a}-{b}"
    if kind == 3:
        return rng.choice([f"{a * c} / {c}", f"{a * c} divided by {c}"]), f"{a * c}/{c}"
    if kind == 4:
        n = rng.randint(3, 99) ** 2
        return rng.choice([f"the square root of {n}", f"sqrt({n})", f"the root of {n}"]), f"sqrt({n})"
    if kind == 5:
        e = rng.randint(2, 12)
        return rng.choice([f"{c} to the power of {e}", f"{c}^{e}", f"{c} raised to {e}"]), f"{c}**{e}"
    if kind == 6:
        return rng.choice([f"{b} squared", f"the square of {b}"]), f"{b}**2"
    if kind == 7:
        op, word = rng.choice([("*", "times"), ("/", "divided by")])
        x, y = rng.choice([(a, b), (round(rng.uniform(1, 50), 1), round(rng.uniform(1, 50), 1))])
        asked = rng.choice([f"({x} + {y}) {op} {c}", f"({x} - {y}) {op} {c}", f"the sum of {x} and {y}, {word} {c}"])
        return asked, (f"({x}-{y}){op}{c}" if " - " in asked else f"({x}+{y}){op}{c}")
    if kind == 8:
        p = rng.choice([5, 10, 12, 15, 18, 20, 25, 30, 40, 75])
        return rng.choice([f"{p}% of {a}", f"{p} percent of {a}"]), f"{p}/100*{a}"
    x, y = round(rng.uniform(1, 100), 2), round(rng.uniform(1, 50), 1)
    if rng.random() < 0.5:
        return rng.choice([f"{x} * {y}", f"{x} times {y}"]), f"{x}*{y}"
    return rng.choice([f"{x} + {y}", f"{x} plus {y}"]), f"{x}+{y}"


@lru_cache(maxsize=1)
def _tools() -> dict[str, Any]:
    """The real builtin tools (validation schemas; calculator and file reader also run)."""
    from genaisys.tools import get_tool

    root = Path(tempfile.mkdtemp(prefix="genaisys-tooldata-"))
    for name, content in _FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content + "\n", encoding="utf-8")
    out = {}
    for reg, model_name in TOOL_NAMES.items():
        extra: dict[str, Any] = {"roots": [str(root)]} if reg == "builtin:file_reader" else {}
        out[model_name] = get_tool(reg, safety={"idempotent_cache": None}, **extra)
    return out


def _validate_args(tool: str, args: dict[str, Any]) -> None:
    schema = _tools()[tool].args_schema
    try:
        schema.model_validate(args)
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        raise ConfigError(f"generated arguments {args} do not validate for {tool}: {exc}") from exc


def _request(tool: str, template: str, rng: random.Random) -> tuple[str, dict[str, Any], dict[str, str]]:
    """``(prompt, args, answer slots)`` for one request to ``tool``."""
    if tool == "calculator":
        asked, expr = _expression(rng)
        return template.format(x=asked), {"expression": expr}, {"x": asked}
    if tool == "current_time":
        place, tz = rng.choice(_PLACES)
        return template.format(x=place), {"timezone": tz}, {"place": place}
    if tool == "http_fetch":
        url, _, summary = rng.choice(_PAGES)
        return template.format(x=url), {"url": url}, {"url": url, "summary": summary}
    if tool == "read_file":
        name, content = rng.choice(_FILES)
        return template.format(x=name), {"path": name}, {"x": name, "content": content}
    raise ConfigError(f"no requests for tool {tool!r}")


def _result(tool: str, args: dict[str, Any], slots: dict[str, str], rng: random.Random) -> tuple[str, dict[str, str]]:
    """The tool's result text (as the model would see it) and the slots of the final answer."""
    if tool == "calculator" or tool == "read_file":
        text = str(_tools()[tool].invoke(args))
        return text, {**slots, "r": _pretty_number(text)}
    if tool == "current_time":
        from genaisys.tools.clock import current_time

        moment = datetime(2025, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=rng.randrange(365 * 24 * 60))
        text = current_time(args["timezone"], now=moment)
        local = datetime.fromisoformat(text.split(" ", 1)[0])
        return text, {**slots, "time": local.strftime("%H:%M"), "weekday": local.strftime("%A"),
                      "date": local.strftime("%B %-d, %Y")}
    from genaisys.tools.http_fetch import FetchResult

    page = next(p for p in _PAGES if p[0] == args["url"])
    text = FetchResult(url=page[0], status=200, content_type="text/html; charset=utf-8", text=page[1],
                       truncated=False, redirects=()).for_model()
    return text, slots


def _pretty_number(text: str) -> str:
    """``"81.0"`` → ``"81"``, ``"33.879999999999995"`` → ``"33.88"``: how a person writes the answer."""
    try:
        value = float(text)
    except ValueError:
        return text
    return f"{value:.10g}" if abs(value) < 1e15 else text


def _sentence(text: str) -> str:
    """Start with a capital, as a person writes ("the sum of ..." → "The sum of ..."; not "sqrt(...)")."""
    return text[0].upper() + text[1:] if text[:1].islower() and not text.startswith("sqrt") else text


def _check_tools(tools: Sequence[str]) -> list[str]:
    unknown = [t for t in tools if t not in TOOL_NAMES]
    if unknown or not tools:
        raise ConfigError(f"tool-use data covers {sorted(TOOL_NAMES)}; got {list(tools)!r}")
    return [TOOL_NAMES[t] for t in tools]


def _check(n: int, split: str) -> None:
    if not isinstance(n, int) or n < 1:
        raise ConfigError(f"n must be a positive integer, got {n!r}")
    if split not in _SPLITS:
        raise ConfigError(f"split must be one of {_SPLITS}, got {split!r}")


# ---------------------------------------------------------------------------------------------- public
def tool_conversations(n: int = 1000, seed: int = 0, *, tools: Sequence[str] = _DEFAULT_TOOLS,
                       split: str = "train", distractor_ratio: float = 0.3,
                       with_result: float = 0.5) -> list[dict[str, Any]]:
    """``n`` tool-use records: requests → a validated tool call (→ result → answer), plus distractors.

    Args:
        n: how many records.
        seed: the same seed gives the same records.
        tools: registry names to make requests for (every record lists them all).
        split: ``"train"`` phrasings, or ``"heldout"`` ones (never train on those).
        distractor_ratio: the share of records that need no tool.
        with_result: the share of tool records that go on with the tool result and a final answer
            (the others end on the tool call, which is what routing is scored on).

    Raises:
        ConfigError: an unknown tool or split, or a ratio outside [0, 1].

    Example:
        >>> r = next(r for r in tool_conversations(20, seed=1) if len(r["conversations"]) > 2)
        >>> r["conversations"][1]["tool_calls"][0]["name"] in {"calculator", "current_time", "http_fetch", "read_file"}
        True
    """
    _check(n, split)
    names = _check_tools(tools)
    for label, value in (("distractor_ratio", distractor_ratio), ("with_result", with_result)):
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"{label} must be between 0 and 1, got {value!r}")
    rng = random.Random(seed)
    templates, distractors = TEMPLATES[split], DISTRACTORS[split]
    out: list[dict[str, Any]] = []
    for k in range(n):
        rid = f"tool-{split}-{seed}-{k}"
        if rng.random() < distractor_ratio:
            prompt, answer = rng.choice(distractors)
            out.append({"id": rid, "tools": list(tools), "conversations": [
                {"from": "human", "value": prompt}, {"from": "gpt", "value": answer}],
                "meta": {"source": "tool-use", "split": split, "tool": None}})
            continue
        tool = names[k % len(names)] if rng.random() < 0.5 else rng.choice(names)
        prompt, args, slots = _request(tool, rng.choice(templates[tool]), rng)
        prompt = _sentence(prompt)
        _validate_args(tool, args)
        call_id = f"call_{k}"
        turns: list[dict[str, Any]] = [
            {"from": "human", "value": prompt},
            {"from": "gpt", "value": "", "tool_calls": [{"name": tool, "arguments": args, "id": call_id}]}]
        if rng.random() < with_result:
            text, answer_slots = _result(tool, args, slots, rng)
            turns.append({"from": "tool", "name": tool, "tool_call_id": call_id, "value": text})
            turns.append({"from": "gpt", "value": _sentence(rng.choice(_FINAL[tool]).format(**answer_slots))})
        out.append({"id": rid, "tools": list(tools), "conversations": turns,
                    "meta": {"source": "tool-use", "split": split, "tool": tool}})
    return out


def tool_routing_items(n: int = 100, seed: int = 0, *, path: str | Path | None = None,
                       distractor_ratio: float = 0.3) -> list[dict[str, Any]]:
    """Held-out routing items in the ``tool-routing`` task's JSONL format ``{"id", "prompt", "tool", "args"}``.

    Built from the ``"heldout"`` templates and distractors only, so no training phrasing appears.
    Prompts are unique; with 20 held-out distractors, a large ``n`` has fewer no-tool items than
    ``distractor_ratio`` asks.

    Args:
        path: also write them there as JSONL (``genaisys eval tool-routing --data PATH``).

    Example:
        >>> items = tool_routing_items(10, seed=0)
        >>> len(items), all(i["id"].startswith("heldout-") for i in items)
        (10, True)
    """
    recs = tool_conversations(20 * n, seed, split="heldout", distractor_ratio=distractor_ratio, with_result=0.0)
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    for rec in recs:  # unique prompts; the few distractors may run out before the tool requests do
        turns = rec["conversations"]
        if turns[0]["value"] in seen:
            continue
        seen.add(turns[0]["value"])
        calls = turns[1].get("tool_calls") or []
        items.append({"id": f"heldout-{seed}-{len(items)}", "prompt": turns[0]["value"],
                      "tool": calls[0]["name"] if calls else None, "args": calls[0]["arguments"] if calls else {}})
        if len(items) == n:
            break
    if path is not None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
    return items
