"""Attack tests: hostile URLs, path traversal, calculator exhaustion, malformed tool calls.

Every hostile input must be refused (or cut) with a clear message; nothing may crash a graph,
and no connection may go anywhere but loopback (the `only_loopback` fixture fails the test if
one does). Public-looking names are resolved by an injected resolver, never by real DNS.
"""

from __future__ import annotations

import os
import time

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from genaisys.errors import ToolError
from genaisys.tools import get_tool
from genaisys.tools.http_fetch import HttpFetcher, HttpFetcherConfig
from tests.tools.conftest import build_scripted_graph, tool_call

# name -> addresses, the DNS answers an attacker controls (rebinding, internal names).
FAKE_DNS = {
    "localhost": ["127.0.0.1"],  # the test server's allow-listed name
    "rebind.example": ["93.184.216.34", "10.0.0.7"],  # one public, one private answer
    "internal.example": ["192.168.0.10"],
    "mapped.example": ["::ffff:10.0.0.1"],
    "meta.example": ["169.254.169.254"],
    "loop6.example": ["::1"],
    "cgnat.example": ["100.64.1.2"],
    "127.0.0.1.nip.io": ["127.0.0.1"],  # public wildcard DNS that answers with the IP in the name
}


def fake_resolver(host: str, port: int) -> list[str]:
    if host in FAKE_DNS:
        return FAKE_DNS[host]
    raise OSError(f"no such test host {host}")


