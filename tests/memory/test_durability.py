"""A process SIGKILLed mid-ingest leaves a store that opens, counts consistently and finishes on re-run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from genaisys.memory import ChromaMemory
from genaisys.memory.embeddings import HashingEmbedding

N_FILES = 120


def _corpus(root):
    root.mkdir()
    for i in range(N_FILES):
        paragraphs = [f"File {i} paragraph {j}: " + " ".join(f"word{(i * 7 + j * 3 + w) % 97}" for w in range(40))
                      for j in range(6)]
        (root / f"doc{i:03d}.md").write_text(f"# Document {i}\n\n" + "\n\n".join(paragraphs))
    return root


def test_sigkill_mid_ingest_then_rerun(tmp_path):
    corpus = _corpus(tmp_path / "corpus")
    store = tmp_path / "store"
    script = textwrap.dedent(f"""
        import sys
        from genaisys.memory import ChromaMemory
        from genaisys.memory.embeddings import HashingEmbedding

        memory = ChromaMemory({str(store)!r}, embedding=HashingEmbedding(64), image_embedding=False, batch_size=16)
        write = memory._write
        def announce(rows):  # tell the parent a batch is being written: it kills us inside the Chroma write
            print("writing", len(rows), flush=True)
            return write(rows)
        memory._write = announce
        memory.ingest({str(corpus)!r}, chunk_size=300, chunk_overlap=40)
        print("finished", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    writes = 0
    try:
        for line in proc.stdout:
            writes += line.startswith("writing")
            assert not line.startswith("finished"), "the ingest ended before it could be killed"
            if writes == 5:
                os.kill(proc.pid, signal.SIGKILL)  # no cleanup, no flush: as hard as a crash gets
                break
    finally:
        proc.wait(timeout=60)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    # the killed store opens, and its count agrees with the ids actually stored
    memory = ChromaMemory(store, image_embedding=False)
    partial = memory.count()
    ids = memory.collection.get(include=[])["ids"]
    assert partial == len(ids) == len(set(ids)) and partial >= 4 * 16
    assert memory.search("word5 word6", k=1)  # and it answers queries

    # one re-run completes it, without duplicates: the same chunks as a clean run
    report = memory.ingest(corpus, chunk_size=300, chunk_overlap=40)
    clean = ChromaMemory(tmp_path / "clean", embedding=HashingEmbedding(64), image_embedding=False)
    clean_report = clean.ingest(corpus, chunk_size=300, chunk_overlap=40)
    assert report.ok and report.files_ingested == N_FILES
    assert report.chunks_existing == partial and report.chunks_added == clean_report.chunks_added - partial
    assert memory.count() == clean.count() == clean_report.chunks_added
    assert sorted(memory.collection.get(include=[])["ids"]) == sorted(clean.collection.get(include=[])["ids"])
    assert memory.ingest(corpus, chunk_size=300, chunk_overlap=40).chunks_added == 0
