"""`ChromaMemory`: genaisys's vector memory on ChromaDB — ingestion, retrieval with citations, media.

One memory is one Chroma collection of text chunks (``collection``), plus a content-addressed
`BlobStore` for the raw media that text describes. The client is an embedded
``chromadb.PersistentClient`` by default; pass any Chroma client (an ``HttpClient`` against a
``chroma run`` server) to share one memory between processes and machines.

Every chunk id is the SHA-256 of its source and text, so re-ingesting the same files adds nothing,
and a run interrupted half-way finishes with a plain re-run. Every chunk keeps ``source`` (file
path or the caller's label) and ``start``/``end`` character offsets, so a `Hit` can cite
``file.md#chars=120-860``.

genaisys always passes its own registered embedding function (MiniLM by default) and refuses a
collection whose recorded embedding differs: Chroma's built-in default downloads a model at run
time and fails offline.

Example:
    >>> import tempfile
    >>> from genaisys.memory import ChromaMemory
    >>> from genaisys.memory.embeddings import HashingEmbedding
    >>> memory = ChromaMemory(tempfile.mkdtemp(), embedding=HashingEmbedding())
    >>> _ = memory.add_texts(["The with statement wraps a block in a context manager."],
    ...                      [{"source": "notes.md"}])
    >>> memory.search("context manager", k=1)[0].source
    'notes.md'
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genaisys.errors import ConfigError, MemoryStoreError
from genaisys.memory.blobs import BlobStore
from genaisys.memory.chunking import chunk_text
from genaisys.memory.embeddings import HashingEmbedding, SentenceTransformerEmbedding

__all__ = ["DEFAULT_PATH", "ChromaMemory", "Hit", "IngestReport", "SkippedFile"]

DEFAULT_PATH = Path(".genaisys") / "memory"
"""Where an embedded memory lives when no path is given (relative to the working directory)."""

TEXT_SUFFIXES: dict[str, str] = {".txt": "text/plain", ".text": "text/plain", ".md": "text/markdown",
                                 ".markdown": "text/markdown", ".rst": "text/x-rst"}
IMAGE_SUFFIXES: dict[str, str] = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                                  ".gif": "image/gif", ".bmp": "image/bmp", ".webp": "image/webp"}
_OUR_EMBEDDINGS = (SentenceTransformerEmbedding, HashingEmbedding)
_RUNTIME_KEYS = {"device", "batch_size"}  # embedding settings that do not change the vectors


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk.

    Attributes:
        id: the chunk id (content hash).
        text: the chunk text.
        score: cosine similarity to the query (higher is closer); None from `ChromaMemory.get`.
        source: where the text came from (file path, ``pydoc:with``, a URL…).
        metadata: everything stored with the chunk (``start``, ``end``, ``mime_type``, ``blob_id``…).
    """

    id: str
    text: str
    score: float | None
    source: str
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def citation(self) -> str:
        """A short reference to the exact place: ``"topics.py#chars=120-860"``, ``"doc.pdf#page=3"``."""
        name = self.source if "://" in self.source else self.source.replace("\\", "/").rsplit("/", 1)[-1]
        meta = self.metadata
        if "page" in meta:
            return f"{name}#page={meta['page']}"
        if "start" in meta and "end" in meta:
            return f"{name}#chars={meta['start']}-{meta['end']}"
        return name


@dataclass(frozen=True)
class SkippedFile:
    """A file that ingestion passed over, and why."""

    path: str
    reason: str


@dataclass
class IngestReport:
    """What `ChromaMemory.ingest` did.

    Attributes:
        files_seen: supported files found.
        files_ingested: files whose chunks are all in the memory now (new or already there).
        chunks_added: chunks embedded and stored by this run.
        chunks_existing: chunks that were already stored (re-ingesting adds nothing).
        images_added: images stored in the blob store and indexed by their description.
        files_ignored: files in walked folders with a suffix ingestion does not handle.
        skipped: files passed over, with the reason (unreadable, binary, too large…).
        seconds: wall time.
    """

    files_seen: int = 0
    files_ingested: int = 0
    chunks_added: int = 0
    chunks_existing: int = 0
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
                 f"{self.chunks_existing} already stored, {self.images_added} images, "
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


