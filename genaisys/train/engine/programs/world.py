"""The sandbox the recorded programs run in: a real memory, blob store, files and tools.

`World` builds, once per data run, under one folder: a `ChromaMemory` (genaisys's MiniLM
embedding, with its on-disk cache) holding the training documents
(`genaisys.train.engine.programs.documents`), a `BlobStore`, a folder of files for the file
reader, the tool pool (`genaisys.train.engine.programs.tools`), and the textualizer that
describes photos as scripted scenes. Graph builders get these exactly as a user passes theirs.

Example:
    >>> world = World("runs/nano/world")  # doctest: +SKIP
    >>> sorted(world.tools)[:3]  # doctest: +SKIP
    ['add_todo', 'calculator', 'convert_currency']
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genaisys.train.engine.programs import content
from genaisys.types import ContextOrder

__all__ = ["BUILTIN_TOOLS", "World"]

BUILTIN_TOOLS = ("calculator", "current_time", "http_fetch", "read_file", "memory_search", "memory_write",
                 "generate_image", "speak")


class World:
    """Memory, blobs, files, documents and tools for recording graph runs (see the module doc).

    Args:
        root: folder for everything (created).
        n_products: how many product manuals go into the memory (the rest of `content.PRODUCTS`
            stay unknown to it: questions about them must be answered "not found").
        seed: the documents' seed.
        api_notes: also write the API notes of installed modules (off: a small, fast world for tests).
        extended: manuals draw from more kinds of fact and styles (`documents.product_manual`).
        handbooks: prose documents of other domains to add (`genaisys.train.engine.programs.handbooks`).
        composed: notes of composed facts to add: many kinds of fact from a few frames
            (`genaisys.train.engine.programs.frames`).
        context_sentences: the focus of recalled context in the recorded graphs: the value of the
            core being trained (`genaisys.core.multimodal.MultimodalCoreConfig.context_sentences`).
        context_min_score: the relevance floor of that focus (``MultimodalCoreConfig.context_min_score``).
        context_order: how that focus lays out its sentences (``MultimodalCoreConfig.context_order``).
    """

    def __init__(self, root: str | Path, *, n_products: int = 24, seed: int = 0, api_notes: bool = True,
                 extended: bool = False, handbooks: int = 0, composed: int = 0,
                 context_sentences: int | None = None, context_min_score: float | None = None,
                 context_order: ContextOrder = "document") -> None:
        from genaisys.assets import cache_dir
        from genaisys.graphs.media import make_decoder_tools
        from genaisys.memory import BlobStore, ChromaMemory, SentenceTransformerEmbedding
        from genaisys.tools import get_tool
        from genaisys.train.engine.programs.documents import fact_table, write_documents
        from genaisys.train.engine.programs.photos import PhotoTextualizer
        from genaisys.train.engine.programs.tools import everyday_tools, fetch_tool, stand_in_decoders

        self.root = Path(root)
        self.context_sentences = context_sentences
        self.context_min_score = context_min_score
        self.context_order = context_order
        self.root.mkdir(parents=True, exist_ok=True)
        self.blobs = BlobStore(self.root / "blobs")
        self.files = self.root / "files"
        for name, text in content.FILES:
            (self.files / name).parent.mkdir(parents=True, exist_ok=True)
            (self.files / name).write_text(text, encoding="utf-8")
        self.documents = write_documents(self.root / "docs", n_products=n_products, seed=seed, api_notes=api_notes,
                                         extended=extended, handbooks=handbooks, composed=composed)
        self.fact_table = fact_table(extended)
        self.unknown_products = content.PRODUCTS[n_products:]
        embedding = SentenceTransformerEmbedding(cache=cache_dir() / "embeddings.sqlite")
        self.memory = ChromaMemory(path=self.root / "memory", blobs=self.blobs, embedding=embedding)
        self.memory.ingest(self.root / "docs")
        self.textualizer = PhotoTextualizer()
        quiet = {"idempotent_cache": None}
        tools: dict[str, Any] = {
            "calculator": get_tool("builtin:calculator", safety=quiet),
            "current_time": get_tool("builtin:clock", safety=quiet),
            "read_file": get_tool("builtin:file_reader", roots=[self.files], safety=quiet),
            "memory_search": get_tool("builtin:memory_search", memory=self.memory, safety=quiet),
            "memory_write": get_tool("builtin:memory_write", memory=self.memory, safety=quiet),
            "http_fetch": fetch_tool(),
        }
        for tool in make_decoder_tools(stand_in_decoders(), blobs=self.blobs):
            tools[tool.name] = tool
        for tool in everyday_tools():
            tools[tool.name] = tool
        self.tools = tools

    def toolset(self, names: list[str]) -> list[Any]:
        return [self.tools[n] for n in names]
