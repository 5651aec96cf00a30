"""``read_file``: read text files (or list folders) confined to configured root folders.

A path from the model is resolved against the roots (relative paths against the first root);
after resolving ``..`` and every symlink it must still lie inside a root, or it is refused.
The check is repeated on the *opened* file descriptor (``/proc/self/fd``), so swapping a path
component for a symlink between the check and the open does not help either. Hidden entries
(``.env``, ``.git/``…) are refused unless ``allow_hidden``; only regular files are read (no
FIFOs or devices, which could block or never end), at most ``max_bytes`` per call, and binary
files are refused.

Example:
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp()); _ = (root / "notes.txt").write_text("hello")
    >>> reader = FileReader(FileReaderConfig(roots=[root]))
    >>> reader.read("notes.txt")
    'hello'
    >>> reader.read("../../etc/passwd")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    genaisys.errors.ToolError: refused '../../etc/passwd': it is outside the allowed folders...
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from genaisys.errors import ConfigError, ToolError

__all__ = ["FileReader", "FileReaderConfig", "build_file_reader_tool"]


class FileReaderConfig(BaseModel):
    """Settings of `FileReader`.

    Attributes:
        roots: Folders that may be read (at least one; they must exist).
        max_bytes: Bytes returned per call at most (use ``offset`` to page on).
        allow_hidden: Allow names starting with a dot.
        max_listing: Entries shown at most when the path is a folder.
    """

    model_config = ConfigDict(extra="forbid")

    roots: list[Path] = Field(min_length=1)
    # Under the safety wrapper's default output cap (20 000 characters), so the "call again with
    # offset=..." note at the end of a long file reaches the model.
    max_bytes: int = Field(default=16_000, gt=0)
    allow_hidden: bool = False
    max_listing: int = Field(default=200, gt=0)

    @field_validator("roots")
    @classmethod
    def _existing_folders(cls, roots: list[Path]) -> list[Path]:
        resolved = []
        for root in roots:
            real = Path(root).expanduser().resolve()
            if not real.is_dir():
                raise ValueError(f"root {str(root)!r} is not an existing folder")
            resolved.append(real)
        return resolved


class FileReader:
    """Read files inside the configured roots (see the module docstring).

    Args:
        config: The roots and limits.
    """

    def __init__(self, config: FileReaderConfig) -> None:
        self.config = config

    def _inside(self, real: Path) -> bool:
        return any(real == root or real.is_relative_to(root) for root in self.config.roots)

    def resolve(self, path: str) -> Path:
        """The real path for ``path`` if it is allowed; raise `ToolError` otherwise."""
        shown = repr(path if len(path) <= 200 else path[:200] + "...")

        def refuse(reason: str) -> ToolError:
            return ToolError(f"refused {shown}: {reason}")

        if not isinstance(path, str) or not path.strip():
            raise refuse("the path is empty")
        if "\x00" in path:
            raise refuse("the path contains a NUL character")
        candidate = Path(path).expanduser() if path.startswith("~") else Path(path)
        if not candidate.is_absolute():
            candidate = self.config.roots[0] / candidate
        try:
            real = candidate.resolve(strict=True)
        except FileNotFoundError:
            # Say "not found" only for paths that would be inside; do not probe the outside.
            if self._inside(Path(os.path.normpath(candidate))):
                raise refuse("no such file") from None
            raise refuse(self._outside_text()) from None
        except (OSError, RuntimeError) as exc:  # symlink loops, permission
            raise refuse(f"it cannot be resolved ({type(exc).__name__})") from exc
        if not self._inside(real):
            raise refuse(self._outside_text())
        if not self.config.allow_hidden:
            root = next(r for r in self.config.roots if real == r or real.is_relative_to(r))
            if any(part.startswith(".") for part in real.relative_to(root).parts):
                raise refuse("hidden files and folders (names starting with '.') are not readable")
        return real

    def _outside_text(self) -> str:
        roots = ", ".join(str(r) for r in self.config.roots)
        return f"it is outside the allowed folders ({roots}); give a path inside them"

    def read(self, path: str, offset: int = 0) -> str:
        """Text of the file at ``path`` (from byte ``offset``), or a listing if it is a folder.

        Raises:
            ToolError: The path is refused, missing, binary, or not a regular file.
        """
        if offset < 0:
            raise ToolError("offset must be >= 0")
        real = self.resolve(path)
        if real.is_dir():
            return self._listing(real)
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(real, flags)
        except OSError as exc:
            raise ToolError(f"refused {path!r}: it cannot be opened ({exc.strerror})") from exc
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise ToolError(f"refused {path!r}: only regular files can be read")
            opened = Path(f"/proc/self/fd/{fd}")
            if opened.exists() and not self._inside(Path(os.readlink(opened))):
                raise ToolError(f"refused {path!r}: {self._outside_text()}")
            os.lseek(fd, offset, os.SEEK_SET)
            data = os.read(fd, self.config.max_bytes + 1)
        finally:
            os.close(fd)
        if b"\x00" in data[:8192]:
            raise ToolError(f"refused {path!r}: it is a binary file; only text files can be read")
        more = len(data) > self.config.max_bytes
        text = data[: self.config.max_bytes].decode("utf-8", errors="replace")
        if more:
            nxt = offset + self.config.max_bytes
            text += f"\n[... file continues: {info.st_size} bytes in all; call again with offset={nxt} ...]"
        return text

    def _listing(self, folder: Path) -> str:
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
        if not self.config.allow_hidden:
            entries = [e for e in entries if not e.name.startswith(".")]
        shown = entries[: self.config.max_listing]
        lines = [f"{e.name}/" if e.is_dir() else e.name for e in shown]
        if len(entries) > len(shown):
            lines.append(f"[... {len(entries) - len(shown)} more entries ...]")
        return f"Folder {folder}:\n" + ("\n".join(lines) if lines else "(empty)")


def build_file_reader_tool(
    roots: Sequence[str | Path] | None = None, *, config: FileReaderConfig | None = None
) -> Any:
    """The ``read_file(path, offset=0)`` LangChain tool over ``roots``.

    Args:
        roots: Folders the model may read (or give ``config``).
        config: Full settings; ``roots`` overrides its roots when both are given.

    Raises:
        ConfigError: No roots, or a root is not an existing folder.
    """
    from langchain_core.tools import StructuredTool, ToolException
    from pydantic import ValidationError

    try:
        if config is None:
            config = FileReaderConfig(roots=list(roots or []))
        elif roots:
            config = config.model_copy(update={"roots": FileReaderConfig(roots=list(roots)).roots})
    except ValidationError as exc:
        raise ConfigError(f"file reader settings are invalid: {exc.errors(include_url=False)[0]['msg']}; "
                          "pass roots=[existing folders]") from exc
    reader = FileReader(config)

    def read_file(path: str, offset: int = 0) -> str:
        """Read a text file (or list a folder) inside the allowed folders. Paths may be relative.

        Long files come in parts: call again with the offset the answer gives.
        """
        try:
            return reader.read(path, offset)
        except ToolError as exc:
            raise ToolException(str(exc)) from exc

    return StructuredTool.from_function(func=read_file, name="read_file", handle_tool_error=True)
