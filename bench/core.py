"""The CPU's decoding, measured side by side in one run on the packaged nano core (SmolLM2-135M).

(a) single-stream tokens/s of ``ChatCore.invoke`` vs plain float32 ``model.generate`` on the
    language model as loaded (the nano core's is LoRA-wrapped; ChatCore decodes on a copy with the
    adapters merged), the same rendered prompt, greedy, both prefilling the whole prompt
    (ChatCore's prefix cache off: it would skip the repeated prompt) — goal ≥ 1.4× (issue #18);
    then the same rate as a share of this machine's limit: measured read bandwidth (the best of 5
    sums over 1 GiB of float32) ÷ bytes of weights each token reads (every parameter of the
    decoding model once) — goal ≥ 50 %;
(b) aggregate tokens/s of 8 concurrent sessions (8 threads calling ``invoke`` on a ChatCore with a
    batch window: its micro-batching scheduler) vs the same 8 requests one after another — goal ≥ 3×;
(c) per-token cost of visual contrastive decoding vs greedy on an image question (skimage photo)
    — goal ≤ 1.6×;
(d) share of valid tool calls over 50 tool-needing requests (arithmetic, weather, unit conversion,
    web search) on the untrained default core, with and without grammar-constrained decoding.
    "Valid": the answer holds at least one call, every call names a bound tool and its arguments
    validate against that tool's schema (pydantic), and nothing was left unparseable.

Timing: warm-up first, then ``--repeats`` rounds in which the two sides alternate (A B, B A, …)
so that load from other processes hits both; medians are reported. ``torch.set_num_threads`` is
set from ``--threads`` (default 1) and printed.

(d) dominates the run: each request carries a ~450-token system prompt listing the tools; the
constrained side (one call at a time) reuses its KV cache through ChatCore's prefix cache, the
free side decodes 10 requests per padded batch.

Run: ``.venv/bin/python bench/core.py`` (full: ~10 minutes on 2 idle cores) or ``--quick`` (a smoke run).
"""

from __future__ import annotations

import argparse
import base64
import io
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from langchain_core.messages import HumanMessage
from pydantic import BaseModel, Field, ValidationError


# ----------------------------------------------------------------------------- tools for (d)
class Calculator(BaseModel):
    """Evaluate an arithmetic expression exactly, e.g. '12 * (3 + 4)'."""

    expression: str = Field(description="the arithmetic expression")


class GetWeather(BaseModel):
    """Current weather for a city."""

    city: str = Field(description="city name")
    unit: Literal["celsius", "fahrenheit"] = "celsius"


class ConvertUnits(BaseModel):
    """Convert a quantity from one unit to another."""

    value: float
    from_unit: str
    to_unit: str


class SearchWeb(BaseModel):
    """Search the web and return the top results."""

    query: str


TOOLS: dict[str, type[BaseModel]] = {t.__name__: t for t in (Calculator, GetWeather, ConvertUnits, SearchWeb)}

_CITIES = ["Paris", "Tokyo", "Lima", "Oslo", "Cairo", "Sydney", "Toronto", "Nairobi", "Madrid", "Seoul"]
_CONVERSIONS = [(5, "miles", "kilometres"), (100, "fahrenheit", "celsius"), (3, "pounds", "kilograms"),
                (12, "inches", "centimetres"), (2.5, "litres", "gallons"), (60, "mph", "km/h"),
                (1, "light year", "kilometres"), (500, "grams", "ounces"), (30, "feet", "metres"),
                (7, "cups", "millilitres")]
_TOPICS = ["the latest Python release", "who won the 2022 World Cup", "the population of Brazil",
           "the tallest building in Africa", "recent news about fusion energy", "the author of Dune",
           "the boiling point of ethanol", "opening hours of the Louvre", "the best-selling car of 2024",
           "the distance from Earth to Mars today"]


def tool_requests(n: int) -> list[tuple[str, str]]:
    """``n`` requests that each need one tool: (text, expected tool name); 40% arithmetic."""
    pool: list[tuple[str, str]] = []
    for i in range(20):
        a, b, c = 17 + 13 * i, 3 + (7 * i) % 19, 2 + i % 5
        op = ["+", "-", "*", "/"][i % 4]
        pool.append((f"What is {a} {op} {b} * {c}? Use the calculator.", "Calculator"))
    pool += [(f"What's the weather like in {c} right now?", "GetWeather") for c in _CITIES]
    pool += [(f"Convert {v} {a} to {b}.", "ConvertUnits") for v, a, b in _CONVERSIONS]
    pool += [(f"Search the web for {t}.", "SearchWeb") for t in _TOPICS]
    order = sorted(range(len(pool)), key=lambda k: (k * 7) % len(pool))  # interleave the kinds
    return [pool[k % len(pool)] for k in order[:n]] if n <= len(pool) else [pool[k % len(pool)] for k in range(n)]


