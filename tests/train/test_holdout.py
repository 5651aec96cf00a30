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
