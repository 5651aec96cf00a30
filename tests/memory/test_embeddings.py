"""genaisys's Chroma embedding functions: registered, rebuildable from config, lazy, normalised."""

from __future__ import annotations

import numpy as np
import pytest
from chromadb.utils.embedding_functions import known_embedding_functions

from genaisys.errors import ConfigError
from genaisys.memory.embeddings import HashingEmbedding, SentenceTransformerEmbedding


def test_both_are_registered_with_chroma():
    assert known_embedding_functions["genaisys-sentence-transformer"] is SentenceTransformerEmbedding
    assert known_embedding_functions["genaisys-hashing"] is HashingEmbedding


def test_hashing_is_deterministic_normalised_and_lexical():
    emb = HashingEmbedding(dim=64)
    a, b, c, empty = emb(["Red apple pie", "apple pie red", "quantum chromodynamics", "!!"])
    assert a.dtype == np.float32 and a.shape == (64,)
    for v in (a, b, c, empty):
        assert abs(float(np.linalg.norm(v)) - 1.0) < 1e-6
    assert float(a @ b) == pytest.approx(1.0, abs=1e-6)  # bag of words: order does not matter
    assert float(a @ c) < 0.5
    rebuilt = HashingEmbedding.build_from_config(emb.get_config())
    assert np.array_equal(rebuilt(["Red apple pie"])[0], a)
    with pytest.raises(ConfigError):
        HashingEmbedding(dim=1)


def test_sentence_transformer_is_lazy_and_round_trips_config():
    emb = SentenceTransformerEmbedding()
    assert emb._model is None  # nothing loaded at construction (Chroma builds these eagerly)
    config = emb.get_config()
    assert config["model"] == "minilm"
    again = SentenceTransformerEmbedding.build_from_config(config)
    assert again.get_config() == config and again._model is None
    assert not emb.is_legacy()
    with pytest.raises(ConfigError):
        SentenceTransformerEmbedding(" ")
    with pytest.raises(ConfigError):
        SentenceTransformerEmbedding(batch_size=0)


@pytest.mark.packaged
def test_embedding_cache_returns_the_same_vectors_without_encoding(tmp_path, monkeypatch):
    import numpy as np

    from genaisys.memory.embeddings import SentenceTransformerEmbedding

    emb = SentenceTransformerEmbedding(cache=tmp_path / "emb.sqlite")
    texts = ["the with statement", "a context manager", "the with statement"]
    first = emb(texts)
    assert np.allclose(first[0], first[2])
    calls = []
    monkeypatch.setattr(emb, "_encode", lambda batch: calls.append(batch) or SentenceTransformerEmbedding._encode(emb, batch))
    again = emb(["a context manager", "something new"])
    assert calls == [["something new"]]  # only the unseen text is encoded
    assert np.array_equal(again[0], first[1])
    rebuilt = SentenceTransformerEmbedding.build_from_config(emb.get_config())
    assert rebuilt.cache == emb.cache
