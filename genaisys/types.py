"""The contracts between the parts: what the CPU, the programs and the peripherals expect of each other.

Each is a `typing.Protocol`: any object with these methods fits, genaisys's own classes and
yours alike, and nothing here imports them (this module is at the bottom layer).

============  ==================================================  ======================================
protocol      what it is                                          genaisys's own
============  ==================================================  ======================================
`BlobReader`  reads media by blob id                              `genaisys.memory.BlobStore`
`Blobs`       stores media, content-addressed                     `genaisys.memory.BlobStore`
`Memory`      searches and writes text chunks                     `genaisys.memory.ChromaMemory`
`Embedding`   a Chroma embedding function                         `genaisys.memory.embeddings`
`Textualizer` media file → text (a description, timed segments)   `genaisys.tools.textualizers`
`Decoder`     prompt → a stored artifact (image, sound, video)    `genaisys.tools.decoders`
============  ==================================================  ======================================

Example:
    >>> from pathlib import Path
    >>> class Folder:
    ...     def path(self, blob_id: str) -> Path:
    ...         return Path("/blobs") / blob_id.split(":")[1]
    >>> isinstance(Folder(), BlobReader), isinstance(Folder(), Blobs)
    (True, False)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from genaisys.tools.decoders.base import DecodedArtifact

__all__ = ["BlobReader", "Blobs", "ContextOrder", "Decoder", "Embedding", "Memory", "Textualizer"]

#: How focused recalled context lays out its kept sentences (`genaisys.memory.focus.focus_hits`):
#: ``"document"`` (grouped by chunk, in the chunk's order) or ``"best"`` (one entry per sentence,
#: best-scoring first). A core's config records the one it was trained on.
ContextOrder = Literal["document", "best"]


@runtime_checkable
class BlobReader(Protocol):
    """Reads stored media: what the core needs to open an ``{"type": "image", "file_id": ...}`` block."""

    def path(self, blob_id: str) -> Path:
        """The file holding the blob (raises when there is none)."""
        ...


@runtime_checkable
class Blobs(BlobReader, Protocol):
    """A content-addressed media store: ``put`` returns the ``"sha256:…"`` id graphs carry in state."""

    def put(self, data: bytes | str | Path, mime_type: str | None = None) -> str:
        """Store bytes (or a file's bytes); return their blob id. Storing the same bytes twice is a no-op."""
        ...

    def get(self, blob_id: str) -> bytes:
        """The blob's bytes."""
        ...

    def has(self, blob_id: str) -> bool:
        """Whether the blob is stored."""
        ...

    def mime_type(self, blob_id: str) -> str | None:
        """The MIME type given when it was stored."""
        ...


@runtime_checkable
class Memory(Protocol):
    """A searchable text memory: what the recall/remember nodes, the RAG graph and the memory tools use.

    ``search`` returns hits with ``text``, ``source``, ``score``, ``metadata`` and ``citation``
    (`genaisys.memory.Hit`).
    """

    def search(self, query: str, k: int = 4, where: Mapping[str, Any] | None = None) -> list[Any]:
        """The ``k`` hits most similar to ``query``, optionally filtered by metadata."""
        ...

    def add_texts(self, texts: Sequence[str], metadatas: Sequence[Mapping[str, Any] | None] | None = None) -> list[str]:
        """Store texts (with their metadata); return their ids."""
        ...


@runtime_checkable
class Embedding(Protocol):
    """A Chroma embedding function: texts (or images) → vectors, with a stable ``name`` Chroma records."""

    def __call__(self, input: Sequence[Any]) -> Any:  # noqa: A002 - Chroma's own parameter name
        """One vector per input."""
        ...

    @staticmethod
    def name() -> str:
        """The name Chroma records beside the collection."""
        ...


@runtime_checkable
class Textualizer(Protocol):
    """Media → text: an image's description, or an audio/video file's timed segments
    (mappings or objects with ``start``, ``end``, ``text`` and ``kind``)."""

    def __call__(self, path: str | Path) -> Any:
        """The text the medium holds."""
        ...


@runtime_checkable
class Decoder(Protocol):
    """Prompt (or ``prompt_embeds`` / a signal reference) → an artifact in the blob store and on disk."""

    kind: str  # "image", "audio", "video" or "speech"

    def decode(self, prompt: str, **settings: Any) -> DecodedArtifact:
        """Make one output; return where it was stored (``blob_id``, ``mime_type``, ``path``, ``params``)."""
        ...