# (url, words the refusal must contain). Checked without any server: all refused before connecting.
HOSTILE_URLS = [
    # loopback in every notation
    ("http://127.0.0.1/", "127.0.0.1 is a loopback address"),
    ("http://127.0.0.1.:80/", "127.0.0.1 is a loopback address"),  # trailing dot
    ("http://2130706433/", "127.0.0.1 is a loopback address"),  # decimal
    ("http://017700000001/", "127.0.0.1 is a loopback address"),  # one octal number
    ("http://0177.0.0.1/", "127.0.0.1 is a loopback address"),  # octal part
    ("http://0x7f.1/", "127.0.0.1 is a loopback address"),  # hex + short form
    ("http://0x7f000001/", "127.0.0.1 is a loopback address"),  # one hex number
    ("http://127.1/", "127.0.0.1 is a loopback address"),  # short form
    ("http://127.0.1/", "127.0.0.1 is a loopback address"),
    ("http://①②⑦.0.0.1/", "127.0.0.1 is a loopback address"),  # Unicode digits (IDNA folds them)
    ("http://[::1]/", "::1 is a loopback address"),
    ("http://[0:0:0:0:0:0:0:1]:8080/", "::1 is a loopback address"),
    ("http://[::ffff:127.0.0.1]/", "embeds 127.0.0.1, 127.0.0.1 is a loopback address"),
    ("http://[::ffff:7f00:1]/", "embeds 127.0.0.1"),
    ("http://[0:0:0:0:0:ffff:127.0.0.1]/", "embeds 127.0.0.1"),
    ("http://[::127.0.0.1]/", "embeds 127.0.0.1"),  # IPv4-compatible
    ("http://[64:ff9b::7f00:1]/", "embeds 127.0.0.1"),  # NAT64
    ("http://[2002:7f00:1::]/", "embeds 127.0.0.1"),  # 6to4
    ("http://0x7f.0x0.0x0.0x1/", "127.0.0.1 is a loopback address"),  # hex in every part
    ("http://127.000.000.001/", "127.0.0.1 is a loopback address"),  # zero-padded (octal) parts
    ("http://%31%32%37.0.0.1/", "malformed numeric host"),  # percent-encoded host
    ("http://127.0.0.1.nip.io/", "127.0.0.1.nip.io resolves to 127.0.0.1"),
    ("http://localhost/", "localhost is a local/internal name"),
    ("HTTP://LOCALHOST:80/", "localhost is a local/internal name"),
    ("http://localhost:80\r\nX-Injected: 1/", "spaces, control characters or backslashes"),
    ("http://foo.localhost/", "is a local/internal name"),
    ("http://loop6.example/", "loop6.example resolves to ::1; ::1 is a loopback address"),
    # unspecified
    ("http://0.0.0.0/", "0.0.0.0 is an unspecified address"),
    ("http://0/", "0.0.0.0 is an unspecified address"),
    ("http://[::]/", ":: is an unspecified address"),
    # private ranges
    ("http://10.0.0.1/", "10.0.0.1 is a private address"),
    ("http://172.16.5.4/", "172.16.5.4 is a private address"),
    ("http://192.168.1.1/", "192.168.1.1 is a private address"),
    ("http://0xa.0.0.1/", "10.0.0.1 is a private address"),
    ("http://[::ffff:0a00:0001]/", "embeds 10.0.0.1, 10.0.0.1 is a private address"),
    ("http://[fd12:3456::1]/", "fd12:3456::1 is a private address"),
    ("http://[fd00::1]/", "is a private address"),
    ("http://internal.example/", "internal.example resolves to 192.168.0.10"),
    ("http://mapped.example/", "embeds 10.0.0.1"),
    ("http://rebind.example/", "rebind.example resolves to 10.0.0.7"),  # every answer is checked
    # link-local, IPv6 zone ids
    ("http://[fe80::1]/", "fe80::1 is a link-local address"),
    ("http://[fe80::1%25eth0]/", "IPv6 zone ids (%eth0) are not allowed"),
    ("http://169.254.1.1/", "169.254.1.1 is a link-local address"),
    # cloud metadata
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
    ("http://[::ffff:169.254.169.254]/", "embeds 169.254.169.254, 169.254.169.254 is a cloud metadata address"),
    ("http://2852039166/", "169.254.169.254 is a cloud metadata address"),  # decimal metadata
    ("http://[fd00:ec2::254]/", "fd00:ec2::254 is a cloud metadata address"),
    ("http://100.100.100.200/", "100.100.100.200 is a cloud metadata address"),
    ("http://metadata.google.internal/computeMetadata/v1/", "is a cloud metadata host"),
    ("http://meta.example/", "meta.example resolves to 169.254.169.254"),
    # carrier-grade NAT, multicast, reserved, special ranges
    ("http://100.64.0.1/", "100.64.0.1 is a carrier-grade NAT (shared) address"),
    ("http://cgnat.example/", "carrier-grade NAT"),
    ("http://224.0.0.1/", "224.0.0.1 is a multicast address"),
    ("http://[ff02::1]/", "ff02::1 is a multicast address"),
    ("http://240.0.0.1/", "240.0.0.1 is a private address"),
    ("http://255.255.255.255/", "255.255.255.255 is a private address"),
    ("http://198.18.0.1/", "198.18.0.1 is a private address"),
    ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "embeds 192.0.2.45"),  # Teredo
    # parser confusion and other schemes
    ("http://user:pass@example.com/", "credentials in URLs (user@host) are not allowed"),
    ("http://example.com@127.0.0.1/", "credentials in URLs"),
    ("http://127.0.0.1#@example.com/", "127.0.0.1 is a loopback address"),
    ("http://example.com\\@127.0.0.1/", "spaces, control characters or backslashes"),
    ("http://127.0.0.1\t/", "spaces, control characters or backslashes"),
    ("file:///etc/passwd", "only http and https URLs can be fetched, not 'file'"),
    ("gopher://127.0.0.1:25/", "not 'gopher'"),
    ("ftp://example.com/", "not 'ftp'"),
    ("//127.0.0.1/", "not a URL without a scheme"),
    ("http:///x", "the URL has no host"),
    ("http://[::1/", "the URL cannot be parsed"),
    ("http://1.2.3.256/", "malformed numeric host"),
    ("http://08.0.0.1/", "malformed numeric host"),
    ("http://127.0.0.1:0/", "port 0"),
    ("http://127.0.0.1:99999/", "the URL cannot be parsed"),
    ("http://nowhere.example/", "cannot resolve 'nowhere.example'"),
]


def test_the_hostile_table_is_big_enough():
    assert len(HOSTILE_URLS) >= 30
    assert len({url for url, _ in HOSTILE_URLS}) == len(HOSTILE_URLS)


@pytest.mark.parametrize(("url", "reason"), HOSTILE_URLS, ids=[u for u, _ in HOSTILE_URLS])
def test_hostile_url_is_refused_before_connecting(url, reason, only_loopback):
    fetcher = HttpFetcher(resolver=fake_resolver)
    with pytest.raises(ToolError) as info:
        fetcher.fetch(url)
    message = str(info.value)
    assert message.startswith("refused ") or message.startswith("cannot resolve")
    assert reason in message
    assert only_loopback == []  # not even loopback was contacted


def test_hostile_url_through_the_tool_is_error_text(only_loopback):
    tool = get_tool("builtin:http_fetch", resolver=fake_resolver)
    message = tool.invoke(tool_call("http_fetch", {"url": "http://0x7f.1/admin"}, "c1"))
    assert message.status == "error"
    assert message.content == "refused http://0x7f.1/admin: 127.0.0.1 is a loopback address"


