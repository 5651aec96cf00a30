"""``image_url`` parts with http(s) URLs: fetched by the http_fetch tool's own SSRF-safe path.

The server has no fetch loop of its own: `HttpFetcher.fetch_bytes` checks and pins every hop, so
the server gets the tool's fixes (the ``Host`` header of an IPv6 literal) and its refusals.
"""

from __future__ import annotations

import asyncio
import io
import ipaddress
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from PIL import Image

from genaisys.errors import ToolError
from genaisys.serve import create_app
from genaisys.tools.http_fetch import HttpFetcher, HttpFetcherConfig, PinnedTarget
from tests.serve.conftest import API_KEY, MODEL_ID, ScriptedChat

CHAT = "/v1/chat/completions"


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def _png(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (0, 90, 200)).save(buf, "PNG")
    return buf.getvalue()


class _V6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


@pytest.fixture()
def v6_images() -> Iterator[dict[str, Any]]:
    """An image server on ``[::1]``: ``/cat.png``; ``/to?url=`` redirects there; records Host headers."""
    if not _ipv6_loopback():
        pytest.skip("no IPv6 loopback on this machine")
    seen: dict[str, Any] = {"hosts": [], "paths": []}
    body = _png(6, 2)

    class Images(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            seen["hosts"].append(self.headers.get("Host"))
            seen["paths"].append(self.path)
            if self.path.startswith("/to?url="):
                self.send_response(302)
                self.send_header("Location", self.path.split("=", 1)[1])
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = _V6Server(("::1", 0), Images)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    seen["port"] = server.server_address[1]
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()


def _ask(app: Any, url: str) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=20) as client:
            return await client.post(CHAT, headers={"Authorization": f"Bearer {API_KEY}"}, json={
                "model": MODEL_ID, "messages": [{"role": "user", "content": [
                    {"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": url}}]}]})

    return asyncio.run(go())


def _app(fetcher: HttpFetcher) -> Any:
    return create_app(ScriptedChat(), api_key=API_KEY, model_id=MODEL_ID, fetcher=fetcher)


class _Recording(HttpFetcher):
    """The tool's fetcher, noting each `fetch_bytes` call, to show the server takes that path."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def fetch_bytes(self, url: str, **kwargs: Any) -> tuple[bytes, str]:
        self.calls.append((url, kwargs))
        return super().fetch_bytes(url, **kwargs)


def test_an_ipv6_literal_image_url_goes_through_the_tool_with_a_bracketed_host(v6_images: dict[str, Any]) -> None:
    port = v6_images["port"]
    fetcher = _Recording(HttpFetcherConfig(allow_hosts=[f"::1:{port}"], timeout_s=5))
    resp = _ask(_app(fetcher), f"http://[::1]:{port}/cat.png")
    assert resp.status_code == 200, resp.text
    assert resp.json()["choices"][0]["message"]["content"] == "I see a 6x2 image. You said: hi"
    assert [url for url, _ in fetcher.calls] == [f"http://[::1]:{port}/cat.png"]
    assert fetcher.calls[0][1]["accept"] == "image/*"
    assert v6_images["hosts"] == [f"[::1]:{port}"]  # RFC 9110: an IPv6 literal in Host is bracketed


@pytest.mark.parametrize("target", ["http://127.0.0.1/cat.png", "http://169.254.169.254/latest/meta-data/",
                                    "http://[::ffff:127.0.0.1]/cat.png"])
def test_a_redirect_to_an_internal_address_is_refused_by_the_server(v6_images: dict[str, Any], target: str) -> None:
    port = v6_images["port"]
    fetcher = HttpFetcher(HttpFetcherConfig(allow_hosts=[f"::1:{port}"], timeout_s=5))
    resp = _ask(_app(fetcher), f"http://[::1]:{port}/to?url={target}")
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == "image_url_refused" and "a redirect from" in error["message"]
    assert v6_images["paths"] == [f"/to?url={target}"]  # the allow-list opened [::1] only, not where it points


@pytest.mark.parametrize("url", ["http://[::1]/cat.png", "http://10.0.0.7/cat.png", "http://169.254.169.254/",
                                 "http://0x7f.1/cat.png", "http://[fe80::1%25eth0]/cat.png"])
def test_private_image_urls_are_refused_before_any_connection(url: str) -> None:
    def no_network(host: str, port: int) -> list[str]:
        raise AssertionError(f"resolved {host}")

    resp = _ask(_app(HttpFetcher(resolver=no_network)), url)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "image_url_refused"
    assert "refused" in resp.json()["error"]["message"]


def test_host_header_of_a_pinned_target() -> None:
    def target(url: str, host: str, port: int, ip: str, scheme: str = "http") -> PinnedTarget:
        return PinnedTarget(url, scheme, host, port, ipaddress.ip_address(ip), "/")

    assert target("http://[::1]:8080/", "::1", 8080, "::1").host_header() == "[::1]:8080"
    assert target("http://[2001:db8::5]/", "2001:db8::5", 80, "2001:db8::5").host_header() == "[2001:db8::5]"
    assert target("https://a.example/", "a.example", 443, "2001:db8::5", "https").host_header() == "a.example"
    assert target("http://a.example:81/", "a.example", 81, "203.0.113.9").host_header() == "a.example:81"
    assert target("http://[::1]:8080/", "::1", 8080, "::1").pinned_url() == "http://[::1]:8080/"


def test_fetch_bytes_refuses_another_type_and_a_larger_body(v6_images: dict[str, Any]) -> None:
    port = v6_images["port"]
    fetcher = HttpFetcher(HttpFetcherConfig(allow_hosts=[f"::1:{port}"], timeout_s=5))
    url = f"http://[::1]:{port}/cat.png"
    with pytest.raises(ToolError, match=r"is image/png, not application/pdf or a text$"):
        fetcher.fetch_bytes(url, accept="application/pdf, text/*")
    with pytest.raises(ToolError, match="over the 10-byte limit"):
        fetcher.fetch_bytes(url, accept="image/*", max_bytes=10)
    raw, mime = fetcher.fetch_bytes(url, accept="image/png")
    assert mime == "image/png" and raw.startswith(b"\x89PNG")
