"""The held-out draw suite: drawn right or not (the shape oracle on the shipped decoder's image),
through signal tokens or a written call, images nobody asked for, the paired text-encoder rows."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage

from genaisys.datasets.heldout import material
from genaisys.datasets.heldout.draw import DRAW, NOT_DRAW, PAIRS
from genaisys.eval.heldout.draw import run_draw
from tests.graphs.fakes import ScriptedChatModel, call

pytestmark = [
    pytest.mark.packaged,  # the shipped shape decoder and the packaged MiniLM
    # diffusers' DPMSolverMultistepScheduler.set_timesteps calls np.array on a torch tensor; numpy 2 warns.
    pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"),
]

SIGNAL = {"kind": "signal_embeddings", "ref": "sig_1", "modality": "image", "shape": [1, 384]}


class SignalScript(ScriptedChatModel):
    """A scripted core whose signal references resolve to the decoder's own caption embedding."""

    captions: dict[str, str] = {}

    def signal_embeddings(self, ref: str) -> Any:
        from genaisys.tools.decoders.shapes import encode_prompt

        return encode_prompt([self.captions[ref]])


def test_the_suite_scores_signal_and_written_draws_and_counts_unasked_images(tmp_path) -> None:
    (first, c1, s1), (second, c2, s2) = DRAW[:2]
    model = SignalScript(responses=[
        AIMessage(f"a {c1} {s1}",
                  tool_calls=[call("generate_image", {"prompt": f"a {c1} {s1}", "signal": SIGNAL}, "a")]),
        AIMessage("Here it is."),
        AIMessage("", tool_calls=[call("generate_image", {"prompt": f"a {c2} {s2}"}, "b")]),
        AIMessage("Here it is."),
        AIMessage("Three."),
        AIMessage("", tool_calls=[call("generate_image", {"prompt": "a red circle"}, "c")]),  # nobody asked
        AIMessage("Here."),
    ], captions={"sig_1": f"a {c1} {s1}"})
    result = run_draw(model, out_dir=tmp_path, speech=False, limit=2)
    m, rows = result["metrics"], result["rows"]
    assert (m["n_draw"], m["n_not_draw"], m["n_spoken"], m["spoken_right"]) == (2, 2, 0, None)
    assert m["via_signal"] == 0.5 and m["images_unasked"] == 1
    assert [r["via_signal"] for r in rows[:2]] == [True, False] and rows[1]["signal_right"] is None
    # the signal carried the caption's own conditioning, so it draws exactly what the text path draws
    assert rows[0]["signal_right"] == rows[0]["text_right"] is True
    assert m["paired"] == {"n": 1, "signal_right": 1.0, "text_right": 1.0}
    assert (tmp_path / "draw" / "draw.json").is_file()


def test_the_draw_material_is_held_out_of_training() -> None:
    from genaisys.train.engine.programs.signals import TRAIN_PAIRS

    assert not set(PAIRS) & set(TRAIN_PAIRS)
    held = material()["draw"]
    assert len(held) == len(DRAW) + len(NOT_DRAW) + 8 and all(r in held for r, _, _ in DRAW)
