"""Helpers for running LangChain's standard chat-model suites (``langchain-tests``) offline.

The suites download two pictures from the internet (a PNG from GitHub for the image tests, a
WAV from Wikimedia for audio). No internet is reachable here, so `offline_downloads` answers
those ``httpx.get`` calls with a scikit-image photo, and the tests run unchanged otherwise.
`tiny_text_core` and `tiny_vision_core` build the small random cores the suites drive.
"""

from __future__ import annotations

import functools
import inspect
import io
from types import SimpleNamespace
from typing import Any

import pytest


def _photo_png() -> bytes:
    import skimage.data
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(skimage.data.chelsea()).resize((96, 64)).save(buf, format="PNG")
    return buf.getvalue()


def xfail(base: Any, reason: str) -> Any:
    """A standard test as it is (its parameters and marks kept), marked ``xfail`` with ``reason``.

    langchain-tests asks for exactly this when a test does not apply to a model: an override
    marked ``xfail`` with a reason, never a deleted test.
    """
    if inspect.iscoroutinefunction(base):
        @functools.wraps(base)
        async def run(self: Any, *args: Any, **kwargs: Any) -> None:
            await base(self, *args, **kwargs)
    else:
        @functools.wraps(base)
        def run(self: Any, *args: Any, **kwargs: Any) -> None:
            base(self, *args, **kwargs)
    return pytest.mark.xfail(reason=reason, strict=False)(run)


@pytest.fixture
def offline_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Serve the suites' picture downloads from a local photo instead of the internet."""
    import langchain_tests.integration_tests.chat_models as suite

    data = _photo_png()

    def get(url: str, **_: Any) -> Any:
        return SimpleNamespace(content=data, status_code=200)

    monkeypatch.setattr(suite.httpx, "get", get)


@functools.cache
def tiny_vision_core() -> Any:
    """A `MultimodalCore` of tiny random parts (CLIP → mlp2x_gelu → Llama), built once."""
    import torch

    from genaisys.core.multimodal import MultimodalCore, MultimodalCoreConfig
    from tests.core.conftest import TINY_CLIP, TINY_LLAMA, make_tokenizer

    tok = make_tokenizer()
    torch.manual_seed(0)
    cfg = MultimodalCoreConfig(vision={"name": "hf", "config": TINY_CLIP}, connector="mlp2x_gelu",
                               language_model_config={**TINY_LLAMA, "vocab_size": len(tok)})
    return MultimodalCore(cfg, tokenizer=tok).eval()


@functools.cache
def tiny_text_core() -> tuple[Any, Any]:
    """A tiny random Llama and its byte-level BPE tokenizer (text only), built once."""
    from tests.core.conftest import make_lm, make_tokenizer

    tok = make_tokenizer()
    return make_lm(len(tok)), tok


SERVED_KEY = "sk-standard-suites"
SERVED_MODEL = "tiny"


@pytest.fixture(scope="class")
def served_tiny_core(request: pytest.FixtureRequest) -> Any:
    """A real ``genaisys serve`` app (uvicorn on 127.0.0.1) around a tiny `ChatCore`, for a class.

    The test class reads the server's ``/v1`` URL from its ``base_url`` attribute.
    """
    from genaisys.core.chat import ChatCore
    from genaisys.memory import HashingEmbedding
    from genaisys.serve import create_app
    from tests.serve.conftest import LiveServer

    core = ChatCore(core=tiny_vision_core(), max_new_tokens=128, model_name=SERVED_MODEL,
                    constrain_tool_calls=getattr(request.cls, "constrained", False))
    app = create_app(core, api_key=SERVED_KEY, model_id=SERVED_MODEL, embedder=HashingEmbedding(dim=16))
    with LiveServer(app) as server:
        request.cls.base_url = server.url + "/v1"
        yield server
