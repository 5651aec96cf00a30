"""bf16 against float32 decoding on the CPU, side by side in one run on the packaged nano core (SmolLM2-135M).

(a) speed: single-stream tokens/s, greedy, ``--tokens`` new tokens (default 64), over a few
    realistic prompts rendered through the core's chat template, for
      * float32 ``model.generate`` on the plain Hugging Face language model (the baseline),
      * ``ChatCore(dtype="float32")`` and ``ChatCore(dtype="bfloat16")`` on the same core,
      * bf16 ``model.generate`` on the bf16 copy the chat decodes on (is any gain the dtype's or the loop's?).
    Each side prefills the whole prompt (ChatCore's prefix cache off: it would skip the repeated
    prompt) and counts the tokens it generated; tokens/s is that over the wall time of the call.
    A short warm-up first, then ``--repeats`` rounds in which the order of the sides rotates so that load
    from other processes hits all of them; medians are reported, with ratios to the baseline.
(b) quality: greedy answers (``--quality-tokens``, default 64) to 60 fixed questions — 40 of the
    heldout-text suite, 10 heldout tool requests, 5 tool-routing and 5 RAG-QA questions, asked as
    plain chat turns, decoded in padded batches of 10 (``chat.batch``) — in float32 and in bf16: the share of identical answers, the share whose
    first 16 tokens agree, the heldout-text accuracy (accepted phrases) on each side, and the
    first few differing answers side by side.

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


def bench_speed(core: Any, tokens: int, repeats: int, prompts: tuple[str, ...]) -> dict[str, Any]:
    import torch

    from genaisys.core.chat import ChatCore

    chats = {"fp32": ChatCore(core=core, max_new_tokens=tokens, prefix_cache=False, dtype="float32"),
             "bf16": ChatCore(core=core, max_new_tokens=tokens, prefix_cache=False, dtype="bfloat16")}
    tok = chats["fp32"].tokenizer
    encoded = [tok(chats["fp32"].render_prompt([HumanMessage(p)])[0], return_tensors="pt", add_special_tokens=False)
               for p in prompts]
    models = {"fp32": core.language_model, "bf16": chats["bf16"].engine.decoder()}
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

    sides = {"generate fp32": generate("fp32"), "core fp32": invoke("fp32"), "core bf16": invoke("bf16"),
             "generate bf16": generate("bf16")}
    with torch.no_grad():  # warm-up: every side's kernels once, on a few tokens
        for kind in ("fp32", "bf16"):
            models[kind].generate(**encoded[0], max_new_tokens=4, do_sample=False, pad_token_id=tok.pad_token_id)
            chats[kind].invoke(prompts[0], max_new_tokens=4)
    return {"rates": rotate(sides, repeats), "counts": counts}


def bench_quality(core: Any, tokens: int, rows: list[tuple[str, str, str | None]]) -> dict[str, Any]:
    from genaisys.core.chat import ChatCore

    answers: dict[str, list[tuple[str, list[int]]]] = {}
    seconds: dict[str, float] = {}
    for kind, dtype in (("fp32", "float32"), ("bf16", "bfloat16")):
        chat = ChatCore(core=core, max_new_tokens=tokens, dtype=dtype)
        t0 = time.perf_counter()
        out = []
        for i in range(0, len(rows), 10):  # padded batches of 10 (greedy: as served with a batch window)
            replies = chat.batch([[HumanMessage(question)] for _, question, _ in rows[i:i + 10]])
            out += [(r.text, chat.tokenizer(r.text, add_special_tokens=False)["input_ids"]) for r in replies]
            print(f"  {kind}: {len(out)}/{len(rows)} answers", file=sys.stderr, flush=True)
        seconds[kind] = time.perf_counter() - t0
        answers[kind] = out
    same = [a[0] == b[0] for a, b in zip(answers["fp32"], answers["bf16"], strict=True)]
    prefix = [a[1][:16] == b[1][:16] for a, b in zip(answers["fp32"], answers["bf16"], strict=True)]
    scored = [(i, pattern) for i, (_, _, pattern) in enumerate(rows) if pattern is not None]
    accuracy = {kind: sum(bool(re.search(rf"\b({pattern})\b", answers[kind][i][0].lower())) for i, pattern in scored)
                for kind in answers}
    differing = [(rows[i][1], answers["fp32"][i][0], answers["bf16"][i][0]) for i, s in enumerate(same) if not s]
    return {"n": len(rows), "identical": sum(same), "prefix16": sum(prefix), "n_scored": len(scored),
            "accuracy": accuracy, "differing": differing, "seconds": seconds}


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
    base = rates["generate fp32"]
    print(f"\n(a) single-stream decode, greedy, {len(prompts)} prompt(s) × ≤{tokens} new tokens, "
          f"median of {len(next(iter(speed['rates'].values())))} round(s)")
    print("| side | tokens/s | × generate fp32 | × core fp32 | tokens |")
    print("|---|---|---|---|---|")
    for name, rate in rates.items():
        print(f"| {name} | {rate:.1f} | {rate / base:.2f}× | {rate / rates['core fp32']:.2f}× | "
              f"{speed['counts'][name]} |")
    rows = quality_prompts()[:6] if args.quick else quality_prompts()
    q = bench_quality(core, quality_tokens, rows)
    print(f"\n(b) greedy answers, float32 vs bf16, n={q['n']} questions, ≤{quality_tokens} new tokens "
          f"({q['seconds']['fp32']:.0f} s fp32, {q['seconds']['bf16']:.0f} s bf16)")
    print("| measure | value |")
    print("|---|---|")
    print(f"| identical answers | {q['identical']}/{q['n']} ({q['identical'] / q['n']:.0%}) |")
    print(f"| same first 16 tokens | {q['prefix16']}/{q['n']} ({q['prefix16'] / q['n']:.0%}) |")
    for kind in ("fp32", "bf16"):
        print(f"| heldout-text accuracy, {kind} | {q['accuracy'][kind]}/{q['n_scored']} |")
    for question, a, b in q["differing"][:3]:
        print(f"\nQ: {question}\n  fp32: {a!r}\n  bf16: {b!r}")


if __name__ == "__main__":
    main()