# ---- against a real loopback server (allow-listed by name only) -------------------------------


def _fetcher(port: int, **limits) -> HttpFetcher:
    return HttpFetcher(HttpFetcherConfig(allow_hosts=["localhost"], **limits), resolver=fake_resolver)


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("http://10.0.0.1/", "10.0.0.1 is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata address"),
        ("http://127.0.0.1:{port}/page", "127.0.0.1 is a loopback address"),  # same server, by IP
        ("http://2130706433:{port}/page", "127.0.0.1 is a loopback address"),
        ("http://[::1]:{port}/page", "::1 is a loopback address"),
        ("http://internal.example/", "resolves to 192.168.0.10"),
        ("file:///etc/passwd", "not 'file'"),
    ],
)
def test_redirect_from_an_allowed_server_to_a_private_address_is_refused(loopback_server, only_loopback, target, reason):
    base, port = loopback_server
    start_url = f"{base}/redirect?to={target.format(port=port)}"
    with pytest.raises(ToolError) as info:
        _fetcher(port).fetch(start_url)
    assert reason in str(info.value) and f"(a redirect from {start_url})" in str(info.value)
    assert len(only_loopback) == 1  # only the allow-listed first hop was contacted


def test_redirect_loop_is_cut(loopback_server, only_loopback):
    base, port = loopback_server
    with pytest.raises(ToolError, match=r"too many redirects \(more than 3\)"):
        _fetcher(port, max_redirects=3).fetch(f"{base}/loop")


def test_oversized_body_is_cut_at_the_byte_cap(loopback_server, only_loopback):
    base, port = loopback_server
    start = time.perf_counter()
    result = _fetcher(port, max_bytes=100_000, max_chars=10**6).fetch(f"{base}/big")
    assert result.truncated and len(result.text) == 100_000 and set(result.text) == {"a"}
    assert "[... body cut at the size or time limit ...]" in result.for_model()
    assert time.perf_counter() - start < 5


def test_never_ending_chunked_body_is_cut_by_size(loopback_server, only_loopback):
    base, port = loopback_server
    start = time.perf_counter()
    result = _fetcher(port, max_bytes=300_000, max_chars=10**6, timeout_s=10).fetch(f"{base}/forever")
    assert result.truncated and len(result.text) == 300_000
    assert time.perf_counter() - start < 5


def test_slow_drip_is_cut_by_the_total_time(loopback_server, only_loopback):
    base, port = loopback_server
    start = time.perf_counter()
    result = _fetcher(port, timeout_s=1.0).fetch(f"{base}/drip")
    elapsed = time.perf_counter() - start
    assert result.truncated and 0 < len(result.text) < 100 and set(result.text) == {"y"}
    assert elapsed < 2.5


def test_stalled_body_is_cut_by_the_total_time(loopback_server, only_loopback):
    base, port = loopback_server
    start = time.perf_counter()
    result = _fetcher(port, timeout_s=1.0).fetch(f"{base}/stall")
    assert result.truncated and result.text == ""
    assert time.perf_counter() - start < 2.5


def test_gzip_bomb_is_bounded(loopback_server, only_loopback):
    base, port = loopback_server
    result = _fetcher(port, max_bytes=50_000, max_chars=10**6).fetch(f"{base}/gzip-bomb")
    assert len(result.text) <= 50_000 and result.text.strip() == ""


def test_binary_content_is_refused(loopback_server, only_loopback):
    base, port = loopback_server
    with pytest.raises(ToolError, match="is image/png, not text"):
        _fetcher(port).fetch(f"{base}/binary")


def test_allow_list_is_by_exact_host_and_port(loopback_server, only_loopback):
    base, port = loopback_server
    with pytest.raises(ToolError, match="local/internal name"):
        HttpFetcher(HttpFetcherConfig(allow_hosts=[f"localhost:{port + 1}"])).fetch(f"{base}/page")
    assert "Hello" in HttpFetcher(HttpFetcherConfig(allow_hosts=[f"localhost:{port}"])).fetch(f"{base}/page").text


