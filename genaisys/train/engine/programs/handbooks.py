"""Prose documents beyond software manuals: handbooks, appliance guides, event notices, course pages.

Product manuals state one fact per line; real documentation buries a fact in a hard-wrapped
paragraph under a heading, beside sentences that hold other numbers. A core trained only on the
former learns to answer when a context *looks like* a manual and to abstain otherwise. Here each
document belongs to a domain (an organisation's handbook, an appliance guide, an event notice, a
course page, a club's rules), has sections of prose wrapped at 72–96 characters, and mixes its
facts with filler and with distractor sentences that carry numbers of their own. Every fact has
several statements and several question patterns that paraphrase rather than repeat it; the
document also knows which facts of its domain it does *not* state (``Document.missing``), so
questions about them must be declined.

Example:
    >>> import random
    >>> doc = handbook("Bramblewick", random.Random(0))
    >>> len(doc.facts) >= 5, all(" ".join(f.evidence.split()) in " ".join(doc.text.split()) for f in doc.facts)
    (True, True)
    >>> bool(doc.missing) and not {k for k, _ in doc.missing} & {f.key for f in doc.facts}
    True
"""

from __future__ import annotations

import random
import re
import textwrap

from genaisys.train.engine.phrasing import expand
from genaisys.train.engine.programs.documents import DocFact, Document

__all__ = ["DOMAINS", "ORGANISATIONS", "handbook"]

#: made-up names the handbooks are about (no product of `content.PRODUCTS`, no held-out subject).
ORGANISATIONS: tuple[str, ...] = (
    "Bramblewick", "Copperfield Labs", "Duskmere", "Elmstead College", "Fenwick & Hale", "Gorsebrook", "Hollowmere",
    "Ivybridge Works", "Juniper Hall", "Kittering", "Lindenbrook", "Marlowe Studio", "Nettlefold", "Oakhaven",
    "Pebblestone", "Quarrydale", "Rookwood", "Sablewood", "Thornbury Cycling Club", "Upfield", "Valewood Clinic",
    "Wrenfield", "Yarrowby", "Ashcombe Theatre", "Birchmoor", "Cloverdale Library", "Dunhollow", "Everleigh")

