"""The nano recipe's evaluation and shipping: what uses both training and evaluation.

`genaisys.train.nano` builds the data and trains the stages; this module, one layer above
training and evaluation, measures a trained nano core (`evaluate_nano`: the benchmarks, the
held-out suites, the demo's turns, the text-only regression questions), writes its model card
(`write_model_card`) and ships it into ``genaisys/core/nano/`` (`ship_nano`).
``genaisys train nano --evaluate`` / ``--ship`` call them after training.

Example:
    >>> from genaisys.train.nano import NanoRecipe
    >>> evaluation = evaluate_nano("runs/nano/refine/final", "runs/nano/eval")  # doctest: +SKIP
    >>> ship_nano("runs/nano/refine/final", recipe=NanoRecipe(), timings={}, evaluation=evaluation)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genaisys.train.nano import TEXT_QUESTIONS, NanoRecipe

__all__ = ["evaluate_nano", "ship_nano", "write_model_card"]


def _text_answers(chat: Any, questions: tuple[tuple[str, str], ...]) -> list[dict[str, Any]]:
    import re

    from langchain_core.messages import HumanMessage

    replies = chat.batch([[HumanMessage(q)] for q, _ in questions])
    return [{"question": q, "answer": str(r.content), "correct": bool(re.search(rf"\b({pattern})\b", str(r.content).lower()))}
            for (q, pattern), r in zip(questions, replies)]


def evaluate_nano(core: str | Path, out_dir: str | Path, *, vqa_limit: int = 500, pope_limit: int = 300,
                  heldout_limit: int | None = None, demo: bool = True, draw: bool = True, seed: int = 0,
                  log: Callable[[str], None] = print) -> dict[str, Any]:
    """Every figure of a trained nano core, in distribution and out of it.

    - **benchmarks** (the distribution the old recipe trained on): easy-VQA test questions, POPE
      on test images in the three settings, tool routing on the 16 built-in requests;
    - **held-out suites** (`genaisys.eval.heldout`, written apart from every training generator):
      tool choice over varied tool sets, retrieval QA with citations and abstention through the
      assistant and RAG graphs, follow-ups, shapes from another renderer, photos through
      perception, text-only questions against the base model;
    - the **demo**'s four turns (right or not, seconds each) and the text-only regression questions;
    - with ``draw``, the held-out **draw** suite (`genaisys.eval.heldout.draw`): images drawn when
      asked, through the signal tokens or not, none when not asked, spoken answers.

    Writes ``out_dir/benchmarks`` (report, plots), ``out_dir/heldout`` (its report) and
    ``out_dir/nano_eval.json``; returns the same dict.
    """
    from genaisys.core.loading import load_core
    from genaisys.eval.heldout import run_heldout
    from genaisys.eval.report import write_report
    from genaisys.eval.runner import run_eval
    from genaisys.eval.tasks.easy_vqa import EasyVQATask
    from genaisys.eval.tasks.pope import PopeTask
    from genaisys.eval.tasks.tool_routing import ToolRoutingTask

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    chat = load_core(str(core), max_new_tokens=64)
    cache = out / "predictions.jsonl"
    runs = [(EasyVQATask("test"), vqa_limit), *[(PopeTask(s, "test"), pope_limit) for s in ("random", "popular",
                                                                                                "adversarial")],
            (ToolRoutingTask(), None)]
    results = []
    for task, limit in runs:
        t = time.perf_counter()
        result = run_eval(task, chat, limit=limit, seed=seed, cache=cache, batch_size=16)
        results.append(result)
        shown = {k: round(v["value"], 3) for k, v in result.metrics.items()}
        log(f"{result.task}: {shown} ({time.perf_counter() - t:.0f} s)")
    write_report(results, out / "benchmarks")
    heldout = run_heldout(str(core), out / "heldout", limit=heldout_limit, seed=seed, resume=True, log=log)
    base = _text_answers(load_core("asset:smollm2", max_new_tokens=48), TEXT_QUESTIONS)
    after = _text_answers(chat, TEXT_QUESTIONS)
    known = [i for i, row in enumerate(base) if row["correct"]]
    text = {"questions": len(TEXT_QUESTIONS), "base_correct": len(known),
            "kept_after_training": sum(after[i]["correct"] for i in known),
            "after_correct_overall": sum(r["correct"] for r in after),
            "rows": [{"question": b["question"], "before": b["answer"], "after": a["answer"],
                      "before_ok": b["correct"], "after_ok": a["correct"]} for b, a in zip(base, after)]}
    log(f"text-only: SmolLM2 right on {text['base_correct']}/{len(TEXT_QUESTIONS)}; "
        f"the trained core keeps {text['kept_after_training']} of those")
    evaluation: dict[str, Any] = {
        "metrics": {r.task: r.metrics for r in results},
        "heldout": {name: suite["metrics"] for name, suite in heldout["suites"].items()},
        "heldout_latency": heldout["latency"], "text": text}
    if draw:
        from genaisys.eval.heldout.draw import run_draw

        drawn = run_draw(chat, out_dir=out / "draw", speech=shutil.which("espeak-ng") is not None,
                         progress=None)
        evaluation["draw"] = {**drawn["metrics"], "seconds_per_turn": drawn["seconds_per_turn"]}
        log(f"draw: {evaluation['draw']}")
    if demo:
        from genaisys.demo import run_demo

        turns = run_demo(out / "demo", core=str(core))
        evaluation["demo"] = [{"turn": r.name, "right": bool((r.tool_ok is not False) and r.words_ok),
                               "tool_ok": r.tool_ok, "words_ok": r.words_ok, "seconds": round(r.seconds, 1),
                               "answer": r.answer} for r in turns]
        log(f"demo: {sum(t['right'] for t in evaluation['demo'])} of {len(turns)} turns right")
    (out / "nano_eval.json").write_text(json.dumps(evaluation, indent=2, default=str))
    return evaluation


def _fmt(metric: dict[str, float] | None) -> str:
    if not metric:
        return "–"
    return f"{metric['value']:.3f} [{metric['ci_low']:.3f}, {metric['ci_high']:.3f}]"


def _heldout_rows(heldout: dict[str, dict[str, Any]]) -> str:
    from genaisys.eval.heldout import TARGETS

    rows = []
    for suite, metrics in heldout.items():
        for name, low, high in TARGETS.get(suite, ()):
            m = metrics.get(name)
            if m is None:
                continue
            met = "✓" if low <= m["value"] <= high else "✗"
            wanted = f"≥ {low:g}" if high >= 1.0 else f"{low:g}–{high:g}"
            rows.append(f"| {suite} | {name} | {_fmt(m)} | {wanted} | {met} |")
    return "\n".join(rows)


def write_model_card(folder: str | Path, *, recipe: NanoRecipe, timings: dict[str, Any], evaluation: dict[str, Any],
                     command: str = "genaisys train nano --ship") -> Path:
    """``MODEL_CARD.md`` beside a trained nano core: data, steps, wall time, device, every figure."""
    import platform

    import torch

    m, text = evaluation["metrics"], evaluation["text"]
    vqa, tools = m.get("easy-vqa", {}), m.get("tool-routing", {})
    pope_rows = "\n".join(
        f"| pope-{s} | {_fmt(m.get(f'pope-{s}', {}).get('accuracy'))} | {_fmt(m.get(f'pope-{s}', {}).get('f1'))} | "
        f"{_fmt(m.get(f'pope-{s}', {}).get('yes_ratio'))} |" for s in ("random", "popular", "adversarial"))
    stage_rows = "\n".join(
        f"| {s}{' ¹' if t.get('from') else ''} | {t['steps']} | {t['wall_s']} | {t['samples_per_s']} | "
        f"{t['first_loss']} → {t['final_loss']} ({t.get('loss_steps', 1)}) | "
        f"{ {'no': 'float32', None: '–'}.get(t.get('precision'), t.get('precision')) } | {t['peak_rss_mb']} |"
        for s, t in timings.items() if isinstance(t, dict) and "steps" in t)
    earlier = sorted({str(t["from"]) for t in timings.values() if isinstance(t, dict) and t.get("from")})
    provenance = (f"\n¹ Trained by an earlier run of the recipe; this run started from its weights "
                  f"(`{', '.join(earlier)}`, stored as float16) and ran the stages without the mark.\n"
                  if earlier else "")
    text_rows = "\n".join(f"| {r['question']} | {'✓' if r['before_ok'] else '✗'} | {'✓' if r['after_ok'] else '✗'} |"
                          for r in text["rows"])
    records = timings.get("records", {})
    demo = evaluation.get("demo") or []
    demo_rows = "\n".join(f"| {d['turn']} | {'✓' if d['right'] else '✗'} | {d['seconds']} | {d['answer'][:120]} |"
                          for d in demo)
    spread = {part: d for part, d in (timings.get("diversity") or {}).items() if d}
    diversity = ("\nHow varied the users' requests are (last user turn of each record; distinct n-grams over all "
                 "n-grams,\nmean ROUGE-L between random pairs: lower is more varied):\n\n"
                 "| data | requests | unique | distinct-2 | distinct-3 | mean ROUGE-L |\n|---|---|---|---|---|---|\n" +
                 "\n".join(f"| {part} | {d['n']} | {d['unique']} | {d['distinct_2']} | {d['distinct_3']} | "
                           f"{d['mean_rouge_l']} |" for part, d in spread.items()) + "\n") if spread else ""
    latency = evaluation.get("heldout_latency") or {}
    kept = latency.get("kept_suites") or []
    timed_note = (f" (timed over {', '.join(sorted(latency.get('per_suite') or {})) or 'no graph suite'} only: "
                  f"{', '.join(kept)} came from an earlier, interrupted run and were not timed again)") if kept else ""
    first_s, warm_s = latency.get("first_turn_s"), (latency.get("warm") or {}).get("median_s")
    first_s, warm_s = (round(v, 1) if isinstance(v, (int, float)) else v for v in (first_s, warm_s))
    signal_row = (f"| signal | {records.get('signal', '?')} | stage 4: {records.get('signal_draws', '?')} records that "
                  "draw by emitting the image signal tokens (threads through the any-to-any and assistant graphs, "
                  "draw requests beside spoken-answer, tool, photo, shape and talk turns; no colour-shape pair of "
                  f"the held-out draw suite), {records.get('signal_replay', '?')} refine records replayed |\n"
                  if "signal" in records else "")
    fit = (timings.get("signal") or {}).get("projector_fit") if isinstance(timings.get("signal"), dict) else None
    fit_note = (f"\nAfter the signal stage the output projector alone was fitted on the signal tokens' cached hidden "
                f"states of {fit['rows']} draws ({fit.get('wall_s')} s): squared distance to the caption embedding "
                f"{fit['train_l2']} on the captions fitted, {fit['holdout_l2']} on captions left out, against "
                f"{fit['zero_l2']} for predicting zeros.\n" if fit else "")
    reads = _context_line(Path(folder), recipe)
    signal_lr = f", signal {recipe.signal_lr}" if "signal" in timings else ""
    signal_parts = ", the signal tokens' rows and the image output projector" if "signal" in timings else ""
    card = f"""# genaisys nano — model card

