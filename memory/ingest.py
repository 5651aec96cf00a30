"""Ingestion: files, folders and URLs → text chunks with ids and citations, images, timelines.

`ChromaMemory` is the store (write, search, delete); this module is what feeds it, one step after
another, read top to bottom:

1. **walk** the inputs (`_walk`): folders recursively, hidden entries skipped; each file is kept
   by its suffix (documents, images, audio, video) or counted as ignored;
2. **read** a document (`_read_file`) or **fetch** a URL through the caller's safe fetcher
   (`_fetch_document`: bytes, text, ``(bytes, content_type)`` or a response; the MIME type is
   sniffed when the server does not say);
3. **parse and chunk** it (`genaisys.memory.readers.read_document`,
   `genaisys.memory.chunking.chunk_text`); each chunk's id is the SHA-256 of its source and
   text (`_content_id`), so re-ingesting adds nothing and a re-run finishes an interrupted one;
4. **write** in batches (`ChromaMemory._write`), then **drop stale chunks** of a changed
   document (`ChromaMemory._drop_stale`) — after the new ones are in, so a crash loses nothing;
5. images go to `ChromaMemory.add_image` (with ``describe_image``), audio and video to
   `ChromaMemory.add_timeline` (with ``textualize``).

A bad input is skipped with its reason in the `IngestReport`; everything else is kept. The
metadata helpers (`_clean_metadata`, `_content_id`, `_source_of`) are shared with the store.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from genaisys.memory import ChromaMemory
    >>> from genaisys.memory.embeddings import HashingEmbedding
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "notes.md").write_text("# Notes\\nUse a context manager.")
    >>> memory = ChromaMemory(folder / "store", embedding=HashingEmbedding(), image_embedding=False)
    >>> report = ingest(memory, folder / "notes.md")
    >>> report.files_ingested, report.chunks_added
    (1, 1)
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from genaisys.errors import MediaError, MemoryStoreError
from genaisys.memory.chunking import chunk_text
from genaisys.memory.readers import DOCUMENT_TYPES, IMAGE_SUFFIXES, MEDIA_SUFFIXES, mime_for, read_document

if TYPE_CHECKING:
    from genaisys.memory.chroma import ChromaMemory

__all__ = ["IngestReport", "SkippedFile", "ingest"]

_INGESTIBLE = {*DOCUMENT_TYPES, *IMAGE_SUFFIXES, *MEDIA_SUFFIXES}
_URL = re.compile(r"https?://", re.IGNORECASE)


@dataclass(frozen=True)
class SkippedFile:
    """A file that ingestion passed over, and why."""

    path: str
    reason: str


@dataclass
class IngestReport:
    """What `ChromaMemory.ingest` did.

    Attributes:
        files_seen: supported files and URLs found.
        files_ingested: files whose chunks are all in the memory now (new or already there).
        chunks_added: chunks embedded and stored by this run.
        chunks_existing: chunks that were already stored (re-ingesting adds nothing).
        chunks_removed: outdated chunks of changed documents that were deleted.
        images_added: images stored in the blob store and indexed (image vector and/or description).
        files_ignored: files in walked folders with a suffix ingestion does not handle.
        skipped: files passed over, with the reason (unreadable, binary, too large…).
        seconds: wall time.
    """

    files_seen: int = 0
    files_ingested: int = 0
    chunks_added: int = 0
    chunks_existing: int = 0
    chunks_removed: int = 0
    images_added: int = 0
    files_ignored: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no file was skipped."""
        return not self.skipped

    def __str__(self) -> str:
        lines = [f"ingested {self.files_ingested}/{self.files_seen} files: {self.chunks_added} chunks added, "
                 f"{self.chunks_existing} already stored, {self.chunks_removed} outdated removed, "
                 f"{self.images_added} images, "
                 f"{len(self.skipped)} skipped, {self.seconds:.1f} s"]
        lines += [f"  skipped {s.path}: {s.reason}" for s in self.skipped]
        return "\n".join(lines)


def _content_id(text: str, source: str) -> str:
    return hashlib.sha256(f"{source}\x00{text}".encode()).hexdigest()


