"""http_fetch against a real loopback server: text extraction, content types, redirects, limits."""

from __future__ import annotations

import pytest

from genaisys.errors import ToolError
from genaisys.tools import get_tool
from genaisys.tools.http_fetch import HttpFetchConfig, HttpFetcher, html_to_text, parse_ipv4_literal
from tests.tools.conftest import tool_call


def _resolver(host, port):
    if host == "localhost":
        return ["127.0.0.1"]
    raise OSError(f"unknown test host {host}")


@pytest.fixture
def fetcher():
    return HttpFetcher(HttpFetchConfig(allow_hosts=["localhost"]), resolver=_resolver)


def test_html_becomes_readable_text(loopback_server, fetcher, only_loopback):
    base, _ = loopback_server
    result = fetcher.fetch(f"{base}/page")
    assert result.status == 200 and result.content_type == "text/html" and not result.truncated
    assert result.text == "Test page\n\n# Hello\ncafé & crème\n- one\n- two"
    assert "alert" not in result.text and "p{}" not in result.text


def test_json_and_declared_charset(loopback_server, fetcher, only_loopback):
    base, _ = loopback_server
    assert fetcher.fetch(f"{base}/json").text == '{"answer": 42}'
    assert fetcher.fetch(f"{base}/plain").text == "latin-1: été"


def test_redirect_inside_the_allowed_host_is_followed(loopback_server, fetcher, only_loopback):
    base, _ = loopback_server
    result = fetcher.fetch(f"{base}/redirect?to=/json")
    assert result.url == f"{base}/json" and result.redirects == (f"{base}/redirect?to=/json",)
    assert "Redirected from: " in result.for_model()


def test_tool_output_for_the_model(loopback_server, only_loopback):
    base, _ = loopback_server
    tool = get_tool("builtin:http_fetch", allow_hosts=["localhost"], resolver=_resolver, safety={"idempotent_cache": None})
    message = tool.invoke(tool_call("http_fetch", {"url": f"{base}/page"}, "c1"))
    assert message.status == "success"
    assert message.content.startswith(f"URL: {base}/page\nStatus: 200\nContent-Type: text/html\n\nTest page")


def test_404_is_reported_with_its_status(loopback_server, fetcher, only_loopback):
    base, _ = loopback_server
    result = fetcher.fetch(f"{base}/missing")
    assert result.status == 404 and result.text == "not found"


def test_connection_refused_is_a_clear_error(fetcher, only_loopback):
    import socket

    with socket.socket() as s:  # find a free port, then close it: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ToolError, match=f"cannot fetch http://localhost:{port}/: ConnectError"):
        fetcher.fetch(f"http://localhost:{port}/")


def test_ports_can_be_restricted():
    with pytest.raises(ToolError, match="port 8080 is not allowed"):
        HttpFetcher(HttpFetchConfig(allowed_ports=[80, 443])).check_url("http://example.com:8080/")


def test_ipv4_literal_forms():
    assert str(parse_ipv4_literal("1.2.3.4")) == "1.2.3.4"
    assert str(parse_ipv4_literal("1.2.772")) == "1.2.3.4"
    assert str(parse_ipv4_literal("0x1020304")) == "1.2.3.4"
    assert str(parse_ipv4_literal("01.02.03.04")) == "1.2.3.4"
    assert parse_ipv4_literal("example.com") is None and parse_ipv4_literal("a1.b2") is None
    with pytest.raises(ToolError, match="malformed"):
        parse_ipv4_literal("1.2.3.4.5")


def test_html_to_text_drops_scripts_and_keeps_structure():
    html = "<body><nav>Menu</nav><noscript>x</noscript><h2>T&iacute;tulo</h2><p>a<br>b</p><table><tr><td>1</td><td>2</td></tr></table></body>"
    assert html_to_text(html) == "Menu\n## Título\na\nb\n1\n2"