# domain → about (how a question names the subject), titles, section headings, facts (key → (values,
# statements, questions)) and filler
# {s} the subject, {v} the value. Statements are what the document says and what an answer quotes.
DOMAINS: dict[str, dict] = {
    "workplace": {
        "about": " at {s}",
        "titles": ("{s} staff handbook", "Working at {s}", "{s}: a guide for new colleagues"),
        "sections": ("Your first week", "Hours and leave", "Travel and expenses", "Equipment", "Getting help"),
        "facts": {
            "hours": (("8:00 to 16:30", "9:00 to 17:30", "7:30 to 15:30"),
                      ("Core office hours run from {v} on weekdays.", "The office is staffed from {v}, Monday to Friday."),
                      ("When is the {s} office open?", "[What are|Tell me] the office hours at {s}.",
                       "From what time to what time is someone in the office?")),
            "leave": (("25", "28", "30", "22"),
                      ("Full-time staff get {v} days of paid leave a year.", "Everyone on a full contract has {v} "
                       "days of holiday each year."),
                      ("How many days of paid leave do I get at {s}?", "How much holiday is there per year?",
                       "What is the yearly holiday allowance?")),
            "hotel": (("120 euros", "95 pounds", "150 dollars", "110 euros"),
                      ("Hotel nights are reimbursed up to {v} per night.", "We pay for hotels up to {v} a night."),
                      ("How much can I spend on a hotel per night?", "What is the hotel limit when I travel for "
                       "{s}?", "Up to what amount is a hotel night refunded?")),
            "remote": (("two", "three", "one"),
                       ("You may work from home up to {v} days a week.", "Staff can work remotely {v} days each week."),
                       ("How many days a week can I work from home?", "Is remote work allowed, and how often?")),
            "payday": (("25th", "last working day", "15th", "28th"),
                       ("Salaries are paid on the {v} of each month.", "Pay arrives on the {v} of every month."),
                       ("When is payday at {s}?", "On which day of the month are salaries paid?")),
            "chat": (("Relaymail", "Huddlebox", "Chatterpine"),
                     ("Team chat happens in {v}.", "Day-to-day messages go through {v}."),
                     ("Which chat tool does {s} use?", "What app do teams chat in?")),
            "training": (("1,000 euros", "800 pounds", "1,500 dollars"),
                         ("Each person has a yearly learning budget of {v}.", "Courses and books are covered up "
                          "to {v} per year."),
                         ("How big is the training budget?", "How much can I spend on courses each year?")),
            "laptop": (("three years", "four years", "five years"),
                       ("Laptops are replaced every {v}.", "A work laptop is swapped for a new one after {v}."),
                       ("How often are laptops replaced?", "When do I get a new work laptop?")),
        },
        "filler": ("Welcome aboard; we are glad you are here.", "Ask your manager if anything here is unclear.",
                   "The building has {n} floors and a small garden.", "This page is reviewed every spring.",
                   "Most teams meet on Monday mornings.", "Around {n} people work here today."),
    },
    "appliance": {
        "about": " on the {s}",
        "titles": ("{s} user guide", "Using your {s}", "{s} owner's manual"),
        "sections": ("Before first use", "Everyday use", "Charging", "Cleaning and care", "Troubleshooting"),
        "facts": {
            "charge": (("two hours", "90 minutes", "four hours", "45 minutes"),
                       ("A full charge takes about {v}.", "Charging from empty to full needs {v}."),
                       ("How long does the {s} take to charge?", "How much time does a full charge need?")),
            "runtime": (("six hours", "ten hours", "40 minutes", "three days"),
                        ("On one charge it runs for about {v}.", "A full battery lasts roughly {v}."),
                        ("How long does the battery last?", "How long can the {s} run on one charge?")),
            "reset": (("ten seconds", "five seconds", "fifteen seconds"),
                      ("To restore factory settings, hold the power button for {v}.", "Holding the power button "
                       "for {v} resets it to factory settings."),
                      ("How do I factory-reset the {s}?", "How long do I hold the button to reset it?")),
            "filter": (("every three months", "every six weeks", "once a year"),
                       ("Replace the filter {v}.", "The filter should be changed {v}."),
                       ("How often should I change the filter?", "When does the {s} filter need replacing?")),
            "water": (("IPX4", "IPX7", "IP54"),
                      ("The casing is rated {v} against water.", "It carries an {v} water rating."),
                      ("Is the {s} waterproof?", "What is its water resistance rating?")),
            "capacity": (("1.5 litres", "12 cups", "4 kilograms", "800 millilitres"),
                         ("The tank holds up to {v}.", "Its maximum capacity is {v}."),
                         ("How much does the {s} hold?", "What is the maximum capacity?")),
            "warranty": (("two years", "three years", "18 months"),
                         ("The {s} is covered by a {v} guarantee.", "Repairs are free for {v} after purchase."),
                         ("How long is the guarantee?", "For how long are repairs free?")),
            "light": (("blinks orange", "turns solid red", "pulses blue"),
                      ("When the battery is low, the status light {v}.", "A low battery is shown when the light "
                       "{v}."),
                      ("How do I know the battery is low?", "What does the light do when the battery runs low?")),
        },
        "filler": ("Keep this guide for later.", "Unpack everything and check the parts.",
                   "The box contains the unit, a cable and {n} spare pads.", "Do not use it near open flames.",
                   "It weighs about {n} hundred grams.", "Wipe it with a dry cloth."),
    },
    "event": {
        "about": " at the {s} event",
        "titles": ("{s} open day", "{s} summer meetup", "Notice: the {s} annual gathering"),
        "sections": ("When and where", "Tickets", "Getting there", "Programme", "Accessibility"),
        "facts": {
            "doors": (("9:30", "18:00", "10:00", "19:15"),
                      ("Doors open at {v}.", "Guests can come in from {v}."),
                      ("What time do the doors open?", "From when can guests arrive?")),
            "venue": (("the old grain hall on Mill Street", "the riverside pavilion", "room 2.14 of the east wing"),
                      ("The event takes place in {v}.", "Everything happens in {v} this year."),
                      ("Where is the {s} event held?", "Where does it take place?")),
            "ticket": (("12 euros", "free", "8 pounds", "20 dollars"),
                       ("A ticket costs {v}.", "Entry is {v} for adults."),
                       ("How much is a ticket?", "What does entry cost?")),
            "deadline": (("14 May", "1 September", "30 June"),
                         ("Registration closes on {v}.", "Sign up by {v} at the latest."),
                         ("When does registration close?", "What is the last day to sign up?")),
            "seats": (("200", "80", "350", "1,200"),
                      ("There is room for {v} guests.", "The hall seats {v} people."),
                      ("How many people can attend?", "How many seats are there?")),
            "bus": (("line 7", "the 42 bus", "tram 3"),
                    ("Take {v} to the stop right outside.", "The nearest stop is served by {v}."),
                    ("Which bus goes there?", "How do I get there by public transport?")),
        },
        "filler": ("We look forward to seeing you.", "Children are welcome.", "Last year about {n}0 people came.",
                   "Bring a friend.", "Snacks will be served in the break.", "The talks start on time."),
    },
    "course": {
        "about": " in {s}",
        "titles": ("{s}: course information", "About the {s} course", "{s} syllabus"),
        "sections": ("Overview", "Assessment", "Deadlines", "Materials", "Contact"),
        "facts": {
            "pass": (("55 percent", "60 percent", "50 percent"),
                     ("You need {v} overall to pass.", "The pass mark is {v}."),
                     ("What score do I need to pass?", "What is the pass mark?")),
            "late": (("5 percent per day", "10 percent per day", "one grade step per day"),
                     ("Late work loses {v}.", "Each day late costs {v}."),
                     ("What happens if I hand work in late?", "Is there a penalty for late submissions?")),
            "exam": (("12 January", "3 June", "20 December"),
                     ("The final exam is on {v}.", "The written exam takes place on {v}."),
                     ("When is the exam?", "On which date is the final exam?")),
            "credits": (("6", "5", "10", "7.5"),
                        ("The course is worth {v} credits.", "Completing it earns {v} credits."),
                        ("How many credits is the course worth?", "How many credits do I get?")),
            "book": (("Practical Statistics by Lena Moor", "the blue course reader", "Foundations of Design"),
                     ("The main text is {v}.", "Please get a copy of {v}."),
                     ("Which book do we need?", "What is the main textbook?")),
            "hours": (("Tuesdays from 14:00", "Thursdays at noon", "Fridays from 10:00"),
                      ("Office hours are {v}.", "The teacher is available {v}."),
                      ("When are office hours?", "When can I see the teacher?")),
        },
        "filler": ("Read this page before the first class.", "There are {n} group projects.",
                   "Attendance is recorded.", "Slides are posted after each class.", "Week {n} is a reading week."),
    },
    "club": {
        "about": " at {s}",
        "titles": ("{s} member rules", "Joining {s}", "{s}: how things work"),
        "sections": ("Membership", "Opening times", "Borrowing", "Guests", "Fees"),
        "facts": {
            "fee": (("40 euros a year", "5 pounds a month", "60 dollars a year"),
                    ("Membership costs {v}.", "The membership fee is {v}."),
                    ("How much is membership?", "What does it cost to join {s}?")),
            "loan": (("three weeks", "14 days", "one month"),
                     ("Items can be borrowed for {v}.", "The loan period is {v}."),
                     ("How long can I borrow things for?", "What is the loan period?")),
            "fine": (("20 cents a day", "1 euro a week", "50 pence a day"),
                     ("Late returns cost {v}.", "The fine for overdue items is {v}."),
                     ("What is the fine for late returns?", "How much do I pay if I return something late?")),
            "guests": (("two", "one", "three"),
                       ("Each member may bring {v} guests per visit.", "Members can bring up to {v} guests."),
                       ("How many guests can I bring?", "Can I bring friends along, and how many?")),
            "sunday": (("10:00 to 14:00", "closed", "noon to 18:00"),
                       ("On Sundays the opening hours are {v}.", "Sunday hours: {v}."),
                       ("Is {s} open on Sundays?", "What are the Sunday opening hours?")),
            "age": (("16", "18", "12"),
                    ("Members must be at least {v} years old.", "The minimum age to join is {v}."),
                    ("How old do I have to be to join?", "Is there a minimum age?")),
        },
        "filler": ("Please be kind to other members.", "We have about {n}00 members.",
                   "The notice board is by the entrance.", "Volunteers keep the place running.",
                   "Our committee meets {n} times a year."),
    },
}


