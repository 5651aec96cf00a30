"""``heldout-photos``: questions about real photos, sent as a user sends them, through the assistant graph.

The photos are scikit-image's bundled ones (chelsea, astronaut, coffee, rocket, camera, horse,
the left image of stereo_motorcycle, page, clock, text) and scikit-learn's ``china.jpg`` and
``flower.jpg``. Each question goes, with the photo as an inline image block, into a fresh
thread of ``build_assistant_graph(core, tools=["builtin:calculator", "builtin:clock"],
blobs=BlobStore(...))``; the graph's ``perception`` decision per photo is recorded.

The questions were chosen against what `genaisys.tools.textualizers.ImageTextualizer` (default
settings) says about each photo: only questions whose answer a careful reader of that honest
description could give are kept, and every gold answer is also true of the photo. What it said
when the set was written (labels ≥ 5 %):

=================  ==========================================================================
chelsea            Egyptian cat 77 %, tiger cat 10 %, tabby 8 %; no text
astronaut          bobsled 19 %, football helmet 17 %; no text
coffee             espresso 90 %; no text
rocket             drilling platform 56 %, missile 6 %; no text
camera             tripod 95 %; no text
horse              Mexican hairless 17 %, curly-coated retriever 11 %, Great Dane 11 %; no text
stereo_motorcycle  moped 46 %, motor scooter 33 %; no text
page               pill bottle 60 %; text "Region-basedsegmentation Let us first determine markers …"
clock              bubble 55 %, spotlight 19 %, wall clock 10 %; no text
text               ballpoint, fountain pen, rubber eraser, rule, slide rule; text "S= 2"
china              bell cote 23 %, boathouse 11 %, monastery 8 %, castle 8 %, palace 8 %; no text
flower             daisy 16 %, bee 7 %; no text
=================  ==========================================================================

So the astronaut, rocket, horse and clock get only questions the description settles by
absence ("Is there a cat?" → no); the description would not name them. `describe_photos`
prints the descriptions again (run it after the textualizer changes).

Open answers accept synonyms ("cat|kitten|tabby"); yes/no answers are read with
`parse_yes_no`, where a statement counts only if it names the thing asked about.

Metrics: ``accuracy``, ``accuracy_yes_no``, ``accuracy_open``, ``yes_ratio`` (of predictions),
``native_ratio`` (share of turns whose image perception routed to the core's own encoder).

Example:
    >>> len(QUESTIONS) >= 24, sorted({q[1] for q in QUESTIONS})[:3]
    (True, ['astronaut', 'camera', 'chelsea'])
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from genaisys.datasets.heldout.photos import PHOTOS, QUESTIONS
from genaisys.eval.heldout._common import (
    ERROR,
    GraphPrediction,
    TurnClock,
    answer_holds,
    finish,
    graph_only_task,
    last_ai,
    tool_calls_since_user,
    turn_text,
    workdir,
)
from genaisys.eval.metrics import accuracy, yes_ratio
from genaisys.eval.parsing import parse_yes_no
from genaisys.eval.runner import EvalResult
from genaisys.eval.task import BaseTask, EvalItem, Prediction, image_block

__all__ = ["PHOTOS", "QUESTIONS", "HeldoutPhotosTask", "describe_photos", "write_photos"]



def _photo_array(name: str) -> Any:
    import numpy as np

    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return load_sample_image(f"{name}.jpg")
    import skimage.data

    if name == "stereo_motorcycle":
        return skimage.data.stereo_motorcycle()[0]
    array = getattr(skimage.data, name)()
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[..., :3]
    return array


def write_photos(folder: str | Path) -> dict[str, Path]:
    """Write every photo as PNG into ``folder``; ``{name: path}``."""
    from PIL import Image

    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in PHOTOS:
        path = root / f"{name}.png"
        if not path.is_file():
            Image.fromarray(_photo_array(name)).save(path)
        paths[name] = path
    return paths


def describe_photos(folder: str | Path | None = None, textualizer: Any = None,
                    names: Sequence[str] = PHOTOS) -> dict[str, str]:
    """What `ImageTextualizer` (default settings) says about each photo: ``{name: description}``."""
    import tempfile

    from genaisys.tools.textualizers import ImageTextualizer

    textualizer = textualizer or ImageTextualizer()
    paths = write_photos(folder or tempfile.mkdtemp(prefix="genaisys-heldout-photos-"))
    return {name: str(textualizer(paths[name])) for name in names}


class HeldoutPhotosTask(BaseTask):
    """Photo questions through the assistant graph with a blob store (see the module docstring).

    Args:
        describe: also record the textualizer's description of each photo in the result.
    """

    name = "heldout-photos"
    drives_graphs = True  # run with `run`, not `run_eval`
    failures_trainable = False  # evaluation-only material (genaisys.train.holdout)

    def __init__(self, describe: bool = True) -> None:
        self.describe = describe

    def options(self) -> dict[str, Any]:
        return {"describe": self.describe}

    def load(self, *, limit: int | None = None, seed: int = 0, folder: str | Path | None = None) -> list[EvalItem]:
        if folder is None:
            from genaisys.assets import cache_dir

            folder = cache_dir() / "eval" / "heldout-photos"
        paths = write_photos(folder)
        items = [EvalItem(id=qid, prompt=question, images=(str(paths[photo]),), reference=gold,
                          meta={"photo": photo, "kind": kind, "subject": subject})
                 for qid, photo, question, kind, gold, subject in QUESTIONS]
        random.Random(seed).shuffle(items)
        return items[:limit] if limit is not None else items

    def prepare_model(self, model: Any) -> Any:
        raise graph_only_task(self.name)

    def run(self, chat: Any, *, limit: int | None = None, seed: int = 0, folder: str | Path | None = None,
            items: Sequence[EvalItem] | None = None, clock: TurnClock | None = None, model_id: str | None = None,
            log: Any = None, **_: Any) -> EvalResult:
        """Ask each question with its photo in a fresh thread; score answers, record perception."""
        from genaisys.graphs import build_assistant_graph
        from genaisys.memory import BlobStore

        from genaisys.eval.runner import model_identity

        clock = clock or TurnClock()
        items = list(items) if items is not None else self.load(limit=limit, seed=seed)
        root = workdir(folder, "photos")
        blobs = getattr(chat, "blobs", None) or BlobStore(root / "blobs")
        graph = build_assistant_graph(chat, tools=["builtin:calculator", "builtin:clock"], blobs=blobs,
                                      checkpointer=False)
        predictions: list[Prediction] = []
        for item in items:
            content = [{"type": "text", "text": item.prompt}, image_block(item.images[0])]
            values, seconds = clock.run("photos", graph, content, thread_id=f"heldout-photos-{item.id}")
            predictions.append(GraphPrediction(text=turn_text(last_ai(values)), tool_calls=tool_calls_since_user(values),
                                               extra={"seconds": seconds,
                                                      "perception": list(values.get("perception") or []),
                                                      "error": values.get(ERROR)}))
            if log is not None:
                log(f"  photos {item.id}: {predictions[-1].text[:60]!r}")
        meta: dict[str, Any] = {}
        photos_used = sorted({i.meta["photo"] for i in items})
        if self.describe:
            meta["textualizer"] = describe_photos(Path(items[0].images[0]).parent, names=photos_used)
        perception: dict[str, list[dict[str, Any]]] = {}
        for item, pred in zip(items, predictions):
            perception.setdefault(item.meta["photo"], []).extend(
                {"question": item.id, "route": d.get("route"), "reason": d.get("reason")}
                for d in pred.extra["perception"])
        meta["perception"] = perception
        return finish(self, items, predictions, model_id=model_id or model_identity(chat)[0], model=chat,
                      limit=limit, seed=seed, extra_meta=meta)

    def score(self, item: EvalItem, prediction: Prediction) -> dict[str, Any]:
        extra = getattr(prediction, "extra", {}) or {}
        kind = item.meta["kind"]
        if kind == "open":
            pred: str | None = prediction.text
            correct = answer_holds(prediction.text, item.reference)
        else:
            pred = parse_yes_no(prediction.text, item.meta.get("subject"))
            correct = pred == item.reference
        routes = [d.get("route") for d in extra.get("perception") or []]
        return {"id": item.id, "photo": item.meta["photo"], "kind": kind, "pred": pred, "ref": item.reference,
                "correct": correct, "perception": routes, "tools_called": [c["name"] for c in prediction.tool_calls],
                "error": extra.get("error")}

    def metrics(self, records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        yn = [r for r in records if r["kind"] == "yes/no"]
        routes = [route for r in records for route in r["perception"]]
        return {"accuracy": accuracy([r["correct"] for r in records]),
                "accuracy_yes_no": accuracy([r["correct"] for r in yn]),
                "accuracy_open": accuracy([r["correct"] for r in records if r["kind"] == "open"]),
                "yes_ratio": yes_ratio([r["pred"] for r in yn]),
                "native_ratio": accuracy([route == "native" for route in routes])}
