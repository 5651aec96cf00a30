"""1,000 requests at concurrency 32 against the real loopback server: no 5xx, every answer right."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx

from tests.serve.conftest import API_KEY, MODEL_ID, LiveServer


def test_thousand_requests_at_concurrency_32(live: LiveServer) -> None:
    n, concurrency = 1000, 32
    statuses: Counter[int] = Counter()
    wrong: list[str] = []

    async def one(client: httpx.AsyncClient, gate: asyncio.Semaphore, i: int) -> None:
        body = {"model": MODEL_ID, "messages": [{"role": "user", "content": f"request {i}"}]}
        async with gate:
            if i % 4 == 3:  # a quarter streamed
                body["stream"] = True
                async with client.stream("POST", "/v1/chat/completions", json=body) as resp:
                    statuses[resp.status_code] += 1
                    lines = [line async for line in resp.aiter_lines() if line]
                if lines[-1] != "data: [DONE]" or f'"{i}"' not in "".join(lines):
                    wrong.append(f"stream {i}")
            else:
                resp = await client.post("/v1/chat/completions", json=body)
                statuses[resp.status_code] += 1
                if resp.json()["choices"][0]["message"]["content"] != f"You said: request {i}":
                    wrong.append(f"plain {i}")

    async def run() -> float:
        gate = asyncio.Semaphore(concurrency)
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(base_url=live.url, headers={"Authorization": f"Bearer {API_KEY}"},
                                     limits=limits, timeout=30) as client:
            start = time.perf_counter()
            await asyncio.gather(*(one(client, gate, i) for i in range(n)))
            return time.perf_counter() - start

    elapsed = asyncio.run(run())
    assert statuses == Counter({200: n}), statuses
    assert wrong == []
    assert elapsed < 60, f"{n} requests took {elapsed:.1f} s"
    print(f"\n{n} requests at concurrency {concurrency}: {elapsed:.1f} s, {n / elapsed:.0f} req/s")
