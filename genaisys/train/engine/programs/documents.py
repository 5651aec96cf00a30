"""Documents for the recorded programs to retrieve from, and the questions they answer.

Two kinds, both written to a folder and ingested into a real `ChromaMemory` (so chunking,
embedding, ranking and citations are the real ones):

- **product manuals**: made-up software (`content.PRODUCTS`) described in one of several styles
  (a README, an FAQ, a configuration reference, release notes, a how-to), each holding specific
  facts — default port, config file, flags, limits, versions — phrased differently per style;
- **API notes**: the documentation strings of installed Python modules (the standard library's
  and a few third-party ones), one Markdown file per module with a section per public function
  or class, asked about as people ask ("What does textwrap.dedent do?").

Each fact is a `DocFact`: the sentence that states it (what an answer quotes), the questions that
ask for it, and the file it lives in. Python's own help topics (``pydoc_data``) are evaluation
material and are never used here.

Example:
    >>> import random
    >>> doc = product_manual("Quillmate", random.Random(0))
    >>> doc.name, len(doc.facts) > 5, doc.facts[0].sentence in doc.text
    ('quillmate.md', True, True)
    >>> doc.facts[0].evidence in doc.text
    True
"""

from __future__ import annotations

import inspect
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from genaisys.train.engine.phrasing import expand

__all__ = ["DocFact", "Document", "api_notes", "fact_table", "product_manual", "write_documents"]


def api_notes(module_name: str, *, max_entries: int = 14) -> Document | None:
    """A Markdown page of ``module_name``'s public functions and classes (None if it cannot be imported).

    Example:
        >>> api_notes("textwrap").facts[0].sentence.startswith("textwrap.")
        True
    """
    return _api_notes(module_name, max_entries=max_entries)


@dataclass(frozen=True)
class DocFact:
    """One fact of a document: how an answer states it, the text in the document that holds it,
    and the patterns of questions asking for it."""

    key: str
    sentence: str  # the answer's statement of the fact
    questions: tuple[str, ...]
    value: str  # the specific value (a port, a path …) or, for API notes, the documented sentence
    file: str = ""
    evidence: str = ""  # the exact text in the document that states it


@dataclass
class Document:
    name: str
    text: str
    facts: list[DocFact] = field(default_factory=list)
    subject: str = ""
    missing: tuple[tuple[str, tuple[str, ...]], ...] = ()  # facts of its kind it leaves out: (key, questions)


