"""Focused context: the sentences of retrieved chunks closest to the question, in document order."""

from __future__ import annotations

import pytest

from genaisys.memory import HashingEmbedding
from genaisys.memory.focus import focus_hits, sentences_of

GUIDE = ("# Configuring Orchard\n\nOrchard reads one YAML file from the folder named by\n`ORCHARD_HOME`.\n\n"
         "## Dashboard\n\nThe dashboard listens on port 9181. It shows running jobs and the queue.\n"
         "- `workers`: jobs that run at once, 8 by default\n| Key | Default |\n|---|---|\n| retries | 5 |")


def hit(text: str, source: str, score: float = 0.8) -> dict:
    return {"id": source, "text": text, "score": score, "source": source, "citation": f"{source}#0",
            "metadata": {"start": 0}}


def test_sentences_join_wrapped_lines_and_keep_markdown_lines_apart():
    units = sentences_of(GUIDE)
    assert "Orchard reads one YAML file from the folder named by `ORCHARD_HOME`." in units
    assert "The dashboard listens on port 9181." in units and "It shows running jobs and the queue." in units
    assert "- `workers`: jobs that run at once, 8 by default" in units and "| retries | 5 |" in units
    assert "|---|---|" not in units  # no letters or digits: dropped


def test_keeps_the_best_sentences_across_hits_in_document_order_and_drops_empty_hits():
    hits = [hit("Cats sleep a lot. Dogs bark at night.", "pets.md"), hit(GUIDE, "orchard.md"),
            hit("Bread needs flour, water and salt.", "bread.md")]
    focused = focus_hits("On which port does the Orchard dashboard listen?", hits, sentences=2)
    assert [h["source"] for h in focused] == ["orchard.md"]  # the others lost every sentence
    assert "The dashboard listens on port 9181." in focused[0]["text"]
    assert focused[0]["citation"] == "orchard.md#0" and focused[0]["metadata"] == {"start": 0, "focused": True}
    assert hits[1]["text"] == GUIDE  # inputs unchanged

    three = focus_hits("Which port does the dashboard use, and how many workers run?", [hits[1]], sentences=3)[0]
    parts = three["text"].split(" … ")
    assert len(parts) == 3 and parts == sorted(parts, key=GUIDE.replace("\n", " ").find)


def test_scores_with_the_embedding_when_given():
    calls = []

    class Recording(HashingEmbedding):
        def __call__(self, input):
            calls.append(list(input))
            return super().__call__(input)

    focused = focus_hits("port 9181", [hit(GUIDE, "docs/orchard-guide.md")], sentences=1, embedding=Recording())
    units = [u for u in sentences_of(GUIDE) if not u.startswith("#")]  # headings are no units of their own
    assert calls and calls[0][0] == "port 9181" and len(calls[0]) == 1 + len(units)
    # each sentence is scored with its document's name and its heading in front, and shown with its heading
    assert "orchard guide: Dashboard: The dashboard listens on port 9181." in calls[0]
    assert len(focused) == 1 and focused[0]["text"].startswith("Dashboard: ")


def test_soft_breaks_join_like_markdown_and_headings_travel_with_their_sentences():
    text = ("1. Make a backup\n   Run the dump on the host. The dump is written to\n   /var/backups and"
            " is encrypted\n   with AES.\n\n```yaml\nworkers: 8\nretries: 5\n```\n## Release 4.1.0\n- Added PDF export.")
    units = sentences_of(text)
    assert "The dump is written to /var/backups and is encrypted with AES." in units
    assert "workers: 8" in units and "retries: 5" in units  # code lines stay apart
    focused = focus_hits("Which release added PDF export?", [hit(text, "notes.md")], sentences=1)
    assert focused[0]["text"] == "Release 4.1.0: - Added PDF export."


def test_best_first_lays_out_one_sentence_per_entry_best_scoring_first():
    hits = [hit("Cats sleep a lot. The Orchard dashboard has a dark theme.", "pets.md"), hit(GUIDE, "orchard.md")]
    question = "On which port does the Orchard dashboard listen?"
    best = focus_hits(question, hits, sentences=3, order="best")
    grouped = focus_hits(question, hits, sentences=3)
    assert len(best) == 3 and all(" … " not in h["text"] for h in best)
    assert best[0]["text"] == "Dashboard: The dashboard listens on port 9181." and best[0]["citation"] == "orchard.md#0"
    # the same sentences as the grouped layout, which keeps document order (pets.md first)
    assert sorted(h["text"] for h in best) == sorted(t for h in grouped for t in h["text"].split(" … "))
    assert grouped[0]["source"] == "pets.md" and all(h["metadata"]["focused"] for h in best)
    with pytest.raises(ValueError, match="order must be"):
        focus_hits(question, hits, order="random")


def test_bad_counts_and_empty_hits():
    with pytest.raises(ValueError, match="at least 1"):
        focus_hits("q", [hit(GUIDE, "a")], sentences=0)
    assert focus_hits("q", [hit("", "empty.md")]) == [hit("", "empty.md")]
    assert focus_hits("q", []) == []


def test_a_relevance_floor_keeps_only_sentences_that_reach_it():
    hits = [hit(GUIDE, "orchard.md"), hit("Boil pasta in salted water for ten minutes.", "cook.md")]
    question = "Which port does the Orchard dashboard listen on?"
    best = focus_hits(question, hits, sentences=20)
    floored = focus_hits(question, hits, sentences=20, min_score=0.3)
    assert len(best) == 2 and [h["source"] for h in floored] == ["orchard.md"]
    assert "port 9181" in floored[0]["text"] and "pasta" not in floored[0]["text"]
    assert focus_hits("Who won the cup final in 1966?", hits, sentences=6, min_score=0.3) == []
    assert focus_hits(question, hits, sentences=1, min_score=0.3) == focus_hits(question, hits, sentences=1)


def test_recall_takes_the_floor_from_a_core_trained_with_it():
    from langchain_core.messages import HumanMessage

    from genaisys.errors import ConfigError
    from genaisys.graphs.nodes import focused_recall_node, make_recall_node

    class Memory:
        def search(self, query, k=4, where=None):
            return [hit(GUIDE, "orchard.md")]

    class Core:
        context_sentences, context_min_score = 2, 0.3

    state = {"messages": [HumanMessage("What was that number again?")]}
    assert focused_recall_node(Memory(), 4, Core())(state)["context"] == []
    assert len(focused_recall_node(Memory(), 4, Core(), 2)(state)["context"]) == 1  # an explicit count: no floor
    with pytest.raises(ConfigError, match="give sentences=N"):
        make_recall_node(Memory(), min_score=0.5)
    with pytest.raises(ConfigError, match="order must be"):
        make_recall_node(Memory(), sentences=2, order="random")

    class BestFirst(Core):
        context_min_score, context_order = 0.1, "best"

    port = {"messages": [HumanMessage("Which port does the dashboard listen on?")]}
    shown = focused_recall_node(Memory(), 4, BestFirst())(port)["context"]
    assert len(shown) == 2 and "port 9181" in shown[0]["text"] and " … " not in shown[0]["text"]
