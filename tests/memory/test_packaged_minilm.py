"""The packaged MiniLM on the stdlib pydoc topics: retrieval quality and re-opening in a new process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.packaged


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """Before the module-scoped model fixtures run: with other work on the machine, 2 threads crawl."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)

QUERY = "how does the with statement work"


@pytest.fixture(scope="module")
def topics():
    import runpy

    from genaisys import assets

    return runpy.run_path(str(assets.resolve("pydoc-topics")))["topics"]  # {topic: text}, 79 of them


@pytest.fixture(scope="module")
def store(tmp_path_factory, topics):
    from genaisys.memory import ChromaMemory, SentenceTransformerEmbedding

    path = tmp_path_factory.mktemp("minilm-store")
    memory = ChromaMemory(path, embedding=SentenceTransformerEmbedding())
    ids = memory.add_texts(list(topics.values()), [{"source": f"pydoc:{name}"} for name in topics])
    assert len(set(ids)) == memory.count() == len(topics)
    return path, memory


def test_with_topic_ranks_first(store, topics):
    _, memory = store
    hits = memory.search(QUERY, k=3)
    assert hits[0].source == "pydoc:with", [(h.source, h.score) for h in hits]
    assert hits[0].score > hits[1].score and 0.0 < hits[0].score <= 1.0
    assert memory.search("catching exceptions with try and except", k=1)[0].source == "pydoc:try"
    assert memory.add_texts([topics["with"]], [{"source": "pydoc:with"}]) == [hits[0].id]
    assert memory.count() == len(topics)  # re-adding changes nothing


def test_ingested_files_cite_character_ranges(tmp_path, topics, store):
    from genaisys.memory import ChromaMemory

    _, memory = store
    for name in ("with", "for", "while"):
        (tmp_path / f"{name}.txt").write_text(topics[name], encoding="utf-8")
    files = ChromaMemory(tmp_path / "files", collection="files", embedding=memory.embedding)
    report = files.ingest(tmp_path, chunk_size=800, chunk_overlap=100)
    assert report.ok and report.files_ingested == 3
    hit = files.search("the __exit__ method of the context manager is called", k=1)[0]
    assert hit.citation.startswith("with.txt#chars=")
    assert topics["with"][hit.metadata["start"]:hit.metadata["end"]] == hit.text


def test_a_new_process_reopens_and_queries(store, topics):
    path, _ = store
    script = textwrap.dedent(f"""
        import json, torch
        torch.set_num_threads(1)
        from genaisys.memory import ChromaMemory
        memory = ChromaMemory({str(path)!r})  # the recorded embedding is rebuilt from genaisys's registry
        hits = memory.search({QUERY!r}, k=2)
        print(json.dumps({{"count": memory.count(), "top": hits[0].source,
                          "embedding": type(memory.embedding).__name__}}))
    """)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"count": len(topics), "top": "pydoc:with", "embedding": "SentenceTransformerEmbedding"}


def test_any_model_folder_is_accepted_and_matches_the_default(store):
    import numpy as np

    from genaisys import assets
    from genaisys.memory import SentenceTransformerEmbedding

    _, memory = store
    by_path = SentenceTransformerEmbedding(assets.resolve("minilm"))
    a, b = by_path(["context managers"])[0], memory.embedding(["context managers"])[0]
    assert a.dtype == np.float32 and a.shape == (384,) and float(a @ b) == pytest.approx(1.0, abs=1e-5)
    assert by_path.dimension == 384
