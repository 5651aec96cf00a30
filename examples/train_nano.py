"""Train the nano core with genaisys's own recipe, then evaluate what came out.

The nano core is EfficientNet-Lite0 → ``mlp2x_gelu`` connector → SmolLM2-135M-Instruct (+LoRA),
all from packaged weights, so this runs offline. `genaisys.train.nano.train_nano` runs three
stages on data the data engine writes from the easy-VQA *train* split and the train tool
phrasings:

1. align — connector only, caption requests ("A red circle.");
2. sft   — connector + LoRA on easy-VQA questions, POPE-style yes/no probes and tool calls;
3. dpo   — POPE preference pairs against the SFT core.

Then the trained core (``OUTPUT/dpo/final``, loadable with ``genaisys.load_core(path)``) is
evaluated on a few items of the easy-VQA and POPE (adversarial) *test* splits, with bootstrap
intervals. ``--scale`` multiplies every data size. The default, 0.001, is a smoke run of a few
steps (2 captions, 8 SFT rows, 2 pairs; about a minute and 3 GiB on 2 busy CPU cores) that shows the whole
path — its scores mean nothing, it has seen a dozen examples. ``--scale 1 --batch-size 16`` is the
shipped recipe (about an hour on 2 CPU cores; the sft stage then peaks near 19 GiB of memory).

Run: python examples/train_nano.py [--scale 0.001] [--batch-size 2] [--output runs/nano-example] [--limit 4]
The full recipe: python examples/train_nano.py --scale 1 --batch-size 16   (= genaisys train nano)
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
    parser.add_argument("--limit", type=int, default=4, help="Test items per task to evaluate on.")
    parser.add_argument("--max-new-tokens", type=int, default=8, help="Generation budget per answer.")
    parser.add_argument("--batch-size", type=int, default=2, help="Rows per step (the recipe's is 16). Batches group "
                        "rows of similar length, so the two ~700-token tool conversations share one: at 2 a smoke run "
                        "peaks near 3 GiB, at 4 near 7 GiB (the other two rows are padded to their length).")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice).")
    args = parser.parse_args()

    import genaisys
    from genaisys.eval import get_task, markdown_table, run_eval
    from genaisys.train.nano import NanoRecipe, train_nano

    recipe = NanoRecipe(output_dir=args.output, scale=args.scale, batch_size=args.batch_size, threads=args.threads,
                        progress=False)
    print(f"nano recipe at scale {recipe.scale}: align {recipe.n(recipe.align_samples)} captions; "
          f"sft {recipe.n(recipe.sft_qa)} questions + {recipe.n(recipe.sft_pope)} probes + "
          f"{recipe.n(recipe.sft_tools)} tool conversations; dpo {recipe.n(recipe.dpo_pairs)} pairs")
    out = train_nano(recipe)
    for stage in ("align", "sft", "dpo"):
        t = out["timings"].get(stage)
        if isinstance(t, dict):
            print(f"  {stage}: {t['steps']} steps, loss {t['first_loss']} → {t['final_loss']}, {t['wall_s']} s")
    print(f"trained core: {out['core']} (total {out['timings']['total_s']} s)")

    chat = genaisys.load_core(str(out["core"]), max_new_tokens=args.max_new_tokens, temperature=0.0)
    results = [run_eval(get_task(name), chat, limit=args.limit, model_id=f"nano-example-scale{recipe.scale}",
                        cache=args.output / "predictions.jsonl", n_resamples=200)
               for name in ("easy-vqa", "pope-adversarial")]
    print(markdown_table(results))
    first = results[0].records[0]
    print("example:", json.dumps({"question": first["input"]["prompt"].splitlines()[0],
                                  "answer": first["prediction"], "reference": first["input"]["reference"]}))


if __name__ == "__main__":
    main()