# fact key → (value choices, statement patterns, question patterns); {p} is the product, {v} the value
_FACTS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "port": (("8080", "5173", "7420", "9091", "6543", "8765", "3300", "4040", "8443", "5055"),
             ("By default the {p} server listens on port {v}.", "{p} serves its web interface on port {v}.",
              "The default port is {v}."),
             ("[What|Which] port does {p} [use|listen on][ by default|]?", "On which port does the {p} server run?",
              "What is {p}'s default port?", "[Tell me|Remind me] the port {p} listens on.")),
    "config": (("~/.config/{lp}/config.toml", "/etc/{lp}/{lp}.yaml", "{lp}.ini in the project folder",
                "~/.{lp}rc", "settings.json next to the executable"),
               ("{p} reads its settings from {v}.", "Configuration lives in {v}.",
                "The configuration file is {v}."),
               ("Where does {p} [keep|read] its [configuration|settings|config file]?",
                "[What|Which] config file does {p} use?", "Where is the {p} configuration file?")),
    "verbose": (("--verbose", "-v", "--debug", "--log-level debug", "--trace"),
                ("Run {p} with {v} to see detailed logs.", "Pass {v} to get more output.",
                 "For detailed logging, add the {v} flag."),
                ("How do I [get|see] [more|detailed] [logs|output] from {p}?", "Which flag makes {p} verbose?",
                 "How can I turn on debug logging in {p}?")),
    "upload": (("25 MB", "100 MB", "2 GB", "512 MB", "10 MB", "50 MB"),
               ("Files larger than {v} are rejected.", "The maximum upload size is {v}.",
                "{p} accepts uploads of up to {v}."),
               ("What is the [maximum|largest] [upload|file] size in {p}?", "How big can a file uploaded to {p} be?",
                "Is there a size limit for uploads in {p}?")),
    "timeout": (("30 seconds", "10 seconds", "2 minutes", "90 seconds", "5 minutes", "45 seconds"),
                ("Requests time out after {v}.", "The default timeout is {v}.",
                 "{p} gives up on a request after {v}."),
                ("What is the default timeout [in|of] {p}?", "How long before a {p} request times out?",
                 "After how long does {p} time out?")),
    "version": (("2.4.1", "1.0.3", "3.2.0", "0.9.7", "4.1.2", "5.0.0", "1.12.4"),
                ("The current release of {p} is version {v}.", "Version {v} is the latest release.",
                 "{p} {v} is the newest version."),
                ("What is the latest version of {p}?", "Which version of {p} is current?",
                 "What's the newest {p} release?")),
    "license": (("MIT", "Apache 2.0", "GPL-3.0", "BSD-3-Clause", "MPL 2.0"),
                ("{p} is released under the {v} license.", "The project is licensed under {v}.",
                 "{p} uses the {v} license."),
                ("[What|Which] license does {p} use?", "Under which license is {p} released?",
                 "What's {p}'s license?")),
    "install": (("pip install {lp}", "brew install {lp}", "npm install -g {lp}", "cargo install {lp}",
                 "apt install {lp}"),
                ("Install {p} with `{v}`.", "To install it, run `{v}`.", "You can install {p} by running `{v}`."),
                ("How do I install {p}?", "What is the install command for {p}?", "How can I get {p} installed?")),
    "env": (("{up}_API_KEY", "{up}_TOKEN", "{up}_SECRET", "{up}_AUTH"),
            ("Set the {v} environment variable to your API key.", "{p} reads the API key from {v}.",
             "The API key goes in the {v} variable."),
            ("Which environment variable holds the {p} API key?", "Where does {p} look for the API key?",
             "How do I give {p} my API key?")),
    "retention": (("7 days", "30 days", "90 days", "one year", "14 days"),
                  ("Logs are kept for {v} and then deleted.", "{p} keeps history for {v}.",
                   "Data older than {v} is removed automatically."),
                  ("How long does {p} keep [logs|history|data]?", "What is the retention period in {p}?",
                   "When does {p} delete old data?")),
    "rate": (("60 requests per minute", "1,000 requests per hour", "10 requests per second",
              "5,000 requests per day"),
             ("The API allows {v}.", "{p} limits clients to {v}.", "The rate limit is {v}."),
             ("What is the rate limit of the {p} API?", "How many requests can I make to {p}?",
              "Does {p} limit how often I can call it?")),
    "platforms": (("Linux, macOS and Windows", "Linux and macOS only", "Linux only", "Windows 10 and later"),
                  ("{p} runs on {v}.", "Supported platforms: {v}.", "It works on {v}."),
                  ("Which [platforms|operating systems] does {p} support?", "Does {p} run on Windows?",
                   "What systems can I run {p} on?")),
    "requirement": (("Python 3.10 or newer", "at least 4 GB of RAM", "Node.js 20", "a 64-bit CPU", "Java 17"),
                    ("{p} needs {v}.", "The only requirement is {v}.", "You will need {v} to run {p}."),
                    ("What does {p} require?", "What are the requirements for {p}?",
                     "What do I need to run {p}?")),
    "cache": (("~/.cache/{lp}", "/var/cache/{lp}", "a .{lp}-cache folder in the project"),
              ("Downloaded files are cached in {v}.", "{p} stores its cache in {v}.", "The cache directory is {v}."),
              ("Where does {p} store its cache?", "What is the cache directory of {p}?",
               "Where are {p}'s cached files?")),
}

_STYLES = ("readme", "faq", "reference", "changelog", "howto")

