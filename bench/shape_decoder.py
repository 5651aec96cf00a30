"""genaisys's own image decoder, judged by the OpenCV shape oracle, side by side in one run.

Every row draws each of the 24 colour-shape pairs under a set of phrasings, ``--per-prompt``
images each (seeds fixed), and asks the oracle (`genaisys.datasets.shape_oracle`) whether the image
shows the colour and the shape the prompt names:

- **ground truth**: shapes drawn by `genaisys.datasets.shapes` — the oracle's own ceiling;
- **held-out phrasings** (``HELDOUT_TEMPLATES``, never seen in training) with the shipped
  sampling settings — the target row: goal ≥ 80% agreement;
- **training phrasings** (``TRAIN_TEMPLATES``) — how much the unseen wording costs;
- **held-out, no guidance** (guidance 1.0) — what classifier-free guidance buys;
- **held-out, DDIM** instead of DPM-Solver++ at the same step count;
- **held-out, half the steps**.

Images/s is for generation only (batched, ``--batch`` images per call, one torch thread unless
``--threads``). ``--quick`` runs one image per prompt on the held-out and ground-truth rows only.

Run: ``.venv/bin/python bench/shape_decoder.py [--folder tools/decoders/shapes_model] [--quick]``
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from genaisys.tools.decoders.shapes import DEFAULT_FOLDER, ShapeImageDecoder

from genaisys.datasets.shape_oracle import oracle_accuracy
from genaisys.train.shape_decoder import evaluate_shape_decoder
from genaisys.datasets.shapes import (
    HELDOUT_TEMPLATES,
    TRAIN_TEMPLATES,
    make_shape_dataset,
)


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--folder", default=str(DEFAULT_FOLDER))
    p.add_argument("--per-prompt", type=int, default=2, help="images per prompt")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=96)
    p.add_argument("--device", default="cpu")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--templates", type=int, default=None,
                   help="only the first N held-out phrasings (the smoke test's setting)")
    p.add_argument("--json", help="also write the rows to this JSON file")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch.set_num_threads({args.threads}); device {args.device}; folder {args.folder}")

    decoder = ShapeImageDecoder(args.folder, device=args.device)
    steps, guidance, sampler = decoder.default_steps, decoder.default_guidance, decoder.default_sampler
    per_prompt = 1 if args.quick else args.per_prompt
    heldout = tuple(HELDOUT_TEMPLATES[: args.templates] if args.templates else HELDOUT_TEMPLATES)
    rows = []

    images, labels = make_shape_dataset(24 * len(heldout) * per_prompt, size=decoder.image_size, seed=99)
    start = time.perf_counter()
    truth = oracle_accuracy(list(images), labels)
    rows.append({"row": "ground truth (drawn by shapes_data)", **truth, "images_per_s": float("nan"),
                 "oracle_s": time.perf_counter() - start})

    settings = [("held-out phrasings", heldout, steps, guidance, sampler)]
    if not args.quick:
        settings += [
            ("training phrasings", TRAIN_TEMPLATES[: len(heldout)], steps, guidance, sampler),
            ("held-out, no guidance (1.0)", heldout, steps, 1.0, sampler),
            ("held-out, ddim" if sampler != "ddim" else "held-out, dpm", heldout, steps, guidance,
             "ddim" if sampler != "ddim" else "dpm"),
            (f"held-out, {max(1, steps // 2)} steps", heldout, max(1, steps // 2), guidance, sampler),
        ]
    for name, templates, n_steps, g, s in settings:
        scores = evaluate_shape_decoder(decoder.unet, decoder.scheduler_config, templates=tuple(templates),
                                        images_per_prompt=per_prompt, steps=n_steps, guidance_scale=g, sampler=s,
                                        batch_size=args.batch)
        rows.append({"row": f"{name}: {s} {n_steps} steps, guidance {g}", **scores})

    print()
    print("| setting | n | oracle agreement | colour | shape | images/s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        ips = "—" if np.isnan(r["images_per_s"]) else f"{r['images_per_s']:.1f}"
        print(f"| {r['row']} | {int(r['n'])} | {r['accuracy']:.1%} | {r['color_accuracy']:.1%} | "
              f"{r['shape_accuracy']:.1%} | {ips} |")
    held = rows[1]
    print(f"\nheld-out agreement {held['accuracy']:.1%} (goal ≥ 80%): {'met' if held['accuracy'] >= 0.8 else 'NOT met'}")
    print("per held-out phrasing: " + ", ".join(f"{t!r} {a:.0%}" for t, a in held["per_template"].items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2, default=float)
    return rows


if __name__ == "__main__":
    main()