def _wrap(paragraph: str, rng: random.Random) -> str:
    return textwrap.fill(paragraph, width=rng.randint(72, 96), break_on_hyphens=False)


def handbook(subject: str, rng: random.Random, *, domain: str | None = None, n_facts: int | None = None,
             spec: dict | None = None) -> Document:
    """One prose document about ``subject`` in ``domain`` (random by default) with ``n_facts`` facts.

    Facts are spread over the domain's sections, each paragraph mixing them with filler and with
    distractor sentences that carry numbers; paragraphs are hard-wrapped. ``Document.missing`` lists
    the domain's facts the document leaves out, as ``(key, question patterns)``. ``spec`` is a domain
    of one's own in the shape of a `DOMAINS` entry (`frames.composed_domain`); ``domain`` then names
    it (default ``"notes"``).
    """
    if spec is None:
        domain = domain or rng.choice(sorted(DOMAINS))
        spec = DOMAINS[domain]
    else:
        domain = domain or "notes"
    table: dict = spec["facts"]
    keys = rng.sample(sorted(table), n_facts or rng.randint(4, min(6, len(table) - 1)))
    name = re.sub(r"[^a-z0-9]+", "-", subject.lower()).strip("-") + f"-{domain}.md"
    facts, sentences = [], []
    for key in keys:
        values, statements, questions = table[key]
        value = rng.choice(values)
        sentence = rng.choice(statements).replace("{s}", subject).replace("{v}", value)
        qs = _asked(questions, subject, spec)
        facts.append(DocFact(f"{domain}:{key}", sentence, qs, value, name, sentence))
        sentences.append(sentence)
    sections = rng.sample(spec["sections"], min(len(spec["sections"]), max(2, (len(facts) + 1) // 2)))
    paragraphs: list[list[str]] = [[] for _ in sections]
    for i, sentence in enumerate(sentences):
        paragraphs[i % len(sections)].append(sentence)
    filler = rng.sample(spec["filler"], len(spec["filler"]))
    for para in paragraphs:
        for _ in range(rng.randint(1, 2)):
            if filler:
                para.insert(rng.randint(0, len(para)), filler.pop().replace("{n}", str(rng.randint(2, 9))))
    title = rng.choice(spec["titles"]).replace("{s}", subject)
    intro = expand("[This page|This document|This guide] [explains|covers|describes] [what you need to know|the "
                   "essentials|the basics] about {s}.", rng, s=subject)
    body = "\n\n".join(f"## {heading}\n\n{_wrap(' '.join(para), rng)}" for heading, para in zip(sections, paragraphs))
    text = f"# {title}\n\n{_wrap(intro, rng)}\n\n{body}\n"
    missing = tuple((f"{domain}:{k}", _asked(table[k][2], subject, spec)) for k in sorted(table) if k not in keys)
    return Document(name, text, facts, subject, missing)


def _asked(questions: tuple[str, ...], subject: str, spec: dict) -> tuple[str, ...]:
    """Question patterns that all name the subject (a world holds several documents of a domain)."""
    return tuple(q.replace("{s}", subject) if "{s}" in q else f"{q[:-1]}{spec['about'].replace('{s}', subject)}?"
                 for q in questions)