# More facts manuals state, for the wider document mix (`product_manual(..., extended=True)`).
_MORE_FACTS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "workers": (("4", "8", "16", "2", "12"),
                ("{p} runs {v} worker processes by default.", "By default there are {v} workers."),
                ("How many workers does {p} [start|run] by default?", "What is the default number of {p} workers?",
                 "How many jobs can {p} run at once?")),
    "retries": (("3", "5", "10", "2"),
                ("A failed request is retried {v} times.", "{p} tries again up to {v} times before giving up."),
                ("How many times does {p} retry?", "How often is a failed {p} request [retried|tried again]?",
                 "What is the retry limit of {p}?")),
    "loglevel": (("info", "warning", "debug", "error"),
                 ("The default log level is {v}.", "{p} logs at level {v} unless told otherwise."),
                 ("What is the default log level of {p}?", "At which level does {p} log by default?",
                  "Which log level does {p} use?")),
    "price": (("$9 per month", "$29 per month", "$4.50 per user per month", "$99 per year", "€12 per month"),
              ("The Pro plan costs {v}.", "{p} Pro is priced at {v}."),
              ("How much does {p} Pro cost?", "What is the price of the {p} Pro plan?",
               "What does a {p} Pro subscription cost?")),
    "warranty": (("2 years", "1 year", "5 years", "18 months"),
                 ("The hardware comes with a {v} warranty.", "{p} devices are covered by a warranty of {v}."),
                 ("How long is the {p} warranty?", "What warranty does {p} come with?",
                  "For how long is a {p} device under warranty?")),
    "shortcut": (("Ctrl+K", "Ctrl+Shift+P", "Alt+Enter", "Cmd+J", "F6"),
                 ("Press {v} to open the command palette.", "The command palette opens with {v}."),
                 ("Which shortcut opens the {p} command palette?", "How do I open the command palette in {p}?",
                  "What key opens {p}'s command palette?")),
    "support": (("support@{lp}.example", "help@{lp}.example", "team@{lp}.example"),
                ("Write to {v} for help.", "Support questions go to {v}."),
                ("How do I contact {p} support?", "What is the {p} support address?",
                 "Where do I send questions about {p}?")),
    "backup": (("02:00", "03:30", "midnight", "04:15"),
               ("Backups run every night at {v}.", "The nightly backup starts at {v}."),
               ("When does the {p} backup run?", "At what time are {p} backups taken?",
                "What time is the nightly {p} backup?")),
    "users": (("5", "25", "100", "unlimited"),
              ("A workspace holds up to {v} users.", "Each {p} workspace can have {v} members."),
              ("How many users can a {p} workspace have?", "What is the user limit per {p} workspace?",
               "How many people fit in one {p} workspace?")),
    "region": (("Frankfurt and Dublin", "Oregon and Virginia", "Tokyo, Sydney and Mumbai", "Toronto"),
               ("{p} is hosted in {v}.", "Servers are located in {v}."),
               ("Where is {p} hosted?", "In which regions does {p} run?", "Where are the {p} servers?")),
}
# A short name per fact for structured styles (tables, YAML, key lists)
_LABELS = {"port": "Default port", "config": "Configuration file", "verbose": "Verbose flag",
           "upload": "Maximum upload size", "timeout": "Request timeout", "version": "Current version",
           "license": "License", "install": "Install command", "env": "API key variable",
           "retention": "Data retention", "rate": "Rate limit", "platforms": "Supported platforms",
           "requirement": "Requirements", "cache": "Cache directory", "workers": "Workers", "retries": "Retries",
           "loglevel": "Log level", "price": "Pro plan price", "warranty": "Warranty", "shortcut": "Command palette",
           "support": "Support contact", "backup": "Nightly backup", "users": "Users per workspace",
           "region": "Hosting regions"}
_STRUCTURED = ("table", "yaml", "keys")


def _fill(text: str, product: str, value: str = "") -> str:
    low = re.sub(r"[^a-z0-9]+", "", product.lower())
    return text.replace("{v}", value).replace("{p}", product).replace("{lp}", low).replace("{up}", low.upper())


def fact_table(extended: bool = False) -> dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]]:
    """Fact key → (values, statements, questions) that manuals draw from (``extended``: more kinds)."""
    return {**_FACTS, **_MORE_FACTS} if extended else dict(_FACTS)


def _structured_line(style: str, key: str, value: str) -> str:
    label = _LABELS.get(key, key)
    if style == "table":
        return f"| {label} | {value} |"
    if style == "yaml":
        return f"{re.sub(r'[^a-z]+', '_', label.lower()).strip('_')}: {value}"
    return f"- **{label}:** {value}"


