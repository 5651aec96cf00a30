"""Composed facts: many kinds of fact from a few question frames and a long list of things asked about.

The handbooks and manuals state each kind of fact in a fixed handful of ways (`handbooks.DOMAINS`,
`documents._FACTS`), so a small core learns *which* questions those sentences answer rather than
how to read a sentence it has never seen: on held-out documents bf-1 declined an answer it was
shown in one sentence ("Every pull request needs two approving reviews.") because no training
fact was about reviews (docs/heldout-evals.md). Here a kind of fact is a *frame* (a count, a
name, a duration, a day, a price, a person, a place), each with several statement and question
patterns that word the fact differently, filled with one of many things the fact is about (a
count of "meeting rooms", the name of the "ticket system", the length of the "trial period").
The question names the thing; the statement names it too, but around it the wording differs, so
the core has to match the thing asked about, not a memorised sentence.

`composed_domain` returns a domain in the shape of `handbooks.DOMAINS` entries, so `handbook`
writes its documents (prose, filler, hard wraps, and the facts it leaves out, to be declined).
The things asked about are written for training only; none is a fact of a held-out document.

Example:
    >>> import random
    >>> spec = composed_domain(random.Random(0), n_facts=6)
    >>> len(spec["facts"]), sorted(spec) == ["about", "facts", "filler", "sections", "titles"]
    (6, True)
    >>> values, statements, questions = next(iter(spec["facts"].values()))
    >>> all("{v}" in s for s in statements) and all(q.endswith("?") for q in questions)
    True
"""

from __future__ import annotations

import random
from typing import Any

__all__ = ["FRAMES", "PLACES_OF_INTEREST", "composed_domain"]

#: made-up community places the composed notes are about (no product, organisation or held-out subject).
PLACES_OF_INTEREST: tuple[str, ...] = (
    "Fernhollow Community Centre", "Larchmont Makerspace", "Redwater Rowing Club", "Stonegate Library",
    "Millbrook Scouts", "Ashgrove Allotments", "Bluebell Youth Club", "Cedarfield Pool", "Dovetail Co-working",
    "Elmwood Choir", "Foxley Bike Kitchen", "Greystone Climbing Wall", "Hazelmere Food Bank", "Kingsmoor Chess Club",
    "Lowfield Repair Café", "Mapleton Swim School", "Oldbridge Theatre Group", "Pinecrest Camera Club",
)

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_PEOPLE = ("Priya Nair", "Tom Becker", "Ana Souza", "Kenji Mori", "Fatima Haddad", "Lars Olsen", "Grace Okafor",
           "Diego Ramos", "Mei Lin", "Oskar Novak", "Sara Lindqvist", "Yusuf Demir")
_PLACES = ("on the second floor", "next to the reception desk", "in the basement", "behind the main building",
           "in room 14", "on the ground floor by the lifts", "in the shed by the car park", "in the east wing")

