"""Train the nano core with genaisys's own recipe, then evaluate what came out.

The nano core is EfficientNet-Lite0 → ``mlp2x_gelu`` connector → SmolLM2-135M-Instruct (+LoRA),
all from packaged weights, so this runs offline. `genaisys.train.nano.train_nano` builds its data
by running the prebuilt graphs (assistant, RAG, any-to-any, planner) around a scripted oracle with
real tools and a real Chroma memory, records every model call exactly as the graphs render it,
adds shapes drawn many ways and replayed base-model answers, then trains three stages:

1. align  — connector only, caption requests about shapes;
2. sft    — connector + LoRA on the recorded programs, shape questions and replay;
3. refine — connector + LoRA again, on programs recorded in a second world (documents with facts in
   tables and YAML, more follow-ups, photos and tool requests), shapes in every shade of their colour
   name with the yes/no verdict said last, and short general-knowledge replay.

The trained core (``OUTPUT/refine/final``, loadable with ``genaisys.load_core(path)``) is then
evaluated on a few easy-VQA *test* questions and on the held-out tool-choice suite (phrasings no
training generator wrote). ``--scale`` multiplies every data size. The default, 0.001, is a smoke
run (two of everything; a few minutes on 2 CPU cores) that shows the whole path — its scores mean
nothing. ``--scale 1`` is the shipped recipe (``genaisys train nano``).

Run: python examples/train_nano.py [--scale 0.001] [--output runs/nano-example] [--limit 4]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything here is packaged; never wait for a hub


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=0.001, help="Data size multiplier (1 = the shipped recipe).")
    parser.add_argument("--output", type=Path, default=Path("runs/nano-example"), help="Recipe folder.")
    parser.add_argument("--limit", type=int, default=4, help="Items per evaluation.")
    parser.add_argument("--max-new-tokens", type=int, default=8, help="Generation budget per easy-VQA answer.")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice).")
    args = parser.parse_args()

    import genaisys
    from genaisys.eval import get_task, markdown_table, run_eval
    from genaisys.eval.heldout import run_heldout
    from genaisys.train.nano import NanoRecipe, train_nano

    recipe = NanoRecipe(output_dir=args.output, scale=args.scale, threads=args.threads, progress=False)
    n = recipe.n
    print(f"nano recipe at scale {recipe.scale}: align {n(recipe.align_shapes)} + {n(recipe.align_easy_vqa)} "
          f"captions; programs: {n(recipe.assistant_threads)} assistant threads, {n(recipe.rag_questions)} RAG "
          f"questions, {n(recipe.any_to_any_threads)} any-to-any threads, {n(recipe.planner_requests)} plans; "
          f"{n(recipe.shape_questions)} shape questions, {n(recipe.replay_prompts)} replay prompts; refine: "
          f"{n(recipe.refine_assistant_threads)} assistant threads, {n(recipe.refine_shape_questions)} shape questions")
    out = train_nano(recipe)
    print("records:", json.dumps(out["timings"]["records"]))
    for stage in ("align", "sft", "refine"):
        t = out["timings"][stage]
        print(f"  {stage}: {t['steps']} steps, loss {t['first_loss']} → {t['final_loss']}, {t['wall_s']} s")
    print(f"trained core: {out['core']} (total {out['timings']['total_s']} s)")

    chat = genaisys.load_core(str(out["core"]), max_new_tokens=args.max_new_tokens, temperature=0.0)
    result = run_eval(get_task("easy-vqa"), chat, limit=args.limit, model_id=f"nano-example-scale{recipe.scale}",
                      cache=args.output / "predictions.jsonl", n_resamples=200)
    print(markdown_table([result]))
    first = result.records[0]
    print("example:", json.dumps({"question": first["input"]["prompt"].splitlines()[0],
                                  "answer": first["prediction"], "reference": first["input"]["reference"]}))
    heldout = run_heldout(str(out["core"]), args.output / "heldout", suites=("tools",), limit=args.limit,
                          log=lambda s: None)
    print("held-out tool choice:", json.dumps({k: round(v["value"], 3)
                                               for k, v in heldout["suites"]["tools"]["metrics"].items()}))


if __name__ == "__main__":
    main()
