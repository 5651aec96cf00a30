"""URL ingestion through genaisys's real SSRF-hardened fetcher, against a loopback server."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from genaisys.memory import ChromaMemory, HashingEmbedding
from genaisys.tools.http_fetch import HttpFetcher, HttpFetcherConfig

PAGE = b"<html><body><h1>Release notes</h1><p>Version 2 adds offline speech.</p><script>x()</script></body></html>"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_urls_go_through_the_safe_fetcher(server, tmp_path):
    host, port = server.server_address[:2]
    url = f"http://{host}:{port}/notes.html"
    memory = ChromaMemory(tmp_path, embedding=HashingEmbedding(dim=64), image_embedding=False)

    refused = memory.ingest([url], fetch=HttpFetcher().fetch, progress=False)  # loopback is refused by default
    assert refused.chunks_added == 0 and "127.0.0.1" in refused.skipped[0].reason

    fetcher = HttpFetcher(HttpFetcherConfig(allow_hosts=[f"{host}:{port}"]))
    report = memory.ingest([url], fetch=fetcher.fetch, progress=False)
    assert report.chunks_added == 1 and not report.skipped
    (hit,) = memory.search("offline speech", k=1)
    assert hit.source == url and "Version 2 adds offline speech" in hit.text and "x()" not in hit.text
