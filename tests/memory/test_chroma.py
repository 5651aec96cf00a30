"""ChromaMemory on a real embedded Chroma in tmp_path, with the model-free HashingEmbedding."""

from __future__ import annotations

import numpy as np
import pytest

from genaisys.errors import ConfigError, MemoryStoreError
from genaisys.memory import ChromaMemory, Hit
from genaisys.memory.embeddings import HashingEmbedding

DOCS = {
    "cats.md": "# Cats\n\nCats purr and sleep most of the day. A cat hunts mice at night.\n\n"
               "## Food\n\nCats eat fish and chicken. Kittens drink milk.",
    "python.txt": "The with statement calls __enter__ and __exit__ on a context manager. "
                  "Files opened in a with block are closed automatically.",
    "space/rockets.md": "Rockets burn fuel to reach orbit. The rocket engine pushes exhaust backwards.",
}


def write_corpus(root):
    for name, text in DOCS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def memory(tmp_path):
    return ChromaMemory(tmp_path / "store", embedding=HashingEmbedding(64), image_embedding=False)


def test_add_texts_is_idempotent_and_search_scores_cosine(memory):
    ids = memory.add_texts(["cats purr", "rockets fly"], [{"source": "a"}, {"source": "b", "year": 2024}])
    assert len(set(ids)) == 2 and memory.count() == 2
    assert memory.add_texts(["cats purr"], [{"source": "a"}]) == ids[:1]  # same text+source: same id
    assert memory.count() == 2
    assert memory.add_texts(["cats purr"], [{"source": "elsewhere"}]) != ids[:1]  # source is part of the id
    hits = memory.search("purr cats", k=2)
    assert isinstance(hits[0], Hit) and hits[0].text == "cats purr"
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)  # same bag of words: cosine 1
    assert hits[0].score >= hits[1].score
    assert memory.search("rockets", where={"year": 2024}, k=4)[0].metadata["year"] == 2024