def call_is_valid(message: Any) -> tuple[bool, bool]:
    """``(valid, called)``: valid = at least one call, all naming a bound tool with arguments that
    validate against its schema, and nothing unparseable; called = the answer holds any parsed call."""
    if not message.tool_calls or message.invalid_tool_calls:
        return False, bool(message.tool_calls)
    for call in message.tool_calls:
        schema = TOOLS.get(call["name"])
        if schema is None:
            return False, True
        try:
            schema.model_validate(call["args"])
        except ValidationError:
            return False, True
    return True, True


# ----------------------------------------------------------------------------- timing helpers
def alternate(a: Callable[[], float], b: Callable[[], float], repeats: int) -> tuple[list[float], list[float]]:
    """Run ``a`` and ``b`` ``repeats`` times each, alternating which goes first; each returns a rate."""
    ra, rb = [], []
    for i in range(repeats):
        if i % 2 == 0:
            ra.append(a())
            rb.append(b())
        else:
            rb.append(b())
            ra.append(a())
    return ra, rb


def _fmt(values: list[float]) -> str:
    return f"{statistics.median(values):8.2f} (min {min(values):.2f}, max {max(values):.2f})"


def image_block(name: str = "chelsea") -> dict[str, Any]:
    import skimage.data
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(getattr(skimage.data, name)()).save(buf, "PNG")
    return {"type": "image", "base64": base64.b64encode(buf.getvalue()).decode(), "mime_type": "image/png"}


# ----------------------------------------------------------------------------- the four measurements
def bench_single_stream(chat: Any, tokens: int, repeats: int) -> dict[str, Any]:
    import torch

    from genaisys.core.chat import ChatCore

    question = "Write a short story about a robot who learns to paint. Use at least five sentences."
    # The same prompt every round: with its prefix cache on, ChatCore would skip the prefill that
    # generate pays each time. Off here, and float32 like generate (bench/precision.py weighs bf16
    # and the merged adapters), so both sides decode the same float32 weights.
    chat = ChatCore(core=chat.core, max_new_tokens=tokens, prefix_cache=False, dtype="float32")
    prompt, _ = chat.render_prompt([HumanMessage(question)])
    tok, lm = chat.tokenizer, chat.core.language_model
    enc = tok(prompt, return_tensors="pt", add_special_tokens=False)
    counts: dict[str, int] = {}

    def ours() -> float:
        t0 = time.perf_counter()
        msg = chat.invoke(question, max_new_tokens=tokens)
        dt = time.perf_counter() - t0
        counts["ours"] = msg.usage_metadata["output_tokens"]
        return counts["ours"] / dt

    def plain() -> float:
        t0 = time.perf_counter()
        with torch.no_grad():
            out = lm.generate(**enc, max_new_tokens=tokens, do_sample=False, pad_token_id=tok.pad_token_id)
        dt = time.perf_counter() - t0
        counts["plain"] = int(out.shape[1] - enc["input_ids"].shape[1])
        return counts["plain"] / dt

    ours(), plain()  # warm-up
    r_ours, r_plain = alternate(ours, plain, repeats)
    return {"ours": r_ours, "plain": r_plain, "counts": counts, "decoder": chat.engine.decoder(),
            "ratio": statistics.median(r_ours) / statistics.median(r_plain)}


def machine_limit(model: Any) -> dict[str, Any]:
    """This machine's single-stream ceiling for ``model``: read bandwidth ÷ weight bytes per token.

    Each decoded token reads every weight once (the tied embedding as the output projection), so
    no single stream can beat bandwidth / weight bytes; the KV cache and activations are ignored.
    """
    import torch

    block = torch.ones(256 * 1024 * 1024, dtype=torch.float32)  # 1 GiB
    best = 0.0
    for _ in range(5):
        t0 = time.perf_counter()
        block.sum()
        best = max(best, block.numel() * block.element_size() / (time.perf_counter() - t0))
    del block
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())  # tied weights once
    dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
    return {"bandwidth": best, "bytes": weight_bytes, "tokens_per_s": best / weight_bytes, "dtype": dtype}


