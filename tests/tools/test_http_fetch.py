"""http_fetch against a real loopback server: text extraction, content types, redirects, limits."""

from __future__ import annotations

import pytest

from genaisys.errors import ToolError
from genaisys.tools import get_tool
from genaisys.tools.http_fetch import (
    UNTRUSTED_NOTE,
    HttpFetcher,
    HttpFetcherConfig,
    html_to_text,
    parse_ipv4_literal,
)
from tests.tools.conftest import tool_call


def _resolver(host, port):
    if host == "localhost":
        return ["127.0.0.1"]
    raise OSError(f"unknown test host {host}")


@pytest.fixture
def fetcher():
    return HttpFetcher(HttpFetcherConfig(allow_hosts=["localhost"]), resolver=_resolver)


def test_html_becomes_readable_text(loopback_server, fetcher, only_loopback):
    base, _ = loopback_server
    result = fetcher.fetch(f"{base}/page")
    assert result.status == 200 and result.content_type == "text/html" and not result.truncated
    assert result.text == "Test page\n\n# Hello\n\ncafé & crème\n\n- one\n- two"
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
    tool = get_tool("builtin:http_fetch", allow_hosts=["localhost"], resolver=_resolver)
    message = tool.invoke(tool_call("http_fetch", {"url": f"{base}/page"}, "c1"))
    assert message.status == "success"
    assert message.content.startswith(
        f"URL: {base}/page\nStatus: 200\nContent-Type: text/html\n{UNTRUSTED_NOTE}\n\nTest page"
    )


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
        HttpFetcher(HttpFetcherConfig(allowed_ports=[80, 443])).check_url("http://example.com:8080/")


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
    assert html_to_text(html) == "Menu\n\n## Título\n\na\nb\n\n| 1 | 2"


@pytest.fixture
def tls_server(tmp_path):
    """An HTTPS server on 127.0.0.1 whose self-signed certificate names only ``pinned.example``."""
    import datetime
    import http.server
    import ssl
    import threading

    x509 = pytest.importorskip("cryptography.x509", reason="cryptography builds the test certificate")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pinned.example")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("pinned.example")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    seen_sni: list = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802
            body = f"host={self.headers.get('Host')}".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    context.sni_callback = lambda sock, server_name, ctx: seen_sni.append(server_name)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], str(cert_file), seen_sni
    finally:
        server.shutdown()
        server.server_close()


def test_https_is_pinned_and_verified_for_the_name(tls_server, only_loopback):
    port, ca, seen_sni = tls_server

    def resolver(host, p):
        return ["127.0.0.1"]

    config = HttpFetcherConfig(allow_hosts=["pinned.example", "other.example"], ca_bundle=ca)
    result = HttpFetcher(config, resolver=resolver).fetch(f"https://pinned.example:{port}/")
    assert result.text == f"host=pinned.example:{port}"
    assert seen_sni == ["pinned.example"]  # SNI carries the name although we dialled the IP
    with pytest.raises(ToolError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        HttpFetcher(config, resolver=resolver).fetch(f"https://other.example:{port}/")  # cert is not for it
    assert {a[0] for a in only_loopback} == {"127.0.0.1"}


def test_the_system_resolver_answer_is_checked(only_loopback):
    """Real DNS (getaddrinfo): this machine's own name resolves to an internal address."""
    import ipaddress
    import socket

    name = socket.gethostname().lower()
    try:
        addrs = {info[4][0] for info in socket.getaddrinfo(name, 80)}
    except OSError:
        pytest.skip(f"this machine's name {name!r} does not resolve")
    if any(ipaddress.ip_address(a.split("%")[0]).is_global for a in addrs):
        pytest.skip(f"{name!r} resolves to a public address here")
    with pytest.raises(ToolError, match="^refused "):
        HttpFetcher().fetch(f"http://{name}/")
    assert only_loopback == []