def product_manual(product: str, rng: random.Random, *, n_facts: int = 8, extended: bool = False) -> Document:
    """One manual for a made-up product, in a random style, with ``n_facts`` specific facts.

    ``extended`` draws from more kinds of fact (`fact_table`) and adds styles where a fact sits in a
    structured line — a Markdown table row, a YAML key, a bold key list — amid prose; the answer
    then quotes that line as ``Label: value``.
    """
    table = fact_table(extended)
    keys = rng.sample(sorted(table), n_facts)
    style = rng.choice(_STYLES + _STRUCTURED) if extended else rng.choice(_STYLES)
    name = re.sub(r"[^a-z0-9]+", "-", product.lower()).strip("-") + ".md"
    facts = []
    for key in keys:
        values, statements, questions = table[key]
        value = _fill(rng.choice(values), product)
        sentence = _fill(rng.choice(statements), product, value)
        evidence = sentence
        if style in _STRUCTURED:
            evidence = _structured_line(style, key, value)
            sentence = f"{_LABELS.get(key, key)}: {value}."
        facts.append(DocFact(key, sentence, tuple(_fill(q, product) for q in questions), value, name, evidence))
    intro = rng.choice([f"{product} is a small tool for teams that want {rng.choice(['fast', 'simple', 'reliable'])} "
                        f"{rng.choice(['note taking', 'file syncing', 'data pipelines', 'chat bots', 'backups', 'web hosting'])}.",
                        f"{product} helps you {rng.choice(['track tasks', 'share files', 'run jobs', 'monitor servers', 'publish sites'])} "
                        "without extra setup."])
    if style in _STRUCTURED:
        lines = "\n".join(f.evidence for f in facts)
        prose = rng.choice(["Every setting below can be changed later.", "The values below are the defaults.",
                            "Ask your administrator before changing these.", "These apply to every installation."])
        if style == "table":
            body = f"| Setting | Value |\n|---|---|\n{lines}"
        elif style == "yaml":
            body = f"```yaml\n{lines}\n```"
        else:
            body = lines
        text = f"# {product} — {rng.choice(['settings', 'facts', 'at a glance', 'reference card'])}\n\n{intro}\n\n" \
               f"{prose}\n\n{body}\n"
    elif style == "faq":
        body = "\n\n".join(f"**Q: {expand(rng.choice(f.questions), rng)}**\nA: {f.sentence}" for f in facts)
        text = f"# {product} FAQ\n\n{intro}\n\n{body}\n"
    elif style == "reference":
        body = "\n".join(f"- `{f.key}`: {f.sentence}" for f in facts)
        text = f"# {product} configuration reference\n\n{intro}\n\n## Settings\n\n{body}\n"
    elif style == "changelog":
        body = "\n".join(f"- {f.sentence}" for f in facts)
        text = f"# {product} release notes\n\n{intro}\n\n## Notes for this release\n\n{body}\n"
    elif style == "howto":
        body = " ".join(f.sentence for f in facts)
        text = f"# Getting started with {product}\n\n{intro} {body}\n"
    else:
        half = len(facts) // 2
        text = (f"# {product}\n\n{intro}\n\n## Installation\n\n{' '.join(f.sentence for f in facts[:half])}\n\n"
                f"## Usage\n\n{' '.join(f.sentence for f in facts[half:])}\n")
    return Document(name, text, facts, product)


_VERBS = {"return": "returns", "create": "creates", "convert": "converts", "open": "opens", "read": "reads",
          "write": "writes", "make": "makes", "get": "gets", "set": "sets", "build": "builds", "compute": "computes",
          "calculate": "calculates", "raise": "raises", "test": "tests", "check": "checks", "find": "finds",
          "split": "splits", "join": "joins", "wrap": "wraps", "apply": "applies", "call": "calls", "copy": "copies",
          "remove": "removes", "add": "adds", "parse": "parses", "load": "loads", "save": "saves",
          "decode": "decodes", "encode": "encodes", "serialize": "serializes", "deserialize": "deserializes", "run": "runs", "start": "starts",
          "send": "sends", "format": "formats", "change": "changes", "delete": "deletes", "move": "moves",
          "print": "prints", "generate": "generates", "construct": "constructs", "compare": "compares",
          "search": "searches", "replace": "replaces", "extract": "extracts", "insert": "inserts", "pop": "pops",
          "sort": "sorts", "round": "rounds", "count": "counts", "execute": "executes", "wait": "waits",
          "remove all": "removes all", "fill": "fills", "dump": "dumps", "translate": "translates"}
_MODULES = ("json", "textwrap", "shutil", "pathlib", "itertools", "functools", "collections", "datetime", "random",
            "statistics", "csv", "zipfile", "argparse", "logging", "heapq", "bisect", "string", "fractions",
            "difflib", "fnmatch", "glob", "hashlib", "base64", "secrets", "uuid", "urllib.parse", "html",
            "tempfile", "copy", "operator", "math", "calendar", "gzip", "tarfile", "sqlite3", "http.cookies",
            "httpx", "yaml", "tqdm")