def bench_concurrent(chat: Any, sessions: int, tokens: int, repeats: int, window_ms: float) -> dict[str, Any]:
    from genaisys.core.chat import ChatCore

    questions = ["Name three colours and describe each.", "Explain what a CPU does, briefly.",
                 "Give me a recipe for pancakes.", "Why is the sky blue?", "Write a haiku about winter.",
                 "List five animals that live in the ocean.", "What is photosynthesis?",
                 "Tell me a fun fact about the Moon.", "How do bicycles stay upright?",
                 "Describe a day at the beach."]
    qs = [questions[i % len(questions)] for i in range(sessions)]
    sequential = ChatCore(core=chat.core, max_new_tokens=tokens)
    batched = ChatCore(core=chat.core, max_new_tokens=tokens, batch_window_ms=window_ms, max_batch_size=sessions)
    pool = ThreadPoolExecutor(sessions)
    counts: dict[str, int] = {}

    def one_by_one() -> float:
        t0 = time.perf_counter()
        n = sum(sequential.invoke(q).usage_metadata["output_tokens"] for q in qs)
        counts["sequential"] = n
        return n / (time.perf_counter() - t0)

    def concurrent() -> float:
        t0 = time.perf_counter()
        n = sum(m.usage_metadata["output_tokens"] for m in pool.map(batched.invoke, qs))
        counts["concurrent"] = n
        return n / (time.perf_counter() - t0)

    concurrent(), one_by_one()  # warm-up
    r_conc, r_seq = alternate(concurrent, one_by_one, repeats)
    pool.shutdown()
    return {"concurrent": r_conc, "sequential": r_seq, "counts": counts,
            "ratio": statistics.median(r_conc) / statistics.median(r_seq)}


def bench_vcd(chat: Any, tokens: int, repeats: int) -> dict[str, Any]:
    msg = [HumanMessage(content=[image_block(), {"type": "text", "text": "Describe this picture in detail."}])]
    counts: dict[str, int] = {}

    def run(vcd: bool) -> float:
        t0 = time.perf_counter()
        out = chat.invoke(msg, max_new_tokens=tokens, vcd=vcd)
        dt = time.perf_counter() - t0
        counts["vcd" if vcd else "greedy"] = out.usage_metadata["output_tokens"]
        return dt * 1000 / max(1, out.usage_metadata["output_tokens"])  # ms per generated token

    run(True), run(False)  # warm-up
    r_vcd, r_greedy = alternate(lambda: run(True), lambda: run(False), repeats)
    return {"vcd": r_vcd, "greedy": r_greedy, "counts": counts,
            "ratio": statistics.median(r_vcd) / statistics.median(r_greedy)}


