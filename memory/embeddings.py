"""Chroma embedding functions that genaisys registers, so a store re-opens offline in any process.

Chroma records the embedding function of a collection by name and config, and rebuilds it from its
registry when a collection is re-opened. Its own default function downloads a model at run time,
which fails offline (docs/architecture.md, "Peripherals and storage"), so genaisys always passes one of these:

- `SentenceTransformerEmbedding`: any sentence-transformers model; the default is the packaged
  all-MiniLM-L6-v2 (384-d) from `genaisys.assets`. The model loads on the first call, not at init.
- `HashingEmbedding`: feature-hashed bag of words, no model at all. Deterministic and instant, for
  unit tests and for a memory that must work before any model is available. Lexical only.

Importing this module registers both with Chroma; `genaisys.memory.ChromaMemory` imports it, so a
new process that opens a store through genaisys can always query it.

Example:
    >>> from genaisys.memory.embeddings import HashingEmbedding
    >>> vectors = HashingEmbedding(dim=8)(["the cat sat"])
    >>> len(vectors[0])
    8
"""

from __future__ import annotations

import hashlib
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from genaisys.errors import ConfigError, MemoryStoreError

__all__ = ["DEFAULT_TEXT_MODEL", "HashingEmbedding", "SentenceTransformerEmbedding"]

DEFAULT_TEXT_MODEL = "minilm"
"""The packaged all-MiniLM-L6-v2 (`genaisys.assets.resolve("minilm")`)."""

_MODELS: dict[tuple[str, str], Any] = {}  # (model, device) → SentenceTransformer, shared per process
_MODELS_LOCK = threading.Lock()


def _load_sentence_transformer(model: str, device: str) -> Any:
    """Load (once per process) a SentenceTransformer from a packaged asset name, a path or a hub id."""
    key = (model, device)
    with _MODELS_LOCK:
        if key in _MODELS:
            return _MODELS[key]
        from genaisys._optional import require

        st = require("sentence_transformers", "sentence-transformers>=6.2,<7", feature="text embeddings")
        if model == DEFAULT_TEXT_MODEL:
            from genaisys import assets

            location = str(assets.resolve(DEFAULT_TEXT_MODEL))
        else:
            location = str(Path(model).expanduser()) if Path(model).expanduser().exists() else model
        try:
            loaded = st.SentenceTransformer(location, device=device)
        except (OSError, ValueError) as exc:
            raise MemoryStoreError(
                f"could not load sentence-transformers model {model!r} ({exc}). Pass a local folder, "
                f"the packaged default {DEFAULT_TEXT_MODEL!r}, or a hub id that is already in the local "
                "cache (no model hub is reachable offline)."
            ) from exc
        _MODELS[key] = loaded
        return loaded


