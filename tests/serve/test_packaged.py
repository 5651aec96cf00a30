"""The packaged nano core served for real and answered through the openai SDK (plain, streamed, image,
concurrent requests batched), plus embeddings from the packaged MiniLM."""

from __future__ import annotations

import base64
import io
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.serve.conftest import API_KEY, LiveServer


@pytest.mark.packaged
def test_nano_core_through_openai_sdk() -> None:
    import openai
    import torch
    from PIL import Image

    from genaisys.core import load_core
    from genaisys.serve import create_app

    torch.set_num_threads(1)
    core = load_core("nano", max_new_tokens=6, batch_window_ms=10)
    app = create_app(core, api_key=API_KEY, model_id="genaisys-nano")
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (0, 0, 255)).save(buf, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    with LiveServer(app) as live, openai.OpenAI(base_url=live.url + "/v1", api_key=API_KEY, max_retries=0,
                                                timeout=120) as client:
        out = client.chat.completions.create(model="genaisys-nano", max_tokens=4,
                                             messages=[{"role": "user", "content": "Say hello."}])
        assert out.choices[0].message.content.strip()
        assert 1 <= out.usage.completion_tokens <= 4 and out.usage.prompt_tokens > 3
        chunks = list(client.chat.completions.create(
            model="genaisys-nano", stream=True, messages=[{"role": "user", "content": "Say hello."}]))
        streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        # greedy decoding: the streamed answer is the plain one, continued to the core's 6-token cap
        assert streamed.startswith(out.choices[0].message.content.strip()[:3])
        seen = client.chat.completions.create(model="genaisys-nano", max_tokens=4, messages=[{
            "role": "user", "content": [{"type": "text", "text": "What color is the shape?"},
                                        {"type": "image_url", "image_url": {"url": url}}]}])
        assert seen.choices[0].message.content.strip()
        assert seen.usage.prompt_tokens > out.usage.prompt_tokens  # the image tokens were spliced in

        # Concurrent clients are rows of the core's running batch (continuous batching), not 4 decodes.
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: client.chat.completions.create(
                model="genaisys-nano", max_tokens=3, messages=[{"role": "user", "content": "Name a colour."}]
            ).choices[0].message.content, range(4)))
        assert core.engine.batcher().peak_rows >= 2
        assert len(set(answers)) == 1 and answers[0].strip()  # greedy: the same prompt, the same answer

        # /v1/embeddings with no memory and no embedder: the packaged MiniLM (384-d, unit length).
        vectors = client.embeddings.create(model="genaisys-embed", input=["a red square", "a red box"]).data
        assert [len(v.embedding) for v in vectors] == [384, 384]
        assert sum(x * x for x in vectors[0].embedding) == pytest.approx(1.0, abs=1e-3)
        assert sum(a * b for a, b in zip(vectors[0].embedding, vectors[1].embedding, strict=True)) > 0.5
