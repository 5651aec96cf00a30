"""Held-out drawing and speaking requests (the ``draw`` suite of `genaisys.eval.heldout.draw`).

Written apart from the training generators (`genaisys.train.engine.programs.signals` and
``intents``): the colour-shape pairs in `PAIRS` are never asked for in training (the signal
program imports them to leave them out), and no training pattern produces these phrasings.

- `DRAW`: ``(request, colour, shape)`` — a draw request whose image the shape oracle can check.
- `NOT_DRAW`: requests about shapes, colours and pictures that do not ask for an image.
- `SPOKEN`: ``(request, answer)`` — a question whose answer is to be spoken.

Example:
    >>> len(DRAW), len(NOT_DRAW), len(SPOKEN)
    (24, 12, 8)
    >>> DRAW[0]
    ('Let me see a yellow triangle.', 'yellow', 'triangle')
"""

from __future__ import annotations

__all__ = ["DRAW", "NOT_DRAW", "PAIRS", "PHRASINGS", "SPOKEN"]

#: Colour-shape pairs no training record asks to draw.
PAIRS = (("yellow", "triangle"), ("teal", "rectangle"), ("brown", "circle"), ("gray", "triangle"),
         ("black", "rectangle"), ("green", "circle"))

#: How the requests ask (``{d}`` is the object, e.g. "a teal rectangle").
PHRASINGS = (
    "Let me see {d}.", "Could I get a picture of {d}?", "Put {d} on a canvas.", "Visualize {d} for me.",
    "Depict {d}, please.", "Please doodle {d}.", "Can you come up with an image showing {d}?",
    "I'm curious what {d} looks like. Draw it.",
)
_OBJECTS = ("a {c} {s}", "a {s} coloured {c}", "{c} {s}", "a {c} {s}")

DRAW: tuple[tuple[str, str, str], ...] = tuple(
    (PHRASINGS[(i * 3 + j) % len(PHRASINGS)].format(d=_OBJECTS[(i + j) % len(_OBJECTS)].format(c=c, s=s)), c, s)
    for i, (c, s) in enumerate(PAIRS) for j in range(4))

NOT_DRAW = (
    "How many sides does a triangle have?",
    "What colour do you get by mixing blue and yellow?",
    "Is a square a kind of rectangle?",
    "Describe in one sentence what a circle is.",
    "Name three shapes with straight sides.",
    "What does a painter use to mix paints?",
    "Give me a synonym for the word 'picture'.",
    "How do you spell 'rectangle'?",
    "Which has more corners, a triangle or a rectangle?",
    "Write one sentence about the colour teal.",
    "Why do artists sketch before they paint?",
    "What shape is a stop sign?",
)

SPOKEN = (
    ("Out loud, please: what is 17 plus 25?", "42"),
    ("What is 9 times 8? I want to hear it.", "72"),
    ("Speak your answer: how much is 100 minus 37?", "63"),
    ("Tell me aloud what 144 divided by 12 is.", "12"),
    ("Can you say out loud the result of 23 + 58?", "81"),
    ("Use your voice: what is 6 times 7?", "42"),
    ("I'm driving, so say it: what's 250 minus 125?", "125"),
    ("Read me the answer aloud: 15 times 4?", "60"),
)
