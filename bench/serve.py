"""What the HTTP server costs, and how far concurrent streams scale, side by side in one run.

1. **Added latency**: one chat completion through ``genaisys serve`` (uvicorn in a separate
   process on 127.0.0.1, httpx keep-alive client) against the same call in-process
   (``await core.ainvoke``), interleaved, p50 and p95 of each and of the difference.
2. **Throughput**: aggregate tokens/s of 16 concurrent clients against 1 client, same requests,
   streaming and non-streaming.
3. **Scaling (``--nano``)**: 16 different questions through ``genaisys serve`` with 1, 4 and 16
   streaming clients (the same 16 requests each time, split between the clients), greedy, up to
   ``--scale-tokens`` new tokens each: aggregate tokens/s, × one client, and time to first token
   p50/p95 under that load, and how many answers are the one-client answers (greedy: rows batched
   together can differ from a solo decode where float sums in another order flip a near-tie). Then the same 16 rendered prompts through **transformers' own
   continuous batching** (``model.generate_batch``, in-process, no HTTP) on the same language
   model (the core's LoRA merged, float32, as the server decodes by default) and the same limit:
   the peer a user would pick instead. Goals (issue #18): 16 clients ≥ 4× one client; ≥ 1.0× the peer.
4. **Remote calls (``--nano``)**: ``bench/remote.py`` — `RemoteCore` calls/s against a loopback
   server, its pooled client vs a new client per call.

Baseline: the in-process call (1), one streaming client (2, 3), transformers' continuous batching (3).
Default core: a scripted model (``--tokens`` tokens, ``--token-ms`` ms apart, as a decoder
would emit them) so the numbers are the server's own; ``--nano`` serves the packaged nano core
(greedy, ``--tokens`` new tokens at most) and adds (3). Server and peer use ``--threads`` torch threads.

Run: ``.venv/bin/python bench/serve.py [--nano] [--requests 200] [--tokens 32] [--token-ms 5]``.
Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

API_KEY = "sk-bench"


def _scripted_model(tokens: int, token_ms: float) -> Any:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage, AIMessageChunk
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

    class BenchChat(BaseChatModel):
        """Answers ``tokens`` words; "slowly" in the request paces them ``token_ms`` apart, as a decoder would."""

        @property
        def _llm_type(self) -> str:
            return "bench-scripted"

        def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> ChatResult:
            if _slow(messages):
                time.sleep(tokens * token_ms / 1000)  # in a worker thread, as ChatCore decodes in one
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content="tok " * tokens))])

        def _stream(self, messages: Any, stop: Any = None, run_manager: Any = None,
                    **kw: Any) -> Iterator[ChatGenerationChunk]:
            for _ in range(tokens):
                time.sleep(token_ms / 1000 if _slow(messages) else 0)
                yield ChatGenerationChunk(message=AIMessageChunk(content="tok "))

        async def _astream(self, messages: Any, stop: Any = None, run_manager: Any = None,
                           **kw: Any) -> AsyncIterator[ChatGenerationChunk]:
            for _ in range(tokens):
                await asyncio.sleep(token_ms / 1000 if _slow(messages) else 0)
                yield ChatGenerationChunk(message=AIMessageChunk(content="tok "))

    def _slow(messages: Any) -> bool:
        return "slowly" in str(messages[-1].content)

    return BenchChat()


def _core(args: argparse.Namespace) -> Any:
    if args.nano:
        import torch

        from genaisys.core import load_core

        torch.set_num_threads(args.threads)
        return load_core("nano", max_new_tokens=max(args.tokens, args.scale_tokens),
                         batch_window_ms=args.batch_window_ms)
    return _scripted_model(args.tokens, args.token_ms)


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    from genaisys.serve import create_app

    app = create_app(_core(args), api_key=API_KEY, model_id="bench")
    uvicorn.run(app, host="127.0.0.1", port=args.serve_port, log_level="warning")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


MESSAGES = [{"role": "user", "content": "Say hello."}]
SLOW_MESSAGES = [{"role": "user", "content": "Say hello slowly."}]  # the scripted model paces its tokens


async def _latency(core: Any, client: Any, n: int) -> tuple[list[float], list[float]]:
    from langchain_core.messages import HumanMessage

    local, remote = [], []
    body = {"model": "bench", "messages": MESSAGES}
    for _ in range(3):  # warm both paths
        await core.ainvoke([HumanMessage("Say hello.")])
        (await client.post("/v1/chat/completions", json=body)).raise_for_status()
    for _ in range(n):
        t = time.perf_counter()
        await core.ainvoke([HumanMessage("Say hello.")])
        local.append(time.perf_counter() - t)
        t = time.perf_counter()
        resp = await client.post("/v1/chat/completions", json=body)
        resp.raise_for_status()
        remote.append(time.perf_counter() - t)
    return local, remote


async def _stream_throughput(client: Any, clients: int, per_client: int, stream: bool = True) -> tuple[float, int]:
    body = {"model": "bench", "messages": SLOW_MESSAGES, "stream": stream}

    async def one_client() -> int:
        got = 0
        for _ in range(per_client):
            if not stream:
                resp = await client.post("/v1/chat/completions", json=body)
                resp.raise_for_status()
                got += resp.json()["usage"]["completion_tokens"] or len(resp.json()["choices"][0]["message"]
                                                                        ["content"].split())
                continue
            async with client.stream("POST", "/v1/chat/completions", json=body) as resp:
                resp.raise_for_status()
                async for line in resp.aiter_lines():
                    if line.startswith("data: {"):
                        delta = json.loads(line[6:])["choices"]
                        got += bool(delta and delta[0]["delta"].get("content"))
        return got

    t = time.perf_counter()
    counts = await asyncio.gather(*(one_client() for _ in range(clients)))
    return time.perf_counter() - t, sum(counts)


QUESTIONS = ("Why is the sky blue?", "Name three colours and describe each.", "What does a CPU do?",
             "Give me a recipe for pancakes.", "Write a haiku about winter.", "List five ocean animals.",
             "What is photosynthesis?", "Tell me a fun fact about the Moon.", "How do bicycles stay upright?",
             "Describe a day at the beach.", "Explain how a refrigerator keeps food cold.",
             "What is the capital of France, and why is it famous?", "Give three tips for learning a language.",
             "Describe the water cycle to a child.", "What makes a good friend?", "How do plants drink water?")


async def _one_stream(client: Any, question: str, tokens: int) -> tuple[float, int, str]:
    """One streamed completion: (seconds to its first content token, completion tokens, text)."""
    body = {"model": "bench", "messages": [{"role": "user", "content": question}], "stream": True,
            "max_tokens": tokens, "temperature": 0, "stream_options": {"include_usage": True}}
    t0, first, used, text = time.perf_counter(), None, 0, []
    async with client.stream("POST", "/v1/chat/completions", json=body) as resp:
        resp.raise_for_status()
        async for line in resp.aiter_lines():
            if not line.startswith("data: {"):
                continue
            event = json.loads(line[6:])
            if event["choices"] and event["choices"][0]["delta"].get("content"):
                text.append(event["choices"][0]["delta"]["content"])
                first = time.perf_counter() - t0 if first is None else first
            if event.get("usage"):
                used = event["usage"]["completion_tokens"]
    return (first if first is not None else time.perf_counter() - t0), used, "".join(text)


async def _scaling(client: Any, clients: int, tokens: int) -> tuple[float, int, list[float], dict[str, str]]:
    """The 16 questions split between ``clients`` streaming clients: (wall s, tokens, first-token s, answers)."""
    share = [QUESTIONS[i::clients] for i in range(clients)]

    async def one_client(questions: tuple[str, ...]) -> list[tuple[str, tuple[float, int, str]]]:
        return [(q, await _one_stream(client, q, tokens)) for q in questions]

    t = time.perf_counter()
    done = await asyncio.gather(*(one_client(qs) for qs in share))
    elapsed = time.perf_counter() - t
    results = [r for rows in done for r in rows]
    return elapsed, sum(r[1] for _, r in results), [r[0] for _, r in results], {q: r[2] for q, r in results}


def _transformers_peer(tokens: int, threads: int) -> tuple[float, int]:
    """The 16 questions through transformers' continuous batching on the nano LM: (wall s, tokens)."""
    import copy

    import torch
    from langchain_core.messages import HumanMessage
    from transformers import GenerationConfig

    from genaisys.core import load_core

    torch.set_num_threads(threads)
    chat = load_core("nano")
    lm = chat.language_model
    lm = copy.deepcopy(lm).merge_and_unload() if hasattr(lm, "merge_and_unload") else lm
    tok = chat.tokenizer
    prompts = [tok(chat.render_prompt([HumanMessage(q)])[0], add_special_tokens=False)["input_ids"] for q in QUESTIONS]
    config = GenerationConfig(max_new_tokens=tokens, do_sample=False, eos_token_id=tok.eos_token_id,
                              pad_token_id=tok.pad_token_id)
    lm.generate_batch(inputs=prompts[:2], generation_config=config, max_new_tokens=2, progress_bar=False)  # warm-up
    t = time.perf_counter()
    out = lm.generate_batch(inputs=prompts, generation_config=config, progress_bar=False)
    elapsed = time.perf_counter() - t
    return elapsed, sum(len(o.generated_tokens) for o in out.values())