def bench_tool_calls(chat: Any, n: int, tokens: int) -> dict[str, Any]:
    requests = tool_requests(n)
    bound = chat.bind_tools(list(TOOLS.values()), tool_choice="any")
    rows: dict[str, dict[str, float]] = {}
    for label, constrained in (("free decoding", False), ("constrained (outlines-core)", True)):
        valid = right = any_call = 0
        t0 = time.perf_counter()
        if constrained:
            answers = [bound.invoke(q, max_new_tokens=tokens, constrain_tool_calls=True) for q, _ in requests]
        else:  # one padded batch per 10 requests (greedy: the same answers as one by one)
            answers = []
            for i in range(0, n, 10):
                answers += bound.batch([q for q, _ in requests[i:i + 10]], max_new_tokens=tokens)
        for (_, expected), answer in zip(requests, answers, strict=True):
            ok, called = call_is_valid(answer)
            valid += ok
            any_call += called
            right += ok and any(c["name"] == expected for c in answer.tool_calls)
        rows[label] = {"valid": valid / n, "any_call": any_call / n, "right_tool": right / n,
                       "seconds": time.perf_counter() - t0}
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 4 tokens, 1 repeat, 4 sessions, 2 tool requests")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds per side (default 3; quick 1)")
    parser.add_argument("--tokens", type=int, default=None, help="new tokens per answer (default 48; quick 4)")
    parser.add_argument("--sessions", type=int, default=None, help="concurrent sessions for (b) (default 8; quick 4)")
    parser.add_argument("--window-ms", type=float, default=50.0, help="ChatCore batch_window_ms for (b)")
    parser.add_argument("--tool-requests", type=int, default=None, help="requests for (d) (default 50; quick 2)")
    parser.add_argument("--only", nargs="*", choices=["a", "b", "c", "d"], default=["a", "b", "c", "d"])
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)
    tokens = args.tokens or (4 if args.quick else 48)
    n_tools = args.tool_requests or (2 if args.quick else 50)
    args.sessions = args.sessions or (4 if args.quick else 8)

    import torch

    from genaisys.core.loading import load_core

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    chat = load_core("nano", max_new_tokens=tokens)
    print(f"# genaisys core bench — nano core (EfficientNet-Lite0 → mlp2x_gelu → SmolLM2-135M, fp32), "
          f"torch {torch.__version__}, torch.set_num_threads({args.threads}), "
          f"loaded in {time.perf_counter() - t0:.1f} s")
    print(f"# {repeats} timed rounds per side after one warm-up, sides alternating; median (min, max); "
          f"greedy, up to {tokens} new tokens per answer")
    table: list[tuple[str, str, str, str, str]] = []
    if "a" in args.only:
        r = bench_single_stream(chat, tokens, repeats)
        print(f"(a) single stream tok/s  ChatCore.invoke {_fmt(r['ours'])}   model.generate {_fmt(r['plain'])}   "
              f"tokens {r['counts']}")
        table.append(("(a) single-stream tok/s, ChatCore / model.generate", f"{statistics.median(r['ours']):.2f}",
                      f"{statistics.median(r['plain']):.2f}", f"{r['ratio']:.2f}×", "≥ 1.4×"))
        limit = machine_limit(r["decoder"])
        share = statistics.median(r["ours"]) / limit["tokens_per_s"]
        print(f"    machine limit: read bandwidth {limit['bandwidth'] / 1e9:.1f} GB/s ÷ {limit['bytes'] / 1e6:.0f} MB "
              f"of weights per token ({limit['dtype']}) = {limit['tokens_per_s']:.1f} tokens/s")
        table.append(("(a) single-stream tok/s, ChatCore / bandwidth limit", f"{statistics.median(r['ours']):.2f}",
                      f"{limit['tokens_per_s']:.1f}", f"{share:.0%}", "≥ 50 %"))
    if "b" in args.only:
        r = bench_concurrent(chat, args.sessions, tokens, repeats, args.window_ms)
        print(f"(b) aggregate tok/s  {args.sessions} concurrent sessions {_fmt(r['concurrent'])}   "
              f"one after another {_fmt(r['sequential'])}   tokens {r['counts']}")
        table.append((f"(b) aggregate tok/s, {args.sessions} concurrent (batched) / sequential",
                      f"{statistics.median(r['concurrent']):.2f}", f"{statistics.median(r['sequential']):.2f}",
                      f"{r['ratio']:.2f}×", "≥ 3×"))
    if "c" in args.only:
        r = bench_vcd(chat, tokens, repeats)
        print(f"(c) ms per token  VCD {_fmt(r['vcd'])}   greedy {_fmt(r['greedy'])}   tokens {r['counts']}")
        table.append(("(c) ms/token (image question), VCD / greedy", f"{statistics.median(r['vcd']):.1f}",
                      f"{statistics.median(r['greedy']):.1f}", f"{r['ratio']:.2f}×", "≤ 1.6×"))
    if "d" in args.only:
        rows = bench_tool_calls(chat, n_tools, 8 if args.quick else 48)
        free, con = rows["free decoding"], rows["constrained (outlines-core)"]
        print(f"(d) {n_tools} tool-needing requests, tool_choice='any', 4 tools bound, untrained nano core:")
        for label, row in rows.items():
            print(f"    {label:<30} valid {row['valid']:6.1%}   any call {row['any_call']:6.1%}   "
                  f"valid + right tool {row['right_tool']:6.1%}   {row['seconds']:.1f} s")
        table.append((f"(d) valid tool calls of {n_tools}, constrained / free", f"{con['valid']:.0%}",
                      f"{free['valid']:.0%}", f"{100 * (con['valid'] - free['valid']):+.0f} points",
                      "measure (no target)"))
    print()
    print("| measurement | ours | baseline | ratio | goal |")
    print("|---|---:|---:|---:|---|")
    for name, ours, base, ratio, goal in table:
        print(f"| {name} | {ours} | {base} | {ratio} | {goal} |")
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
