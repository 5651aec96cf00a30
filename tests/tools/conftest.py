"""Shared helpers for the tool tests: a scripted "model" inside a real LangGraph graph."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest


def build_scripted_graph(tools: Sequence[Any], script: Sequence[Any], *, checkpointer: Any = None) -> Any:
    """model → tools → model … → END, where the model replays ``script`` (AIMessages) in order.

    The graph is real LangGraph: ``StateGraph(MessagesState)`` with the prebuilt ``ToolNode`` and
    ``tools_condition``; only the model is scripted.
    """
    from langchain_core.messages import AIMessage
    from langgraph.graph import START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode, tools_condition

    def model(state: MessagesState) -> dict:
        turn = sum(isinstance(m, AIMessage) for m in state["messages"])
        message = script[turn] if turn < len(script) else AIMessage("done")
        return {"messages": [message]}

    graph = StateGraph(MessagesState)
    graph.add_node("model", model)
    graph.add_node("tools", ToolNode(list(tools)))
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", tools_condition)
    graph.add_edge("tools", "model")
    return graph.compile(checkpointer=checkpointer)


def tool_call(name: str, args: Any, call_id: str) -> dict:
    """A ToolCall dict as a chat model emits it."""
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}


@pytest.fixture
def cache_path(tmp_path):
    """A fresh idempotency-cache file per test."""
    return tmp_path / "tool_calls.sqlite"


# ---- a real loopback HTTP server ---------------------------------------------------------------


@pytest.fixture
def loopback_server():
    """A real threaded HTTP server on 127.0.0.1 (a random port), started and stopped per test.

    Routes: /page (HTML), /json, /plain, /echo-host, /binary, /redirect?to=<url>, /loop,
    /big (declared and sent larger than any cap), /forever (chunked, never ends), /drip (one
    byte every 50 ms, never ends), /stall (headers, then silence), /gzip-bomb (a
    small gzip body that inflates to 64 MiB, bounded by the reader).
    """
    import gzip
    import http.server
    import threading
    import time
    from urllib.parse import parse_qs, urlsplit

    stop = threading.Event()
    bomb: list = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep test output clean
            pass

        def _send(self, code, body, ctype, extra=()):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in extra:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802
            url = urlsplit(self.path)
            try:
                if url.path == "/page":
                    html = (b"<html><head><title>Test page</title><style>p{}</style></head><body>"
                            b"<h1>Hello</h1><p>caf\xc3\xa9 &amp; cr\xc3\xa8me</p><script>alert(1)</script>"
                            b"<ul><li>one</li><li>two</li></ul></body></html>")
                    self._send(200, html, "text/html; charset=utf-8")
                elif url.path == "/json":
                    self._send(200, b'{"answer": 42}', "application/json")
                elif url.path == "/plain":
                    self._send(200, "latin-1: \xe9t\xe9".encode("latin-1"), "text/plain; charset=latin-1")
                elif url.path == "/echo-host":
                    self._send(200, f"host={self.headers.get('Host')}".encode(), "text/plain")
                elif url.path == "/binary":
                    self._send(200, b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "image/png")
                elif url.path == "/redirect":
                    target = parse_qs(url.query)["to"][0]
                    self._send(302, b"", "text/plain", [("Location", target)])
                elif url.path == "/loop":
                    self._send(302, b"", "text/plain", [("Location", "/loop")])
                elif url.path == "/big":
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(50 * 1024 * 1024))
                    self.end_headers()
                    for _ in range(50 * 16):
                        self.wfile.write(b"a" * 65536)
                elif url.path in ("/forever", "/drip"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    piece = b"x" * 65536 if url.path == "/forever" else b"y"
                    while not stop.is_set():
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                        self.wfile.flush()
                        if url.path == "/drip":
                            time.sleep(0.05)
                elif url.path == "/stall":
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    self.wfile.flush()
                    stop.wait(10)
                elif url.path == "/gzip-bomb":
                    if not bomb:
                        bomb.append(gzip.compress(b" " * (64 * 1024 * 1024), compresslevel=9))
                    self._send(200, bomb[0], "text/plain", [("Content-Encoding", "gzip")])
                else:
                    self._send(404, b"not found", "text/plain")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading: that is what the caps are for

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}", server.server_address[1]
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def only_loopback(monkeypatch):
    """Record every socket connect; fail the test if one goes anywhere but loopback."""
    import ipaddress
    import socket

    seen: list = []
    original = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        seen.append(address)
        if self.family in (socket.AF_INET, socket.AF_INET6) and not ipaddress.ip_address(host.split("%")[0]).is_loopback:
            raise AssertionError(f"a test tried to connect to {address}: only loopback may be contacted")
        return original(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    return seen