def _clean_metadata(meta: Mapping[str, Any] | None) -> dict[str, Any]:
    """Chroma stores str/int/float/bool (and lists of them); drop None, turn paths into str."""
    out: dict[str, Any] = {}
    for key, value in (meta or {}).items():
        if not isinstance(key, str) or not key:
            raise MemoryStoreError(f"metadata keys must be non-empty strings, got {key!r}")
        if value is None:
            continue
        if isinstance(value, Path):
            value = str(value)
        if isinstance(value, (np.integer, np.floating, np.bool_)):
            value = value.item()
        ok = isinstance(value, (str, int, float, bool)) or (
            isinstance(value, list) and value and all(isinstance(v, (str, int, float, bool)) for v in value))
        if not ok:
            raise MemoryStoreError(
                f"metadata {key!r} = {value!r} ({type(value).__name__}) cannot be stored: use str, int, float, "
                "bool or a non-empty list of those (serialise anything else to a string first)")
        out[key] = value
    return out


def _safe_str(text: str) -> str:
    """Text that encodes as UTF-8 (file names may hold undecodable bytes as surrogates)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _source_of(file: Path) -> str:
    return _safe_str(str(file.resolve()))


def ingest(
    memory: ChromaMemory,
    paths: str | Path | Iterable[str | Path],
    *,
    chunk_size: int = 1000,
    chunk_overlap: int = 150,
    metadata: Mapping[str, Any] | None = None,
    describe_image: Callable[[Path], str] | None = None,
    textualize: Callable[[Path], Iterable[Any]] | None = None,
    fetch: Callable[[str], Any] | None = None,
    max_file_bytes: int = 20_000_000,
    replace_changed: bool = True,
    progress: bool | None = None,
) -> IngestReport:
    """Ingest files, folders (walked recursively, hidden entries skipped) and URLs into ``memory``.

    Called as ``memory.ingest(paths, ...)``: `ChromaMemory.ingest` is this function.

    Documents (text, Markdown, HTML, PDF; `genaisys.memory.readers`) are chunked
    (`genaisys.memory.chunking.chunk_text`); each chunk keeps ``source`` (absolute path or
    URL), ``start``/``end`` character offsets, ``page`` for PDF, ``chunk`` (index) and
    ``mime_type``. Images go to `add_image`, described by ``describe_image(path)`` when given.
    Audio and video go to `add_timeline` with the timed text ``textualize(path)`` gives (a
    textualizer: speech, frame tags, OCR…); without one they are skipped with a reason.
    A bad input — unreadable, binary posing as text, not UTF-8, a broken PDF, larger than
    ``max_file_bytes``, a failed fetch — is skipped and listed in the report; everything
    before and after it is kept. Chunk ids are content hashes: re-running adds nothing new and
    finishes an interrupted run.

    Args:
        paths: a file, a folder, a URL, or several.
        chunk_size: maximum characters per chunk.
        chunk_overlap: maximum characters shared by neighbouring chunks.
        metadata: extra metadata stored on every chunk.
        describe_image: ``Callable[[Path], str]`` giving an image's text description.
        textualize: ``Callable[[Path], Iterable[segment]]`` giving an audio/video file's
            timeline; see `add_timeline` for the segment shape.
        fetch: ``Callable[[str], response]`` for URLs — the caller's safe fetcher (e.g.
            ``HttpFetcher().fetch`` from the http_fetch tool); it returns bytes, str,
            ``(bytes, content_type)``, an object with ``.content`` and ``.headers`` (an httpx
            response), or one with ``.text``, ``.content_type`` and ``.status`` (text already
            extracted). URLs without ``fetch`` raise.
        max_file_bytes: larger files are skipped.
        replace_changed: when a document's text changed since it was last ingested, delete its
            chunks that are no longer in it (after the new ones are stored).
        progress: show a tqdm bar; default: when there are 20+ inputs and stderr is a terminal.

    Raises:
        MemoryStoreError: a given path does not exist, or a URL is given without ``fetch``
            (nothing is ingested then).
    """
    t0 = time.perf_counter()
    chunk_text("x" * 20, size=chunk_size, overlap=chunk_overlap)  # validate the settings up front
    extra = _clean_metadata(metadata)
    roots = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not roots:
        raise MemoryStoreError("ingest() needs at least one file, folder or URL")
    urls = [str(p) for p in roots if isinstance(p, str) and _URL.match(p)]
    if urls and fetch is None:
        raise MemoryStoreError(f"{urls[0]} is a URL: pass fetch= (the safe fetch tool, or any callable "
                               "url -> response) to ingest URLs; nothing was ingested")
    files_in = [Path(p).expanduser() for p in roots if not (isinstance(p, str) and _URL.match(p))]
    missing = [str(p) for p in files_in if not p.exists()]
    if missing:
        raise MemoryStoreError(f"no such file or folder: {', '.join(missing)}; nothing was ingested")
    report = IngestReport()
    inputs: list[Path | str] = [*_walk(files_in, report), *urls]
    report.files_seen = len(inputs)
    from tqdm.auto import tqdm

    show = (len(inputs) >= 20 and None) if progress is None else progress  # None: tqdm decides (TTY)
    pending: list[tuple[str, str, dict[str, Any]]] = []
    pending_sources: dict[str, set[str]] = {}  # source → ids of its chunks now, to drop stale ones

    def flush() -> None:
        for start in range(0, len(pending), memory.batch_size):
            rows = pending[start:start + memory.batch_size]
            added = memory._write(rows)
            report.chunks_added += added
            report.chunks_existing += len(rows) - added
        if replace_changed:  # after the new chunks are in: a crash in between loses nothing
            for source, ids in pending_sources.items():
                report.chunks_removed += memory._drop_stale(source, ids)
        report.files_ingested += len(pending_sources)
        pending.clear()
        pending_sources.clear()

    for item in tqdm(inputs, desc="ingest", unit="file", disable=show is False, leave=False):
        if isinstance(item, Path) and item.suffix.lower() in IMAGE_SUFFIXES:
            _ingest_image(memory, item, describe_image, extra, report)
            continue
        if isinstance(item, Path) and item.suffix.lower() in MEDIA_SUFFIXES:
            _ingest_media(memory, item, textualize, extra, chunk_size, report)
            continue
        try:
            source, data, mime = (_fetch_document(item, fetch) if isinstance(item, str)
                                  else _read_file(item, max_file_bytes))
            if len(data) > max_file_bytes:
                raise MediaError(f"{len(data):,} bytes, over max_file_bytes={max_file_bytes:,}; raise the limit")
            sections = read_document(data, mime)
        except MediaError as exc:
            report.skipped.append(SkippedFile(str(item), str(exc)))
            continue
        if not sections:
            report.skipped.append(SkippedFile(str(item), "no text in it (empty file)"))
            continue
        index = 0
        for section in sections:
            for chunk in chunk_text(section.text, size=chunk_size, overlap=chunk_overlap):
                meta = {**extra, **section.metadata, "source": source, "start": chunk.start, "end": chunk.end,
                        "chunk": index, "mime_type": mime, "kind": "text"}
                pending.append((_content_id(chunk.text, source), chunk.text, meta))
                pending_sources.setdefault(source, set()).add(pending[-1][0])
                index += 1
        if len(pending) >= memory.batch_size:
            flush()
    flush()
    report.seconds = time.perf_counter() - t0
    return report


def _walk(roots: list[Path], report: IngestReport) -> Iterator[Path]:
    seen: set[Path] = set()
    for root in roots:
        if root.is_dir():
            candidates = sorted(p for p in root.rglob("*")
                                if not any(part.startswith(".") for part in p.relative_to(root).parts))
        else:
            candidates = [root]
        for p in candidates:
            if p.is_dir() or p.resolve() in seen:
                continue
            seen.add(p.resolve())
            suffix = p.suffix.lower()
            if not p.is_file():  # a FIFO would block a read forever; a broken link cannot be read
                if suffix in _INGESTIBLE or p == root:
                    report.skipped.append(SkippedFile(str(p), "not a regular file (broken link, FIFO, "
                                                      "socket or device)"))
                continue
            if suffix in _INGESTIBLE:
                yield p
            elif p == root:
                known = ", ".join(sorted(_INGESTIBLE))
                report.skipped.append(SkippedFile(str(p), f"unsupported file type {suffix or '(none)'!r}; "
                                                  f"supported: {known}"))
            else:
                report.files_ignored += 1


def _read_file(file: Path, max_bytes: int) -> tuple[str, bytes, str]:
    try:
        size = file.stat().st_size
        if size > max_bytes:
            raise MediaError(f"file is {size:,} bytes, over max_file_bytes={max_bytes:,}; "
                             "raise the limit to ingest it")
        data = file.read_bytes()
    except OSError as exc:
        raise MediaError(f"cannot read the file ({exc.strerror or exc})") from exc
    return _source_of(file), data, DOCUMENT_TYPES[file.suffix.lower()]


def _fetch_document(url: str, fetch: Callable[[str], Any] | None) -> tuple[str, bytes, str]:
    assert fetch is not None  # checked in ingest() before anything runs
    try:
        result = fetch(url)
    except Exception as exc:  # the caller's fetcher may raise anything; report it, keep going
        raise MediaError(f"fetch failed: {type(exc).__name__}: {exc}") from exc
    content_type = None
    if isinstance(result, tuple) and len(result) == 2:
        result, content_type = result
    elif hasattr(result, "content") and hasattr(result, "headers"):  # an httpx/requests response
        status = getattr(result, "status_code", 200)
        if isinstance(status, int) and status >= 400:
            raise MediaError(f"fetch returned HTTP {status}")
        content_type = result.headers.get("content-type")
        result = result.content
    elif isinstance(getattr(result, "text", None), str) and hasattr(result, "content_type"):
        # a fetch result already turned into text (genaisys's safe http_fetch: HTML arrives as text)
        status = getattr(result, "status", 200)
        if isinstance(status, int) and status >= 400:
            raise MediaError(f"fetch returned HTTP {status}")
        kind = str(result.content_type).split(";")[0].strip().lower()
        return url, result.text.encode("utf-8"), "text/markdown" if kind == "text/markdown" else "text/plain"
    if isinstance(result, str):
        data = result.encode("utf-8")
        content_type = content_type or ("text/html" if re.search(r"<(html|body|p|div|h\d)\b", result[:2000], re.I)
                                        else "text/plain")
    elif isinstance(result, (bytes, bytearray)):
        data = bytes(result)
    else:
        raise MediaError(f"fetch returned {type(result).__name__}; return bytes, str, (bytes, content_type) "
                         "or a response with .content and .headers")
    mime = mime_for(url, content_type)
    if mime is None:
        if data.startswith(b"%PDF"):
            mime = "application/pdf"
        elif re.search(rb"<(html|body|p|div|h\d)\b", data[:2000], re.I):
            mime = "text/html"
        else:
            raise MediaError(f"unsupported content type {content_type!r}; documents: text, Markdown, HTML, PDF")
    return url, data, mime


def _ingest_media(memory: ChromaMemory, file: Path, textualize: Callable[[Path], Iterable[Any]] | None,
                  extra: dict[str, Any], chunk_size: int, report: IngestReport) -> None:
    if textualize is None:
        report.skipped.append(SkippedFile(str(file), "audio/video is indexed by its timeline: pass textualize= "
                                          "(a textualizer giving timed text segments)"))
        return
    try:
        before = memory.count()
        ids = memory.add_timeline(file, list(textualize(file)), extra, chunk_size=chunk_size)
    except Exception as exc:  # the caller's textualizer may raise anything: skip this file, keep going
        report.skipped.append(SkippedFile(str(file), f"timeline not indexed: {exc}"))
        return
    added = memory.count() - before
    report.chunks_added += added
    report.chunks_existing += len(ids) - added
    report.files_ingested += 1


def _ingest_image(memory: ChromaMemory, file: Path, describe: Callable[[Path], str] | None,
                  extra: dict[str, Any], report: IngestReport) -> None:
    if describe is None and memory.image_embedding is None:
        report.skipped.append(SkippedFile(str(file), "image without a description: pass describe_image= "
                                          "or call add_image(path, description)"))
        return
    try:
        description = describe(file) if describe is not None else None
        memory.add_image(file, description, extra)
    except Exception as exc:  # the caller's describer may raise anything: skip this image, keep going
        report.skipped.append(SkippedFile(str(file), f"image not indexed: {exc}"))
        return
    report.images_added += 1
    report.files_ingested += 1