def _same_embedding(a: Any, b: Any) -> bool:
    def key(ef: Any) -> tuple[str, dict[str, Any]]:
        config = ef.get_config() if hasattr(ef, "get_config") else {}
        return ef.name(), {k: v for k, v in (config or {}).items() if k not in _RUNTIME_KEYS}

    return key(a) == key(b)


class ChromaMemory:
    """A Chroma-backed memory of text chunks with citations, and a blob store for raw media.

    Args:
        path: folder of the embedded store; default ``./.genaisys/memory`` (`DEFAULT_PATH`). Ignored
            for the vectors when ``client`` is given, but still the default home of the blob store.
        collection: Chroma collection name (3–512 characters of ``[a-zA-Z0-9._-]``).
        embedding: a registered Chroma embedding function; default `SentenceTransformerEmbedding`
            (packaged MiniLM) for a new collection, or the one recorded in an existing collection.
        client: any Chroma client (``chromadb.HttpClient(...)`` for a shared server).
        blobs: the `BlobStore` for raw media (or its folder); default ``<path>/blobs``.
        batch_size: chunks embedded and written per Chroma call during ingestion.

    Raises:
        MemoryStoreError: the store cannot be opened, or the collection was built with a different
            embedding than ``embedding``.

    Example:
        >>> memory = ChromaMemory("/tmp/my-memory")  # doctest: +SKIP
        >>> memory.ingest("docs/")                    # doctest: +SKIP
        >>> [h.citation for h in memory.search("how do I install it?")]  # doctest: +SKIP
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        collection: str = "genaisys",
        embedding: Any | None = None,
        client: Any | None = None,
        blobs: BlobStore | str | Path | None = None,
        batch_size: int = 128,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        import chromadb
        from chromadb.errors import ChromaError

        self.path = Path(path).expanduser() if path is not None else DEFAULT_PATH
        if client is None:
            try:
                self.path.mkdir(parents=True, exist_ok=True)
                client = chromadb.PersistentClient(path=str(self.path),
                                                   settings=chromadb.Settings(anonymized_telemetry=False))
            except (OSError, ChromaError, ValueError) as exc:
                raise MemoryStoreError(f"cannot open the Chroma store at {self.path}: {exc}") from exc
            self.location = str(self.path)
        else:
            self.location = repr(client)
        self.client = client
        self.collection_name = collection
        self.batch_size = min(batch_size, int(client.get_max_batch_size()))
        self.embedding = self._resolve_embedding(collection, embedding)
        try:
            self.collection = client.get_or_create_collection(
                collection, embedding_function=self.embedding,
                configuration={"hnsw": {"space": "cosine"}})
        except (ChromaError, ValueError) as exc:
            raise MemoryStoreError(f"cannot open collection {collection!r} in {self.location}: {exc}") from exc
        self.blobs = blobs if isinstance(blobs, BlobStore) else BlobStore(blobs if blobs is not None else self.path / "blobs")

    def _resolve_embedding(self, name: str, embedding: Any | None) -> Any:
        """Use the caller's embedding, else the collection's recorded one, else MiniLM; refuse mismatches."""
        from chromadb.errors import NotFoundError

        try:
            existing = self.client.get_collection(name)
        except (NotFoundError, ValueError):
            existing = None
        recorded = (existing.configuration or {}).get("embedding_function") if existing is not None else None
        if existing is not None and not isinstance(recorded, _OUR_EMBEDDINGS):
            if embedding is None:
                raise MemoryStoreError(
                    f"collection {name!r} in {self.location} was not made by genaisys (its embedding is "
                    f"{type(recorded).__name__}); pass embedding= explicitly or use another collection name")
            return embedding
        if embedding is None:
            return recorded if recorded is not None else SentenceTransformerEmbedding()
        if recorded is not None and not _same_embedding(recorded, embedding):
            raise MemoryStoreError(
                f"collection {name!r} in {self.location} was built with {recorded!r} "
                f"({recorded.get_config()}), not {embedding!r}: vectors from different embeddings do not "
                "compare. Open it with embedding=None (uses the recorded one) or choose another collection name")
        return embedding

    def __repr__(self) -> str:
        return f"ChromaMemory({self.location!r}, collection={self.collection_name!r}, embedding={self.embedding!r})"

    # ---------------------------------------------------------------- writing

    def add_texts(self, texts: Sequence[str], metadatas: Sequence[Mapping[str, Any] | None] | None = None) -> list[str]:
        """Embed and store texts; return their ids (content hashes). Texts already stored are skipped.

        Args:
            texts: the texts.
            metadatas: one mapping per text (or None); its ``source`` key names where the text came
                from (part of the id, shown in citations).

        Raises:
            MemoryStoreError: mismatched lengths, empty text, or metadata Chroma cannot store.
        """
        if isinstance(texts, str):
            raise MemoryStoreError("add_texts takes a list of texts; wrap a single text in a list")
        if metadatas is not None and len(metadatas) != len(texts):
            raise MemoryStoreError(f"got {len(texts)} texts but {len(metadatas)} metadatas; pass one per text")
        rows = []
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise MemoryStoreError(f"text #{i} is empty or not a string; pass non-empty strings")
            meta = _clean_metadata(metadatas[i] if metadatas is not None else None)
            meta.setdefault("source", "")
            rows.append((_content_id(text, str(meta["source"])), text, meta))
        added = 0
        for start in range(0, len(rows), self.batch_size):
            added += self._write(rows[start:start + self.batch_size])
        return [r[0] for r in rows]

    def _write(self, rows: Sequence[tuple[str, str, dict[str, Any]]]) -> int:
        """Add the rows whose id is not stored yet (one Chroma call each way); return how many."""
        from chromadb.errors import ChromaError

        unique: dict[str, tuple[str, str, dict[str, Any]]] = {}
        for row in rows:
            unique.setdefault(row[0], row)
        if not unique:
            return 0
        try:
            stored = set(self.collection.get(ids=list(unique), include=[])["ids"])
            new = [r for i, r in unique.items() if i not in stored]
            if new:
                self.collection.add(ids=[r[0] for r in new], documents=[r[1] for r in new],
                                    metadatas=[r[2] for r in new])
        except (ChromaError, ValueError) as exc:
            raise MemoryStoreError(f"writing {len(unique)} chunks to {self.collection_name!r} failed: {exc}") from exc
        return len(new)

    def add_image(self, path: str | Path, description: str, metadata: Mapping[str, Any] | None = None) -> str:
        """Store an image file in the blob store and index it by a text description; return the chunk id.

        The description is what text search finds (an automatic textualizer comes later); the hit's
        metadata holds ``blob_id`` and ``mime_type`` so the caller can fetch the pixels.

        Raises:
            MemoryStoreError: the file is missing or unreadable, or the description is empty.
        """
        image = Path(path).expanduser()
        if not image.is_file():
            raise MemoryStoreError(f"no image file at {image}")
        if not isinstance(description, str) or not description.strip():
            raise MemoryStoreError(f"give a non-empty text description for {image}: it is what search matches")
        mime = IMAGE_SUFFIXES.get(image.suffix.lower())
        blob_id = self.blobs.put(image, mime_type=mime)
        meta = {"source": str(image.resolve()), "kind": "image", "blob_id": blob_id, "mime_type": mime,
                **_clean_metadata(metadata)}
        return self.add_texts([description], [meta])[0]

    def ingest(
        self,
        paths: str | Path | Iterable[str | Path],
        *,
        chunk_size: int = 1000,
        chunk_overlap: int = 150,
        metadata: Mapping[str, Any] | None = None,
        describe_image: Any | None = None,
        max_file_bytes: int = 20_000_000,
        progress: bool | None = None,
    ) -> IngestReport:
        """Ingest files and folders (walked recursively, hidden entries skipped) into the memory.

        Text and Markdown are chunked (`genaisys.memory.chunking.chunk_text`); each chunk keeps
        ``source`` (the absolute file path), ``start``/``end`` character offsets, ``chunk`` (index)
        and ``mime_type``. Images go into the blob store and are indexed by
        ``describe_image(path) -> str`` when given, else skipped with a reason. A bad file — missing
        mid-run, unreadable, binary, not UTF-8, larger than ``max_file_bytes`` — is skipped and
        listed in the report; everything before and after it is kept.

        Args:
            paths: a file, a folder, or several.
            chunk_size: maximum characters per chunk.
            chunk_overlap: maximum characters shared by neighbouring chunks.
            metadata: extra metadata stored on every chunk.
            describe_image: ``Callable[[Path], str]`` giving an image's text description.
            max_file_bytes: larger files are skipped.
            progress: show a tqdm bar; default: when there are 20+ files and stderr is a terminal.

        Raises:
            MemoryStoreError: a given path does not exist (nothing is ingested then).
        """
        t0 = time.perf_counter()
        chunk_text("x" * 20, size=chunk_size, overlap=chunk_overlap)  # validate the settings up front
        extra = _clean_metadata(metadata)
        roots = [paths] if isinstance(paths, (str, Path)) else list(paths)
        if not roots:
            raise MemoryStoreError("ingest() needs at least one file or folder")
        missing = [str(p) for p in roots if not Path(p).expanduser().exists()]
        if missing:
            raise MemoryStoreError(f"no such file or folder: {', '.join(missing)}; nothing was ingested")
        report = IngestReport()
        files = list(self._walk([Path(p).expanduser() for p in roots], report))
        report.files_seen = len(files)
        from tqdm.auto import tqdm

        show = (len(files) >= 20 and None) if progress is None else progress  # None: tqdm decides (TTY)
        pending: list[tuple[str, str, dict[str, Any]]] = []
        pending_files: list[int] = []  # chunks still pending per file, to count files as done

        def flush() -> None:
            before = len(pending)
            added = self._write(pending)
            report.chunks_added += added
            report.chunks_existing += before - added
            report.files_ingested += len(pending_files)
            pending.clear()
            pending_files.clear()

        for file in tqdm(files, desc="ingest", unit="file", disable=show is False, leave=False):
            suffix = file.suffix.lower()
            if suffix in IMAGE_SUFFIXES:
                self._ingest_image(file, describe_image, extra, report)
                continue
            text, reason = self._read_text(file, max_file_bytes)
            if text is None:
                report.skipped.append(SkippedFile(str(file), reason))
                continue
            source = str(file.resolve())
            for i, chunk in enumerate(chunk_text(text, size=chunk_size, overlap=chunk_overlap)):
                meta = {**extra, "source": source, "start": chunk.start, "end": chunk.end, "chunk": i,
                        "mime_type": TEXT_SUFFIXES.get(suffix, "text/plain"), "kind": "text"}
                pending.append((_content_id(chunk.text, source), chunk.text, meta))
            pending_files.append(1)
            if len(pending) >= self.batch_size:
                flush()
        flush()
        report.seconds = time.perf_counter() - t0
        return report

    def _walk(self, roots: list[Path], report: IngestReport) -> Iterator[Path]:
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
                if suffix in TEXT_SUFFIXES or suffix in IMAGE_SUFFIXES:
                    yield p
                elif p == root:
                    report.skipped.append(SkippedFile(str(p), f"unsupported file type {suffix or '(none)'!r}; "
                                                      f"supported: {', '.join(sorted({**TEXT_SUFFIXES, **IMAGE_SUFFIXES}))}"))
                else:
                    report.files_ignored += 1

    @staticmethod
    def _read_text(file: Path, max_bytes: int) -> tuple[str | None, str]:
        try:
            size = file.stat().st_size
            if size > max_bytes:
                return None, f"file is {size:,} bytes, over max_file_bytes={max_bytes:,}; raise the limit to ingest it"
            data = file.read_bytes()
        except OSError as exc:
            return None, f"cannot read the file ({exc.strerror or exc})"
        if b"\x00" in data[:8192]:
            return None, "binary content (NUL bytes) in a file named as text"
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return None, f"not UTF-8 text (bad byte at offset {exc.start}); convert it to UTF-8"
        if not text.strip():
            return None, "empty file"
        return text, ""

    def _ingest_image(self, file: Path, describe: Any | None, extra: dict[str, Any], report: IngestReport) -> None:
        if describe is None:
            report.skipped.append(SkippedFile(str(file), "image without a description: pass describe_image= "
                                              "or call add_image(path, description)"))
            return
        try:
            description = describe(file)
            before = self.count()
            self.add_image(file, description, extra)
        except (MemoryStoreError, OSError, ValueError) as exc:
            report.skipped.append(SkippedFile(str(file), f"image not indexed: {exc}"))
            return
        report.images_added += self.count() - before
        report.files_ingested += 1

    # ---------------------------------------------------------------- reading

    def search(
        self,
        query: str,
        k: int = 4,
        where: Mapping[str, Any] | None = None,
        *,
        where_document: Mapping[str, Any] | None = None,
        mmr: bool = False,
        fetch_k: int | None = None,
        lambda_mult: float = 0.5,
    ) -> list[Hit]:
        """The ``k`` chunks closest to ``query``, best first.

        Args:
            query: the question or text.
            k: how many hits.
            where: Chroma metadata filter, e.g. ``{"source": "/docs/a.md"}`` or
                ``{"$and": [{"kind": "image"}, {"year": {"$gte": 2020}}]}``.
            where_document: Chroma document filter, e.g. ``{"$contains": "asyncio"}``.
            mmr: re-rank ``fetch_k`` candidates by maximal marginal relevance (diverse hits).
            fetch_k: candidates for MMR (default ``4 * k``).
            lambda_mult: MMR trade-off: 1 = pure relevance, 0 = pure diversity.

        Raises:
            MemoryStoreError: bad ``k``, bad filter, or the store cannot be queried.
        """
        from chromadb.errors import ChromaError

        if not isinstance(query, str) or not query.strip():
            raise MemoryStoreError("search() needs a non-empty query string")
        if k < 1:
            raise MemoryStoreError(f"k must be >= 1, got {k}")
        if not 0.0 <= lambda_mult <= 1.0:
            raise MemoryStoreError(f"lambda_mult must be in [0, 1], got {lambda_mult}")
        n = max(k, fetch_k or 4 * k) if mmr else k
        include = ["documents", "metadatas", "distances"] + (["embeddings"] if mmr else [])
        try:
            result = self.collection.query(query_texts=[query], n_results=n, where=dict(where) if where else None,
                                           where_document=dict(where_document) if where_document else None,
                                           include=include)
        except (ChromaError, ValueError) as exc:
            raise MemoryStoreError(f"search failed: {exc}. Check the where/where_document filters "
                                   "(Chroma operators: $eq $ne $gt $gte $lt $lte $in $nin $and $or)") from exc
        ids = result["ids"][0]
        hits = [Hit(id=i, text=d or "", score=1.0 - float(dist), source=str((m or {}).get("source", "")),
                    metadata=dict(m or {}))
                for i, d, m, dist in zip(ids, result["documents"][0], result["metadatas"][0], result["distances"][0])]
        if not mmr or len(hits) <= 1:
            return hits[:k]
        vectors = np.asarray(result["embeddings"][0], dtype=np.float32)  # (n, d)
        query_vec = np.asarray(self.embedding.embed_query([query])[0], dtype=np.float32)  # (d,)
        return [hits[i] for i in _mmr(query_vec, vectors, k, lambda_mult)]

    def get(self, ids: Sequence[str]) -> list[Hit]:
        """The stored chunks with these ids, in the given order (unknown ids are left out)."""
        if isinstance(ids, str):
            ids = [ids]
        result = self.collection.get(ids=list(ids), include=["documents", "metadatas"])
        by_id = {i: Hit(id=i, text=d or "", score=None, source=str((m or {}).get("source", "")), metadata=dict(m or {}))
                 for i, d, m in zip(result["ids"], result["documents"], result["metadatas"])}
        return [by_id[i] for i in ids if i in by_id]

    def count(self) -> int:
        """Number of chunks stored."""
        return int(self.collection.count())

    def delete(self, ids: Sequence[str] | None = None, where: Mapping[str, Any] | None = None) -> int:
        """Delete chunks by id and/or metadata filter; return how many went.

        Blobs they referenced stay until `gc_blobs` runs.

        Raises:
            MemoryStoreError: neither ``ids`` nor ``where`` given (use a filter that matches all
                chunks, e.g. ``where={"source": {"$ne": ""}}``, to clear on purpose), or a bad filter.
        """
        from chromadb.errors import ChromaError

        if ids is None and not where:
            raise MemoryStoreError("delete() needs ids and/or where; it never empties the memory by default")
        if isinstance(ids, str):
            ids = [ids]
        try:
            doomed = self.collection.get(ids=list(ids) if ids is not None else None,
                                         where=dict(where) if where else None, include=[])["ids"]
            if doomed:
                self.collection.delete(ids=doomed)
        except (ChromaError, ValueError) as exc:
            raise MemoryStoreError(f"delete failed: {exc}") from exc
        return len(doomed)

    def _metadatas(self, page: int = 5000) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            batch = self.collection.get(include=["metadatas"], limit=page, offset=offset)["metadatas"] or []
            yield from (m or {} for m in batch)
            if len(batch) < page:
                return
            offset += page

    def gc_blobs(self) -> int:
        """Delete blobs that no stored chunk references; return how many went."""
        keep = {m["blob_id"] for m in self._metadatas() if isinstance(m.get("blob_id"), str)}
        return self.blobs.gc(keep)

    def stats(self) -> dict[str, Any]:
        """Counts and settings: chunks, distinct sources, images, blobs, embedding, location.

        Scans every chunk's metadata (a few seconds per 100k chunks).
        """
        sources: set[str] = set()
        images = 0
        for m in self._metadatas():
            sources.add(str(m.get("source", "")))
            images += m.get("kind") == "image"
        return {
            "location": self.location,
            "collection": self.collection_name,
            "chunks": self.count(),
            "sources": len(sources),
            "images": images,
            "blobs": sum(1 for _ in self.blobs.ids()),
            "blob_bytes": self.blobs.size_bytes(),
            "embedding": {"name": self.embedding.name(), **self.embedding.get_config()},
            "space": "cosine",
        }


def _mmr(query: np.ndarray, vectors: np.ndarray, k: int, lambda_mult: float) -> list[int]:
    """Maximal marginal relevance: greedily pick relevant vectors unlike those already picked."""
    def unit(x: np.ndarray) -> np.ndarray:
        return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)

    vecs, q = unit(vectors), unit(query)  # (n, d), (d,)
    relevance = vecs @ q  # (n,)
    chosen = [int(np.argmax(relevance))]
    while len(chosen) < min(k, len(vecs)):
        redundancy = (vecs @ vecs[chosen].T).max(axis=1)  # (n,)
        score = lambda_mult * relevance - (1.0 - lambda_mult) * redundancy
        score[chosen] = -np.inf
        chosen.append(int(np.argmax(score)))
    return chosen