def _first_sentence(doc: str) -> str:
    para = " ".join(doc.strip().split("\n\n")[0].split())
    m = re.match(r"(.+?[.!?])(\s|$)", para)
    return (m.group(1) if m else para).strip()


def _third_person(name: str, sentence: str) -> str | None:
    """``Return the sum.`` → ``name returns the sum.``; declarative sentences stay; else None."""
    words = sentence.split(" ", 1)
    if len(words) < 2 or len(sentence) < 20 or len(sentence) > 220:
        return None
    verb = words[0].lower()
    if verb in _VERBS:
        return f"{name} {_VERBS[verb]} {words[1]}"
    if words[0] in ("A", "An", "The", "This") or sentence.startswith(name):
        return sentence
    return None


_API_QUESTIONS = ("What does {name} do?", "How does {name} work?", "What is {name} [for|used for]?",
                  "[Explain|Describe] {name}[ briefly| to me|].", "[Can you tell me|Tell me] what {name} does.",
                  "What is the purpose of {name}?", "How do I use {name}[ in Python|]?")


def _api_notes(module_name: str, *, max_entries: int = 14) -> Document | None:
    """A Markdown page of ``module_name``'s public functions and classes (None if it cannot be imported)."""
    import importlib

    try:
        module = importlib.import_module(module_name)
    except Exception:  # noqa: BLE001 - an optional module that is not installed is simply skipped
        return None
    name = module_name.replace(".", "-") + "-api.md"
    parts = [f"# The {module_name} module\n\n{' '.join((module.__doc__ or '').strip().split(chr(10) * 2)[0].split())}"]
    facts: list[DocFact] = []
    for attr in sorted(getattr(module, "__all__", None) or dir(module)):
        if attr.startswith("_") or len(facts) >= max_entries:
            continue
        obj = getattr(module, attr, None)
        if not (inspect.isfunction(obj) or inspect.isclass(obj) or inspect.isbuiltin(obj)):
            continue
        doc = inspect.getdoc(obj) or ""
        if not doc or (inspect.isclass(obj) and getattr(obj, "__module__", "") != module.__name__):
            continue
        full = f"{module_name}.{attr}"
        sentence = _first_sentence(doc)
        answer = _third_person(full, sentence)
        if answer is None:
            continue
        para = " ".join(doc.strip().split("\n\n")[0].split())
        parts.append(f"## {full}\n\n{para}")
        facts.append(DocFact(f"api:{full}", answer, tuple(q.replace("{name}", n) for q in _API_QUESTIONS
                                                             for n in (full, attr)), sentence, name, sentence))
    if len(facts) < 3:
        return None
    return Document(name, "\n\n".join(parts) + "\n", facts, module_name)


def write_documents(folder: str | Path, *, n_products: int = 24, seed: int = 0,
                    api_notes: bool = True, extended: bool = False, handbooks: int = 0,
                    composed: int = 0) -> list[Document]:
    """Write product manuals (``extended``: see `product_manual`), API notes, ``handbooks`` prose
    documents (`genaisys.train.engine.programs.handbooks`) and ``composed`` notes of composed facts
    (`genaisys.train.engine.programs.frames`) into ``folder``; returns them (facts know their file)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    from genaisys.train.engine.programs.content import PRODUCTS
    from genaisys.train.engine.programs.handbooks import ORGANISATIONS, handbook

    docs = [product_manual(p, rng, extended=extended) for p in PRODUCTS[:n_products]]
    docs += [handbook(ORGANISATIONS[i % len(ORGANISATIONS)], rng) for i in range(handbooks)]
    if composed:
        from genaisys.train.engine.programs.frames import PLACES_OF_INTEREST, composed_domain

        docs += [handbook(PLACES_OF_INTEREST[i % len(PLACES_OF_INTEREST)], rng, domain=f"notes-{i}",
                          spec=composed_domain(rng)) for i in range(composed)]
    if api_notes:
        docs += [d for d in (_api_notes(m) for m in _MODULES) if d is not None]
    for doc in docs:
        (folder / doc.name).write_text(doc.text, encoding="utf-8")
    return docs
