"""Decoding precision and merged LoRA on the CPU, side by side in one run on the packaged nano core (SmolLM2-135M).

Three ways to decode the same core (`VARIANTS`): "fp32 lora" — float32 on the LoRA-wrapped model
as loaded (what ChatCore did before ``merge_adapters``), "fp32" — float32 on a copy with the
adapters merged into the weights (the default now), "bf16" — that merged copy in bfloat16.

(a) speed: single-stream tokens/s, greedy, ``--tokens`` new tokens (default 64), over a few
    realistic prompts rendered through the core's chat template: ``model.generate`` and
    ``ChatCore.invoke`` for each variant. The baseline is float32 ``model.generate`` on the model
    as loaded (LoRA-wrapped). Each side prefills the whole prompt (ChatCore's prefix cache off: it
    would skip the repeated prompt) and counts the tokens it generated; tokens/s is that over the
    wall time of the call. A short warm-up first, then ``--repeats`` rounds in which the order of
    the sides rotates so that load from other processes hits all of them; medians are reported.
(b) quality: greedy answers (``--quality-tokens``, default 64) to 60 fixed questions — 40 of the
    heldout-text suite, 10 heldout tool requests, 5 tool-routing and 5 RAG-QA questions, asked as
    plain chat turns, decoded in padded batches of 10 (``chat.batch``) — for each variant: the
    share identical to "fp32 lora", the share whose first 16 tokens agree, the heldout-text
    accuracy (accepted phrases), and the first differing answers side by side.

``genaisys.core.precision.AUTO_BF16`` records what this measured: ``dtype="auto"`` picks bf16 only
where it is faster and changes few answers.

Progress goes to stderr. Run: ``.venv/bin/python bench/precision.py`` (about 10 minutes on 2 idle
cores) or ``--quick``.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from langchain_core.messages import HumanMessage

SPEED_PROMPTS = (
    "Write a short story about a robot who learns to paint. Use at least five sentences.",
    "Explain how a refrigerator keeps food cold, step by step.",
    "Give me five tips for learning a new language, with a sentence on each.",
    "Describe the water cycle to a ten-year-old.",
)


def quality_prompts() -> list[tuple[str, str, str | None]]:
    """(id, question, accepted-phrase pattern or None): 60 questions from the eval suites and tasks."""
    from genaisys.eval.heldout.text import QUESTIONS
    from genaisys.eval.heldout.tools import REQUESTS
    from genaisys.eval.tasks.rag_qa import QUESTIONS as RAG_QUESTIONS
    from genaisys.eval.tasks.tool_routing import ToolRoutingTask

    rows: list[tuple[str, str, str | None]] = [(qid, q, pattern) for qid, q, pattern in QUESTIONS[:40]]
    rows += [(rid, request, None) for rid, request, *_ in REQUESTS[::len(REQUESTS) // 10][:10]]
    rows += [(item.id, item.prompt, None) for item in ToolRoutingTask().load(limit=5)]
    rows += [(qid, q, None) for qid, q, *_ in RAG_QUESTIONS[:5]]
    return rows


def rotate(sides: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Each side ``repeats`` times, the order rotating every round."""
    names = list(sides)
    results: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        for n in names[r % len(names):] + names[:r % len(names)]:
            results[n].append(sides[n]())
            print(f"  round {r + 1}: {n} {results[n][-1]:.1f} tokens/s", file=sys.stderr, flush=True)
    return results


# The chat variants compared: (dtype, merge_adapters). "fp32 lora" decodes on the LoRA-wrapped
# model itself (what ChatCore did before it merged adapters) and is the quality reference.
VARIANTS = {"fp32 lora": ("float32", False), "fp32": ("float32", True), "bf16": ("bfloat16", True)}


def bench_speed(core: Any, tokens: int, repeats: int, prompts: tuple[str, ...]) -> dict[str, Any]:
    import torch

    from genaisys.core.chat import ChatCore

    chats = {kind: ChatCore(core=core, max_new_tokens=tokens, prefix_cache=False, dtype=dtype, merge_adapters=merge)
             for kind, (dtype, merge) in VARIANTS.items()}
    tok = chats["fp32"].tokenizer
    encoded = [tok(chats["fp32"].render_prompt([HumanMessage(p)])[0], return_tensors="pt", add_special_tokens=False)
               for p in prompts]
    # generate on the model as loaded (LoRA-wrapped: the baseline), and on the chats' merged copies
    models = {"fp32 lora": core.language_model, "fp32": chats["fp32"].engine.decoder(),
              "bf16": chats["bf16"].engine.decoder()}
    counts: dict[str, int] = {}

    def generate(kind: str) -> Callable[[], float]:
        def run() -> float:
            n, t = 0, 0.0
            for enc in encoded:
                t0 = time.perf_counter()
                with torch.no_grad():
                    out = models[kind].generate(**enc, max_new_tokens=tokens, do_sample=False,
                                                pad_token_id=tok.pad_token_id)
                t += time.perf_counter() - t0
                n += int(out.shape[1] - enc["input_ids"].shape[1])
            counts[f"generate {kind}"] = n
            return n / t
        return run

    def invoke(kind: str) -> Callable[[], float]:
        def run() -> float:
            n, t = 0, 0.0
            for p in prompts:
                t0 = time.perf_counter()
                msg = chats[kind].invoke(p)
                t += time.perf_counter() - t0
                n += msg.usage_metadata["output_tokens"]
            counts[f"core {kind}"] = n
            return n / t
        return run

    sides = {f"{how} {kind}": (generate if how == "generate" else invoke)(kind)
             for how in ("generate", "core") for kind in VARIANTS}
    with torch.no_grad():  # warm-up: every side's kernels once, on a few tokens
        for kind in VARIANTS:
            models[kind].generate(**encoded[0], max_new_tokens=4, do_sample=False, pad_token_id=tok.pad_token_id)
            chats[kind].invoke(prompts[0], max_new_tokens=4)
    return {"rates": rotate(sides, repeats), "counts": counts}


