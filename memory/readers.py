"""Turn document bytes into text sections: plain text, Markdown, HTML and PDF.

A reader returns `Section`s; `ChromaMemory.ingest` chunks each section and stores the section's
metadata (``page`` for PDF) on every chunk, so citations name the page. Character offsets of a
chunk are offsets into its section's text: the file's text for plain text and Markdown, the
extracted text for HTML, the page's extracted text for PDF.

PDF needs ``pypdf`` (pure Python, maintained); it is imported only when a PDF is read. Scanned PDFs
carry no text layer: they fail with a clear `MediaError` until OCR textualizers exist.

Example:
    >>> from genaisys.memory.readers import read_document
    >>> sections = read_document(b"<h1>Title</h1><p>Hello <b>world</b>.</p>", "text/html")
    >>> sections[0].text
    '# Title\\n\\nHello world.'
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from genaisys.errors import MediaError

__all__ = ["AUDIO_SUFFIXES", "DOCUMENT_TYPES", "IMAGE_SUFFIXES", "MEDIA_SUFFIXES", "VIDEO_SUFFIXES", "Section",
           "html_title_and_text", "mime_for", "read_document"]

DOCUMENT_TYPES: dict[str, str] = {
    ".txt": "text/plain", ".text": "text/plain", ".md": "text/markdown", ".markdown": "text/markdown",
    ".rst": "text/x-rst", ".html": "text/html", ".htm": "text/html", ".xhtml": "text/html",
    ".pdf": "application/pdf",
}
#: the media files memory stores whole and indexes by a description or a timeline, by suffix.
IMAGE_SUFFIXES: dict[str, str] = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                                  ".gif": "image/gif", ".bmp": "image/bmp", ".webp": "image/webp"}
AUDIO_SUFFIXES: dict[str, str] = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".flac": "audio/flac",
                                  ".ogg": "audio/ogg", ".m4a": "audio/mp4"}
VIDEO_SUFFIXES: dict[str, str] = {".mp4": "video/mp4", ".mkv": "video/x-matroska", ".webm": "video/webm",
                                  ".mov": "video/quicktime", ".avi": "video/x-msvideo"}
MEDIA_SUFFIXES: dict[str, str] = {**AUDIO_SUFFIXES, **VIDEO_SUFFIXES}
"""File suffix → MIME type of the documents `read_document` understands."""

_PDF_HINT = "pip install 'pypdf>=7.1,<8'"


@dataclass(frozen=True)
class Section:
    """A run of text from a document, with metadata for its chunks (``{"page": 3}``)."""

    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


def mime_for(name: str, content_type: str | None = None) -> str | None:
    """The document MIME type from an HTTP ``Content-Type`` (preferred) or a file/URL suffix."""
    if content_type:
        base = content_type.split(";")[0].strip().lower()
        if base in DOCUMENT_TYPES.values():
            return base
        if base in ("application/xhtml+xml",):
            return "text/html"
    path = name.split("?", 1)[0].split("#", 1)[0].lower()
    for suffix, mime in DOCUMENT_TYPES.items():
        if path.endswith(suffix):
            return mime
    return None


def _decode_text(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise MediaError("binary content (NUL bytes) where text was expected")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MediaError(f"not UTF-8 text (bad byte at offset {exc.start}); convert it to UTF-8") from exc


class _HTMLText(HTMLParser):
    """Visible text of an HTML page: Markdown-like ``#`` headings and ``-`` list items, blocks as paragraphs."""

    _SKIP = {"script", "style", "noscript", "template", "head", "svg", "iframe", "object", "canvas"}
    _BLOCK = {"p", "div", "section", "article", "main", "header", "footer", "nav", "aside", "li", "ul", "ol",
              "table", "tr", "blockquote", "pre", "br", "hr", "dl", "dt", "dd", "figure", "figcaption", "form"}
    _LINE = {"br", "li", "tr", "dt", "dd"}  # a line break, not a paragraph

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if tag in self._SKIP:
            self._skip += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self.parts.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag in self._BLOCK:
            self.parts.append("\n" if tag in self._LINE else "\n\n")
            if tag == "li" and not self._skip:
                self.parts.append("- ")
        elif tag in ("td", "th"):
            self.parts.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif (re.fullmatch(r"h[1-6]", tag) or tag in self._BLOCK) and tag not in self._LINE:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data  # the title is metadata, not body text, even outside <head>
        elif not self._skip:
            self.parts.append(re.sub(r"\s+", " ", data))

    def text(self) -> str:
        raw = "".join(self.parts)
        lines = [re.sub(r" {2,}", " ", line).strip() for line in raw.split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _read_html(data: bytes) -> list[Section]:
    if b"\x00" in data[:8192]:
        raise MediaError("binary content (NUL bytes) where HTML was expected")
    charset = re.search(rb"""<meta[^>]+charset=["']?([\w-]+)""", data[:4096], re.IGNORECASE)
    try:
        html = data.decode(charset.group(1).decode() if charset else "utf-8-sig")
    except (UnicodeDecodeError, LookupError) as exc:
        raise MediaError(f"cannot decode the HTML ({exc}); serve it as UTF-8 or declare its charset") from exc
    title, text = html_title_and_text(html)
    return [Section(text, {"title": title} if title else {})] if text else []


def html_title_and_text(html: str) -> tuple[str, str]:
    """The title and the visible text of an HTML page (the one HTML-to-text parser in genaisys).

    Scripts, styles and other invisible elements are dropped; headings become Markdown ``#``
    lines, list items ``-`` lines, blocks paragraphs; ``<br>`` breaks a line; table cells are
    joined by ``|``. The ``http_fetch`` tool uses it too.

    Example:
        >>> html_title_and_text("<title>Hi</title><script>x()</script><h1>Big</h1><p>one &amp; two</p>")
        ('Hi', '# Big\\n\\none & two')
    """
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    return re.sub(r"\s+", " ", parser.title).strip(), parser.text()


def _read_pdf(data: bytes) -> list[Section]:
    from genaisys._optional import require

    pypdf = require("pypdf", "pypdf>=7.1,<8", feature="PDF ingestion")
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise MediaError("the PDF is encrypted; decrypt it first")
        sections = []
        for number, page in enumerate(reader.pages, start=1):
            text = (page.extract_text() or "").strip()
            if text:
                sections.append(Section(text, {"page": number}))
    except pypdf.errors.PyPdfError as exc:
        raise MediaError(f"not a readable PDF ({exc})") from exc
    if not sections:
        raise MediaError("the PDF has no text layer (a scan?); OCR comes with the image textualizers")
    return sections


def read_document(data: bytes, mime_type: str) -> list[Section]:
    """Text sections of a document of type ``mime_type`` (one of `DOCUMENT_TYPES`' values).

    Returns an empty list for a document with no text.

    Raises:
        MediaError: binary data posing as text, undecodable text, a broken/encrypted/scanned PDF,
            or an unsupported type.
    """
    if mime_type == "text/html":
        return _read_html(data)
    if mime_type == "application/pdf":
        if not data.startswith(b"%PDF"):
            raise MediaError("not a PDF (no %PDF header)")
        return _read_pdf(data)
    if mime_type in ("text/plain", "text/markdown", "text/x-rst"):
        text = _decode_text(data)
        return [Section(text)] if text.strip() else []
    known = ", ".join(sorted(set(DOCUMENT_TYPES.values())))
    raise MediaError(f"unsupported document type {mime_type!r}; supported: {known}")
