"""Training benchmarks: stage-1 throughput with the frozen-feature cache vs recomputing the
encoder every step, and what sharing the common prompt prefix saves.

1. **Feature cache** (goal ≥ 2×). Stage 1 (align: connector only, encoder and LM frozen) on
   easy-VQA caption records, the nano recipe's settings (16 image tokens, batch 16, bf16
   autocast, AdamW). *cached*: vision features read from `VisionFeatureCache` (built once
   beforehand; its build time is reported apart). *recompute*: every step decodes the PNGs,
   preprocesses them and runs EfficientNet-Lite0. Each mode runs in its own subprocess, so its
   peak RSS is its own. Run for the nano LM (SmolLM2-135M: the LM dominates a step) and for a
   small LM (a 2-layer, 64-d Llama: the encoder dominates), to show where the cache pays.
2. **Shared prefix**. One sft step on a batch of 8 tool conversations (the ~580-token tool
   section shared by all) and of 16 easy-VQA questions, with `MultimodalCore`'s shared-prefix
   pass on and off: same loss, time per step.

Run: ``.venv/bin/python bench/train.py [--steps 8] [--threads 2]``; ``--quick --steps 2 --batch 2`` is a
smoke run (the small LM only).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _chat(lm: str):
    from genaisys.train.nano import NanoRecipe, nano_chat

    chat = nano_chat(NanoRecipe())
    if lm == "small":
        import torch
        from transformers import LlamaConfig, LlamaForCausalLM

        from genaisys.core.chat import ChatCore
        from genaisys.core.multimodal import MultimodalCore

        core = chat.core
        torch.manual_seed(0)
        small = LlamaForCausalLM(LlamaConfig(vocab_size=len(core.tokenizer), hidden_size=64, num_hidden_layers=2,
                                             num_attention_heads=4, num_key_value_heads=2, intermediate_size=128,
                                             tie_word_embeddings=True))
        config = core.config.model_copy(update={"language_model": None})
        chat = ChatCore(core=MultimodalCore(config, vision_tower=core.vision_tower, language_model=small,
                                            tokenizer=core.tokenizer))
    return chat


def _mode(mode: str, lm: str, steps: int, batch: int, threads: int) -> dict[str, float]:
    """One mode in this process: ``cached`` or ``recompute``."""
    import resource

    import torch

    from genaisys.assets import cache_dir
    from genaisys.train.engine.easy_vqa import captions
    from genaisys.train.features import VisionFeatureCache
    from genaisys.train.stages import ConversationStage

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    chat = _chat(lm)
    rows = captions("train", steps * batch, seed=11)
    build_s = 0.0
    features = None
    if mode == "cached":
        features = VisionFeatureCache(chat.core, cache_dir() / "features")
        stage = ConversationStage(chat, name="align", train=("connector",), features=features)
        t = time.perf_counter()
        features.build(stage.image_blocks(rows), progress=False)
        build_s = time.perf_counter() - t
    stage = ConversationStage(chat, name="align", train=("connector",), features=features)
    for row in rows:
        stage.encode(row)  # tokenisation is the same in both modes: keep it out of the timing
    opt = torch.optim.AdamW(stage.setup(chat.core), lr=1e-3)
    chat.core.train()

    def step(part):
        batch_ = stage.collate(part)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss, _ = stage.loss(chat.core, batch_)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step(rows[:batch])  # warm-up
    t = time.perf_counter()
    for i in range(1, steps):
        step(rows[i * batch:(i + 1) * batch])
    wall = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"samples_per_s": (steps - 1) * batch / wall, "peak_rss_mb": peak_mb, "cache_build_s": build_s}


def _prefix(threads: int, quick: bool = False) -> list[dict[str, float | str]]:
    import torch

    from genaisys.assets import cache_dir
    from genaisys.train.engine.easy_vqa import qa
    from genaisys.train.engine.tool_use import tool_conversations
    from genaisys.train.features import VisionFeatureCache
    from genaisys.train.stages import ConversationStage

    torch.set_num_threads(threads)
    chat = _chat("small" if quick else "nano")
    chat.core.add_lora(r=16, alpha=32, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])
    features = VisionFeatureCache(chat.core, cache_dir() / "features")
    stage = ConversationStage(chat, train=("connector", "lora"), features=features)
    stage.setup(chat.core)
    tools = [r for r in tool_conversations(60, seed=7) if len(r["conversations"]) == 2][:8]
    out = []
    core = chat.core
    own = core._shared_prefix_length
    batches = (("8 tool conversations", tools), ("16 easy-VQA questions", qa("train", 16, seed=5)))
    if quick:  # a smoke run: two rows of each, on the small LM
        batches = (("2 tool conversations", tools[:2]), ("2 easy-VQA questions", qa("train", 2, seed=5)))
    for name, rows in batches:
        features.build(stage.image_blocks(rows), progress=False)
        batch = stage.collate(rows)
        shared = own(batch["input_ids"], batch["attention_mask"])
        times: dict[str, list[float]] = {"off": [], "on": []}
        losses = {}
        for mode in ("off", "on") if quick else ("off", "on", "off", "on"):
            core._shared_prefix_length = own if mode == "on" else (lambda *a: 0)
            t = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                scores = core(**batch, score_labels=True)
            scores.loss.backward()
            times[mode].append(time.perf_counter() - t)
            losses[mode] = float(scores.loss.detach())
        core._shared_prefix_length = own
        out.append({"batch": name, "tokens": int(batch["attention_mask"].sum()), "shared": shared,
                    "off_s": min(times["off"]), "on_s": min(times["on"]), "loss_off": losses["off"],
                    "loss_on": losses["on"]})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: the small LM only, batches of 2 in the prefix part")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "LM"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_mode(args.child[0], args.child[1], args.steps, args.batch, args.threads)))
        return
    rows = []
    for lm in ("small",) if args.quick else ("nano", "small"):
        res = {}
        for mode in ("cached", "recompute"):
            cmd = [sys.executable, __file__, "--child", mode, lm, "--steps", str(args.steps), "--batch",
                   str(args.batch), "--threads", str(args.threads)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            res[mode] = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append((lm, res))
    print(f"\n1. Stage 1 (align), batch {args.batch}, {args.steps - 1} timed steps, {args.threads} threads, bf16")
    print(f"{'LM':<22}{'cached s/s':>12}{'recompute s/s':>15}{'ratio':>8}{'peak MB cached':>16}{'recompute':>11}"
          f"{'cache build s':>15}")
    for lm, res in rows:
        c, r = res["cached"], res["recompute"]
        name = "SmolLM2-135M (nano)" if lm == "nano" else "2-layer 64-d Llama"
        print(f"{name:<22}{c['samples_per_s']:>12.2f}{r['samples_per_s']:>15.2f}"
              f"{c['samples_per_s'] / r['samples_per_s']:>7.2f}×{c['peak_rss_mb']:>16.0f}{r['peak_rss_mb']:>11.0f}"
              f"{c['cache_build_s']:>15.1f}")
    print(f"\n2. Shared prompt prefix, one sft step (forward + backward), {'the small LM' if args.quick else 'nano'} "
          "+ LoRA r16, bf16")
    print(f"{'batch':<24}{'tokens':>8}{'shared':>8}{'off s':>8}{'on s':>8}{'speed-up':>10}{'same loss':>11}")
    for row in _prefix(args.threads, quick=args.quick):
        same = abs(row["loss_on"] - row["loss_off"]) < 1e-2
        print(f"{row['batch']:<24}{row['tokens']:>8}{row['shared']:>8}{row['off_s']:>8.2f}{row['on_s']:>8.2f}"
              f"{row['off_s'] / row['on_s']:>9.2f}×{'yes' if same else 'NO':>11}")


if __name__ == "__main__":
    main()
