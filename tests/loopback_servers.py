"""Throwaway PostgreSQL and ``chroma run`` servers on 127.0.0.1 for the tests that need real ones.

`postgres_server` yields a DSN: ``$GENAISYS_TEST_POSTGRES_DSN`` when set, otherwise a server
started from the system's PostgreSQL binaries (``initdb`` + ``pg_ctl``, as the ``postgres`` user
when run as root) and stopped afterwards; where neither works, the test skips and says why.
`chroma_server` yields the port of a ``chroma run`` server on a folder, stopped by its PID.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

__all__ = ["chroma_cli", "chroma_server", "free_port", "pg_bin", "postgres_server"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin(name: str) -> str | None:
    """A PostgreSQL program on PATH or in Debian's versioned folder."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


@contextmanager
def postgres_server() -> Iterator[str]:
    """A PostgreSQL DSN for the duration of the block (skips the test where none can be had)."""
    if os.environ.get("GENAISYS_TEST_POSTGRES_DSN"):
        yield os.environ["GENAISYS_TEST_POSTGRES_DSN"]
        return
    initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("no PostgreSQL server: set GENAISYS_TEST_POSTGRES_DSN or install postgresql (initdb, pg_ctl)")
    prefix: list[str] = []
    root = tempfile.mkdtemp(prefix="genaisys-pg-")
    if os.geteuid() == 0:  # initdb refuses to run as root
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the PostgreSQL server as")
        if not shutil.which("runuser"):
            pytest.skip("running as root without runuser to start PostgreSQL as the 'postgres' user")
        os.chown(root, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data = os.path.join(root, "data")
    port = free_port()
    init = subprocess.run(
        [*prefix, initdb, "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"],
        capture_output=True, text=True, timeout=120,
    )
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"initdb failed, no PostgreSQL server for these tests: {init.stderr[-500:]}")
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    start = subprocess.run(
        [*prefix, pg_ctl, "-D", data, "-l", os.path.join(root, "log"), "-o", opts, "-w", "-t", "60", "start"],
        capture_output=True, text=True, timeout=120,
    )
    if start.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"PostgreSQL did not start: {start.stdout[-300:]} {start.stderr[-300:]}")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", data, "-m", "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def chroma_cli() -> Path | None:
    """The ``chroma`` command installed beside this interpreter, if any."""
    cli = Path(sys.executable).parent / "chroma"
    return cli if cli.exists() else None


@contextmanager
def chroma_server(folder: Path) -> Iterator[int]:
    """``chroma run`` on ``folder/db`` at 127.0.0.1 for the block; yields its port, then stops it by PID.

    Raises:
        RuntimeError: the CLI is missing, or the server does not answer its heartbeat in 30 s.
    """
    import httpx

    cli = chroma_cli()
    if cli is None:
        raise RuntimeError(f"the chroma CLI should sit beside the interpreter in {Path(sys.executable).parent}")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = folder / "server.log"
    log = log_path.open("wb")
    proc = subprocess.Popen([str(cli), "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(folder / "db")],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chroma server did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)  # stop exactly the server started here (a no-op once it has exited)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()
