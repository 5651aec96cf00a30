"""``heldout-shapes``: one coloured shape on a plain background, from a renderer of this suite's own.

The renderer (`render_shape`) draws with ``skimage.draw`` on numpy arrays: a square image of
48–160 px, a solid background from a palette of light and dark tones (never a shape colour
name), and one circle, rectangle (any aspect, so squares too) or triangle of one of easy-VQA's
eight colour names, at a random size, position and rotation. Colours are jittered a little around
each name's hue. No anti-aliasing: every shape pixel has exactly the declared colour.

Four questions per image, in plain phrasings of this suite: is there a <shape>? is the shape
<colour>? what shape? what colour? The two yes/no questions of image ``i`` are answered yes and
no in turn (shape: yes on even images; colour: yes on odd ones), so yes/no answers are 50/50 by
construction, in every prefix of whole images. 120 images → 480 questions (seeded).

Asked two ways:

- ``direct``: ``core.batch([[HumanMessage([image block, text])], ...])`` — the core alone (also
  what `genaisys.eval.run_eval` does with this task);
- ``graph``: the first ``graph_items`` questions (default 60), each a fresh thread of
  ``build_assistant_graph(core, tools=["builtin:calculator", "builtin:clock"], blobs=BlobStore(...))``,
  so the graph's perception step decides how the image is read (recorded as ``perception``).

Answers are read with `genaisys.eval.parsing.parse_yes_no` / `extract_answer`, helped by the
question's category: "It is brown." answers "Is the shape red?" with no; "A red circle."
answers "What colour is the shape?" with red. "square" counts as rectangle, "grey" as gray.

Metrics: ``accuracy``, ``accuracy_yes_no``, ``accuracy_open``, ``yes_ratio`` (share of *yes
predictions* over yes/no questions), ``unparsed``; with the graph part also ``graph_*``.

Example:
    >>> import numpy as np
    >>> image, centre = render_shape("triangle", (200, 20, 20), (240, 240, 250), 96, rng=np.random.default_rng(0))
    >>> image.shape, image[centre].tolist()
    ((96, 96, 3), [200, 20, 20])
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genaisys.datasets.heldout.shapes import BACKGROUNDS, PALETTE, PHRASINGS
from genaisys.eval.heldout._common import (
    ERROR,
    GraphPrediction,
    TurnClock,
    finish,
    last_ai,
    tool_calls_since_user,
    turn_text,
    with_budget,
    workdir,
)
from genaisys.eval.metrics import accuracy, yes_ratio
from genaisys.eval.parsing import extract_answer, normalize, parse_yes_no
from genaisys.eval.runner import EvalResult
from genaisys.eval.task import BaseTask, EvalItem, Prediction, image_block
from genaisys.datasets.easy_vqa import COLORS, SHAPES

__all__ = ["BACKGROUNDS", "PALETTE", "PHRASINGS", "HeldoutShapesTask", "read_answer", "render_shape"]

_MIN_CONTRAST = 150.0  # Euclidean RGB distance a shape keeps from its background
_SYNONYMS = {"square": "rectangle", "rectangular": "rectangle", "oblong": "rectangle", "triangular": "triangle",
             "round": "circle", "disc": "circle", "disk": "circle", "grey": "gray"}


def _polygon(centre: tuple[float, float], radius: float, angles: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    cy, cx = centre
    a = np.asarray(angles)
    return cy + radius * np.sin(a), cx + radius * np.cos(a)


def render_shape(shape: str, colour: tuple[int, int, int], background: tuple[int, int, int], size: int, *,
                 rng: np.random.Generator) -> tuple[np.ndarray, tuple[int, int]]:
    """Draw one shape; returns the ``(size, size, 3)`` uint8 image and a pixel inside the shape.

    The shape fits a circle of radius 18–40 % of ``size`` around a random centre; rectangles
    and triangles are rotated by a random angle; triangles are acute (their circumcentre, the
    returned pixel, lies inside).
    """
    from skimage.draw import disk, polygon

    image = np.empty((size, size, 3), np.uint8)
    image[:] = background
    radius = rng.uniform(0.18, 0.40) * size
    margin = radius + 2
    cy, cx = rng.uniform(margin, size - margin), rng.uniform(margin, size - margin)
    turn = rng.uniform(0, 2 * np.pi)
    if shape == "circle":
        rows, cols = disk((cy, cx), radius, shape=(size, size))
    elif shape == "rectangle":
        half = rng.uniform(np.radians(28), np.radians(62))  # half the angle between two corners: the aspect
        corners = [turn + half, turn + np.pi - half, turn + np.pi + half, turn - half]
        rows, cols = polygon(*_polygon((cy, cx), radius, corners), shape=(size, size))
    elif shape == "triangle":
        jitter = rng.uniform(-np.radians(14), np.radians(14), size=2)  # arcs 106–134°: every angle acute
        corners = [turn, turn + np.radians(120) + jitter[0], turn + np.radians(240) + jitter[1]]
        rows, cols = polygon(*_polygon((cy, cx), radius, corners), shape=(size, size))
    else:
        raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")
    image[rows, cols] = colour
    return image, (int(round(cy)), int(round(cx)))


def _jitter(rgb: tuple[int, int, int], rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(v) for v in np.clip(np.asarray(rgb) + rng.integers(-12, 13, 3), 0, 255))  # type: ignore[return-value]


def read_answer(text: str, kind: str, asked: str | None = None) -> str | None:
    """What an answer says, for a question of ``kind`` (``has_shape``, ``is_colour``, ``which_*``).

    Example:
        >>> read_answer("It is brown.", "is_colour", "red"), read_answer("A red circle.", "which_colour")
        ('no', 'red')
        >>> read_answer("That is a square.", "which_shape"), read_answer("Yes.", "has_shape", "circle")
        ('rectangle', 'yes')
    """
    words = [_SYNONYMS.get(w, w) for w in normalize(text).split()]
    vocab = SHAPES if kind in ("has_shape", "which_shape") else COLORS
    named = list(dict.fromkeys(w for w in words if w in vocab))
    if kind.startswith("which_"):
        return extract_answer(" ".join(words), vocab)
    said = parse_yes_no(text, asked)
    if said is not None:
        return said
    if named == [asked]:
        return "yes"  # "A red circle." to "Is the shape red?"
    if named and asked not in named:
        return "no"  # "It is brown." to "Is the shape red?"
    return None


class HeldoutShapesTask(BaseTask):
    """Shape and colour questions on this suite's own renderings (see the module docstring).

    Args:
        n_images: images to draw (four questions each).
        graph_items: questions also asked through the assistant graph by `run`.
        folder: where the PNGs go; default ``<genaisys cache>/eval/heldout-shapes``.
    """

    name = "heldout-shapes"
    labels = (*SHAPES, *COLORS, "yes", "no")

    def __init__(self, n_images: int = 120, graph_items: int = 60, folder: str | Path | None = None) -> None:
        self.n_images, self.graph_items, self.folder = n_images, graph_items, folder

    def options(self) -> dict[str, Any]:
        return {"n_images": self.n_images, "graph_items": self.graph_items}

    def _folder(self, seed: int) -> Path:
        if self.folder is not None:
            root = Path(self.folder)
        else:
            from genaisys.assets import cache_dir

            root = cache_dir() / "eval" / "heldout-shapes"
        folder = root / f"seed-{seed}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def load(self, *, limit: int | None = None, seed: int = 0) -> list[EvalItem]:
        from PIL import Image

        rng = np.random.default_rng(seed)
        pick = random.Random(f"heldout-shapes:{seed}")
        folder = self._folder(seed)
        n_images = self.n_images if limit is None else min(self.n_images, -(-limit // 4))
        items: list[EvalItem] = []
        for i in range(n_images):
            shape, colour = pick.choice(SHAPES), pick.choice(COLORS)
            rgb = _jitter(PALETTE[colour], rng)
            backs = [b for b, v in BACKGROUNDS.items() if np.linalg.norm(np.subtract(v, rgb)) >= _MIN_CONTRAST]
            background = pick.choice(backs)
            size = int(pick.randint(48, 160))
            image, centre = render_shape(shape, rgb, BACKGROUNDS[background], size, rng=rng)
            path = folder / f"{i:04d}.png"
            Image.fromarray(image).save(path)
            truth = {"shape": shape, "colour": colour, "rgb": list(rgb), "background": background, "size": size,
                     "centre": list(centre)}
            other_shape = pick.choice([s for s in SHAPES if s != shape])
            other_colour = pick.choice([c for c in COLORS if c != colour])
            asked_shape = shape if i % 2 == 0 else other_shape
            asked_colour = colour if i % 2 == 1 else other_colour
            questions = [
                ("has_shape", pick.choice(PHRASINGS["has_shape"]).format(shape=asked_shape), asked_shape,
                 "yes" if asked_shape == shape else "no"),
                ("is_colour", pick.choice(PHRASINGS["is_colour"]).format(colour=asked_colour), asked_colour,
                 "yes" if asked_colour == colour else "no"),
                ("which_shape", pick.choice(PHRASINGS["which_shape"]), None, shape),
                ("which_colour", pick.choice(PHRASINGS["which_colour"]), None, colour),
            ]
            for kind, text, asked, answer in questions:
                items.append(EvalItem(id=f"img{i:04d}-{kind}", prompt=text, images=(str(path),), reference=answer,
                                      group=f"img{i:04d}-{kind}",
                                      meta={"kind": kind, "asked": asked, "image": truth,
                                            "yes_no": kind in ("has_shape", "is_colour")}))
        return items[:limit] if limit is not None else items

    # ---------------------------------------------------------------------------- running
    def run(self, chat: Any, *, limit: int | None = None, seed: int = 0, folder: str | Path | None = None,
            clock: TurnClock | None = None, model_id: str | None = None, max_new_tokens: int = 16,
            batch_size: int = 8, log: Any = None, **_: Any) -> EvalResult:
        """Ask every question directly (batched), then the first ``graph_items`` through the graph."""
        from genaisys.graphs import build_assistant_graph
        from genaisys.memory import BlobStore

        from genaisys.eval.runner import model_identity

        clock = clock or TurnClock()
        items = self.load(limit=limit, seed=seed)
        bound = with_budget(chat, max_new_tokens)
        predictions: list[Prediction] = []
        for start in range(0, len(items), batch_size):
            batch = items[start:start + batch_size]
            replies = bound.batch([self.build_messages(i) for i in batch], return_exceptions=True)
            predictions += [GraphPrediction(text="", extra={"via": "direct", "error": f"{type(r).__name__}: {r}"})
                            if isinstance(r, Exception) else GraphPrediction(text=turn_text(r), extra={"via": "direct"})
                            for r in replies]
            if log is not None:
                log(f"  shapes direct {start + len(batch)}/{len(items)}")
        graph_part = items[:self.graph_items]
        via_graph: list[tuple[EvalItem, Prediction]] = []
        if graph_part:
            root = workdir(folder, "shapes")
            blobs = getattr(chat, "blobs", None) or BlobStore(root / "blobs")
            graph = build_assistant_graph(chat, tools=["builtin:calculator", "builtin:clock"], blobs=blobs,
                                          checkpointer=False)
            for n, item in enumerate(graph_part, 1):
                content = [image_block(item.images[0]), {"type": "text", "text": item.prompt}]
                values, seconds = clock.run("shapes/graph", graph, content, thread_id=f"heldout-shapes-{item.id}")
                via_graph.append((item, GraphPrediction(
                    text=turn_text(last_ai(values)), tool_calls=tool_calls_since_user(values),
                    extra={"via": "graph", "seconds": seconds, "perception": list(values.get("perception") or []),
                           "error": values.get(ERROR)})))
                if log is not None and n % 10 == 0:
                    log(f"  shapes graph {n}/{len(graph_part)}")
        vias = ["direct", "graph"] if via_graph else ["direct"]
        all_items = [*items, *[i for i, _ in via_graph]]
        all_preds = [*predictions, *[p for _, p in via_graph]]
        for p in all_preds:
            p.extra["vias"] = vias
        return finish(self, all_items, all_preds, model_id=model_id or model_identity(chat)[0], model=chat,
                      limit=limit, seed=seed, extra_meta={"n_questions": len(items), "graph_items": len(via_graph)})

    # ---------------------------------------------------------------------------- training
    def training_answer(self, item: EvalItem) -> str:
        """The answer a round of the improvement loop trains on for ``item``: what the image shows,
        then the verdict, the way the nano recipe's shape answers put it (``verdict="last"``).

        Example:
            >>> import tempfile
            >>> task = HeldoutShapesTask(n_images=1, folder=tempfile.mkdtemp())
            >>> [task.training_answer(i) for i in task.load(seed=0)][:2]
            ['It is a yellow circle, so yes.', 'It is a yellow circle, so no.']
        """
        truth = item.meta["image"]
        drawn = f"{truth['colour']} {truth['shape']}"
        seen = f"{'an' if drawn[0] in 'aeiou' else 'a'} {drawn}"
        kind = item.meta["kind"]
        if kind == "which_colour":
            return f"The shape is {truth['colour']}."
        if kind == "which_shape":
            return f"It is {'an' if truth['shape'][0] in 'aeiou' else 'a'} {truth['shape']}."
        return f"It is {seen}, so {item.reference}."

    def contrast(self, item: EvalItem) -> EvalItem | None:
        """The same image asked the other way (a contrast item): a yes/no question whose answer is
        the opposite of ``item``'s, about the same property; ``None`` for open questions.

        A round trains on it beside a failure, so the verdict must come from the image and the
        question, not from a prior over "yes" and "no".

        Example:
            >>> import tempfile
            >>> task = HeldoutShapesTask(n_images=1, folder=tempfile.mkdtemp())
            >>> first = task.load(seed=0)[0]
            >>> other = task.contrast(first)
            >>> (first.prompt, first.reference), (other.prompt, other.reference), other.images == first.images
            (('Does this picture show a circle?', 'yes'), ('Do you see a triangle here?', 'no'), True)
        """
        kind = item.meta["kind"]
        if kind not in ("has_shape", "is_colour"):
            return None
        truth = item.meta["image"]
        pick = random.Random(f"contrast:{item.id}")
        prop, choices = ("shape", SHAPES) if kind == "has_shape" else ("colour", COLORS)
        flipped = "no" if item.reference == "yes" else "yes"
        asked = truth[prop] if flipped == "yes" else pick.choice([c for c in choices if c != truth[prop]])
        text = pick.choice(PHRASINGS[kind]).format(**{prop: asked})
        return EvalItem(id=f"{item.id}-contrast", prompt=text, images=item.images, reference=flipped,
                        group=item.group, meta={**item.meta, "asked": asked})

    # ---------------------------------------------------------------------------- scoring
    def score_all(self, items: Sequence[EvalItem], predictions: Sequence[Prediction], *,
                  cache: Any = None, model_id: str = "") -> list[dict[str, Any]]:
        return [self.score(item, pred) for item, pred in zip(items, predictions)]

    def score(self, item: EvalItem, prediction: Prediction) -> dict[str, Any]:
        extra = getattr(prediction, "extra", {}) or {}
        via = extra.get("via", "direct")
        pred = read_answer(prediction.text, item.meta["kind"], item.meta.get("asked"))
        rec = {"id": item.id if via == "direct" else f"{item.id}@graph", "group": item.group or item.id,
               "via": via, "vias": list(extra.get("vias") or [via]), "kind": item.meta["kind"],
               "yes_no": item.meta["yes_no"], "pred": pred, "ref": item.reference,
               "correct": pred == item.reference, "image": item.meta["image"]}
        if via == "graph":
            rec["perception"] = [d.get("route") for d in extra.get("perception") or []]
            rec["tools_called"] = [c["name"] for c in prediction.tool_calls]
            rec["error"] = extra.get("error")
        return rec

    def metrics(self, records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        vias = list(records[0].get("vias") or ["direct"]) if records else ["direct"]
        out: dict[str, float] = {}
        for via in vias:
            mine = [r for r in records if r.get("via", "direct") == via]
            yn = [r for r in mine if r["yes_no"]]
            prefix = "" if via == "direct" else f"{via}_"
            out[f"{prefix}accuracy"] = accuracy([r["correct"] for r in mine])
            out[f"{prefix}accuracy_yes_no"] = accuracy([r["correct"] for r in yn])
            out[f"{prefix}accuracy_open"] = accuracy([r["correct"] for r in mine if not r["yes_no"]])
            out[f"{prefix}yes_ratio"] = yes_ratio([r["pred"] for r in yn])
            out[f"{prefix}unparsed"] = accuracy([r["pred"] is None for r in mine])
        return out