async def _scaling_table(client: Any, args: argparse.Namespace) -> None:
    print(f"# scaling: the same {len(QUESTIONS)} questions (greedy, ≤{args.scale_tokens} new tokens each) through "
          f"genaisys serve, split between N streaming clients; torch threads {args.threads}")
    await _scaling(client, 2, 4)  # warm-up
    print(f"{'side':<44} {'wall s':>8} {'tokens':>7} {'tokens/s':>9} {'× 1 client':>11} {'TTFT p50 s':>11} "
          f"{'TTFT p95 s':>11} {'same text as 1 client':>22}")
    rates: dict[str, float] = {}
    alone: dict[str, str] = {}
    for clients in (1, 4, 16):
        elapsed, tokens, firsts, answers = await _scaling(client, clients, args.scale_tokens)
        alone = alone or answers
        rates[f"{clients}"] = tokens / elapsed
        same = sum(answers[q] == alone[q] for q in QUESTIONS)
        print(f"{'genaisys serve, ' + str(clients) + ' streaming client(s)':<44} {elapsed:>8.1f} {tokens:>7} "
              f"{tokens / elapsed:>9.1f} {tokens / elapsed / rates['1']:>11.2f} {_pct(firsts, 0.5):>11.2f} "
              f"{_pct(firsts, 0.95):>11.2f} {f'{same}/{len(QUESTIONS)}':>22}")
    elapsed, tokens = await asyncio.to_thread(_transformers_peer, args.scale_tokens, args.threads)
    print(f"{'transformers generate_batch (in-process)':<44} {elapsed:>8.1f} {tokens:>7} {tokens / elapsed:>9.1f} "
          f"{tokens / elapsed / rates['1']:>11.2f} {'-':>11} {'-':>11} {'-':>22}")
    print(f"16 streaming clients / 1 client: {rates['16'] / rates['1']:.2f}× (goal ≥ 4×); "
          f"/ transformers continuous batching: {rates['16'] / (tokens / elapsed):.2f}× (goal ≥ 1.0×)")