@register_embedding_function
class SentenceTransformerEmbedding(EmbeddingFunction[Documents]):
    """Sentence-transformers text embeddings, L2-normalised float32 (cosine = dot product).

    Args:
        model: ``"minilm"`` (the packaged all-MiniLM-L6-v2, default), a local model folder, or a
            sentence-transformers id already in the local cache.
        device: torch device string; CPU by default.
        batch_size: texts encoded per forward pass.
        cache: optional SQLite file of embeddings already computed, keyed by (model, text)
            hash. Re-ingesting the same corpus into a fresh store then embeds nothing (the demo
            uses it; measured ~9 chunks/s of MiniLM on 2 busy cores otherwise).

    Example:
        >>> emb = SentenceTransformerEmbedding()  # nothing is loaded yet
        >>> emb.get_config()["model"]
        'minilm'
        >>> vectors = emb(["hello world"])  # doctest: +SKIP
    """

    def __init__(self, model: str | Path = DEFAULT_TEXT_MODEL, *, device: str = "cpu", batch_size: int = 64,
                 cache: str | Path | None = None) -> None:
        if not str(model).strip():
            raise ConfigError("model must be a non-empty name or path, e.g. 'minilm' (the packaged default)")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.model = str(model)
        self.device = device
        self.batch_size = int(batch_size)
        self.cache = str(Path(cache).expanduser().resolve()) if cache else None
        self._model: Any = None

    def _st(self) -> Any:
        if self._model is None:
            self._model = _load_sentence_transformer(self.model, self.device)
        return self._model

    @property
    def dimension(self) -> int:
        """Embedding size (loads the model)."""
        st = self._st()
        get_dim = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
        return int(get_dim())

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self._st().encode(texts, batch_size=self.batch_size, convert_to_numpy=True,
                                    normalize_embeddings=True, show_progress_bar=False)  # (N, d)
        return np.asarray(vectors, dtype=np.float32)

    def __call__(self, input: Documents) -> Embeddings:
        texts = [str(t) for t in input]
        if not texts:
            return []
        if self.cache is None:
            return list(self._encode(texts))
        import sqlite3

        keys = [hashlib.sha256(f"{self.model}\0{t}".encode()).hexdigest() for t in texts]
        Path(self.cache).parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(self.cache, timeout=30) as db:
            db.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB NOT NULL)")
            found: dict[str, np.ndarray] = {}
            for i in range(0, len(keys), 500):  # SQLite caps bound parameters per statement
                part = keys[i:i + 500]
                rows = db.execute(f"SELECT key, vec FROM emb WHERE key IN ({','.join('?' * len(part))})", part)
                found.update((k, np.frombuffer(v, dtype=np.float32)) for k, v in rows)
            missing = list(dict.fromkeys(k for k in keys if k not in found))  # unique, in order
            if missing:
                text_of = dict(zip(keys, texts, strict=True))
                fresh = self._encode([text_of[k] for k in missing])  # (M, d)
                db.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?)",
                               [(k, v.tobytes()) for k, v in zip(missing, fresh, strict=True)])
                found.update(zip(missing, fresh, strict=True))
        return [found[k] for k in keys]

    @staticmethod
    def name() -> str:
        return "genaisys-sentence-transformer"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]

    def get_config(self) -> dict[str, Any]:
        config = {"model": self.model, "device": self.device, "batch_size": self.batch_size}
        if self.cache:
            config["cache"] = self.cache
        return config

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> SentenceTransformerEmbedding:
        return SentenceTransformerEmbedding(config.get("model", DEFAULT_TEXT_MODEL),
                                            device=config.get("device", "cpu"),
                                            batch_size=int(config.get("batch_size", 64)),
                                            cache=config.get("cache"))

    def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
        if "model" in new_config and new_config["model"] != old_config.get("model"):
            raise MemoryStoreError("a collection's embedding model cannot change: its vectors would not compare")

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedding(model={self.model!r}, device={self.device!r})"


_TOKEN = re.compile(r"\w+", re.UNICODE)


@register_embedding_function
class HashingEmbedding(EmbeddingFunction[Documents]):
    """Feature-hashed bag of words (signed, L2-normalised): no model, deterministic, instant.

    Each lower-cased word token is hashed (BLAKE2b, so the same in every process, unlike ``hash``)
    to one of ``dim`` buckets with a sign. Texts that share words score high; synonyms do not.

    Args:
        dim: vector size.

    Example:
        >>> emb = HashingEmbedding(dim=64)
        >>> a, b = emb(["red apple pie", "apple pie"])
        >>> float(a @ b) > 0.5
        True
    """

    def __init__(self, dim: int = 64) -> None:
        if dim < 2:
            raise ConfigError(f"dim must be >= 2, got {dim}")
        self.dim = int(dim)

    def __call__(self, input: Documents) -> Embeddings:
        out = []
        for text in input:
            v = np.zeros(self.dim, dtype=np.float32)  # (dim,)
            for token in _TOKEN.findall(str(text).lower()):
                h = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
                v[h % self.dim] += 1.0 if (h >> 63) & 1 else -1.0
            norm = float(np.linalg.norm(v))
            if norm == 0.0:  # no word at all: a fixed unit vector, so Chroma gets a valid embedding
                v[0], norm = 1.0, 1.0
            out.append(v / norm)
        return out

    @staticmethod
    def name() -> str:
        return "genaisys-hashing"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.dim}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> HashingEmbedding:
        return HashingEmbedding(int(config.get("dim", 64)))

    def __repr__(self) -> str:
        return f"HashingEmbedding(dim={self.dim})"