def test_ingest_folder_keeps_offsets_and_citations(memory, tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    (corpus / "notes.csv").write_text("a,b")  # unsupported type inside a folder: ignored, counted
    (corpus / ".hidden.md").write_text("secret")  # hidden: not walked
    report = memory.ingest(corpus, chunk_size=60, chunk_overlap=10)
    assert report.ok, str(report)
    assert report.files_seen == 3 and report.files_ingested == 3 and report.files_ignored == 1
    assert report.chunks_added == memory.count() > 3
    hit = memory.search("context manager with statement", k=1)[0]
    source_text = (corpus / "python.txt").read_text()
    assert hit.source == str((corpus / "python.txt").resolve())
    assert source_text[hit.metadata["start"]:hit.metadata["end"]] == hit.text
    assert hit.citation == f"python.txt#chars={hit.metadata['start']}-{hit.metadata['end']}"
    assert hit.metadata["mime_type"] == "text/plain" and hit.metadata["kind"] == "text"
    assert not any("secret" in h.text for h in memory.search("secret", k=10))

    again = memory.ingest(corpus, chunk_size=60, chunk_overlap=10)  # re-ingesting adds nothing
    assert again.chunks_added == 0 and again.chunks_existing == report.chunks_added
    assert memory.count() == report.chunks_added


def test_bad_files_are_skipped_with_reasons_and_good_ones_kept(memory, tmp_path):
    corpus = write_corpus(tmp_path / "c")
    (corpus / "fake.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00binary")
    (corpus / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (corpus / "empty.md").write_text("  \n")
    (corpus / "big.txt").write_text("word " * 5000)
    (corpus / "odd name ü 'quote' [1].md").write_text("Odd file names are fine. Umlauts too.")
    (corpus / "photo.png").write_bytes(b"\x89PNG")
    report = memory.ingest(corpus, max_file_bytes=10_000)
    reasons = {s.path.rsplit("/", 1)[-1]: s.reason for s in report.skipped}
    assert "binary" in reasons["fake.txt"]
    assert "UTF-8" in reasons["latin1.txt"]
    assert "empty" in reasons["empty.md"]
    assert "max_file_bytes" in reasons["big.txt"]
    assert "describe_image" in reasons["photo.png"]
    assert report.files_ingested == 4  # the three corpus files and the odd name
    assert memory.search("umlauts odd names", k=1)[0].source.endswith("odd name ü 'quote' [1].md")
    assert "skipped" in str(report) and not report.ok


def test_missing_paths_and_bad_arguments_raise(memory, tmp_path):
    with pytest.raises(MemoryStoreError, match="no such file"):
        memory.ingest([tmp_path / "nope", tmp_path])
    assert memory.count() == 0  # nothing ingested when a given path is missing
    with pytest.raises(MemoryStoreError, match="unsupported|list"):
        memory.add_texts("a single string")
    with pytest.raises(MemoryStoreError, match="metadatas"):
        memory.add_texts(["a", "b"], [{}])
    with pytest.raises(MemoryStoreError, match="empty"):
        memory.add_texts(["  "])
    with pytest.raises(MemoryStoreError, match="cannot be stored"):
        memory.add_texts(["x"], [{"nested": {"a": 1}}])
    with pytest.raises(MemoryStoreError, match="k must be"):
        memory.search("x", k=0)
    with pytest.raises(MemoryStoreError, match="filter"):
        memory.search("x", where={"a": {"$bogus": 1}})
    with pytest.raises(MemoryStoreError, match="ids and/or where"):
        memory.delete()
    with pytest.raises(ConfigError):
        memory.ingest(tmp_path, chunk_size=10)
    report = memory.ingest(_write(tmp_path / "data.bin", b"x"))
    assert "unsupported file type" in report.skipped[0].reason


def _write(path, data):
    path.write_bytes(data)
    return path


def test_get_delete_and_stats(memory, tmp_path):
    ids = memory.add_texts(["alpha one", "beta two", "gamma three"],
                           [{"source": "s1"}, {"source": "s1"}, {"source": "s2"}])
    got = memory.get([ids[2], "unknown", ids[0]])
    assert [h.text for h in got] == ["gamma three", "alpha one"] and got[0].score is None
    assert memory.delete(where={"source": "s1"}) == 2
    assert memory.delete(ids=[ids[0]]) == 0
    stats = memory.stats()
    assert stats["chunks"] == 1 and stats["sources"] == 1
    assert stats["embedding"] == {"name": "genaisys-hashing", "dim": 64}


def test_images_go_to_blobs_and_gc_follows_deletes(memory, tmp_path):
    photo = _write(tmp_path / "cat.png", b"\x89PNG pretend pixels")
    blob_id = memory.add_image(photo, "a grey cat sleeping on a sofa", {"photo": "chelsea"})
    hit = memory.search("sleeping cat", k=1)[0]
    assert hit.metadata["blob_id"] == blob_id
    assert hit.metadata["kind"] == "image" and hit.metadata["photo"] == "chelsea"
    assert memory.blobs.get(hit.metadata["blob_id"]) == photo.read_bytes()
    assert memory.blobs.mime_type(hit.metadata["blob_id"]) == "image/png"
    assert memory.gc_blobs() == 0  # still referenced
    memory.delete(where={"blob_id": blob_id})
    assert memory.gc_blobs() == 1 and not memory.blobs.has(hit.metadata["blob_id"])
    with pytest.raises(MemoryStoreError, match="description"):
        memory.add_image(photo, "")
    memory.add_image(photo, "labelled by the caller", {"source": "photos/chelsea.png"})
    assert memory.search("labelled by the caller", k=1)[0].citation == "chelsea.png"
    report = memory.ingest(tmp_path / "cat.png", describe_image=lambda p: f"photo file {p.stem}")
    assert report.images_added == 1 and memory.search("photo file cat", k=1)[0].metadata["kind"] == "image"


def test_mmr_diversifies(memory):
    memory.add_texts(["apple pie recipe", "apple pie recipe easy", "apple pie recipe quick", "apple orchard tour"],
                     [{"source": str(i)} for i in range(4)])
    plain = [h.text for h in memory.search("apple pie", k=2)]
    diverse = [h.text for h in memory.search("apple pie", k=2, mmr=True, lambda_mult=0.3)]
    assert all("pie" in t for t in plain)
    assert diverse[0] == plain[0] and "orchard" in diverse[1]


def test_reopen_uses_recorded_embedding_and_refuses_another(tmp_path):
    first = ChromaMemory(tmp_path, embedding=HashingEmbedding(32), image_embedding=False)
    first.add_texts(["persistent words"], [{"source": "x"}])
    reopened = ChromaMemory(tmp_path)  # no embedding given: the recorded one, never Chroma's default
    assert isinstance(reopened.embedding, HashingEmbedding) and reopened.embedding.dim == 32
    assert reopened.search("persistent", k=1)[0].text == "persistent words"
    with pytest.raises(MemoryStoreError, match="different embeddings"):
        ChromaMemory(tmp_path, embedding=HashingEmbedding(64))


def test_injected_client_and_foreign_collection(tmp_path):
    import chromadb

    client = chromadb.PersistentClient(path=str(tmp_path / "shared"))
    client.create_collection("foreign", embedding_function=None)
    with pytest.raises(MemoryStoreError, match="not made by genaisys"):
        ChromaMemory(client=client, collection="foreign", blobs=tmp_path / "blobs")
    mem = ChromaMemory(client=client, collection="mine", embedding=HashingEmbedding(), image_embedding=False,
                       blobs=tmp_path / "blobs")
    mem.add_texts(["shared client"])
    assert client.get_collection("mine").count() == 1
    vec = np.asarray(client.get_collection("mine").get(include=["embeddings"])["embeddings"][0])
    assert abs(float(np.linalg.norm(vec)) - 1) < 1e-5


def test_html_and_pdf_files_cite_pages_and_ranges(memory, tmp_path):
    from ._docs import HTML, make_pdf

    (tmp_path / "guide.html").write_text(HTML)
    (tmp_path / "paper.pdf").write_bytes(make_pdf(["Rockets burn fuel to reach orbit.", "Cats purr when content."]))
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    report = memory.ingest(tmp_path)
    assert report.files_ingested == 2 and [s.path.endswith("broken.pdf") for s in report.skipped] == [True]
    hit = memory.search("cats purr content", k=1)[0]
    assert hit.citation == "paper.pdf#page=2" and hit.metadata["mime_type"] == "application/pdf"
    html_hit = memory.search("engine exhaust backwards", k=1, where={"mime_type": "text/html"})[0]
    assert html_hit.metadata["title"] == "Rocket guide" and "## Engines" in html_hit.text
    assert html_hit.citation.startswith("guide.html#chars=")


def test_urls_go_through_the_injected_fetch_only(memory):
    import httpx

    from ._docs import HTML, make_pdf

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/guide":
            return httpx.Response(200, text=HTML, headers={"content-type": "text/html; charset=utf-8"})
        if request.url.path == "/paper.pdf":
            return httpx.Response(200, content=make_pdf(["Orbital mechanics notes."]))
        return httpx.Response(404)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    urls = ["https://docs.example/guide", "https://docs.example/paper.pdf", "https://docs.example/missing"]
    with pytest.raises(MemoryStoreError, match="fetch="):
        memory.ingest(urls)
    assert memory.count() == 0
    report = memory.ingest(urls, fetch=client.get)
    assert report.files_ingested == 2 and "HTTP 404" in report.skipped[0].reason
    assert memory.search("orbital mechanics", k=1)[0].citation == "https://docs.example/paper.pdf#page=1"

    def broken(url):
        raise ConnectionError("refused")

    again = memory.ingest(["https://docs.example/guide"], fetch=broken)
    assert "ConnectionError: refused" in again.skipped[0].reason
    plain = memory.ingest(["https://notes.example/today.txt"], fetch=lambda url: "Plain fetched words.")
    assert plain.chunks_added == 1

    class Extracted:  # the shape of the safe http_fetch tool's result: text already extracted
        def __init__(self, status, text):
            self.url, self.status, self.content_type, self.text = "u", status, "text/html", text

    pages = {"https://wiki.example/a": Extracted(200, "Extracted paragraph one.\n\nExtracted paragraph two."),
             "https://wiki.example/b": Extracted(500, "Server error")}
    report = memory.ingest(list(pages), fetch=pages.__getitem__)
    assert report.chunks_added == 1 and "HTTP 500" in report.skipped[0].reason
    hit = memory.search("extracted paragraph", k=1)[0]
    assert hit.text == "Extracted paragraph one.\n\nExtracted paragraph two."
    assert hit.metadata["mime_type"] == "text/plain"


def test_update_merges_metadata_and_rekeys_new_text(memory):
    [chunk] = memory.add_texts(["old words here"], [{"source": "s", "start": 0, "end": 14, "tag": "a"}])
    assert memory.update(chunk, metadata={"tag": "b", "extra": 1}) == chunk
    assert memory.get([chunk])[0].metadata == {"source": "s", "start": 0, "end": 14, "tag": "b", "extra": 1}
    assert memory.update(chunk, metadata={"extra": None}) == chunk
    assert "extra" not in memory.get([chunk])[0].metadata
    new = memory.update(chunk, text="brand new words")
    assert new != chunk and memory.get([chunk]) == [] and memory.count() == 1
    moved = memory.get([new])[0]
    assert moved.text == "brand new words" and moved.metadata["tag"] == "b" and "start" not in moved.metadata
    with pytest.raises(MemoryStoreError, match="no chunk"):
        memory.update("nope", metadata={"a": 1})


def test_undecodable_file_name_is_ingested(memory, tmp_path):
    import os

    name = os.fsdecode(b"bad-\xff-name.txt")  # not valid UTF-8 on disk
    try:
        (tmp_path / name).write_text("Strange bytes in the file name.")
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system refuses undecodable names")
    report = memory.ingest(tmp_path)
    assert report.ok and report.chunks_added == 1
    assert "bad-" in memory.search("strange bytes file name", k=1)[0].source


def test_links_fifos_and_broken_links(memory, tmp_path):
    import os

    corpus = write_corpus(tmp_path / "c")
    os.symlink(tmp_path / "gone.txt", corpus / "dangling.txt")
    os.mkfifo(corpus / "pipe.txt")  # reading it would block forever
    os.symlink(corpus / "python.txt", corpus / "alias.txt")  # the same file twice: read once
    report = memory.ingest(corpus)
    reasons = sorted(s.reason for s in report.skipped)
    assert len(reasons) == 2 and all("not a regular file" in r for r in reasons)
    assert report.files_ingested == 3


def test_build_memory_from_config_and_the_embedding_registry(tmp_path):
    from genaisys.errors import UnknownNameError
    from genaisys.memory import ChromaMemoryConfig, build_memory
    from genaisys.memory.chroma import build_embedding
    from genaisys.memory.image_embeddings import EfficientNetImageEmbedding

    memory = build_memory({"path": str(tmp_path), "embedding": "hashing:16", "image_embedding": "none",
                           "hnsw": {"ef_search": 64}, "batch_size": 8})
    assert memory.embedding.dim == 16 and memory.image_embedding is None and memory.batch_size == 8
    assert memory.collection.configuration["hnsw"]["ef_search"] == 64
    reopened = build_memory(ChromaMemoryConfig(path=str(tmp_path)))
    assert reopened.embedding.dim == 16 and isinstance(reopened.image_embedding, EfficientNetImageEmbedding)
    assert build_embedding("sentence-transformer").get_config()["model"] == "minilm"
    with pytest.raises(UnknownNameError, match="known: efficientnet-lite0, hashing, sentence-transformer"):
        build_embedding("openai:text-embedding-3")
    with pytest.raises(ConfigError, match="bad embedding spec"):
        build_embedding("hashing:lots")
    with pytest.raises(ValueError, match="extra"):
        build_memory({"path": str(tmp_path), "colection": "typo"})
    with pytest.raises(ConfigError, match="collection name"):
        ChromaMemory(tmp_path / "x", collection="x", embedding=HashingEmbedding())
    with pytest.raises(ConfigError, match="unknown HNSW"):
        ChromaMemory(tmp_path / "x", embedding=HashingEmbedding(), hnsw={"M": 8})


def test_audio_and_video_are_indexed_by_their_timelines(memory, tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    (media / "talk.mp3").write_bytes(b"ID3 pretend audio")
    (media / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 pretend video")
    (media / "broken.wav").write_bytes(b"RIFF")
    timelines = {
        "talk.mp3": [{"start": 0.0, "end": 4.5, "text": "Welcome to the rocket launch briefing", "kind": "speech"},
                     {"start": 4.5, "end": 9.0, "text": "Fuel loading starts at noon", "kind": "speech"}],
        "clip.mp4": [{"start": 2.0, "end": 2.0, "text": "cat, sofa", "kind": "frame"},
                     {"start": 0.0, "end": 3.0, "text": "a cat yawns on the sofa", "kind": "caption"}],
    }

    def textualize(path):
        if path.name == "broken.wav":
            raise RuntimeError("decoder failed")
        return timelines[path.name]

    skipped = memory.ingest(media)
    assert {s.reason.split(":")[0] for s in skipped.skipped} == {"audio/video is indexed by its timeline"}
    report = memory.ingest(media, textualize=textualize)
    assert report.files_ingested == 2 and report.chunks_added == 2
    assert "decoder failed" in report.skipped[0].reason
    hit = memory.search("fuel loading noon rocket", k=1)[0]
    assert hit.citation == "talk.mp3#t=0,9" and hit.metadata["kind"] == "audio"
    assert hit.text.splitlines()[1] == "[4.5s-9.0s] speech: Fuel loading starts at noon"
    clip = memory.search("cat yawns sofa", k=1, where={"kind": "video"})[0]
    assert clip.text.splitlines()[0].startswith("[0.0s-3.0s] caption:")  # sorted by time
    assert memory.blobs.get(clip.metadata["blob_id"]) == (media / "clip.mp4").read_bytes()
    assert memory.ingest(media, textualize=textualize).chunks_added == 0
    with pytest.raises(MemoryStoreError, match="start <= end"):
        memory.add_timeline(media / "talk.mp3", [{"start": 5, "end": 1, "text": "x"}])
    with pytest.raises(MemoryStoreError, match="empty"):
        memory.add_timeline(media / "talk.mp3", [])


def test_async_wrappers(memory, tmp_path):
    import asyncio

    corpus = write_corpus(tmp_path / "c")

    async def run():
        report = await memory.aingest(corpus)
        ids = await memory.aadd_texts(["async note about cats"], [{"source": "async"}])
        hits = await memory.asearch("async note cats", k=1, where={"source": "async"})
        return report, ids, hits

    report, ids, hits = asyncio.run(run())
    assert report.files_ingested == 3 and hits[0].id == ids[0]


def test_empty_store_and_progress_bar(memory, tmp_path, capsys):
    assert memory.search("anything at all", k=3) == [] and memory.stats()["chunks"] == 0
    corpus = write_corpus(tmp_path / "c")
    memory.ingest(corpus, progress=True)
    assert "ingest" in capsys.readouterr().err  # tqdm wrote its bar to stderr
    memory.ingest(corpus, progress=False)
    assert "ingest" not in capsys.readouterr().err


def test_changed_documents_replace_their_outdated_chunks(memory, tmp_path):
    doc = tmp_path / "notes.md"
    doc.write_text("# Plan\n\nWe launch on Monday.\n\n# Crew\n\nAda and Bob fly.")
    first = memory.ingest(doc, chunk_size=30, chunk_overlap=0)
    assert first.chunks_added == 2
    doc.write_text("# Plan\n\nWe launch on Friday.\n\n# Crew\n\nAda and Bob fly.")
    second = memory.ingest(doc, chunk_size=30, chunk_overlap=0)
    assert (second.chunks_added, second.chunks_existing, second.chunks_removed) == (1, 1, 1)
    texts = sorted(h.text for h in memory.get(memory.collection.get(include=[])["ids"]))
    assert texts == ["# Crew\n\nAda and Bob fly.", "# Plan\n\nWe launch on Friday."]
    doc.write_text("# Plan\n\nWe launch on Sunday.\n\n# Crew\n\nAda and Bob fly.")
    kept = memory.ingest(doc, chunk_size=30, chunk_overlap=0, replace_changed=False)
    assert kept.chunks_removed == 0 and memory.count() == 3  # both versions kept on request
