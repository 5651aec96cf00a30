"""Chunking keeps exact offsets, prefers headings/paragraphs/sentences, and bounds overlap."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genaisys.errors import ConfigError
from genaisys.memory.chunking import chunk_text


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab c.\n#!")), max_size=600),
       st.integers(20, 120), st.integers(0, 9))
def test_chunks_are_exact_slices_within_size_and_cover_the_text(text, size, overlap):
    chunks = chunk_text(text, size=size, overlap=overlap)
    for c in chunks:
        assert text[c.start:c.end] == c.text
        assert 0 < len(c.text) <= size
        assert c.text == c.text.strip()
    starts = [c.start for c in chunks]
    assert starts == sorted(set(starts))
    for a, b in zip(chunks, chunks[1:]):
        assert b.start >= a.end - overlap  # overlap never exceeds the setting
        assert text[a.end:b.start].strip() == "" or b.start < a.end  # no text is lost between chunks
    if text.strip():
        assert text[:chunks[0].start].strip() == "" and text[chunks[-1].end:].strip() == ""
    else:
        assert chunks == []


def test_prefers_heading_then_paragraph_then_sentence():
    text = "# Intro\nAlpha beta gamma. Delta epsilon.\n\n## Usage\nRun it. Then stop it now."
    chunks = chunk_text(text, size=60, overlap=0)
    assert chunks[0].text == "# Intro\nAlpha beta gamma. Delta epsilon."
    assert chunks[1].text.startswith("## Usage")
    sentences = chunk_text("One two three four. Five six seven eight. Nine ten eleven twelve.", size=45, overlap=0)
    assert sentences[0].text == "One two three four. Five six seven eight."


def test_overlap_starts_at_a_sentence():
    text = " ".join(f"Sentence number {i} is here." for i in range(30))
    chunks = chunk_text(text, size=200, overlap=60)
    assert len(chunks) > 3
    for a, b in zip(chunks, chunks[1:]):
        assert b.start < a.end  # they overlap
        assert b.text.startswith("Sentence")


def test_whitespace_only_gives_nothing_and_bad_settings_are_refused():
    assert chunk_text("  \n\n ", size=100, overlap=10) == []
    with pytest.raises(ConfigError, match="chunk size"):
        chunk_text("x", size=5, overlap=0)
    with pytest.raises(ConfigError, match="overlap"):
        chunk_text("x", size=100, overlap=60)
