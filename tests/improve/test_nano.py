"""The nano recipe's model card reports every figure the evaluation made."""

from __future__ import annotations

from genaisys.improve.nano import write_model_card
from genaisys.train.nano import NanoRecipe


def _metric(v):
    return {"value": v, "ci_low": v - 0.01, "ci_high": min(1.0, v + 0.01)}


def test_the_model_card_reports_every_figure(tmp_path):
    recipe = NanoRecipe(scale=0.5)
    timings = {"data_s": 1.0, "records": {"align": 800, "programs": 640, "vision": 600, "replay": 90,
                                          "dropped_as_evaluation_material": 7},
               "align": {"steps": 75, "wall_s": 190.0, "samples_per_s": 6.3, "first_loss": 3.6,
                         "final_loss": 0.07, "peak_rss_mb": 2744, "from": "genaisys/core/nano"},
               "refine": {"steps": 40, "wall_s": 300.0, "samples_per_s": 0.5, "first_loss": 0.9,
                          "final_loss": 0.3, "loss_steps": 2, "precision": "no", "peak_rss_mb": 5000}, "total_s": 900.0,
               "diversity": {"refine": {"n": 1900, "unique": 0.97, "distinct_1": 0.1, "distinct_2": 0.31,
                                        "distinct_3": 0.52, "mean_rouge_l": 0.08}}}
    metrics = {"easy-vqa": {"accuracy": _metric(0.97)}, "tool-routing": {"accuracy": _metric(0.94)},
               **{f"pope-{s}": {"accuracy": _metric(0.96), "f1": _metric(0.955), "yes_ratio": _metric(0.5)}
                  for s in ("random", "popular", "adversarial")}}
    text = {"questions": 2, "base_correct": 1, "kept_after_training": 1, "after_correct_overall": 1,
            "rows": [{"question": "What is the capital of France?", "before_ok": True, "after_ok": True},
                     {"question": "Q2", "before_ok": False, "after_ok": False}]}
    heldout = {"tools": {"accuracy": _metric(0.96)}, "shapes": {"accuracy": _metric(0.8), "yes_ratio": _metric(0.6)}}
    demo = [{"turn": "retrieval", "right": True, "seconds": 4.2, "answer": "A context manager [with.txt]."},
            {"turn": "arithmetic", "right": False, "seconds": 3.1, "answer": "42"}]
    card = write_model_card(tmp_path, recipe=recipe, timings=timings,
                            evaluation={"metrics": metrics, "text": text, "heldout": heldout, "demo": demo,
                                        "heldout_latency": {"first_turn_s": 4.7, "warm": {"median_s": 2.5}}})
    body = card.read_text()
    assert "0.970 [0.960, 0.980]" in body and "0.940" in body and "| pope-adversarial | 0.960" in body
    # the precision a stage ran in (float32 where bf16 was asked on a CPU without it); unknown: –.
    # The loss is averaged over loss_steps steps; figures recorded before that are single steps (1).
    assert "| align ¹ | 75 | 190.0 | 6.3 | 3.6 → 0.07 (1) | – | 2744 |" in body
    assert "| refine | 40 | 300.0 | 0.5 | 0.9 → 0.3 (2) | float32 | 5000 |" in body
    assert "¹ Trained by an earlier run of the recipe" in body and "`genaisys/core/nano`" in body
    assert "| refine | 1900 | 0.97 | 0.31 | 0.52 | 0.08 |" in body
    assert "| recorded programs | 640 |" in body and "7 composed records" in body and "keeps\n**1**" in body
    # out-of-distribution rows carry their target and whether it was met — missed ones say so
    assert "| tools | accuracy | 0.960 [0.950, 0.970] | ≥ 0.95 | ✓ |" in body
    assert "| shapes | accuracy | 0.800 [0.790, 0.810] | ≥ 0.95 | ✗ |" in body
    assert "| shapes | yes_ratio | 0.600 [0.590, 0.610] | 0.45–0.55 | ✗ |" in body
    assert "| retrieval | ✓ | 4.2 |" in body and "| arithmetic | ✗ | 3.1 | 42 |" in body
    assert "first turn 4.7, warm median\n2.5" in body
    # suites resumed from an interrupted run are not in the latency figures, and the card says so
    evaluation = {"metrics": metrics, "text": text, "heldout": heldout, "demo": demo,
                  "heldout_latency": {"first_turn_s": 1.7, "warm": {"median_s": 1.6}, "kept_suites": ["tools", "rag"],
                                      "per_suite": {"photos": {}, "shapes/graph": {}}}}
    body = write_model_card(tmp_path, recipe=recipe, timings=timings, evaluation=evaluation).read_text()
    assert "(timed over photos, shapes/graph only: tools, rag came from an earlier, interrupted run" in body


