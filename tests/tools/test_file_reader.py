"""The file reader inside its roots: reading, paging, several roots, bad settings."""

from __future__ import annotations

import pytest

from genaisys.errors import ConfigError
from genaisys.tools import get_tool
from genaisys.tools.file_reader import FileReader, FileReaderConfig



def test_large_file_comes_in_pages(tmp_path):
    (tmp_path / "big.txt").write_text("0123456789" * 10)
    reader = FileReader(FileReaderConfig(roots=[tmp_path], max_bytes=40))
    first = reader.read("big.txt")
    assert first.startswith("0123456789" * 4)
    assert first.endswith("[... file continues: 100 bytes in all; call again with offset=40 ...]")
    assert reader.read("big.txt", offset=80) == "0123456789" * 2


def test_several_roots_and_symlinks_inside(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (b / "note.md").write_text("# note")
    (a / "alias.md").symlink_to(b / "note.md")  # points into another allowed root: fine
    tool = get_tool("builtin:file_reader", roots=[a, b])
    assert tool.invoke({"path": "alias.md"}) == "# note"
    assert tool.invoke({"path": str(b / "note.md")}) == "# note"


def test_hidden_files_can_be_allowed(tmp_path):
    (tmp_path / ".notes").write_text("hidden")
    reader = FileReader(FileReaderConfig(roots=[tmp_path], allow_hidden=True))
    assert reader.read(".notes") == "hidden"


def test_bad_settings_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="pass roots"):
        get_tool("builtin:file_reader")
    with pytest.raises(ConfigError, match="is not an existing folder"):
        get_tool("builtin:file_reader", roots=[tmp_path / "missing"])


def test_paging_note_survives_the_wrappers_output_cap(tmp_path):
    (tmp_path / "long.txt").write_text("z" * 100_000)
    tool = get_tool("builtin:file_reader", roots=[tmp_path])
    out = tool.invoke({"path": "long.txt"})
    assert out.endswith("call again with offset=16000 ...]") and "output truncated" not in out
    assert tool.invoke({"path": "long.txt", "offset": 96_000}) == "z" * 4_000