EfficientNet-Lite0 (frozen, ImageNet) → `mlp2x_gelu` connector ({recipe.n_image_tokens or 49} image tokens) →
SmolLM2-135M-Instruct (frozen) + LoRA (r={recipe.lora_r}, alpha={recipe.lora_alpha}, {", ".join(recipe.lora_targets)}).
This folder holds only the trained parts (connector, LoRA adapters, the image token's embedding row{signal_parts});
the base models come from their packages (`genaisys.assets`). Its encoder path reads synthetic shapes
(`native_domain: shapes`): graphs send photos and documents through the image textualizer instead.
{reads}
**Reproduce:** `{command}` (the recipe: `genaisys.train.nano.NanoRecipe`, seed {recipe.seed}).
Trained on: {platform.machine()} CPU, {recipe.threads or torch.get_num_threads()} threads, mixed precision
{recipe.mixed_precision} asked (a CPU without native bf16 trains in float32: see each stage); no GPU. Total wall time {timings.get('total_s')} s (data {timings.get('data_s')} s).

## Data — made by running the programs the core runs in

| part | records | what |
|---|---|---|
| align | {records.get('align', '?')} | caption requests about shapes drawn many ways and easy-VQA train images |
| recorded programs | {records.get('programs', '?')} | every model call of the assistant, RAG, any-to-any and planner graphs run around a scripted oracle with real tools, a real Chroma memory and blob store: tool sets of 0–7 tools, documents with citations and abstention, photos via the textualizer, follow-ups |
| vision | {records.get('vision', '?')} | questions about shapes drawn many ways (yes/no balanced) and easy-VQA train questions, POPE probes |
| replay | {records.get('replay', '?')} | requests needing no tool, with the base model's own answers |
| refine | {records.get('refine', '?')} | stage 3: {records.get('refine_programs', '?')} records of the programs recorded in a second world (facts in tables, YAML and key lists; {recipe.refine_handbooks} prose handbooks, appliance guides, event notices, course pages and club rules; recalled context {f"focused to {recipe.context_sentences} sentences" if recipe.context_sentences else "in whole chunks"}; more follow-ups, photos and tool requests), {records.get('refine_vision', '?')} shape questions in every shade of their colour name with the verdict said last, {records.get('refine_replay', '?')} replayed long and short answers |
{signal_row}
{records.get('dropped_as_evaluation_material', 0) + records.get('refine_dropped_as_evaluation_material', 0)} composed records matched evaluation material (help topics, demo turns,
held-out strings, evaluation photos) and were dropped (`genaisys.train.holdout`).
{diversity}

## Training

| stage | steps | wall s | samples/s | loss, first → last (steps averaged) | ran in | peak RSS MB |
|---|---|---|---|---|---|---|
{stage_rows}
{provenance}{fit_note}
Learning rates: align {recipe.align_lr}, sft {recipe.sft_lr}, refine {recipe.refine_lr}{signal_lr}; micro-batches packed to {recipe.max_batch_tokens} tokens;
prompt tokens more than {recipe.frozen_context} before each answer run as a gradient-free cache; cosine schedule,
10 warm-up steps; one epoch per stage.

## Out of distribution — held-out suites (`genaisys.eval.heldout`; other phrasings, documents, renderer, photos)

| suite | metric | value [95 % CI] | target | met |
|---|---|---|---|---|
{_heldout_rows(evaluation.get('heldout') or {})}

Seconds per graph turn (held-out suites): first turn {first_s}, warm median
{warm_s}{timed_note}.

## The demo (`genaisys demo`, its four turns unchanged)

| turn | right | seconds | answer |
|---|---|---|---|
{demo_rows}

## In distribution — the old benchmarks (easy-VQA test split, POPE, built-in routing requests)

| task | metric | value [95 % CI] |
|---|---|---|
| easy-vqa | accuracy | {_fmt(vqa.get('accuracy'))} |
| tool-routing (16 built-in requests, 4 tools) | accuracy | {_fmt(tools.get('accuracy'))} |

| POPE (test images) | accuracy | F1 | yes-ratio (predictions) |
|---|---|---|---|
{pope_rows}

### Text-only questions (no regression)

SmolLM2-135M-Instruct alone answered {text['base_correct']} of {text['questions']} right; the trained core keeps
**{text['kept_after_training']}** of those ({text['after_correct_overall']} right overall).

| question | SmolLM2 | nano |
|---|---|---|
{text_rows}
"""
    card += _draw_section(evaluation.get("draw"))
    card += _rounds_section(evaluation.get("loop_rounds") or [])
    path = Path(folder) / "MODEL_CARD.md"
    path.write_text(card)
    return path


def _context_line(folder: Path, recipe: NanoRecipe) -> str:
    """How the shipped core reads recalled context (its config), and the floor it was trained with
    where the two differ."""
    from genaisys.core.multimodal import CONFIG_NAME

    path = folder / CONFIG_NAME
    config = (json.loads(path.read_text()).get("config") or {}) if path.is_file() else {}
    sentences, floor = config.get("context_sentences"), config.get("context_min_score")
    if not sentences:
        return "Graphs show it recalled context in whole chunks.\n"
    line = f"Graphs show it the {sentences} recalled sentences closest to the question"
    if config.get("context_order") == "best":
        line += ", one numbered entry each, the closest first"
    if floor is not None:
        line += f", none scoring below {floor} (MiniLM cosine; with none left, a note that nothing relevant was found)"
        if recipe.context_min_score is not None and floor != recipe.context_min_score:
            line += f"; its training data was recorded with a floor of {recipe.context_min_score}"
    return line + ".\n"


def _draw_section(draw: dict[str, Any] | None) -> str:
    """The card's drawing-and-speaking section (`genaisys.eval.heldout.draw` metrics), '' without them."""
    if not draw:
        return ""
    paired = draw.get("paired") or {}
    rows = [("draw requests that made an image the shape oracle confirms", draw.get("drawn_right"), "≥ 0.9"),
            ("… whose image came through the signal tokens", draw.get("via_signal"), "≥ 0.9"),
            (f"signal-token images the oracle confirms, same requests as the text row (n={paired.get('n')})",
             paired.get("signal_right"), "≥ text row"),
            ("the core's written caption drawn through the decoder's text encoder", paired.get("text_right"), "–"),
            ("the user's whole request drawn through the text encoder (no core)", draw.get("request_right"), "–"),
            (f"images made on {draw.get('n_not_draw')} requests that asked for none", draw.get("images_unasked"), "0"),
            (f"spoken-answer requests whose WAV's Whisper transcript holds the answer (n={draw.get('n_spoken')})",
             draw.get("spoken_right"), "≥ 0.9")]
    table = "\n".join(f"| {what} | {'–' if value is None else value} | {target} |" for what, value, target in rows)
    return (f"\n## Drawing and speaking — held-out requests (`genaisys.eval.heldout.draw`)\n\n"
            f"{draw.get('n_draw')} draw requests in phrasings and colour-shape pairs no training record holds,\n"
            "through the any-to-any graph with genaisys's shape decoder; seconds per turn "
            f"{draw.get('seconds_per_turn')}.\n\n| measure | value | target |\n|---|---|---|\n{table}\n")


def round_summary(report: str | Path, *, name: str, source: str, plot: str | None = None) -> dict[str, Any]:
    """What the model card shows of one improvement round (`genaisys.improve.round`): its held-out
    slices and adversarial set before → after, the training labels and the promotion decision.

    Args:
        report: the round's ``loop_report.json``.
        name: a short title ("from eval failures"); source: where its data came from, in words.
        plot: the round's before/after plot, copied beside the card under this file name.
    """
    data = json.loads(Path(report).read_text())
    rows = []
    for task, slices in data["tasks"].items():
        held = slices.get("heldout")
        if not held:
            continue
        for metric in ("accuracy", "f1", "yes_ratio"):
            if metric in held["before"]:
                d = held["compare"][metric]
                rows.append({"task": task, "metric": metric, "before": held["before"][metric]["value"],
                             "after": held["after"][metric]["value"], "delta": d["delta"], "ci": [d["ci_low"], d["ci_high"]],
                             "beyond_noise": d["beyond_noise"]})
    adv = data["adversarial"]
    return {"name": name, "source": source, "plot": plot, "heldout": rows,
            "adversarial": {"n": adv["n"], "before": adv["before"]["accuracy"]["value"],
                            "after": adv["after"]["accuracy"]["value"], "ci": [adv["compare"]["accuracy"]["ci_low"],
                                                                             adv["compare"]["accuracy"]["ci_high"]]},
            "records": data["training"]["records"], "decision": data["promotion"]["decision"],
            "failed_checks": [c["name"] for c in data["promotion"]["checks"] if not c["passed"]]}


def _rounds_section(rounds: list[dict[str, Any]]) -> str:
    if not rounds:
        return ""
    earlier = sorted({str(r["core"]) for r in rounds if r.get("core")})
    where = f"the core shipped before this one (`{', '.join(earlier)}`)" if earlier else "this core"
    out = [f"\n## Learning from use — improvement rounds on {where} (`genaisys improve`)\n",
           f"Each round retrains a *candidate* from {where}; the shipped weights above are not a round's. "
           "Held-out items were never trained on; the adversarial items were (docs/feedback.md). A candidate is "
           "promoted only if the adversarial set rose beyond noise, no held-out accuracy or F1 fell beyond noise "
           "and each held-out yes-ratio is inside 0.35–0.65 or no further outside it than before.\n"]
    for r in rounds:
        adv = r["adversarial"]
        out.append(f"### {r['name']}\n\n{r['source']}. Trained on {json.dumps(r['records'])}. "
                   f"Adversarial set ({adv['n']} items): {adv['before']:.3f} → {adv['after']:.3f} "
                   f"(Δ 95% CI [{adv['ci'][0]:+.3f}, {adv['ci'][1]:+.3f}]). **Promotion: {r['decision'].split(':')[0]}**"
                   + (f" (failed: {'; '.join(r['failed_checks'])})" if r["failed_checks"] else "") + ".\n")
        out.append("| task (held-out slice) | metric | before | after | Δ [95% CI] |\n|---|---|---|---|---|")
        for h in r["heldout"]:
            mark = " beyond noise" if h["beyond_noise"] else ""
            out.append(f"| {h['task']} | {h['metric']} | {h['before']:.3f} | {h['after']:.3f} | "
                       f"{h['delta']:+.3f} [{h['ci'][0]:+.3f}, {h['ci'][1]:+.3f}]{mark} |")
        if r.get("plot"):
            out.append(f"\n![{r['name']}: before → after]({r['plot']})")
        out.append("")
    return "\n".join(out) + "\n"


def ship_nano(core_dir: str | Path, *, recipe: NanoRecipe, timings: dict[str, Any],
              evaluation: dict[str, Any], command: str = "genaisys train nano --ship",
              context_min_score: float | None = None) -> Path:
    """Copy a trained core's folder to ``genaisys/core/nano/`` (the default ``load_core("nano")``
    loads) with its model card and figures; the trained weights are stored as float16. ``command``
    is the one the card gives to reproduce it; ``context_min_score`` sets the shipped relevance
    floor when it was calibrated apart from the recipe's (the evaluation must have used it)."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from genaisys.core.loading import NANO_DIR
    from genaisys.core.multimodal import CONFIG_NAME, WEIGHTS_NAME

    NANO_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copy2(Path(core_dir) / CONFIG_NAME, NANO_DIR / CONFIG_NAME)
    if context_min_score is not None:
        saved = json.loads((NANO_DIR / CONFIG_NAME).read_text())
        saved["config"]["context_min_score"] = context_min_score
        (NANO_DIR / CONFIG_NAME).write_text(json.dumps(saved, indent=2))
    # float16 halves what the package carries (24 → 12 MB); loading casts back into the fp32 parameters
    source = Path(core_dir) / WEIGHTS_NAME
    with safe_open(str(source), "pt") as f:
        metadata = f.metadata()
    state = {k: v.half() if v.is_floating_point() else v for k, v in load_file(str(source)).items()}
    save_file(state, str(NANO_DIR / WEIGHTS_NAME), metadata=metadata)
    (NANO_DIR / "evaluation.json").write_text(json.dumps({"timings": timings, **evaluation}, indent=2))
    write_model_card(NANO_DIR, recipe=recipe, timings=timings, evaluation=evaluation, command=command)
    return NANO_DIR