async def _bench(args: argparse.Namespace, base_url: str) -> None:
    import httpx

    core = _core(args)
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {API_KEY}"},
                                 timeout=600, limits=limits) as client:
        if args.nano and args.scaling_only:
            await _scaling_table(client, args)
            return
        local, remote = await _latency(core, client, args.requests)
        diffs = [r - lo for r, lo in zip(remote, local, strict=True)]
        kind = "nano core (packaged)" if args.nano else f"scripted model ({args.tokens} tokens, unpaced)"
        print(f"# added latency of the server over an in-process call — {kind}, {args.requests} calls, interleaved")
        print(f"{'path':<34} {'p50 ms':>9} {'p95 ms':>9} {'× in-process p50':>17}")
        base50 = _pct(local, 0.5)
        for name, values in (("in-process core.ainvoke", local), ("HTTP /v1/chat/completions", remote)):
            print(f"{name:<34} {_pct(values, 0.5) * 1e3:>9.2f} {_pct(values, 0.95) * 1e3:>9.2f} "
                  f"{_pct(values, 0.5) / base50:>17.2f}")
        print(f"{'added by the server (per call)':<34} {_pct(diffs, 0.5) * 1e3:>9.2f} {_pct(diffs, 0.95) * 1e3:>9.2f}")
        print()
        per = args.stream_requests
        pace = "" if args.nano else f", {args.token_ms:g} ms/token streamed"
        print(f"# throughput: {16 * per} requests in total per row, 1 client vs 16 concurrent clients{pace}")
        print(f"{'mode':<14} {'clients':>8} {'wall s':>8} {'tokens':>8} {'tokens/s':>10} {'× 1 client':>11}")
        for stream in (True, False):
            rows = []
            for clients in (1, 16):
                # same total work for both: 16 × per requests
                elapsed, tokens = await _stream_throughput(client, clients, per * 16 // clients, stream)
                rows.append((clients, elapsed, tokens))
            base_rate = rows[0][2] / rows[0][1]
            for clients, elapsed, tokens in rows:
                print(f"{'streaming' if stream else 'non-streaming':<14} {clients:>8} {elapsed:>8.2f} {tokens:>8} "
                      f"{tokens / elapsed:>10.1f} {tokens / elapsed / base_rate:>11.2f}")
        if args.nano:
            print()
            await _scaling_table(client, args)
    if args.nano:  # 4. what a front server pays per call to a remote core: bench/remote.py, in this run
        print("\n# RemoteCore calls/s against a loopback server, pooled vs a client per call (bench/remote.py)",
              flush=True)
        subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "remote.py")], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nano", action="store_true", help="serve the packaged nano core instead of the scripted one")
    parser.add_argument("--requests", type=int, default=None, help="latency calls (default 200; nano 10)")
    parser.add_argument("--stream-requests", type=int, default=None,
                        help="streamed requests per client at 16 clients (default 4; nano 1)")
    parser.add_argument("--tokens", type=int, default=None, help="tokens per answer (default 32; nano 8)")
    parser.add_argument("--token-ms", type=float, default=5.0, help="scripted model: ms between tokens")
    parser.add_argument("--batch-window-ms", type=float, default=10.0,
                        help="nano: when idle, how long a first request waits for others")
    parser.add_argument("--scale-tokens", type=int, default=32, help="nano, (3): new tokens per answer at most")
    parser.add_argument("--threads", type=int, default=2, help="nano: torch threads of the server and the peer")
    parser.add_argument("--scaling-only", action="store_true", help="nano: only (3)")
    parser.add_argument("--serve-port", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.requests = args.requests or (10 if args.nano else 200)
    args.stream_requests = args.stream_requests or (1 if args.nano else 4)
    args.tokens = args.tokens or (8 if args.nano else 32)
    if args.serve_port is not None:
        _serve(args)
        return
    import httpx

    port = _free_port()
    cmd = [sys.executable, __file__, "--serve-port", str(port), "--tokens", str(args.tokens),
           "--token-ms", str(args.token_ms), "--batch-window-ms", str(args.batch_window_ms),
           "--scale-tokens", str(args.scale_tokens), "--threads", str(args.threads)] + (
        ["--nano"] if args.nano else [])
    server = subprocess.Popen(cmd, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": f"Bearer {API_KEY}"},
                          timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the bench server did not start") from None
                time.sleep(0.2)
        asyncio.run(_bench(args, f"http://127.0.0.1:{port}"))
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
