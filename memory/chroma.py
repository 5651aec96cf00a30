"""`ChromaMemory`: genaisys's vector memory on ChromaDB — ingestion, retrieval with citations, media.

One memory is two Chroma collections — text chunks (``collection``) and image vectors
(``collection-images``) — plus a content-addressed `BlobStore` for the raw media. The client is
an embedded ``chromadb.PersistentClient`` by default; pass any Chroma client (an ``HttpClient``
against a ``chroma run`` server, or `build_memory` with ``host=``) to share one memory between
processes and machines.

What goes in (the ingestion pipeline is `genaisys.memory.ingest`; `ChromaMemory.ingest` calls
it): text, Markdown, HTML and PDF files, folders and URLs (through a fetch callable the caller
injects), images (embedded as images, indexed by their description), audio and video
(indexed by the timed text a textualizer gives). Every chunk id is the SHA-256 of its source and
text, so re-ingesting adds nothing and an interrupted run finishes with a plain re-run. Every chunk
keeps its ``source`` and position, so a `Hit` can cite it: ``notes.md#chars=120-860``,
``paper.pdf#page=3``, ``talk.mp3#t=12,15.5``.

What comes out: similarity search with metadata/document filters and MMR, image → image search,
get/update/delete, stats, blob garbage collection.

genaisys always passes its own registered embedding functions (MiniLM by default) and refuses a
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

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from genaisys._registry import Registry
from genaisys.errors import ConfigError, MediaError, MemoryStoreError
from genaisys.memory.blobs import BlobStore, is_blob_id
from genaisys.memory.embeddings import HashingEmbedding, SentenceTransformerEmbedding
from genaisys.memory.image_embeddings import EfficientNetImageEmbedding, load_image_array
from genaisys.memory.ingest import (
    IngestReport,
    SkippedFile,
    _clean_metadata,
    _content_id,
    _safe_str,
    _source_of,
    ingest,
)
from genaisys.memory.readers import AUDIO_SUFFIXES, IMAGE_SUFFIXES, MEDIA_SUFFIXES, VIDEO_SUFFIXES
from genaisys.types import Embedding

# IngestReport, SkippedFile and the suffix tables live in genaisys.memory.ingest / .readers; re-exported here.
__all__ = ["AUDIO_SUFFIXES", "DEFAULT_HNSW", "DEFAULT_PATH", "EMBEDDINGS", "IMAGE_SUFFIXES", "MEDIA_SUFFIXES",
           "VIDEO_SUFFIXES", "ChromaMemory", "ChromaMemoryConfig", "Hit", "IngestReport", "SkippedFile",
           "build_embedding", "build_memory", "register_embedding"]

DEFAULT_PATH = Path(".genaisys") / "memory"
"""Where an embedded memory lives when no path is given (relative to the working directory)."""

DEFAULT_HNSW: dict[str, Any] = {"space": "cosine", "ef_construction": 200, "max_neighbors": 32, "ef_search": 2000}
"""HNSW settings of new collections, chosen by bench/memory.py on random unit 384-d vectors (the
worst case for an index). Chroma's defaults (100/16/100) gave recall@10 0.51 at 10k; with these,
recall@10 was 1.00 at 10k (p50 ~5 ms) and 0.97 at 100k (p50 ~21 ms, 3x faster than exact search),
where ef_search=400 gave 0.61. A query's embedding and the LLM cost far more than those
milliseconds; a missed chunk costs the answer. Applies when a collection is created; pass
``hnsw={"ef_search": 400}`` for faster, less exact search."""
_HNSW_KEYS = {"space", "ef_construction", "max_neighbors", "ef_search", "num_threads", "batch_size",
              "sync_threshold", "resize_factor"}

_OUR_EMBEDDINGS = (SentenceTransformerEmbedding, HashingEmbedding, EfficientNetImageEmbedding)
_COLLECTION_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]{1,498}[a-zA-Z0-9]")  # Chroma's rule, room for "-images"
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
        if "t_start" in meta and "t_end" in meta:  # W3C media fragment: seconds
            return f"{name}#t={meta['t_start']:g},{meta['t_end']:g}"
        if "start" in meta and "end" in meta:
            return f"{name}#chars={meta['start']}-{meta['end']}"
        return name


def _same_embedding(a: Any, b: Any) -> bool:
    def key(ef: Any) -> tuple[str, dict[str, Any]]:
        config = ef.get_config() if hasattr(ef, "get_config") else {}
        return ef.name(), {k: v for k, v in (config or {}).items() if k not in _RUNTIME_KEYS}

    return key(a) == key(b)


class ChromaMemory:
    """A Chroma-backed memory: text chunks with citations, image vectors, and a blob store for media.

    Two Chroma collections in one store: ``<collection>`` holds text chunks (documents, and the
    text descriptions of images), ``<collection>-images`` holds one image-embedding vector per
    image, for image → image search. Raw media lives in the `BlobStore`.

    An embedded store belongs to one process at a time (Chroma's rule); to share a memory
    between processes or machines, run ``chroma run --path <folder>`` and pass an ``HttpClient``.

    Args:
        path: folder of the embedded store; default ``./.genaisys/memory`` (`DEFAULT_PATH`). With
            ``client`` given it is only the default home of the blob store.
        collection: Chroma collection name (3–500 characters of ``[a-zA-Z0-9._-]``).
        embedding: a registered text embedding function; default `SentenceTransformerEmbedding`
            (packaged MiniLM) for a new collection, or the one recorded in an existing collection.
        image_embedding: a registered image embedding function; default
            `EfficientNetImageEmbedding` (packaged EfficientNet-Lite0, loaded on first image) or the
            recorded one; ``False`` stores images by description only.
        client: any Chroma client (``chromadb.HttpClient(...)`` for a shared server).
        blobs: the `BlobStore` for raw media (or its folder); default ``<path>/blobs``.
        batch_size: chunks embedded and written per Chroma call during ingestion.
        hnsw: HNSW index settings for collections created now (`DEFAULT_HNSW` is tuned for
            recall; e.g. ``{"ef_search": 400}`` for faster, less exact queries).

    Raises:
        MemoryStoreError: the store cannot be opened, or a collection was built with a different
            embedding than the one given.

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
        embedding: Embedding | None = None,
        image_embedding: Embedding | Literal[False] | None = None,
        client: Any | None = None,
        blobs: BlobStore | str | Path | None = None,
        batch_size: int = 128,
        hnsw: Mapping[str, Any] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        if not isinstance(collection, str) or not _COLLECTION_NAME.fullmatch(collection):
            raise ConfigError(f"collection name {collection!r} is invalid: use 3-500 characters of [a-zA-Z0-9._-], "
                              "starting and ending with a letter or digit")
        unknown = set(hnsw or {}) - _HNSW_KEYS
        if unknown:
            raise ConfigError(f"unknown HNSW settings {sorted(unknown)}; known: {sorted(_HNSW_KEYS)}")
        if (hnsw or {}).get("space", "cosine") != "cosine":
            raise ConfigError("genaisys memory scores by cosine similarity; leave hnsw['space'] as 'cosine'")
        self.hnsw = {**DEFAULT_HNSW, **(hnsw or {})}
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
            self.location = _describe_client(client)
        self.client = client
        self.collection_name = collection
        self.image_collection_name = f"{collection}-images"
        self.batch_size = min(batch_size, int(client.get_max_batch_size()))
        self.embedding = self._resolve_embedding(collection, embedding, SentenceTransformerEmbedding)
        self.collection = self._open(collection, self.embedding)
        self.image_embedding = (None if image_embedding is False else
                                self._resolve_embedding(self.image_collection_name, image_embedding,
                                                        EfficientNetImageEmbedding))
        self._image_collection: Any = None
        if not isinstance(blobs, BlobStore):
            blobs = BlobStore(blobs if blobs is not None else self.path / "blobs")
        self.blobs = blobs

    def _open(self, name: str, embedding: Any) -> Any:
        from chromadb.errors import ChromaError

        try:
            return self.client.get_or_create_collection(name, embedding_function=embedding,
                                                        configuration={"hnsw": dict(self.hnsw)})
        except (ChromaError, ValueError) as exc:
            raise MemoryStoreError(f"cannot open collection {name!r} in {self.location}: {exc}") from exc

    def _existing(self, name: str) -> Any | None:
        from chromadb.errors import NotFoundError

        try:
            return self.client.get_collection(name)
        except (NotFoundError, ValueError):
            return None

    def _resolve_embedding(self, name: str, embedding: Any | None, default: type) -> Any:
        """Use the caller's embedding, else the collection's recorded one, else ``default()``; refuse mismatches."""
        existing = self._existing(name)
        recorded = (existing.configuration or {}).get("embedding_function") if existing is not None else None
        if existing is not None and not isinstance(recorded, _OUR_EMBEDDINGS):
            if embedding is None:
                raise MemoryStoreError(
                    f"collection {name!r} in {self.location} was not made by genaisys (its embedding is "
                    f"{type(recorded).__name__}); pass the embedding explicitly or use another collection name")
            return embedding
        if embedding is None:
            return recorded if recorded is not None else default()
        if recorded is not None and not _same_embedding(recorded, embedding):
            raise MemoryStoreError(
                f"collection {name!r} in {self.location} was built with {recorded!r} "
                f"({recorded.get_config()}), not {embedding!r}: vectors from different embeddings do not "
                "compare. Open it without naming an embedding (the recorded one is used) or choose another "
                "collection name")
        return embedding

    def _images(self, create: bool = False) -> Any | None:
        """The image collection: opened on first need; None when absent and not ``create``."""
        if self._image_collection is None and self.image_embedding is not None:
            if create or self._existing(self.image_collection_name) is not None:
                self._image_collection = self._open(self.image_collection_name, self.image_embedding)
        return self._image_collection

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
            meta["source"] = _safe_str(str(meta.get("source", "")))
            rows.append((_content_id(text, meta["source"]), text, meta))
        for start in range(0, len(rows), self.batch_size):
            self._write(rows[start:start + self.batch_size])
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

    def update(self, id: str, *, text: str | None = None, metadata: Mapping[str, Any] | None = None) -> str:
        """Change one chunk's text and/or metadata; return its id (new when the text changed).

        Metadata is merged: given keys replace stored ones, a key given as None is removed. A new
        text gets a new content-hash id (the old chunk is replaced).

        Raises:
            MemoryStoreError: no chunk with that id, or an empty text.
        """
        found = self.collection.get(ids=[id], include=["documents", "metadatas"])
        if not found["ids"]:
            raise MemoryStoreError(f"no chunk {id!r} in {self.collection_name!r}; ids come from add_texts/search")
        old_meta = dict(found["metadatas"][0] or {})
        removed = {k for k, v in (metadata or {}).items() if v is None}
        merged = {k: v for k, v in {**old_meta, **_clean_metadata(metadata)}.items() if k not in removed}
        if text is None or text == found["documents"][0]:
            if metadata:
                self.collection.update(ids=[id], metadatas=[{**merged, **{k: None for k in removed}}])
            return id
        if not isinstance(text, str) or not text.strip():
            raise MemoryStoreError("update(text=...) needs a non-empty string")
        for stale in ("start", "end", "page"):  # the old position no longer describes the new text
            merged.pop(stale, None)
        new_id = self.add_texts([text], [merged])[0]
        if new_id != id:
            self.collection.delete(ids=[id])
        return new_id

    def add_image(self, image: str | Path | bytes, description: str | None = None,
                  metadata: Mapping[str, Any] | None = None) -> str:
        """Store an image in the blob store, embed it as an image, index its description; return the blob id.

        The description (a caption, a textualization) is what *text* search finds; the image
        vector is what `search_images` finds. Hits carry ``blob_id`` and ``mime_type``.

        Args:
            image: a file path, or the encoded bytes (give ``metadata={"source": ...}`` then).
            description: text for text → image search; optional when image embeddings are on.
            metadata: extra metadata for both entries; a ``source`` key replaces the file path
                as the source shown in citations.

        Raises:
            MemoryStoreError: missing file, undecodable image, or neither a description nor image
                embeddings to index it by.
        """
        extra = _clean_metadata(metadata)
        if isinstance(image, (bytes, bytearray)):
            data, source = bytes(image), str(extra.pop("source", ""))
            mime = extra.pop("mime_type", None) or _sniff_image_mime(data)
        else:
            file = Path(image).expanduser()
            if not file.is_file():
                raise MemoryStoreError(f"no image file at {file}")
            try:
                data = file.read_bytes()
            except OSError as exc:
                raise MemoryStoreError(f"cannot read the image {file}: {exc}") from exc
            source = _safe_str(str(extra.pop("source"))) if "source" in extra else _source_of(file)
            mime = IMAGE_SUFFIXES.get(file.suffix.lower()) or _sniff_image_mime(data)
        if description is not None and (not isinstance(description, str) or not description.strip()):
            raise MemoryStoreError("an image description must be non-empty text (or None)")
        if description is None and self.image_embedding is None:
            raise MemoryStoreError(f"give a text description for {source or 'the image'}: image embeddings are "
                                   "off (image_embedding=False), so the description is all search can match")
        pixels = None
        if self.image_embedding is not None:
            try:
                pixels = load_image_array(data)  # decode before storing anything: a corrupt file stores nothing
            except MediaError as exc:
                raise MemoryStoreError(f"{source or 'the image'} is not a readable image: {exc}") from exc
        blob_id = self.blobs.put(data, mime_type=mime)
        meta = {**extra, "source": source, "kind": "image", "blob_id": blob_id, "mime_type": mime}
        if description is not None:
            self.add_texts([description], [meta])
        if pixels is not None:
            images = self._images(create=True)
            image_id = _content_id(blob_id, source)
            if not images.get(ids=[image_id], include=[])["ids"]:
                vector = self.image_embedding([pixels])[0]  # (d,)
                images.add(ids=[image_id], embeddings=[vector], documents=[description or ""],
                           metadatas=[_clean_metadata(meta)])
        return blob_id

    # The ingestion pipeline is its own file; this is the same function, called as memory.ingest(paths, ...).
    ingest = ingest

    def _drop_stale(self, source: str, current: set[str]) -> int:
        """Delete the text chunks of ``source`` that its current content no longer has; return how many."""
        from chromadb.errors import ChromaError

        try:
            stored = self.collection.get(where={"$and": [{"source": source}, {"kind": "text"}]}, include=[])["ids"]
            stale = [i for i in stored if i not in current]
            if stale:
                self.collection.delete(ids=stale)
        except (ChromaError, ValueError) as exc:
            raise MemoryStoreError(f"removing outdated chunks of {source} failed: {exc}") from exc
        return len(stale)

    def add_timeline(self, media: str | Path, segments: Iterable[Any], metadata: Mapping[str, Any] | None = None,
                     *, chunk_size: int = 1000) -> list[str]:
        """Store an audio/video file in the blob store and index its timed text timeline; return chunk ids.

        Consecutive segments are grouped into chunks of at most ``chunk_size`` characters, one
        line each, ``[12.0s-15.5s] speech: hello there``, so the model sees when things happen
        (VideoChat-Text). Each chunk keeps ``t_start``/``t_end`` (seconds), ``blob_id`` and
        ``mime_type``; its citation is ``file.mp4#t=12,15.5``.

        Args:
            media: the audio or video file.
            segments: items with ``start`` and ``end`` (seconds), ``text``, and optionally
                ``kind`` (``"speech"``, ``"frame"``, ``"ocr"``…) — mappings or objects.
            metadata: extra metadata for every chunk.
            chunk_size: maximum characters per chunk.

        Raises:
            MemoryStoreError: the file is missing, or a segment is malformed (what is wrong is named).
        """
        file = Path(media).expanduser()
        if not file.is_file():
            raise MemoryStoreError(f"no media file at {file}")
        lines = []
        for i, segment in enumerate(segments):
            get = segment.get if isinstance(segment, Mapping) else (lambda k, d=None, s=segment: getattr(s, k, d))
            start, end, text, kind = get("start"), get("end"), get("text"), get("kind")
            if not isinstance(start, (int, float)) or not isinstance(end, (int, float)) or not 0 <= start <= end:
                raise MemoryStoreError(f"timeline segment #{i} of {file.name} needs numeric 0 <= start <= end "
                                       f"(seconds), got start={start!r}, end={end!r}")
            if not isinstance(text, str) or not text.strip():
                raise MemoryStoreError(f"timeline segment #{i} of {file.name} has no text")
            label = f"{kind}: " if kind else ""
            lines.append((float(start), float(end), f"[{start:.1f}s-{end:.1f}s] {label}{' '.join(text.split())}"))
        if not lines:
            raise MemoryStoreError(f"the timeline of {file.name} is empty: nothing to index")
        lines.sort(key=lambda line: line[0])
        mime = MEDIA_SUFFIXES.get(file.suffix.lower())
        blob_id = self.blobs.put(file, mime_type=mime)
        kind_of_media = "video" if file.suffix.lower() in VIDEO_SUFFIXES else "audio"
        groups: list[list[tuple[float, float, str]]] = [[]]
        for line in lines:
            if groups[-1] and sum(len(x[2]) + 1 for x in groups[-1]) + len(line[2]) > chunk_size:
                groups.append([])
            groups[-1].append(line)
        texts, metas = [], []
        for index, group in enumerate(groups):
            texts.append("\n".join(x[2] for x in group))
            metas.append({**_clean_metadata(metadata), "source": _source_of(file), "kind": kind_of_media,
                          "t_start": group[0][0], "t_end": max(x[1] for x in group), "chunk": index,
                          "blob_id": blob_id, "mime_type": mime})
        return self.add_texts(texts, metas)

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
        """The ``k`` text chunks closest to ``query``, best first.

        Images are found by their descriptions: ``where={"kind": "image"}`` keeps only those.

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
        if not isinstance(query, str) or not query.strip():
            raise MemoryStoreError("search() needs a non-empty query string")
        return self._query(self.collection, {"query_texts": [query]}, k, where, where_document, mmr, fetch_k,
                           lambda_mult, lambda: np.asarray(self.embedding.embed_query([query])[0], np.float32))

    def search_images(self, image: str | Path | bytes | Any, k: int = 4, where: Mapping[str, Any] | None = None,
                      *, mmr: bool = False, fetch_k: int | None = None, lambda_mult: float = 0.5) -> list[Hit]:
        """The ``k`` stored images most like ``image`` (image → image), best first.

        Args:
            image: a path, encoded bytes, a blob id (``"sha256:…"``), a PIL image or an
                ``(H, W, 3)`` array.
            k, where, mmr, fetch_k, lambda_mult: as in `search`.

        Raises:
            MemoryStoreError: image embeddings are off, or the image cannot be decoded.
        """
        if self.image_embedding is None:
            raise MemoryStoreError("image search needs image embeddings; this memory was opened with "
                                   "image_embedding=False")
        if is_blob_id(image):
            image = self.blobs.get(image)
        try:
            vector = np.asarray(self.image_embedding([load_image_array(image)])[0], np.float32)  # (d,)
        except MediaError as exc:
            raise MemoryStoreError(f"cannot search with that image: {exc}") from exc
        images = self._images()
        if images is None:
            return []
        return self._query(images, {"query_embeddings": [vector]}, k, where, None, mmr, fetch_k, lambda_mult,
                           lambda: vector)

    def _query(self, collection: Any, query: dict[str, Any], k: int, where: Mapping[str, Any] | None,
               where_document: Mapping[str, Any] | None, mmr: bool, fetch_k: int | None, lambda_mult: float,
               query_vector: Callable[[], np.ndarray]) -> list[Hit]:
        from chromadb.errors import ChromaError

        if k < 1:
            raise MemoryStoreError(f"k must be >= 1, got {k}")
        if not 0.0 <= lambda_mult <= 1.0:
            raise MemoryStoreError(f"lambda_mult must be in [0, 1], got {lambda_mult}")
        n = max(k, fetch_k or 4 * k) if mmr else k
        include = ["documents", "metadatas", "distances"] + (["embeddings"] if mmr else [])
        try:
            result = collection.query(**query, n_results=n, where=dict(where) if where else None,
                                      where_document=dict(where_document) if where_document else None,
                                      include=include)
        except (ChromaError, ValueError) as exc:
            raise MemoryStoreError(f"search failed: {exc}. Check the where/where_document filters "
                                   "(Chroma operators: $eq $ne $gt $gte $lt $lte $in $nin $and $or)") from exc
        hits = [Hit(id=i, text=d or "", score=1.0 - float(dist), source=str((m or {}).get("source", "")),
                    metadata=dict(m or {}))
                for i, d, m, dist in zip(result["ids"][0], result["documents"][0], result["metadatas"][0],
                                         result["distances"][0])]
        if not mmr or len(hits) <= 1:
            return hits[:k]
        vectors = np.asarray(result["embeddings"][0], dtype=np.float32)  # (n, d)
        return [hits[i] for i in _mmr(query_vector(), vectors, k, lambda_mult)]

    def get(self, ids: Sequence[str]) -> list[Hit]:
        """The stored text chunks with these ids, in the given order (unknown ids are left out)."""
        if isinstance(ids, str):
            ids = [ids]
        result = self.collection.get(ids=list(ids), include=["documents", "metadatas"])
        by_id = {i: Hit(id=i, text=d or "", score=None, source=str((m or {}).get("source", "")), metadata=dict(m or {}))
                 for i, d, m in zip(result["ids"], result["documents"], result["metadatas"])}
        return [by_id[i] for i in ids if i in by_id]

    async def asearch(self, query: str, k: int = 4, where: Mapping[str, Any] | None = None, **kwargs: Any) -> list[Hit]:
        """`search` in a worker thread, for async graphs (the Chroma client and the model are synchronous)."""
        import asyncio

        return await asyncio.to_thread(self.search, query, k, where, **kwargs)

    async def aadd_texts(self, texts: Sequence[str],
                         metadatas: Sequence[Mapping[str, Any] | None] | None = None) -> list[str]:
        """`add_texts` in a worker thread."""
        import asyncio

        return await asyncio.to_thread(self.add_texts, texts, metadatas)

    async def aingest(self, paths: str | Path | Iterable[str | Path], **kwargs: Any) -> IngestReport:
        """`ingest` in a worker thread."""
        import asyncio

        return await asyncio.to_thread(self.ingest, paths, **kwargs)

    def count(self) -> int:
        """Number of text chunks stored (image descriptions included)."""
        return int(self.collection.count())

    def count_images(self) -> int:
        """Number of image vectors stored."""
        images = self._images()
        return int(images.count()) if images is not None else 0

    def delete(self, ids: Sequence[str] | None = None, where: Mapping[str, Any] | None = None) -> int:
        """Delete entries by id and/or metadata filter, text and image collections alike; return how many went.

        ``delete(where={"blob_id": b})`` removes an image everywhere. Blobs stay until `gc_blobs`.

        Raises:
            MemoryStoreError: neither ``ids`` nor ``where`` given (use a filter that matches all
                chunks, e.g. ``where={"source": {"$ne": "-"}}``, to clear on purpose), or a bad filter.
        """
        from chromadb.errors import ChromaError

        if ids is None and not where:
            raise MemoryStoreError("delete() needs ids and/or where; it never empties the memory by default")
        if isinstance(ids, str):
            ids = [ids]
        total = 0
        for collection in (self.collection, self._images()):
            if collection is None:
                continue
            try:
                doomed = collection.get(ids=list(ids) if ids is not None else None,
                                        where=dict(where) if where else None, include=[])["ids"]
                if doomed:
                    collection.delete(ids=doomed)
            except (ChromaError, ValueError) as exc:
                raise MemoryStoreError(f"delete failed: {exc}") from exc
            total += len(doomed)
        return total

    @staticmethod
    def _metadatas(collection: Any, page: int = 5000) -> Iterator[dict[str, Any]]:
        offset = 0
        while collection is not None:
            batch = collection.get(include=["metadatas"], limit=page, offset=offset)["metadatas"] or []
            yield from (m or {} for m in batch)
            if len(batch) < page:
                return
            offset += page

    def gc_blobs(self) -> int:
        """Delete blobs that no stored entry references; return how many went."""
        keep = {m["blob_id"] for c in (self.collection, self._images()) for m in self._metadatas(c)
                if isinstance(m.get("blob_id"), str)}
        return self.blobs.gc(keep)

    def stats(self) -> dict[str, Any]:
        """Counts and settings: chunks, distinct sources, images, blobs, embeddings, location.

        Scans every chunk's metadata (a few seconds per 100k chunks).
        """
        sources: set[str] = set()
        described = 0
        for m in self._metadatas(self.collection):
            sources.add(str(m.get("source", "")))
            described += m.get("kind") == "image"
        return {
            "location": self.location,
            "collection": self.collection_name,
            "chunks": self.count(),
            "sources": len(sources),
            "images": self.count_images(),
            "described_images": described,
            "blobs": sum(1 for _ in self.blobs.ids()),
            "blob_bytes": self.blobs.size_bytes(),
            "embedding": {"name": self.embedding.name(), **self.embedding.get_config()},
            "image_embedding": ({"name": self.image_embedding.name(), **self.image_embedding.get_config()}
                                if self.image_embedding is not None else None),
            "space": "cosine",
        }


def _describe_client(client: Any) -> str:
    """``http://host:port`` for a server client, the folder for an embedded one."""
    settings = client.get_settings() if hasattr(client, "get_settings") else None
    if settings is not None and settings.chroma_server_host:
        scheme = "https" if settings.chroma_server_ssl_enabled else "http"
        return f"{scheme}://{settings.chroma_server_host}:{settings.chroma_server_http_port}"
    if settings is not None and settings.persist_directory and settings.is_persistent:
        return str(settings.persist_directory)
    return repr(client)


def _sniff_image_mime(data: bytes) -> str | None:
    for magic, mime in ((b"\x89PNG", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"),
                        (b"BM", "image/bmp")):
        if data.startswith(magic):
            return mime
    return "image/webp" if data[8:12] == b"WEBP" else None


EMBEDDINGS = Registry("embedding", {
    "sentence-transformer": lambda arg: SentenceTransformerEmbedding(arg or "minilm"),
    "hashing": lambda arg: HashingEmbedding(int(arg) if arg else 64),
    "efficientnet-lite0": lambda arg: EfficientNetImageEmbedding(arg or "efficientnet-lite0"),
}, pattern=r"[a-z][a-z0-9_.\-]*", hint="'sentence-transformer' or 'my-embedding'")
"""The embedding registry (and allow-list): ``"kind"`` or ``"kind:argument"`` → a registered Chroma
embedding function. ``sentence-transformer:<model folder or id>`` (default the packaged MiniLM),
``hashing:<dim>``, ``efficientnet-lite0[:<weights .pth>]``; add one with `register_embedding`."""


def register_embedding(kind: str, factory: Callable[[str], Any], *, replace: bool = False) -> None:
    """Make ``"kind[:argument]"`` specs build ``factory(argument)`` (``""`` when none is given).

    The factory must return an embedding function Chroma knows (decorated with
    ``chromadb.utils.embedding_functions.register_embedding_function``), or a new process cannot
    reopen the collection.

    Raises:
        ConfigError: a malformed kind, or a taken one without ``replace``.
    """
    EMBEDDINGS.register(kind, factory, replace=replace)


def build_embedding(spec: str) -> Any:
    """A registered embedding function from a ``"kind:argument"`` string (see `EMBEDDINGS`).

    Example:
        >>> build_embedding("hashing:32")
        HashingEmbedding(dim=32)

    Raises:
        UnknownNameError: the kind is not in `EMBEDDINGS`.
        ConfigError: the argument is invalid (``hashing:abc``).
    """
    kind, _, arg = spec.partition(":")
    factory, _ = EMBEDDINGS.resolve(kind)
    try:
        return factory(arg)
    except ValueError as exc:
        raise ConfigError(f"bad embedding spec {spec!r}: {exc}") from exc


class ChromaMemoryConfig(BaseModel):
    """Settings of a `ChromaMemory`, e.g. from YAML; `build_memory` makes the memory.

    Attributes:
        path: embedded store folder (default ``./.genaisys/memory``); also the blob store's home.
        host: a ``chroma run`` server's host; when set, an ``HttpClient`` is used instead of ``path``.
        port: the server's port.
        collection: the text collection (images go to ``<collection>-images``).
        embedding: `EMBEDDINGS` spec; None = the collection's recorded one, else packaged MiniLM.
        image_embedding: `EMBEDDINGS` spec, ``"none"`` for no image vectors, None = recorded/default.
        blobs: blob store folder (default ``<path>/blobs``).
        batch_size: chunks per Chroma write during ingestion.
        hnsw: HNSW settings for new collections (merged over `DEFAULT_HNSW`).
    """

    model_config = ConfigDict(extra="forbid")

    path: str | None = None
    host: str | None = None
    port: int = Field(8000, ge=1, le=65535)
    collection: str = "genaisys"
    embedding: str | None = None
    image_embedding: str | None = None
    blobs: str | None = None
    batch_size: int = Field(128, ge=1)
    hnsw: dict[str, Any] = Field(default_factory=dict)


def build_memory(config: ChromaMemoryConfig | Mapping[str, Any] | None = None) -> ChromaMemory:
    """A `ChromaMemory` from its config (a `ChromaMemoryConfig` or a plain dict).

    Example:
        >>> import tempfile
        >>> memory = build_memory({"path": tempfile.mkdtemp(), "embedding": "hashing:64", "image_embedding": "none"})
        >>> memory.embedding, memory.image_embedding
        (HashingEmbedding(dim=64), None)
    """
    cfg = config if isinstance(config, ChromaMemoryConfig) else ChromaMemoryConfig.model_validate(dict(config or {}))
    client = None
    if cfg.host:
        import chromadb

        client = chromadb.HttpClient(host=cfg.host, port=cfg.port,
                                     settings=chromadb.Settings(anonymized_telemetry=False))
    image: Any = (False if cfg.image_embedding == "none" else
                  build_embedding(cfg.image_embedding) if cfg.image_embedding else None)
    return ChromaMemory(cfg.path, collection=cfg.collection,
                        embedding=build_embedding(cfg.embedding) if cfg.embedding else None,
                        image_embedding=image, client=client, blobs=cfg.blobs, batch_size=cfg.batch_size,
                        hnsw=cfg.hnsw or None)


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