def test_the_model_card_reports_the_signal_stage_and_the_draw_suite(tmp_path):
    recipe = NanoRecipe(stages=["signal"])
    timings = {"records": {"signal": 700, "signal_draws": 230, "signal_replay": 300},
               "signal": {"steps": 340, "wall_s": 3600.0, "samples_per_s": 0.2, "first_loss": 1.5, "final_loss": 0.6,
                          "peak_rss_mb": 6000, "projector_fit": {"rows": 230, "train_l2": 0.05, "holdout_l2": 0.2,
                                                                 "zero_l2": 1.0, "wall_s": 90.0}}}
    text = {"questions": 0, "base_correct": 0, "kept_after_training": 0, "after_correct_overall": 0, "rows": []}
    draw = {"n_draw": 24, "drawn_right": 0.917, "via_signal": 0.958, "signal_right": 0.913, "text_right": 0.95,
            "request_right": 1.0, "paired": {"n": 22, "signal_right": 0.909, "text_right": 0.955}, "n_not_draw": 12,
            "images_unasked": 0, "n_spoken": 8, "spoken_right": None, "seconds_per_turn": 6.1}
    body = write_model_card(tmp_path, recipe=recipe, timings=timings,
                            evaluation={"metrics": {}, "text": text, "draw": draw}).read_text()
    assert "| signal | 700 | stage 4: 230 records that draw" in body and "refine 0.0002, signal 0.0004" in body
    assert "cached hidden states of 230 draws (90.0 s)" in body and "0.2 on captions left out" in body
    assert "## Drawing and speaking" in body and "| … whose image came through the signal tokens | 0.958 | ≥ 0.9 |" in body
    assert "same requests as the text row (n=22) | 0.909 |" in body and "asked for none | 0 | 0 |" in body
    assert "holds the answer (n=8) | – | ≥ 0.9 |" in body  # not measured: a dash, not a number
    assert "## Drawing" not in write_model_card(tmp_path, recipe=NanoRecipe(), timings={},
                                                evaluation={"metrics": {}, "text": text}).read_text()


def test_the_model_card_says_how_the_core_reads_recalled_context(tmp_path):
    import json

    text = {"questions": 0, "base_correct": 0, "kept_after_training": 0, "after_correct_overall": 0, "rows": []}
    evaluation = {"metrics": {}, "text": text}
    recipe = NanoRecipe(context_sentences=6, context_min_score=0.55)
    assert "in whole chunks" in write_model_card(tmp_path, recipe=recipe, timings={}, evaluation=evaluation).read_text()
    config = {"config": {"context_sentences": 6, "context_min_score": 0.55}}
    (tmp_path / "genaisys_core.json").write_text(json.dumps(config))
    body = write_model_card(tmp_path, recipe=recipe, timings={}, evaluation=evaluation).read_text()
    assert "the 6 recalled sentences closest to the question, none scoring below 0.55" in body
    assert "recorded with a floor" not in body
    config["config"]["context_min_score"] = 0.5  # calibrated apart from the recipe: the card says both
    (tmp_path / "genaisys_core.json").write_text(json.dumps(config))
    body = write_model_card(tmp_path, recipe=recipe, timings={}, evaluation=evaluation).read_text()
    assert "none scoring below 0.5 " in body and "its training data was recorded with a floor of 0.55" in body
