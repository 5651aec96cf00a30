"""The held-out evaluation's material: every string its suites ask, and `material` to list them.

The held-out suites (`genaisys.eval.heldout`) only measure generalisation while no training
generator produces their text. Their data lives here, one file per suite, below training and
evaluation: the suites ask it, and the training side's overlap check
(`genaisys.train.holdout`) reads `material` to prove that no training record contains any of it.
Nothing here may be used to *make* training data.

- ``tools.py``      tool requests and the tool each needs
- ``rag.py``        retrieval questions over ``docs/`` (ten made-up product documents)
- ``followups.py``  multi-turn threads
- ``shapes.py``     shape questions' phrasings, palette and backgrounds
- ``photos.py``     photo questions
- ``text.py``       text-only knowledge questions

`material()` returns it all — tool requests, RAG questions and the documents' sentences,
follow-up turns, every shape question as asked, photo questions, text questions — grouped by
suite. A data check takes the training records' text and asserts that none of these strings
occurs in it (after the same normalisation on both sides: `genaisys.eval.parsing.normalize`).

Example:
    >>> m = material()
    >>> sorted(m)
    ['draw', 'followups', 'photos', 'rag_documents', 'rag_questions', 'shapes', 'text', 'tools']
    >>> "Multiply 4387 by 26 for me." in m["tools"]
    True
"""

from __future__ import annotations

import re

from genaisys.datasets.heldout.rag import DOCS_DIR

__all__ = ["DOCS_DIR", "document_sentences", "document_subjects", "material"]


def document_subjects() -> list[str]:
    """What the held-out documents are about: the first word of each file name, capitalised.

    Training generators must not name these (a core that read made-up facts about "Orchard" is no
    longer measured on unseen documents when it is asked about the held-out Orchard guide).

    Example:
        >>> "Orchard" in document_subjects() and "Tidewater" in document_subjects()
        True
    """
    return sorted({path.name.split("-", 1)[0].split(".", 1)[0].capitalize() for path in DOCS_DIR.iterdir()})


def document_sentences(min_words: int = 5) -> list[str]:
    """The sentences (and list lines) of the held-out documents with at least ``min_words`` words."""
    marker = re.compile(r"^\s*([#>*|-]+|\d+\.|[QA]:)\s*")
    out: list[str] = []
    for path in sorted(DOCS_DIR.iterdir()):
        units: list[str] = []
        previous = ""
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = marker.sub("", raw).strip()
            if set(line) <= {"=", "-", " "}:  # an underline, a table rule
                line = ""
            # a wrapped line continues the one before; a list item, a heading's successor or a new paragraph starts anew
            wrapped = bool(line) and units and not marker.match(raw) and len(previous) > 40 \
                and not previous.endswith((".", "!", "?", ":"))
            if wrapped:
                units[-1] += " " + line
            elif line:
                units.append(line)
            previous = line
        for unit in units:
            for sentence in re.split(r"(?<=[.!?])\s+", unit):
                sentence = sentence.strip(" |")
                if len(sentence.split()) >= min_words:
                    out.append(sentence)
    return list(dict.fromkeys(out))


def material() -> dict[str, list[str]]:
    """The held-out strings by suite (de-duplicated, in a stable order).

    Keys: ``tools`` (requests), ``rag_questions`` (answerable and not), ``rag_documents``
    (document sentences), ``followups`` (every user turn), ``shapes`` (every question text as
    asked, all phrasings filled with every shape and colour), ``photos``, ``text``, ``draw``.
    """
    from genaisys.datasets.easy_vqa import COLORS, SHAPES
    from genaisys.datasets.heldout import draw, followups, photos, rag, shapes, text, tools

    shape_questions = [p.format(shape=s, colour=c) for kind, ps in shapes.PHRASINGS.items() for p in ps
                       for s in SHAPES for c in COLORS]
    return {
        "tools": [r[1] for r in tools.REQUESTS],
        "rag_questions": [q[1] for q in rag.QUESTIONS] + [q[1] for q in rag.UNANSWERABLE],
        "rag_documents": document_sentences(),
        "followups": list(dict.fromkeys(t for _, turns in followups.THREADS for t, _ in turns)),
        "shapes": list(dict.fromkeys(shape_questions)),
        "photos": [q[2] for q in photos.QUESTIONS],
        "text": [q[1] for q in text.QUESTIONS],
        "draw": [r for r, _, _ in draw.DRAW] + list(draw.NOT_DRAW) + [r for r, _ in draw.SPOKEN],
    }
