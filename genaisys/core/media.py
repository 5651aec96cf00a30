"""Images from LangChain / OpenAI content blocks → PIL, with errors that say what to fix.

Accepted forms (docs/architecture.md, "The CPU"): ``{"type": "image", "base64": ..., "mime_type": ...}``,
``{"type": "image", "url": "data:…" | "file:///…" | "/abs/path.png"}``, OpenAI's
``{"type": "image_url", "image_url": {"url": ...}}``, ``{"type": "image", "file_id": <blob id>}``
resolved through a duck-typed blob store (anything with ``.path(blob_id) -> Path``), and the
LangChain v0 ``source_type`` forms. Remote ``http(s)`` URLs are refused: fetching is a tool's job.
See `load_image_block` for an example.
"""

from __future__ import annotations

import base64
import binascii
import io
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from genaisys.errors import MediaError
from genaisys.types import BlobReader

__all__ = ["ATTACHED_TEMPLATE", "attachment_note", "image_block", "load_image_block"]

# How media the assistant produced (an image or sound a decoder made, attached to its answer)
# reads when that answer is part of a later prompt: the core is told it is there, not shown it.
ATTACHED_TEMPLATE = "[{kind} attached]"
_MEDIA_KINDS = ("image", "image_url", "audio", "video", "file")


def image_block(path: str | Path) -> dict[str, Any]:
    """A LangChain v1 ``image`` content block carrying the file's bytes as base64.

    The evaluation sends images this way and the training data inlines them the same way, so a
    trained prompt and an evaluated one are the same bytes.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> path = Path(tempfile.mkdtemp()) / "dot.png"; Image.new("RGB", (2, 2)).save(path)
        >>> block = image_block(path); block["type"], block["mime_type"]
        ('image', 'image/png')
    """
    p = Path(path)
    mime = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}.get(
        p.suffix.lower(), "image/png")
    return {"type": "image", "base64": base64.b64encode(p.read_bytes()).decode(), "mime_type": mime}


def attachment_note(block: Any) -> str | None:
    """The text standing for a media block in an assistant turn (``None`` for other blocks).

    Example:
        >>> attachment_note({"type": "audio", "file_id": "sha256:ab"}), attachment_note({"type": "text"})
        ('[audio attached]', None)
    """
    if isinstance(block, dict) and block.get("type") in _MEDIA_KINDS:
        kind = "image" if block["type"] == "image_url" else block["type"]
        return ATTACHED_TEMPLATE.format(kind=kind)
    return None


def _open_image(data: bytes, where: str) -> Any:
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise MediaError(f"the image from {where} is empty (0 bytes)")
    try:
        img = Image.open(io.BytesIO(data))
        img.load()  # decode now: truncated files fail here, not later inside the model
        return img.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise MediaError(f"the image from {where} cannot be decoded ({exc}); "
                         "send a valid PNG, JPEG, GIF or WebP") from exc


def _read_path(path: Path, where: str) -> bytes:
    if not path.is_absolute():
        raise MediaError(f"image path {str(path)!r} must be absolute (or a file:/// URL)")
    if not path.is_file():
        raise MediaError(f"image file {str(path)!r} from {where} does not exist")
    return path.read_bytes()


def _from_url(url: str, blobs: BlobReader | None) -> Any:
    if url.startswith("data:"):
        header, _, payload = url.partition(",")
        if ";base64" not in header:
            raise MediaError("a data: image URL must be base64 encoded (data:image/png;base64,...)")
        return _open_image(_b64(payload, "a data: URL"), "a data: URL")
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return _open_image(_read_path(Path(unquote(parsed.path)), url), url)
    if parsed.scheme in ("http", "https"):
        raise MediaError(f"the core does not fetch remote images ({url[:80]}); fetch it with a tool and pass "
                         "base64 data, a file path or a blob id")
    if parsed.scheme == "blob" and blobs is not None:
        return _from_blob(parsed.netloc or parsed.path, blobs)
    if url.startswith("/"):
        return _open_image(_read_path(Path(url), url), url)
    raise MediaError(f"unsupported image URL {url[:80]!r}; use data:, file:///, an absolute path or a blob id")


def _b64(payload: str, where: str) -> bytes:
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MediaError(f"the base64 image data in {where} is corrupt ({exc})") from exc


def _from_blob(blob_id: str, blobs: BlobReader | None) -> Any:
    if blobs is None:
        raise MediaError(f"image block names blob {blob_id!r} but this ChatCore has no blob store; "
                         "pass blobs=<store with .path(blob_id)> to ChatCore")
    try:
        path = Path(blobs.path(blob_id))
    except (KeyError, FileNotFoundError, LookupError) as exc:
        raise MediaError(f"blob {blob_id!r} is not in the blob store ({exc})") from exc
    return _open_image(_read_path(path, f"blob {blob_id}"), f"blob {blob_id}")


def load_image_block(block: dict[str, Any], blobs: BlobReader | None = None) -> Any:
    """One LangChain / OpenAI image content block → an RGB ``PIL.Image``.

    Raises:
        MediaError: the data is corrupt, missing, remote, or names an unknown blob.

    Example:
        >>> import base64, io
        >>> from PIL import Image
        >>> buf = io.BytesIO(); Image.new("RGB", (4, 4)).save(buf, "PNG")
        >>> load_image_block({"type": "image", "base64": base64.b64encode(buf.getvalue()).decode(),
        ...                   "mime_type": "image/png"}).size
        (4, 4)
    """
    kind = block.get("type")
    if kind == "image_url":
        ref = block.get("image_url")
        url = ref.get("url") if isinstance(ref, dict) else ref
        if not isinstance(url, str):
            raise MediaError("an image_url block needs image_url.url (a data:, file:/// or absolute path URL)")
        return _from_url(url, blobs)
    if kind != "image":
        raise MediaError(f"not an image block: type {kind!r}")
    if isinstance(block.get("base64"), str):
        return _open_image(_b64(block["base64"], "an image block"), "an image block (base64)")
    if block.get("source_type") == "base64" and isinstance(block.get("data"), str):  # LangChain v0 blocks
        return _open_image(_b64(block["data"], "an image block"), "an image block (base64)")
    if isinstance(block.get("file_id"), str):
        return _from_blob(block["file_id"], blobs)
    if block.get("source_type") == "id" and isinstance(block.get("id"), str):
        return _from_blob(block["id"], blobs)
    url = block.get("url") or (block.get("data") if block.get("source_type") == "url" else None)
    if isinstance(url, str):
        return _from_url(url, blobs)
    raise MediaError("an image block needs one of: base64 (+mime_type), url, or file_id")
