"""BlobStore: content addressing, atomic files, MIME types, gc, and refusal of bad ids."""

from __future__ import annotations

import hashlib

import pytest

from genaisys.errors import MemoryStoreError
from genaisys.memory.blobs import BlobStore, is_blob_id


def test_round_trip_dedup_and_mime(tmp_path):
    store = BlobStore(tmp_path / "blobs")
    blob_id = store.put(b"\x89PNG fake", mime_type="image/png")
    assert blob_id == "sha256:" + hashlib.sha256(b"\x89PNG fake").hexdigest()
    assert store.put(b"\x89PNG fake") == blob_id  # same content, same id, one file
    assert store.get(blob_id) == b"\x89PNG fake"
    assert store.mime_type(blob_id) == "image/png"
    assert store.has(blob_id) and list(store.ids()) == [blob_id]
    assert store.path(blob_id).read_bytes() == b"\x89PNG fake"
    assert not list((tmp_path / "blobs").rglob(".tmp-*"))  # no temporary file left behind


def test_put_a_file_guesses_mime(tmp_path):
    src = tmp_path / "note.txt"
    src.write_text("hello")
    store = BlobStore(tmp_path / "b")
    blob_id = store.put(src)
    assert store.get(blob_id) == b"hello" and store.mime_type(blob_id) == "text/plain"
    assert store.size_bytes() == 5


def test_gc_keeps_only_referenced(tmp_path):
    store = BlobStore(tmp_path)
    keep, drop1, drop2 = store.put(b"a"), store.put(b"b"), store.put(b"c", mime_type="text/plain")
    assert store.gc([keep]) == 2
    assert store.has(keep) and not store.has(drop1) and not store.has(drop2)
    assert store.gc([keep]) == 0
    with pytest.raises(MemoryStoreError, match="not a blob id"):
        store.gc(["garbage"])  # a typo must not wipe the store
    assert store.has(keep)


@pytest.mark.parametrize("bad", ["", "sha256:", "sha256:../../etc/passwd", "md5:" + "a" * 64,
                                 "sha256:" + "A" * 64, "sha256:" + "a" * 63 + "/", None, 7])
def test_bad_ids_are_refused(tmp_path, bad):
    store = BlobStore(tmp_path)
    with pytest.raises(MemoryStoreError, match="not a blob id"):
        store.get(bad)
    assert store.has(bad) is False and is_blob_id(bad) is False


def test_missing_and_corrupt_blobs(tmp_path):
    store = BlobStore(tmp_path)
    with pytest.raises(MemoryStoreError, match="no blob"):
        store.get("sha256:" + "0" * 64)
    blob_id = store.put(b"data")
    store.path(blob_id).write_bytes(b"tampered")
    with pytest.raises(MemoryStoreError, match="corrupt"):
        store.get(blob_id)
    with pytest.raises(MemoryStoreError, match="cannot read"):
        store.put(tmp_path / "missing.png")
    with pytest.raises(MemoryStoreError, match="MIME"):
        store.put(b"x", mime_type="not a mime")
