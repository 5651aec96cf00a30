"""What pooled connections save `RemoteCore`, measured side by side in one run.

Calls per second of ``RemoteCore.invoke`` (sync) and ``ainvoke`` (async, one event loop) for
``--calls`` sequential calls (default 200), two ways on the same model object:

- **pooled**: the RemoteCore's long-lived httpx client, one keep-alive TCP connection for all calls;
- **per call**: ``close()`` / ``aclose()`` after every call, so each call builds a fresh httpx
  client and opens a new TCP connection — what RemoteCore did before it pooled. Building the
  client dominates here: ``httpx.Client()`` makes an SSL context (loading the CA bundle) even
  for ``http://`` URLs, ~20 ms on a loaded 2-core machine; loopback connects cost far less.

The server is a loopback ``ThreadingHTTPServer`` (HTTP/1.1 keep-alive) answering every
``POST /v1/chat/completions`` at once with the same small completion (TCP_NODELAY set, as in
real servers), so the numbers are the
client's cost per call (LangChain's invoke path, the client, the connection), not a model's.
It counts the TCP connections it accepted, printed for each side (pooled: 1; per call: one per call).

Timing: ``--warmup`` calls on each side first, then ``--repeats`` rounds in which the two sides
alternate (A B, B A, …) so that load from other processes hits both; medians are reported, with
the ratio pooled / per call. Only 127.0.0.1 is contacted.

Run: ``.venv/bin/python bench/remote.py [--calls 200] [--repeats 3]`` (a few seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from genaisys.core.remote import RemoteCore

_ANSWER = json.dumps({"model": "bench", "choices": [{"index": 0, "finish_reason": "stop",
                                                     "message": {"role": "assistant", "content": "ok"}}],
                      "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}).encode()


class _Server:
    """A loopback chat-completions server with HTTP/1.1 keep-alive that counts its connections."""

    def __init__(self) -> None:
        self.connections = 0
        lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # TCP_NODELAY, as real servers (uvicorn, vLLM) set it: http.server writes the headers and
            # the body separately, and with Nagle on the body would wait ~40 ms for the client's
            # delayed ACK on every reused connection (new connections dodge it in quick-ACK mode)
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:
                pass

            def handle(self) -> None:
                with lock:
                    server.connections += 1
                super().handle()

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(_ANSWER)))
                self.end_headers()
                self.wfile.write(_ANSWER)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _sync(core: RemoteCore, calls: int, pooled: bool) -> float:
    t0 = time.perf_counter()
    for i in range(calls):
        core.invoke(f"question {i}")
        if not pooled:
            core.close()
    elapsed = time.perf_counter() - t0
    core.close()
    return calls / elapsed


def _async(core: RemoteCore, calls: int, pooled: bool) -> float:
    async def go() -> float:
        t0 = time.perf_counter()
        for i in range(calls):
            await core.ainvoke(f"question {i}")
            if not pooled:
                await core.aclose()
        elapsed = time.perf_counter() - t0
        await core.aclose()
        return calls / elapsed

    return asyncio.run(go())


def _side_by_side(name: str, run: Callable[[RemoteCore, int, bool], float], server: _Server,
                  args: argparse.Namespace) -> None:
    core = RemoteCore(base_url=server.url, model="bench", max_retries=0)
    rates: dict[bool, list[float]] = {True: [], False: []}
    conns: dict[bool, int] = {}
    for pooled in (True, False):
        run(core, args.warmup, pooled)
    for r in range(args.repeats):
        for pooled in ((True, False) if r % 2 == 0 else (False, True)):
            before = server.connections
            rates[pooled].append(run(core, args.calls, pooled))
            conns[pooled] = server.connections - before
    pooled, fresh = statistics.median(rates[True]), statistics.median(rates[False])
    print(f"{name:<6} pooled {pooled:8.1f} calls/s ({conns[True]:>3} connection(s))   "
          f"per call {fresh:8.1f} calls/s ({conns[False]:>3} connections)   ratio {pooled / fresh:5.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200, help="sequential calls per side and round")
    parser.add_argument("--repeats", type=int, default=3, help="alternating rounds; medians reported")
    parser.add_argument("--warmup", type=int, default=10, help="calls per side before timing")
    args = parser.parse_args()
    server = _Server()
    try:
        print(f"RemoteCore against a loopback server: {args.calls} sequential calls, "
              f"median of {args.repeats} alternating rounds")
        _side_by_side("sync", _sync, server, args)
        _side_by_side("async", _async, server, args)
    finally:
        server.close()


if __name__ == "__main__":
    main()
