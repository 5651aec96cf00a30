"""Shared test setup: offline hub, one torch thread, deterministic seeds."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import tempfile

import pytest

# The tools' idempotency cache lives in GENAISYS_HOME, here the shared asset cache: the test session gets a
# throwaway one instead, so no test needs to switch the cache off.
os.environ.setdefault("GENAISYS_TOOL_CACHE", os.path.join(tempfile.mkdtemp(prefix="genaisys-test-"), "tool_calls.sqlite"))


@pytest.fixture(autouse=True)
def _one_thread_and_seed(request):
    """Tests that touch torch get one thread (2 threads under load were 5-70x slower) and seed 0."""
    import sys

    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(1)
        torch.manual_seed(0)
    yield


@pytest.fixture(autouse=True)
def _auto_dtype_is_float32(monkeypatch):
    """``dtype="auto"`` decodes in bf16 on CPUs with native bf16: pinned to float32 here, so that a
    test decodes alike on every machine (tests of that choice patch it back)."""
    monkeypatch.setattr("genaisys.core.precision.AUTO_BF16", False)
