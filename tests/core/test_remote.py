"""RemoteCore against a real loopback HTTP server: retries, timeouts, SSE streams, cuts, tools, async,
and connection pooling (connections counted on the server side)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from PIL import Image
from pydantic import BaseModel, SecretStr

from genaisys.core.remote import RemoteCore
from genaisys.errors import CoreError


class _Server:
    """A scripted chat-completions server: each request pops the next action.

    ``keep_alive=True`` speaks HTTP/1.1 and keeps connections open between requests (SSE answers
    still close theirs); ``connections`` lists the client address of every connection accepted.
    With ``default`` set, a request finding no scripted action gets that action.
    """

    def __init__(self, keep_alive: bool = False, default: tuple[str, object] | None = None) -> None:
        self.actions: list[tuple[str, object]] = []
        self.requests: list[dict] = []
        self.connections: list[tuple[str, int]] = []
        self.default = default
        self.cores: list[RemoteCore] = []  # made by _core(); closed before the server
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"
            disable_nagle_algorithm = True  # else a reused connection waits ~40 ms for a delayed ACK

            def log_message(self, *args):  # keep test output quiet
                pass

            def handle(self):
                with server.lock:
                    server.connections.append(self.client_address)
                super().handle()

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization"),
                                            "peer": self.client_address})
                    kind, arg = server.actions.pop(0) if server.actions or not server.default else server.default
                try:
                    if kind == "sleep":
                        time.sleep(arg)
                        return
                    if kind == "status":
                        self._send(arg, {"error": {"message": f"scripted {arg}"}}, {"Retry-After": "0"})
                    elif kind == "json":
                        self._send(200, arg)
                    elif kind in ("sse", "sse_cut"):
                        self.send_response(200)
                        self.send_header("Content-Type", "text/event-stream")
                        self.send_header("Connection", "close")  # no length: the end is the close
                        self.close_connection = True
                        self.end_headers()
                        for event in arg:
                            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                            self.wfile.flush()
                        if kind == "sse":
                            self.wfile.write(b"data: [DONE]\n\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _send(self, status, payload, headers=None):
                data = json.dumps(payload).encode()
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        for core in self.cores:
            core.close()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.close()


@pytest.fixture
def keep_alive_server():
    """An HTTP/1.1 keep-alive server answering every request with a completion."""
    s = _Server(keep_alive=True, default=("json", _completion("pooled")))
    yield s
    s.close()


def _completion(content="Hi!", tool_calls=None, finish="stop"):
    msg = {"role": "assistant", "content": content}
    if tool_calls:
        msg["tool_calls"] = tool_calls
    return {"model": "m", "choices": [{"index": 0, "message": msg, "finish_reason": finish}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}}


def _delta(content=None, tool_calls=None, finish=None):
    delta = {}
    if content is not None:
        delta["content"] = content
    if tool_calls is not None:
        delta["tool_calls"] = tool_calls
    return {"model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def _core(server, **kw) -> RemoteCore:
    core = RemoteCore(base_url=server.url, model="m", backoff=0.01, **kw)
    server.cores.append(core)
    return core


def test_a_500_is_retried_then_the_answer_parsed(server):
    server.actions = [("status", 500), ("json", _completion("Paris."))]
    msg = _core(server, api_key="sk-test").invoke("Capital of France?")
    assert msg.content == "Paris."
    assert msg.usage_metadata == {"input_tokens": 7, "output_tokens": 2, "total_tokens": 9}
    assert len(server.requests) == 2 and server.requests[0]["path"] == "/v1/chat/completions"
    assert server.requests[0]["auth"] == "Bearer sk-test"
    assert server.requests[1]["body"]["messages"] == [{"role": "user", "content": "Capital of France?"}]


def test_retries_run_out_with_a_clear_error(server):
    server.actions = [("status", 503), ("status", 429), ("status", 502)]
    with pytest.raises(CoreError, match=r"failed after 3 attempt\(s\).*502"):
        _core(server).invoke("x")


def test_client_errors_are_not_retried(server):
    server.actions = [("status", 400)]
    with pytest.raises(CoreError, match="400.*scripted 400.*client error"):
        _core(server).invoke("x")
    assert len(server.requests) == 1


def test_a_timeout_is_retried_and_then_reported(server):
    server.actions = [("sleep", 1.0), ("json", _completion("late but fine"))]
    t0 = time.perf_counter()
    assert _core(server, timeout=0.2).invoke("x").content == "late but fine"
    assert time.perf_counter() - t0 < 1.0
    server.actions = [("sleep", 1.0), ("sleep", 1.0)]
    with pytest.raises(CoreError, match="timed out"):
        _core(server, timeout=0.2, max_retries=1).invoke("x")


def test_stream_yields_tokens_and_assembles_tool_calls(server):
    events = [_delta("The "), _delta("answer"),
              _delta(tool_calls=[{"index": 0, "id": "call_a", "type": "function",
                                  "function": {"name": "calc", "arguments": '{"expr'}}]),
              _delta(tool_calls=[{"index": 0, "function": {"arguments": 'ession": "2+2"}'}}]),
              _delta(finish="tool_calls"),
              {"model": "m", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}]
    server.actions = [("status", 503), ("sse", events)]
    chunks = list(_core(server).stream("2+2?"))
    assert [c.content for c in chunks if c.content] == ["The ", "answer"]
    total = sum(chunks[1:], chunks[0])
    assert total.content == "The answer"
    assert [(t["name"], t["args"], t["id"]) for t in total.tool_calls] == [("calc", {"expression": "2+2"}, "call_a")]
    assert total.usage_metadata["total_tokens"] == 7
    body = server.requests[-1]["body"]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def test_a_stream_cut_midway_raises_after_the_tokens_already_shown(server):
    server.actions = [("sse_cut", [_delta("Once "), _delta("upon")])]
    seen = []
    with pytest.raises(CoreError, match=r"cut after 2 chunk\(s\).*incomplete"):
        for chunk in _core(server).stream("story"):
            seen.append(chunk.content)
    assert seen == ["Once ", "upon"]
    assert len(server.requests) == 1  # shown tokens cannot be taken back: no silent retry


class GetWeather(BaseModel):
    """Weather for a city."""

    city: str


def test_tools_images_and_tool_turns_are_sent_in_openai_form(server):
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buf, "PNG")
    b64 = base64.b64encode(buf.getvalue()).decode()
    call = {"id": "call_1", "type": "function", "function": {"name": "GetWeather", "arguments": '{"city": "Oslo"}'}}
    bad = {"id": "call_2", "type": "function", "function": {"name": "GetWeather", "arguments": "{oops"}}
    server.actions = [("json", _completion(None, [call, bad], "tool_calls"))]
    history = [SystemMessage("Be brief."),
               HumanMessage(content=[{"type": "text", "text": "Look:"},
                                     {"type": "image", "base64": b64, "mime_type": "image/png"}]),
               AIMessage("", tool_calls=[{"name": "GetWeather", "args": {"city": "Rome"}, "id": "call_0"}]),
               ToolMessage("sunny", tool_call_id="call_0")]
    msg = _core(server).bind_tools([GetWeather], tool_choice="GetWeather").invoke(history, max_new_tokens=5)
    assert [(t["name"], t["args"], t["id"]) for t in msg.tool_calls] == [("GetWeather", {"city": "Oslo"}, "call_1")]
    assert msg.invalid_tool_calls[0]["id"] == "call_2" and "not be used" in msg.invalid_tool_calls[0]["error"]
    body = server.requests[0]["body"]
    assert body["tools"][0]["function"]["name"] == "GetWeather"
    assert body["tool_choice"] == {"type": "function", "function": {"name": "GetWeather"}}
    assert body["max_tokens"] == 5
    assert body["messages"][1]["content"][1] == {"type": "image_url",
                                                 "image_url": {"url": f"data:image/png;base64,{b64}"}}
    assert body["messages"][2]["tool_calls"][0]["function"] == {"name": "GetWeather", "arguments": '{"city": "Rome"}'}
    assert body["messages"][3] == {"role": "tool", "tool_call_id": "call_0", "content": "sunny"}


def test_async_invoke_and_stream(server):
    server.actions = [("status", 500), ("json", _completion("async ok")),
                      ("status", 502), ("sse", [_delta("a"), _delta("b"), _delta(finish="stop")])]

    async def go():
        core = _core(server)
        msg = await core.ainvoke("x")
        parts = [c.content async for c in core.astream("y")]
        return msg, parts

    msg, parts = asyncio.run(go())
    assert msg.content == "async ok"
    assert "".join(parts) == "ab"
    assert len(server.requests) == 4


def test_async_stream_cut_is_reported(server):
    server.actions = [("sse_cut", [_delta("partial")])]

    async def go():
        return [c.content async for c in _core(server).astream("y")]

    with pytest.raises(CoreError, match="cut after 1 chunk"):
        asyncio.run(go())


def test_an_unreachable_server_is_reported():
    core = RemoteCore(base_url="http://127.0.0.1:9/v1", max_retries=1, backoff=0.01, timeout=1.0)
    with pytest.raises(CoreError, match="failed after 2 attempt"):
        core.invoke("x")


# ---------------------------------------------------------------------------- connection pooling
def test_sequential_sync_calls_share_one_connection(keep_alive_server):
    with _core(keep_alive_server) as core:
        assert [core.invoke(f"q{i}").content for i in range(5)] == ["pooled"] * 5
        keep_alive_server.actions = [("sse", [_delta("a"), _delta("b"), _delta(finish="stop")])]
        assert "".join(c.content for c in core.stream("s")) == "ab"  # streams use the pool too
    peers = [r["peer"] for r in keep_alive_server.requests]
    assert len(set(peers[:5])) == 1 and len(keep_alive_server.connections) == 1  # per-call clients: 5
    assert peers[5] == peers[0]


def test_sequential_async_calls_in_one_loop_share_one_connection(keep_alive_server):
    async def go():
        async with _core(keep_alive_server) as core:
            return [(await core.ainvoke(f"q{i}")).content for i in range(5)]

    assert asyncio.run(go()) == ["pooled"] * 5
    assert len(keep_alive_server.connections) == 1 and len(keep_alive_server.requests) == 5


def test_a_second_event_loop_gets_its_own_client(keep_alive_server):
    core = _core(keep_alive_server)

    async def go(n):
        return [(await core.ainvoke("x")).content for _ in range(n)]

    assert asyncio.run(go(3)) == ["pooled"] * 3  # no aclose(): the client is left with a dead loop
    first = dict(core._pool.aclients)

    async def again():
        try:
            return await go(2)
        finally:
            await core.aclose()

    assert asyncio.run(again()) == ["pooled"] * 2
    assert len(keep_alive_server.connections) == 2  # one per loop, each reused within its loop
    assert not core._pool.aclients and len(first) == 1  # the dead loop's client was dropped


def test_a_call_after_close_reopens(keep_alive_server):
    core = _core(keep_alive_server)
    assert core.invoke("x").content == "pooled"
    old = core._client()
    core.close()
    core.close()  # idempotent
    assert old.is_closed
    assert core.invoke("y").content == "pooled"  # a new client, a new connection
    assert core._client() is not old and len(keep_alive_server.connections) == 2


def test_copies_share_the_pool_and_never_use_a_closed_client(keep_alive_server):
    core = _core(keep_alive_server)
    copy = core.model_copy()
    assert core.invoke("a").content == copy.invoke("b").content == "pooled"
    assert len(keep_alive_server.connections) == 1
    copy.close()  # closes the shared client: both reopen on their next call
    assert core.invoke("c").content == "pooled"
    rekeyed = core.model_copy(update={"api_key": SecretStr("sk-new")})  # other headers: another client
    assert rekeyed.invoke("d").content == "pooled"
    assert keep_alive_server.requests[-1]["auth"] == "Bearer sk-new"
    assert keep_alive_server.requests[-2]["auth"] is None
    assert core.bind_tools([GetWeather]).invoke("e").content == "pooled"


def test_concurrent_sync_calls_from_eight_threads(keep_alive_server):
    from concurrent.futures import ThreadPoolExecutor

    with _core(keep_alive_server) as core, ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: core.invoke(f"q{i}").content, range(32)))
        clients = {id(c) for c in pool.map(lambda _: core._client(), range(8))}
    assert answers == ["pooled"] * 32 and len(clients) == 1
    assert 1 <= len(keep_alive_server.connections) <= 8  # at most one per thread, reused
