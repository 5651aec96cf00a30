"""Robust answer parsing: free model text → the closed answer it gives (or None when it gives none).

Models rarely answer with the bare label. "Yes, there is a circle." is a yes, "(b)" and
"The answer is B." are option B, "It is red." is "red". A parser that only accepts the exact
label scores a hedging model as wrong *and* hides its bias (POPE), so every closed-ended task
goes through these functions; anything they cannot read is ``None`` and counts as wrong.

Example:
    >>> parse_yes_no("Yes, there is a circle.")
    'yes'
    >>> parse_choice("The answer is (B).", 4)
    'B'
    >>> extract_answer("It is red.", ["red", "blue"])
    'red'
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

__all__ = ["extract_answer", "normalize", "parse_choice", "parse_yes_no"]

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans({c: " " for c in string.punctuation})
_YES = {"yes", "yeah", "yep", "yup", "true", "correct", "affirmative", "certainly", "indeed"}
_NO = {"no", "nope", "false", "incorrect", "negative", "none"}
# Negations that make a sentence a "no" when it starts with neither word: "There is no circle."
_NEGATION = re.compile(r"\b(no|not|none|nothing|isn't|isnt|aren't|arent|doesn't|doesnt|don't|dont|cannot|can't|"
                       r"without|absent)\b")
_AFFIRM = re.compile(r"^(there (is|are)|it (is|has|does|contains)|it's|this is|the image (is|shows|contains|has)|"
                     r"i see|i can see)\b")


def normalize(text: str) -> str:
    """Lower-case, drop punctuation and articles, squeeze whitespace (SQuAD-style normalisation).

    Example:
        >>> normalize("  The Red  Circle! ")
        'red circle'
    """
    text = _ARTICLES.sub(" ", str(text).lower().translate(_PUNCT))
    return " ".join(text.split())


def parse_yes_no(text: str, subject: str | None = None, *, strict: bool = False) -> str | None:
    """``"yes"``, ``"no"`` or ``None`` for a free-text answer to a yes/no question.

    The first word decides when it is a yes/no word ("Yes, there is…", "No.", "Nope"). Otherwise
    the reply is a statement: a negation ("There is no circle", "I don't see one") means no; an
    affirmative statement ("There is a circle", "The image contains…") means yes — but when the
    question's ``subject`` is given, only if the statement names it ("The image contains a
    triangle." does not answer "Is there a circle?": ``None``). ``strict=True`` reads only a
    leading yes/no word: use it for negated questions ("Is there *not* a circle?"), where "There is
    no circle" would mean yes.

    Example:
        >>> [parse_yes_no(t) for t in ["No.", "yes", "There is no triangle.", "maybe"]]
        ['no', 'yes', 'no', None]
        >>> parse_yes_no("The image shows a red circle.", "red circle"), parse_yes_no("It is a square.", "circle")
        ('yes', None)
    """
    # Keep apostrophes so "isn't" stays one word.
    words = re.sub(r"[^\w\s']", " ", str(text).lower()).split()
    if not words:
        return None
    if words[0] in _YES:
        return "yes"
    if words[0] in _NO:
        return "no"
    if strict:
        return None
    joined = " ".join(words)
    if _NEGATION.search(joined):
        return "no"
    if _AFFIRM.search(joined):
        if subject is None:
            return "yes"
        return "yes" if all(w in words for w in normalize(subject).split()) else None
    # A lone yes/no later on ("I think yes") — only when exactly one of the two appears.
    has_yes, has_no = bool(_YES & set(words)), bool(_NO & set(words))
    if has_yes != has_no:
        return "yes" if has_yes else "no"
    return None


def parse_choice(text: str, n_options: int, options: Sequence[str] | None = None) -> str | None:
    """The option letter (``"A"``…) a multiple-choice answer picks, or ``None``.

    Accepts ``"B"``, ``"b"``, ``"(b)"``, ``"B."``, ``"B) circle"``, ``"Option B"``, ``"The answer is
    B."``; and, when ``options`` (the option texts, in letter order) are given, the text of exactly
    one option ("circle"). A leading "A" followed by a word ("A circle") is an article, not option A.

    Example:
        >>> [parse_choice(t, 4) for t in ["(b)", "The answer is C.", "A circle", "D"]]
        ['B', 'C', None, 'D']
        >>> parse_choice("It is a triangle.", 3, ["circle", "triangle", "rectangle"])
        'B'
    """
    if n_options < 1 or n_options > 26:
        raise ValueError(f"n_options must be 1-26, got {n_options}")
    letters = string.ascii_uppercase[:n_options]
    raw = str(text).strip()
    cls = f"[{letters}{letters.lower()}]"
    patterns = [
        rf"^\(?({cls})\)?[.:)]?$",                                     # "B", "(b)", "B."
        rf"^\(({cls})\)",                                             # "(B) circle"
        rf"^({cls})[.:)](\s|$)",                                       # "B. circle", "B) circle"
        rf"\b(?:answer|option|choice)\s*(?:is|:)?\s*\(?({cls})\)?(?![\w'])",  # "The answer is B."
    ]
    for pattern in patterns:
        m = re.search(pattern, raw, flags=re.IGNORECASE if "answer" in pattern else 0)
        if m:
            return m.group(1).upper()
    if options:
        norm = normalize(raw)
        exact = [i for i, o in enumerate(options) if normalize(o) == norm]
        if len(exact) == 1:
            return letters[exact[0]]
        found = [i for i, o in enumerate(options)
                 if normalize(o) and re.search(rf"\b{re.escape(normalize(o))}\b", norm)]
        if len(found) == 1:
            return letters[found[0]]
    return None


def extract_answer(text: str, vocabulary: Sequence[str], question: str | None = None) -> str | None:
    """The one vocabulary answer a free-text reply gives, or ``None`` (none, or several).

    Exact match after `normalize` wins; then yes/no via `parse_yes_no` when both are in the
    vocabulary and the reply reads as one; then the single vocabulary word found in the reply.
    With ``question`` given, vocabulary words the reply merely echoes from the question are
    ignored ("What is the colour of the circle?" → "The circle is blue." → "blue").

    Example:
        >>> extract_answer("The shape is a circle.", ["circle", "triangle", "yes", "no"])
        'circle'
        >>> extract_answer("circle or triangle", ["circle", "triangle"]) is None
        True
        >>> extract_answer("The circle is blue.", ["circle", "blue"], question="What colour is the circle?")
        'blue'

    """
    vocab = {normalize(v): v for v in vocabulary}
    norm = normalize(text)
    if norm in vocab:
        return vocab[norm]
    if "yes" in vocab and "no" in vocab:
        yn = parse_yes_no(text)
        if yn is not None and not any(re.search(rf"\b{re.escape(v)}\b", norm) for v in vocab if v not in {"yes", "no"}):
            return vocab[yn]
    found = [v for v in vocab if v not in {"yes", "no"} and re.search(rf"\b{re.escape(v)}\b", norm)]
    if question is not None and len(found) > 1:
        asked = normalize(question)
        fresh = [v for v in found if not re.search(rf"\b{re.escape(v)}\b", asked)]
        found = fresh or found
    if len(found) == 1:
        return vocab[found[0]]
    if not found and "yes" in vocab and "no" in vocab:
        yn = parse_yes_no(text)
        return vocab[yn] if yn else None
    return None
