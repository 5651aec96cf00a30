"""Evaluation material never trains: the overlap check finds each kind, and only those."""

from __future__ import annotations

import numpy as np
import pydoc_data.topics
import skimage.data
from PIL import Image

from genaisys.train.holdout import drop_evaluation_overlap, evaluation_overlap


def _rec(rid, human, answer="ok", images=()):
    return {"id": rid, "images": list(images),
            "conversations": [{"from": "human", "value": human}, {"from": "gpt", "value": answer}]}


def test_each_kind_of_evaluation_material_is_found(tmp_path):
    photo = tmp_path / "chelsea.png"
    Image.fromarray(skimage.data.chelsea()).resize((200, 133)).save(photo)  # resized: still the same photo
    noise = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(noise)
    topic = " ".join(pydoc_data.topics.topics["with"].split()[40:70])
    records = [
        _rec("demo", "what was the result of the multiplication I asked you about?"),
        _rec("text-q", "What is the capital of France?"),
        _rec("pydoc", f"Here is some context: {topic} What now?"),
        _rec("photo", "<image>\nWhat is this?", images=[str(photo)]),
        _rec("clean", "<image>\nWhat is this?", images=[str(noise)]),
        _rec("near", "What was the multiplication result from earlier?"),
    ]
    found = {h["id"]: h["why"] for h in evaluation_overlap(records)}
    assert set(found) == {"demo", "text-q", "pydoc", "photo"}
    assert "demo turn" in found["demo"] and "help topic" in found["pydoc"]
    assert "chelsea" in found["photo"]
    kept, dropped = drop_evaluation_overlap(records)
    assert [r["id"] for r in kept] == ["clean", "near"] and len(dropped) == 4


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, (tuple, list, set, frozenset)):
        for v in value:
            yield from _strings(v)


def test_no_training_generator_names_a_held_out_document_subject():
    """The data engine's name lists (products, organisations, …) stay apart from what the held-out
    documents are about: six products once shared a name with them ("Orchard", "Tidewater", …)."""
    import importlib
    import pkgutil
    import re

    import genaisys.train.engine as engine
    from genaisys.datasets.heldout import document_subjects

    subjects = [s.lower() for s in document_subjects()]
    assert len(subjects) == 10 and "orchard" in subjects
    modules = [importlib.import_module(m.name) for m in pkgutil.walk_packages(engine.__path__, engine.__name__ + ".")]
    clashes = set()
    for module in modules:
        for name, value in vars(module).items():
            if name.startswith("__") or not isinstance(value, (tuple, list, dict, frozenset, set)):
                continue
            for text in _strings(value):
                for word in re.findall(r"[A-Z][a-z]+", text):  # names are capitalised; "orchard" the word is fine
                    if any(word.lower().startswith(s) for s in subjects):
                        clashes.add((module.__name__, name, text[:60]))
    assert not clashes, sorted(clashes)