def test_resolved_address_is_pinned(loopback_server, only_loopback):
    """The name is resolved once, by us; the connection goes to that IP with the name as Host.

    ``pinned.example`` does not exist in real DNS, so the fetch can only work if httpx never
    resolves the name itself.
    """
    base, port = loopback_server
    calls = []

    def resolver(host, p):
        calls.append(host)
        return ["127.0.0.1"]

    fetcher = HttpFetcher(HttpFetcherConfig(allow_hosts=["pinned.example"]), resolver=resolver)
    result = fetcher.fetch(f"http://pinned.example:{port}/echo-host")
    assert result.text == f"host=pinned.example:{port}"
    assert calls == ["pinned.example"] and [a[0] for a in only_loopback] == ["127.0.0.1"]


def test_allow_listed_name_does_not_open_its_redirect_targets(loopback_server, only_loopback):
    base, port = loopback_server
    fetcher = HttpFetcher(HttpFetcherConfig(allow_hosts=["localhost"]), resolver=fake_resolver)
    with pytest.raises(ToolError, match="rebind.example resolves to 10.0.0.7"):
        fetcher.fetch(f"{base}/redirect?to=http://rebind.example/")


# ---- file reader: path traversal --------------------------------------------------------------


@pytest.fixture
def jail(tmp_path):
    root = tmp_path / "root"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "ok.txt").write_text("fine")
    (root / ".env").write_text("SECRET=1")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]")
    (tmp_path / "outside.txt").write_text("TOP SECRET")
    (tmp_path / "root2").mkdir()
    (tmp_path / "root2" / "secret.txt").write_text("TOP SECRET")
    (root / "link_out").symlink_to(tmp_path / "outside.txt")
    (root / "dir_out").symlink_to(tmp_path)
    (root / "loop_a").symlink_to(root / "loop_b")
    (root / "loop_b").symlink_to(root / "loop_a")
    (root / "devzero").symlink_to("/dev/zero")
    os.mkfifo(root / "fifo")
    (root / "bin.dat").write_bytes(b"\x00\x01\x02" * 100)
    return root


TRAVERSALS = [
    ("../outside.txt", "outside the allowed folders"),
    ("docs/../../outside.txt", "outside the allowed folders"),
    ("docs/../../../../../../etc/passwd", "outside the allowed folders"),
    ("/etc/passwd", "outside the allowed folders"),
    ("{tmp}/outside.txt", "outside the allowed folders"),
    ("{tmp}/root2/secret.txt", "outside the allowed folders"),  # a sibling sharing the prefix
    ("../root2/secret.txt", "outside the allowed folders"),
    ("link_out", "outside the allowed folders"),  # a symlink escaping the root
    ("dir_out/outside.txt", "outside the allowed folders"),  # through a symlinked folder
    ("devzero", "outside the allowed folders"),
    ("~/.bashrc", "outside the allowed folders"),
    ("loop_a", "cannot be resolved"),
    (".env", "hidden files"),
    (".git/config", "hidden files"),
    ("docs/../.env", "hidden files"),
    ("fifo", "only regular files"),  # would block forever if opened for reading
    ("bin.dat", "binary file"),
    ("docs/ok.txt\x00.png", "NUL character"),
    ("", "the path is empty"),
    ("%2e%2e/outside.txt", "no such file"),  # not URL-decoded: a literal (missing) name
    ("docs/missing.txt", "no such file"),
]


@pytest.mark.parametrize(("path", "reason"), TRAVERSALS, ids=[p for p, _ in TRAVERSALS])
def test_path_traversal_is_refused(jail, path, reason):
    tool = get_tool("builtin:file_reader", roots=[jail], safety={"timeout_s": 5})
    path = path.replace("{tmp}", str(jail.parent))
    message = tool.invoke(tool_call("read_file", {"path": path}, "c1"))
    assert message.status == "error" and reason in message.content
    assert "TOP SECRET" not in message.content and "SECRET=1" not in message.content


def test_file_reader_reads_inside_and_lists_without_hidden(jail):
    tool = get_tool("builtin:file_reader", roots=[jail])
    assert tool.invoke({"path": "docs/ok.txt"}) == "fine"
    assert tool.invoke({"path": str(jail / "docs" / "ok.txt")}) == "fine"
    listing = tool.invoke({"path": "."})
    assert "docs/" in listing and ".env" not in listing and ".git" not in listing


# ---- calculator exhaustion through the tool, under a time bound --------------------------------


@pytest.mark.parametrize(
    "expression",
    ["9**9**9**9", "2**(2**64)", "factorial(10**6)", "10**10**10", "(" * 200 + "1" + ")" * 200,
     "*".join(["(9**999)"] * 5), "-(" * 100 + "1" + ")" * 100, "max(" + "9**9999," * 15 + "1)"],
)
def test_calculator_exhaustion_is_refused_fast(expression):
    calc = get_tool("builtin:calculator")
    start = time.perf_counter()
    message = calc.invoke(tool_call("calculator", {"expression": expression}, "c1"))
    assert message.status == "error" and message.content.startswith("Error: ")
    assert time.perf_counter() - start < 1.0


