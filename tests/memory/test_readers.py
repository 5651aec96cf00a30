"""Document readers: text, Markdown, HTML (visible text, headings kept) and PDF (per page)."""

from __future__ import annotations

import pytest

from genaisys.errors import MediaError
from genaisys.memory.readers import mime_for, read_document

from ._docs import HTML, make_pdf


def test_html_keeps_visible_text_and_headings():
    [section] = read_document(HTML.encode(), "text/html")
    assert section.metadata == {"title": "Rocket guide"}
    assert "# Rockets\n\nRockets burn fuel to reach orbit." in section.text
    assert "## Engines" in section.text and "exhaust backwards & the rocket" in section.text
    assert "secret" not in section.text and "color" not in section.text
    assert "- Stage one\n- Stage two" in section.text


def test_pdf_gives_one_section_per_page():
    sections = read_document(make_pdf(["Rockets burn fuel.", "Cats purr."]), "application/pdf")
    assert [(s.text, s.metadata) for s in sections] == [("Rockets burn fuel.", {"page": 1}),
                                                        ("Cats purr.", {"page": 2})]


@pytest.mark.parametrize(("data", "mime", "match"), [
    (b"%PDF-1.4\ngarbage", "application/pdf", "not a readable PDF"),
    (b"hello", "application/pdf", "no %PDF header"),
    (make_pdf([""]), "application/pdf", "no text layer"),
    (b"abc\x00def", "text/plain", "binary"),
    (b"caf\xe9", "text/markdown", "UTF-8"),
    (b"x", "application/zip", "unsupported document type"),
])
def test_bad_documents_raise_media_errors(data, mime, match):
    with pytest.raises(MediaError, match=match):
        read_document(data, mime)


def test_mime_for_prefers_content_type():
    assert mime_for("https://x.org/a", "text/html; charset=utf-8") == "text/html"
    assert mime_for("https://x.org/paper.PDF?download=1") == "application/pdf"
    assert mime_for("notes.md") == "text/markdown"
    assert mime_for("archive.zip", "application/zip") is None
