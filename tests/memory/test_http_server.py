"""ChromaMemory over HttpClient against a real `chroma run` server on loopback, stopped by its PID."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from genaisys.memory import ChromaMemory
from genaisys.memory.embeddings import HashingEmbedding
from tests.loopback_servers import chroma_cli
from tests.loopback_servers import chroma_server as loopback_chroma


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    assert chroma_cli() is not None, "the chroma CLI should sit beside the interpreter"
    data = tmp_path_factory.mktemp("chroma-server")
    with loopback_chroma(data) as port:
        yield port, data


def _http_memory(port, blobs, **kwargs):
    import chromadb

    client = chromadb.HttpClient(host="127.0.0.1", port=port, settings=chromadb.Settings(anonymized_telemetry=False))
    return ChromaMemory(client=client, blobs=blobs, embedding=HashingEmbedding(64), image_embedding=False, **kwargs)


def test_two_processes_share_one_memory_through_the_server(chroma_server, tmp_path):
    port, _ = chroma_server
    memory = _http_memory(port, tmp_path / "blobs", collection="shared")
    memory.add_texts(["The server keeps one memory for many processes."], [{"source": "main"}])
    script = textwrap.dedent(f"""
        import json, chromadb
        from genaisys.memory import ChromaMemory
        client = chromadb.HttpClient(host="127.0.0.1", port={port},
                                     settings=chromadb.Settings(anonymized_telemetry=False))
        memory = ChromaMemory(client=client, collection="shared", blobs={str(tmp_path / 'blobs')!r},
                              image_embedding=False)  # the recorded HashingEmbedding is rebuilt
        memory.add_texts(["A second process wrote this line."], [{{"source": "child"}}])
        top = memory.search("one memory for many processes", k=1)[0].source
        print(json.dumps({{"count": memory.count(), "top": top, "emb": type(memory.embedding).__name__}}))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"count": 2, "top": "main", "emb": "HashingEmbedding"}
    assert memory.count() == 2
    assert memory.search("second process wrote", k=1)[0].source == "child"
    report = memory.ingest(_corpus(tmp_path))
    assert report.chunks_added == 2 and memory.ingest(tmp_path / "corpus").chunks_added == 0
    assert memory.delete(where={"source": "child"}) == 1
    assert memory.stats()["chunks"] == memory.count() == 3
    from genaisys.memory import build_memory

    by_config = build_memory({"host": "127.0.0.1", "port": port, "collection": "shared", "image_embedding": "none",
                              "blobs": str(tmp_path / "blobs")})
    assert by_config.count() == 3 and by_config.location == f"http://127.0.0.1:{port}"


def _corpus(tmp_path):
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "a.md").write_text("# Shared\n\nShared memories live on the server.")
    (root / "b.txt").write_text("Clients only embed and send vectors.")
    return root