# ---- malformed tool calls from a scripted model, through a real graph -------------------------


def test_malformed_tool_calls_never_crash_the_graph(jail, only_loopback):
    from genaisys.tools.memory_tools import build_memory_search_tool

    class NoMemory:
        def search(self, query, k=4, where=None):
            return []

    tools = [
        get_tool("builtin:calculator"),
        get_tool("builtin:http_fetch", resolver=fake_resolver),
        get_tool("builtin:file_reader", roots=[jail]),
        get_tool("builtin:memory_search", memory=NoMemory()),
        get_tool("builtin:clock"),
    ]
    assert build_memory_search_tool  # the registry built the same tool
    bad_calls = [
        tool_call("calculator", {}, "m1"),  # missing argument
        tool_call("calculator", {"expression": ["1", "+", "1"]}, "m2"),  # wrong type
        tool_call("calculator", {"expression": "1+1", "extra": True}, "m3"),  # extra argument is ignored
        tool_call("calculator", {"expression": "x" * 100_000}, "m4"),  # huge argument
        tool_call("http_fetch", {"url": 12345}, "m5"),
        tool_call("http_fetch", {"url": "http://[::1]:22/"}, "m6"),
        tool_call("read_file", {"path": None}, "m7"),
        tool_call("read_file", {"path": "docs/ok.txt", "offset": "many"}, "m8"),
        tool_call("memory_search", {"query": "q", "k": -3}, "m9"),
        tool_call("current_time", {"timezone": "Mars/Olympus_Mons"}, "m10"),
        tool_call("no_such_tool", {"a": 1}, "m11"),  # a tool the model made up
        tool_call("current_time", {"timezone": {"nested": [1, {"deep": None}]}}, "m12"),
    ]
    script = [AIMessage("", tool_calls=bad_calls), AIMessage("", tool_calls=[tool_call("calculator", {"expression": "2+2"}, "ok")])]
    graph = build_scripted_graph(tools, script)
    out = graph.invoke({"messages": [HumanMessage("go")]}, {"recursion_limit": 10})
    by_id = {m.tool_call_id: m for m in out["messages"] if isinstance(m, ToolMessage)}
    assert set(by_id) == {c["id"] for c in bad_calls} | {"ok"}
    errors = {k for k, m in by_id.items() if m.status == "error"}
    assert errors == {c["id"] for c in bad_calls} - {"m3"}
    assert by_id["m3"].content == "2" and by_id["ok"].content == "4"
    assert by_id["m1"].content.startswith("Invalid arguments for tool 'calculator'")
    assert "longer than 500 characters" in by_id["m4"].content
    assert "::1 is a loopback address" in by_id["m6"].content
    assert "unknown timezone 'Mars/Olympus_Mons'" in by_id["m10"].content
    assert "no_such_tool is not a valid tool" in by_id["m11"].content
    assert out["messages"][-1].content == "done"
    assert only_loopback == []


def test_swapping_a_checked_path_for_a_symlink_is_caught(tmp_path, monkeypatch):
    """Time-of-check/time-of-use: the path is swapped for a symlink after the check."""
    from genaisys.tools.file_reader import FileReader, FileReaderConfig

    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.txt").write_text("inside")
    (root / "b.txt").write_text("inside too")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.txt").write_text("TOP SECRET")
    (outside / "b.txt").write_text("TOP SECRET")
    reader = FileReader(FileReaderConfig(roots=[root]))
    checked = FileReader.resolve

    def resolve_then_swap(self, path):
        real = checked(self, path)
        if path == "sub/a.txt":  # swap a folder on the path for a symlink out of the root
            (root / "sub").rename(root / "sub-old")
            (root / "sub").symlink_to(outside)
        else:  # swap the file itself for a symlink out of the root
            (root / "b.txt").unlink()
            (root / "b.txt").symlink_to(outside / "b.txt")
        return real

    monkeypatch.setattr(FileReader, "resolve", resolve_then_swap)
    with pytest.raises(ToolError, match="outside the allowed folders"):
        reader.read("sub/a.txt")  # caught by the check on the opened descriptor
    with pytest.raises(ToolError, match="cannot be opened"):
        reader.read("b.txt")  # O_NOFOLLOW refuses the swapped-in symlink
