if __name__ != "genaisys.memory":  # a bare `import memory` from the repo root would load a second copy
    raise ImportError("import this package as genaisys.memory, not memory (docs/architecture.md, Packaging)")
__doc__ = """genaisys's vector memory: ChromaDB + sentence-transformers, ingestion with citations, a blob store.

- `ChromaMemory`: text chunks and image vectors in Chroma (embedded or a ``chroma run`` server),
  ingestion of text/Markdown/HTML/PDF/images/URLs, search with citations, filters, MMR.
- `ChromaStore`: the same store as a LangGraph ``BaseStore`` (long-term memory for graphs).
- `BlobStore`: content-addressed raw media, referenced by ``"sha256:…"`` ids.
- Registered Chroma embedding functions: `SentenceTransformerEmbedding` (packaged MiniLM),
  `HashingEmbedding` (model-free), `EfficientNetImageEmbedding` (packaged EfficientNet-Lite0).

Everything is exported lazily (PEP 562): ``import genaisys.memory`` loads neither chromadb nor
sentence-transformers; the first use of a name imports its module.

Example:
    >>> from genaisys.memory import ChromaMemory  # doctest: +SKIP
    >>> memory = ChromaMemory("./.genaisys/memory")  # doctest: +SKIP
"""

from typing import TYPE_CHECKING

__all__ = [
    "BlobStore",
    "ChromaMemory",
    "ChromaMemoryConfig",
    "ChromaStore",
    "EfficientNetImageEmbedding",
    "HashingEmbedding",
    "Hit",
    "IngestReport",
    "SentenceTransformerEmbedding",
    "build_memory",
    "register_embedding",
]

from genaisys._lazy import lazy_exports

_EXPORTS = {
    "BlobStore": "genaisys.memory.blobs",
    "ChromaMemory": "genaisys.memory.chroma",
    "ChromaMemoryConfig": "genaisys.memory.chroma",
    "build_memory": "genaisys.memory.chroma",
    "register_embedding": "genaisys.memory.chroma",
    "Hit": "genaisys.memory.chroma",
    "IngestReport": "genaisys.memory.ingest",
    "ChromaStore": "genaisys.memory.store",
    "EfficientNetImageEmbedding": "genaisys.memory.image_embeddings",
    "HashingEmbedding": "genaisys.memory.embeddings",
    "SentenceTransformerEmbedding": "genaisys.memory.embeddings",
}

if TYPE_CHECKING:
    from genaisys.memory.blobs import BlobStore
    from genaisys.memory.chroma import ChromaMemory, ChromaMemoryConfig, Hit, build_memory, register_embedding
    from genaisys.memory.ingest import IngestReport
    from genaisys.memory.embeddings import HashingEmbedding, SentenceTransformerEmbedding
    from genaisys.memory.image_embeddings import EfficientNetImageEmbedding
    from genaisys.memory.store import ChromaStore


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