def bench_quality(core: Any, tokens: int, rows: list[tuple[str, str, str | None]]) -> dict[str, Any]:
    """Greedy answers of every variant; each compared with the reference ("fp32 lora")."""
    from genaisys.core.chat import ChatCore

    answers: dict[str, list[tuple[str, list[int]]]] = {}
    seconds: dict[str, float] = {}
    for kind, (dtype, merge) in VARIANTS.items():
        chat = ChatCore(core=core, max_new_tokens=tokens, dtype=dtype, merge_adapters=merge)
        t0 = time.perf_counter()
        out = []
        for i in range(0, len(rows), 10):  # padded batches of 10 (greedy: as one by one)
            replies = chat.batch([[HumanMessage(question)] for _, question, _ in rows[i:i + 10]])
            out += [(r.text, chat.tokenizer(r.text, add_special_tokens=False)["input_ids"]) for r in replies]
            print(f"  {kind}: {len(out)}/{len(rows)} answers", file=sys.stderr, flush=True)
        seconds[kind] = time.perf_counter() - t0
        answers[kind] = out
    ref = answers["fp32 lora"]
    scored = [(i, pattern) for i, (_, _, pattern) in enumerate(rows) if pattern is not None]
    result: dict[str, Any] = {"n": len(rows), "n_scored": len(scored), "seconds": seconds, "variants": {}}
    for kind, out in answers.items():
        same = [a[0] == b[0] for a, b in zip(ref, out, strict=True)]
        result["variants"][kind] = {
            "identical": sum(same), "prefix16": sum(a[1][:16] == b[1][:16] for a, b in zip(ref, out, strict=True)),
            "accuracy": sum(bool(re.search(rf"\b({pattern})\b", out[i][0].lower())) for i, pattern in scored),
            "differing": [(rows[i][1], ref[i][0], out[i][0]) for i, s in enumerate(same) if not s]}
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tokens", type=int, default=64, help="new tokens per speed prompt")
    parser.add_argument("--repeats", type=int, default=2, help="timed rounds per side")
    parser.add_argument("--quality-tokens", type=int, default=64, help="new tokens per quality answer")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 prompt, 1 round, 6 questions")
    args = parser.parse_args(argv)

    import torch

    from genaisys.core.loading import load_core
    from genaisys.core.precision import AUTO_BF16, native_bf16, resolve_dtype

    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    core = load_core("nano", dtype="float32").core
    print(f"nano core loaded in {time.perf_counter() - t0:.1f} s; torch {torch.__version__}, "
          f"torch.set_num_threads({torch.get_num_threads()}), native bf16: {native_bf16()}, "
          f"AUTO_BF16={AUTO_BF16} → dtype='auto' resolves to {resolve_dtype('auto')}")
    prompts = SPEED_PROMPTS[:1] if args.quick else SPEED_PROMPTS
    tokens, quality_tokens = (8, 8) if args.quick else (args.tokens, args.quality_tokens)
    speed = bench_speed(core, tokens, 1 if args.quick else args.repeats, prompts)
    rates = {k: statistics.median(v) for k, v in speed["rates"].items()}
    base = rates["generate fp32 lora"]
    print(f"\n(a) single-stream decode, greedy, {len(prompts)} prompt(s) × ≤{tokens} new tokens, "
          f"median of {len(next(iter(speed['rates'].values())))} round(s)")
    print("| side | tokens/s | × generate fp32 lora (baseline) | × core fp32 lora | tokens |")
    print("|---|---|---|---|---|")
    for name, rate in rates.items():
        print(f"| {name} | {rate:.1f} | {rate / base:.2f}× | {rate / rates['core fp32 lora']:.2f}× | "
              f"{speed['counts'][name]} |")
    rows = quality_prompts()[:6] if args.quick else quality_prompts()
    q = bench_quality(core, quality_tokens, rows)
    took = ", ".join(f"{s:.0f} s {k}" for k, s in q["seconds"].items())
    print(f"\n(b) greedy answers against fp32 lora (decoding on the LoRA-wrapped model), n={q['n']} questions, "
          f"≤{quality_tokens} new tokens ({took})")
    print("| variant | identical answers | same first 16 tokens | heldout-text accuracy |")
    print("|---|---|---|---|")
    for kind, v in q["variants"].items():
        print(f"| {kind} | {v['identical']}/{q['n']} ({v['identical'] / q['n']:.0%}) | "
              f"{v['prefix16']}/{q['n']} ({v['prefix16'] / q['n']:.0%}) | {v['accuracy']}/{q['n_scored']} |")
    for kind, v in q["variants"].items():
        for question, a, b in v["differing"][:2]:
            print(f"\n[{kind}] Q: {question}\n  fp32 lora: {a!r}\n  {kind}: {b!r}")


if __name__ == "__main__":
    main()
