"""Media checks on the way in: a medium the core could not read is refused before it enters a thread.

``perceive`` calls `check_media` on the latest user message before anything is stored. An image
must decode exactly as the core will decode it (`genaisys.core.media.load_image_block`: empty,
truncated and corrupt files fail, a broken GIF too); other inline media must be valid, non-empty
base64. Remote ``http(s)`` image URLs are left to whoever fetches them.

A refused turn must also leave no trace in the thread: LangGraph checkpoints the user's message
before the first node runs, so `run_turn` puts the thread back where it was
(`genaisys.graphs.checkpoint.rewind_thread`) when a turn fails with a `MediaError`.

Example:
    >>> from langchain_core.messages import HumanMessage
    >>> check_media(HumanMessage(content=[{"type": "image", "base64": "", "mime_type": "image/png"}]))
    Traceback (most recent call last):
    ...
    genaisys.errors.MediaError: attachment 1 (image) cannot be used: the image ... is empty (0 bytes). ...
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from genaisys.errors import MediaError
from genaisys.types import BlobReader

__all__ = ["check_media"]

_KINDS = ("image", "image_url", "audio", "video", "file")


def _is_remote(block: Mapping[str, Any]) -> bool:
    ref = block.get("image_url")
    url = ref.get("url") if isinstance(ref, Mapping) else ref if isinstance(ref, str) else block.get("url")
    return isinstance(url, str) and url.lower().startswith(("http://", "https://"))


def _check_block(block: Mapping[str, Any], blobs: BlobReader | None) -> None:
    kind = block.get("type")
    if kind in ("image", "image_url"):
        if _is_remote(block):
            return
        from genaisys.core.media import load_image_block

        load_image_block(dict(block), blobs)  # decodes it fully, as the core will
        return
    data = block.get("base64")
    if data is None:
        return  # a blob id or URL: checked where it is read
    try:
        raw = base64.b64decode(str(data), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MediaError(f"the data is not valid base64 ({exc})") from exc
    if not raw:
        raise MediaError("the file is empty (0 bytes)")


def check_media(message: Any, *, blobs: BlobReader | None = None) -> None:
    """Raise `MediaError` for the first medium in ``message`` that cannot be used.

    Args:
        message: a LangChain message (only list content carries media).
        blobs: the blob store ``file_id`` blocks name (``path(blob_id) -> Path``).

    Raises:
        MediaError: which attachment (1-based, by kind) and why; for example a truncated PNG, an
            empty file, a broken GIF or corrupt base64. Send the file again, or another one.
    """
    content = getattr(message, "content", None)
    if not isinstance(content, list):
        return
    media = [b for b in content if isinstance(b, Mapping) and b.get("type") in _KINDS]
    for number, block in enumerate(media, start=1):
        kind = "image" if block.get("type") == "image_url" else block.get("type")
        try:
            _check_block(block, blobs)
        except MediaError as exc:
            raise MediaError(f"attachment {number} ({kind}) cannot be used: {exc}. Nothing was kept from this "
                             "message; send the file again, or another one") from exc