# frame → statement patterns, question patterns, values; {t} the thing, {T} it capitalised, {s} the
# subject, {v} the value. Statements and questions both name the thing, worded differently around it.
FRAMES: dict[str, dict[str, Any]] = {
    "count": {
        "statements": ("{s} has {v} {t}.", "There are {v} {t} in total.", "{T}: {v} in all.",
                       "We currently have {v} {t}.", "All together there are {v} {t} at {s}."),
        "questions": ("How many {t} does {s} have?", "What is the number of {t} at {s}?",
                      "How many {t} are there at {s}?", "Do you know how many {t} {s} has?"),
        "values": ("3", "4", "6", "8", "12", "15", "20", "two", "five", "40"),
        "things": ("meeting rooms", "parking spaces", "spare keys", "charging points", "guest passes", "bike racks",
                   "delivery vans", "fire exits", "printers", "practice rooms", "rowing boats", "tennis courts",
                   "study desks", "volunteer drivers", "lockers", "first-aid kits", "loan laptops", "beehives",
                   "greenhouses", "shuttle buses", "kayaks", "pianos", "microscopes", "telescopes"),
    },
    "name": {
        "statements": ("{s} uses {v} for its {t}.", "Our {t} is {v}.", "For the {t} we rely on {v}.",
                       "{T}: {v}.", "The {t} everyone uses is {v}."),
        "questions": ("Which {t} does {s} use?", "What is the {t} at {s}?", "What {t} do they use at {s}?",
                      "Tell me the name of the {t} {s} uses."),
        "values": ("Pinecall", "Murmur", "Ledgerly", "Boxwood", "Quayside", "Tallyho", "Brisk", "Hearth",
                   "Skylark", "Mapleleaf", "Corvid", "Tessellate"),
        "things": ("ticket system", "chat app", "password manager", "payroll provider", "booking system",
                   "newsletter service", "cleaning company", "coffee supplier", "bank", "insurer", "map service",
                   "accounting software", "video call tool", "print shop", "courier", "wiki", "survey tool",
                   "calendar app", "timesheet tool", "music licence provider"),
    },
    "duration": {
        "statements": ("The {t} lasts {v}.", "At {s} the {t} is {v} long.", "{T}: {v}.",
                       "Plan for a {t} of {v}.", "A {t} here takes {v}."),
        "questions": ("How long is the {t} at {s}?", "How long does the {t} last at {s}?",
                      "What is the length of the {t} at {s}?", "For how long does the {t} run at {s}?"),
        "values": ("45 minutes", "two weeks", "30 days", "one hour", "90 minutes", "six months", "three days",
                   "ten minutes", "a full year", "20 minutes"),
        "things": ("trial period", "lunch break", "notice period", "induction course", "refund window",
                   "loan period", "cool-down", "guided tour", "warm-up", "probation", "fire drill",
                   "exam", "swimming lesson", "reading slot", "quiet hour", "deep clean"),
    },
    "day": {
        "statements": ("The {t} is on {v}.", "{s} holds the {t} every {v}.", "{T}: every {v}.",
                       "Every {v} we have the {t}.", "The {t} takes place each {v}."),
        "questions": ("On which day is the {t} at {s}?", "When is the {t} at {s}?",
                      "Which day of the week does {s} have the {t}?", "What day is the {t} at {s}?"),
        "values": _DAYS,
        "things": ("team breakfast", "bin collection", "market stall", "board game night", "staff meeting",
                   "window cleaning", "stock take", "open day", "quiz night", "choir rehearsal", "yoga class",
                   "book swap", "repair café", "newsletter deadline", "late opening"),
    },
    "price": {
        "statements": ("The {t} costs {v}.", "At {s} you pay {v} for the {t}.", "{T}: {v}.",
                       "We charge {v} for the {t}.", "The price of the {t} is {v}."),
        "questions": ("How much does the {t} cost at {s}?", "What is the price of the {t} at {s}?",
                      "What do I pay for the {t} at {s}?", "How much is the {t} at {s}?"),
        "values": ("5 euros", "12 pounds", "40 dollars", "2.50 euros", "60 cents", "18 euros", "75 dollars",
                   "9 pounds", "120 euros", "3 dollars"),
        "things": ("day ticket", "locker deposit", "replacement card", "towel rental", "late return fee",
                   "guest entry", "parking permit", "printing credit", "kayak hire", "workshop place",
                   "room booking", "key copy", "bike repair", "sauna visit", "photo pass"),
    },
    "person": {
        "statements": ("{v} looks after the {t}.", "Questions about the {t} go to {v}.", "{T}: {v}.",
                       "The {t} is handled by {v}.", "Ask {v} about the {t}."),
        "questions": ("Who takes care of the {t} at {s}?", "Who is in charge of the {t} at {s}?",
                      "Who should I ask about the {t} at {s}?", "Who handles the {t} at {s}?"),
        "values": _PEOPLE,
        "things": ("key cupboard", "first aid", "garden", "lost property", "notice board", "rota",
                   "stationery order", "recycling", "social media", "workshop tools", "bookings", "sound system",
                   "minibus", "library corner"),
    },
    "place": {
        "statements": ("The {t} is {v}.", "You will find the {t} {v}.", "{T}: {v}.",
                       "At {s} the {t} sits {v}.", "We keep the {t} {v}."),
        "questions": ("Where is the {t} at {s}?", "Where can I find the {t} at {s}?",
                      "Where does {s} keep the {t}?", "In which part of {s} is the {t}?"),
        "values": _PLACES,
        "things": ("defibrillator", "quiet room", "bike shed", "mail room", "costume store", "dark room",
                   "server cupboard", "prayer room", "tool wall", "lost-and-found box", "kitchen",
                   "seed library", "drying room"),
    },
}

_FILLER = ("Please keep this page up to date.", "Ask at the front desk if anything is unclear.",
           "We review these notes {n} times a year.", "Thanks to everyone who helps out.",
           "Most of this changes rarely.", "About {n}0 people use these notes every week.")
_SECTIONS = ("Basics", "Around the place", "Who does what", "Money matters", "Dates and times", "Good to know")


def composed_domain(rng: random.Random, *, n_facts: int = 8) -> dict[str, Any]:
    """A domain for `handbooks.handbook`: ``n_facts`` composed kinds of fact (frame × thing), drawn
    across frames, in the shape of a `handbooks.DOMAINS` entry (its fact keys are ``frame:thing``)."""
    facts: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {}
    frames = sorted(FRAMES)
    while len(facts) < n_facts:
        frame = rng.choice(frames)
        spec = FRAMES[frame]
        thing = rng.choice(spec["things"])
        if f"{frame}:{thing}" in facts:
            continue
        values = tuple(rng.sample(spec["values"], 3))
        fill = {"{t}": thing, "{T}": thing[0].upper() + thing[1:]}
        statements = tuple(_fill(p, fill) for p in spec["statements"])
        questions = tuple(_fill(p, fill) for p in spec["questions"])
        facts[f"{frame}:{thing}"] = (values, statements, questions)
    return {"about": " at {s}", "titles": ("{s}: notes for members", "{s} at a glance", "About {s}"),
            "sections": _SECTIONS, "facts": facts, "filler": _FILLER}


def _fill(pattern: str, fill: dict[str, str]) -> str:
    for key, value in fill.items():
        pattern = pattern.replace(key, value)
    return pattern
