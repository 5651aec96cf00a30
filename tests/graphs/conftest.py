"""Graph tests keep the tools' idempotency cache and checkpoints in a temporary folder."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("GENAISYS_TOOL_CACHE", str(tmp_path / "tool_calls.sqlite"))
    monkeypatch.setenv("GENAISYS_HOME", str(tmp_path / "home"))
