"""Follow-up turns recorded through the real assistant graph: each answer is computed from what the
thread actually returned earlier (the quoted document value, the clock's reading, the calculator's
results), and a follow-up on something that was never found says so instead of making it up."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from genaisys.train.engine.phrasing import expand
from genaisys.train.engine.programs.followups import _arithmetic_followups, _clock_followups, _doc_followups, quantity
from genaisys.train.engine.programs.oracle import call, plan
from genaisys.train.engine.programs.turns import ThreadPlan, Turn


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from genaisys.train.engine.programs.world import World

    return World(tmp_path_factory.mktemp("world"), n_products=8, api_notes=False)


def _option(options, name):
    return next(fn for _, fn in options if fn.__name__ == name)


def _record(world, tools, turns, memory=True):
    from genaisys.train.engine.programs.assistant import record_threads

    records = record_threads(world, [ThreadPlan(tools, memory, turns)], seed=0)
    return records[-1]["conversations"]  # the whole thread, folded into its last record


def _calls(conversation, name):
    return [c for m in conversation for c in m.get("tool_calls") or [] if c["name"] == name]


def test_quantities_read_numbers_and_units_and_refuse_the_rest():
    assert quantity("1,000 requests per hour") == (1000, "requests per hour")
    assert quantity("three years") == (3, "years")
    assert quantity("1.5 litres") == (1.5, "litres")
    assert quantity("7420") == (7420, "")
    for value in ("2.4.1", "IPX4", "25th", "8:00 to 16:30", "Python 3.10 or newer", "every three months"):
        assert quantity(value) is None, value


def _numeric_fact(world, units):
    for doc in world.documents:
        for fact in doc.facts:
            amount = quantity(fact.value)
            if amount and amount[1] in units:
                return doc, fact, amount
    pytest.skip(f"no document of this world states a value in {units}")


def _doc_turn(doc, fact):
    from genaisys.train.engine.programs.assistant import _answer_fact, _chunk_with

    def answer(view):
        number = _chunk_with(view, fact.evidence)
        return _answer_fact(fact, number, random.Random(0)) if number else "I couldn't find that."
    return Turn("document", expand(fact.questions[0], random.Random(0)), plan(answer),
                facts={"fact": fact.sentence, "subject": doc.subject, "key": fact.key, "value": fact.value})


def test_a_unit_conversion_computes_on_the_value_the_answer_quoted(world):
    doc, fact, (number, unit) = _numeric_fact(world, {"days", "requests per minute", "requests per hour", "MB",
                                                      "seconds", "minutes"})
    first = _doc_turn(doc, fact)
    follow = _option(_doc_followups(random.Random(0), first, ["calculator"]), "convert")()
    conversation = _record(world, ["calculator"], [first, follow])
    assert fact.value in next(m["value"] for m in conversation if m["from"] == "gpt")  # the answer quoted it
    (computed,) = _calls(conversation, "calculator")
    assert computed["arguments"]["expression"].startswith(f"{number} ")
    result = next(m["value"] for m in conversation if m["from"] == "tool")
    assert result in conversation[-1]["value"] and conversation[-1]["from"] == "gpt"


def test_sums_and_the_subject_follow_a_document_answer(world):
    doc, fact, (number, _) = _numeric_fact(world, {"days", "MB", "GB", "seconds", "minutes", "", "requests per hour",
                                                   "requests per minute", "requests per day", "requests per second"})
    first = _doc_turn(doc, fact)
    options = _doc_followups(random.Random(1), first, ["calculator"])
    math, subject = _option(options, "doc_math")(), _option(options, "recall_subject")()
    conversation = _record(world, ["calculator"], [first, math, subject])
    (computed,) = _calls(conversation, "calculator")
    assert computed["arguments"]["expression"].split()[0] == str(number)
    assert doc.subject in conversation[-1]["value"]


def test_a_follow_up_on_a_value_never_found_says_so_and_calls_nothing(world):
    doc, fact, _ = _numeric_fact(world, {"days", "MB", "GB", "seconds", "minutes", "", "requests per hour",
                                         "requests per minute", "requests per day", "requests per second"})
    missed = Turn("document", "Tell me about it.", plan("I couldn't find that in the documents I have."),
                  facts={"fact": fact.sentence, "subject": doc.subject, "key": fact.key, "value": fact.value})
    follow = _option(_doc_followups(random.Random(2), missed, ["calculator"]), "doc_math")()
    conversation = _record(world, ["calculator"], [missed, follow])
    assert not _calls(conversation, "calculator")
    assert re.search(r"didn't find|never found", conversation[-1]["value"])


def test_clock_follow_ups_read_the_clocks_real_answer(world):
    clock = Turn("clock", "What time is it in Tokyo?", plan(call("current_time", {"timezone": "Asia/Tokyo"}), "Noted."),
                 needs="current_time")
    options = _clock_followups(random.Random(3), ["current_time", "calculator"])
    turns = [clock, _option(options, "weekend")(), _option(options, "year_math")()]
    conversation = _record(world, ["current_time", "calculator"], turns, memory=False)
    reading = next(m["value"] for m in conversation if m["from"] == "tool")
    year, day = re.match(r"(\d{4})-", reading).group(1), re.search(r"\((\w+day)", reading).group(1)
    verdict = [m["value"] for m in conversation if m["from"] == "gpt"][2]  # call, answer, then the verdict
    assert day in verdict and verdict.startswith(("Yes", "No"))
    (computed,) = _calls(conversation, "calculator")
    assert year in computed["arguments"]["expression"]


def test_the_first_result_and_the_numbers_asked_about_come_from_the_history(world):
    from genaisys.train.engine.programs import intents

    asks = [intents.arithmetic(random.Random(s)) for s in (4, 5)]
    turns = [Turn("arithmetic", a.text, a.policy(["calculator"]), needs="calculator", facts=a.facts) for a in asks]
    options = _arithmetic_followups(random.Random(6), turns)
    # "the number before the last step" is asked only after a step that worked on one earlier value
    assert "before_last" not in {fn.__name__ for _, fn in options}
    chained = Turn("chain", "Double that.", plan("..."), needs="calculator", facts={"on_value": True})
    assert "before_last" in {fn.__name__ for _, fn in _arithmetic_followups(random.Random(6), [*turns, chained])}
    turns += [_option(options, "first_result")(), _option(options, "operands")()]
    conversation = _record(world, ["calculator"], turns, memory=False)
    first = next(m["value"] for m in conversation if m["from"] == "tool")
    answers = [m["value"] for m in conversation if m["from"] == "gpt" and not m.get("tool_calls")]
    assert first in answers[-2]
    assert asks[1].facts["expression"] in answers[-1] or "%" in answers[-1]


def test_the_thread_length_mix_can_be_set():
    from types import SimpleNamespace

    from genaisys.train.engine.programs.assistant import plan_thread

    world = SimpleNamespace(tools=("calculator", "current_time"))
    requests = {"intent": 1, "document": (0, 0), "talk": 0, "photo": 0, "shape": 0, "tell": 0, "followup": 1}
    rng = random.Random(0)
    lengths = Counter(len(plan_thread(world, rng, {}, weights={**requests, "turns": (0, 0, 0, 1)}).turns)
                      for _ in range(10))
    assert lengths == {4: 10}


def test_the_follow_up_generator_never_writes_a_held_out_turn():
    from types import SimpleNamespace

    from genaisys.datasets.heldout import material
    from genaisys.train.engine.programs.assistant import plan_thread

    held_out = {t.lower() for t in material()["followups"]}
    world = SimpleNamespace(tools=("calculator", "current_time", "memory_write", "memory_search"))
    mix = {"intent": 3, "document": (0, 0), "talk": 1, "photo": 0, "shape": 0, "tell": 2, "followup": 6,
           "turns": (0, 0, 1, 1), "intents": {"arithmetic": 3, "clock": 2, "remember": 1}}
    rng = random.Random(0)
    asked = [t.content for _ in range(600) for t in plan_thread(world, rng, {"Hello": "Hi."}, weights=mix).turns[1:]]
    assert len(set(asked)) > 300
    assert not {a for a in asked if a.lower() in held_out}
