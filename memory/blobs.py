"""A content-addressed store for raw media and generated artifacts.

Graph state and messages carry a blob id (``"sha256:<64 hex>"``) instead of the bytes, so
checkpoints stay small and the same image stored twice takes the space of one (docs/architecture.md, "Peripherals and storage").
Blobs live under ``root/ab/cdef…`` (two-level fan-out); writes go to a temporary file in the same
folder and are renamed into place, so a crash never leaves a half-written blob under its id.
A blob's MIME type, when known, sits beside it in ``<hex>.mime``.

Example:
    >>> import tempfile
    >>> from genaisys.memory.blobs import BlobStore
    >>> store = BlobStore(tempfile.mkdtemp())
    >>> blob_id = store.put(b"hello", mime_type="text/plain")
    >>> blob_id[:7], store.get(blob_id), store.mime_type(blob_id)
    ('sha256:', b'hello', 'text/plain')
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from genaisys.errors import MemoryStoreError

__all__ = ["BlobStore", "is_blob_id"]

_ID = re.compile(r"sha256:([0-9a-f]{64})")
_MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")


def is_blob_id(value: object) -> bool:
    """True when ``value`` is a well-formed blob id (``"sha256:"`` + 64 lower-case hex digits)."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


class BlobStore:
    """Content-addressed (SHA-256) files under ``root``.

    Args:
        root: the folder; created when missing.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()  # absolute: blob paths are handed to other components
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MemoryStoreError(f"cannot create the blob store folder {self.root}: {exc}") from exc

    def __repr__(self) -> str:
        return f"BlobStore({str(self.root)!r})"

    @staticmethod
    def _hex(blob_id: str) -> str:
        m = _ID.fullmatch(blob_id) if isinstance(blob_id, str) else None
        if m is None:
            raise MemoryStoreError(
                f"{blob_id!r} is not a blob id; ids look like 'sha256:' followed by 64 lower-case hex "
                "digits, as returned by BlobStore.put"
            )
        return m.group(1)

    def _file(self, hex_digest: str) -> Path:
        return self.root / hex_digest[:2] / hex_digest[2:]

    def put(self, data: bytes | str | Path, mime_type: str | None = None) -> str:
        """Store bytes (or a file's content) and return its id; storing the same content again is free.

        Args:
            data: the bytes, or the path of a file to copy in (``str`` is taken as a path).
            mime_type: e.g. ``"image/png"``; guessed from a file's suffix when omitted.

        Raises:
            MemoryStoreError: the file cannot be read, or ``mime_type`` is malformed.
        """
        if isinstance(data, (str, Path)):
            source = Path(data).expanduser()
            try:
                payload = source.read_bytes()
            except OSError as exc:
                raise MemoryStoreError(f"cannot read {source} into the blob store: {exc}") from exc
            mime_type = mime_type or mimetypes.guess_type(source.name)[0]
        elif isinstance(data, (bytes, bytearray, memoryview)):
            payload = bytes(data)
        else:
            raise MemoryStoreError(f"put() takes bytes or a file path, got {type(data).__name__}")
        if mime_type is not None and not _MIME.fullmatch(mime_type):
            raise MemoryStoreError(f"{mime_type!r} is not a MIME type like 'image/png'")
        digest = hashlib.sha256(payload).hexdigest()
        target = self._file(digest)
        if not target.is_file():
            self._write_atomic(target, payload)
        if mime_type is not None and not target.with_name(target.name + ".mime").is_file():
            self._write_atomic(target.with_name(target.name + ".mime"), mime_type.encode())
        return f"sha256:{digest}"

    @staticmethod
    def _write_atomic(target: Path, payload: bytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)  # atomic on POSIX and Windows
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def path(self, blob_id: str) -> Path:
        """The file that holds blob ``blob_id`` (read it, never write it).

        Raises:
            MemoryStoreError: malformed id, or no such blob.
        """
        target = self._file(self._hex(blob_id))
        if not target.is_file():
            raise MemoryStoreError(f"no blob {blob_id} in {self.root}; it was never stored here or was collected")
        return target

    def get(self, blob_id: str) -> bytes:
        """The bytes of blob ``blob_id``; checked against its hash.

        Raises:
            MemoryStoreError: malformed id, no such blob, or the file no longer matches its hash.
        """
        payload = self.path(blob_id).read_bytes()
        if hashlib.sha256(payload).hexdigest() != self._hex(blob_id):
            raise MemoryStoreError(f"blob {blob_id} is corrupt on disk ({self.path(blob_id)}); put it again")
        return payload

    def has(self, blob_id: str) -> bool:
        """True when the blob is stored (False for a malformed id)."""
        return is_blob_id(blob_id) and self._file(self._hex(blob_id)).is_file()

    def mime_type(self, blob_id: str) -> str | None:
        """The MIME type recorded at `put`, or None."""
        blob = self.path(blob_id)
        meta = blob.with_name(blob.name + ".mime")
        return meta.read_text().strip() if meta.is_file() else None

    def ids(self) -> Iterator[str]:
        """Every stored blob id."""
        for sub in sorted(self.root.glob("[0-9a-f][0-9a-f]")):
            for f in sorted(sub.iterdir()):
                if len(f.name) == 62 and _ID.fullmatch("sha256:" + sub.name + f.name):
                    yield f"sha256:{sub.name}{f.name}"

    def size_bytes(self) -> int:
        """Total bytes held by blobs (MIME files excluded)."""
        return sum(self._file(self._hex(i)).stat().st_size for i in self.ids())

    def delete(self, blob_id: str) -> bool:
        """Remove one blob; True when it existed."""
        target = self._file(self._hex(blob_id))
        existed = target.is_file()
        target.unlink(missing_ok=True)
        target.with_name(target.name + ".mime").unlink(missing_ok=True)
        return existed

    def gc(self, keep_ids: Iterable[str]) -> int:
        """Delete every blob not in ``keep_ids`` (and hour-old temporary files); return how many blobs went.

        Raises:
            MemoryStoreError: a malformed id in ``keep_ids`` (better to stop than to delete by mistake).
        """
        keep = {self._hex(i) for i in keep_ids}
        removed = 0
        for blob_id in list(self.ids()):
            if self._hex(blob_id) not in keep:
                removed += self.delete(blob_id)
        cutoff = time.time() - 3600  # a younger temporary file may be a put() in progress elsewhere
        for stale in self.root.glob("[0-9a-f][0-9a-f]/.tmp-*"):  # left by a crash mid-write
            if stale.stat().st_mtime < cutoff:
                stale.unlink(missing_ok=True)
        return removed
