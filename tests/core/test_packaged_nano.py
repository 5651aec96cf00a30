"""The nano core end to end on the packaged models (EfficientNet-Lite0 → mlp2x_gelu → SmolLM2)."""

from __future__ import annotations

import base64
import io
import subprocess
import sys

import pytest
from langchain_core.messages import HumanMessage
from pydantic import BaseModel


def test_importing_genaisys_core_stays_light():
    code = ("import sys, genaisys.core; from genaisys.core import __all__; "
            "print(sorted(m for m in ('torch', 'transformers', 'langchain_core') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


class GetWeather(BaseModel):
    """Get the weather for a city."""

    city: str


@pytest.mark.packaged
def test_nano_answers_text_sees_an_image_and_binds_tools(tmp_path, monkeypatch):
    import skimage.data
    import torch
    from PIL import Image

    from genaisys.core import loading
    from genaisys.core.loading import load_core

    chat = load_core("nano", max_new_tokens=12)
    answer = chat.invoke("What is the capital of France?")
    assert isinstance(answer.content, str) and answer.content.strip()
    assert answer.usage_metadata["output_tokens"] > 0

    buf = io.BytesIO()
    Image.fromarray(skimage.data.chelsea()).save(buf, "PNG")
    image = {"type": "image", "base64": base64.b64encode(buf.getvalue()).decode(), "mime_type": "image/png"}
    seen = chat.invoke([HumanMessage(content=[image, {"type": "text", "text": "What animal is this?"}])])
    assert isinstance(seen.content, str)
    assert seen.usage_metadata["input_tokens"] >= chat.core.n_image_tokens == 49  # all 49 cells of the encoder

    # Trained parts in the repo folder are picked up by load_core("nano"): ~12 MB, same logits.
    saved = chat.core.save_pretrained(tmp_path / "nano")
    assert sum(p.stat().st_size for p in saved.iterdir()) < 25_000_000  # saved in fp32: LoRA r16 on all seven projections, 23.9 MB (the package ships it as fp16, 12 MB)
    monkeypatch.setattr(loading, "NANO_DIR", saved)
    reloaded = load_core("nano")
    ids = chat.tokenizer("<image>Hi", return_tensors="pt", add_special_tokens=False)["input_ids"]
    pixels = chat.core.preprocess_images([Image.fromarray(skimage.data.chelsea())])
    with torch.no_grad():
        torch.testing.assert_close(reloaded.core(input_ids=ids, pixel_values=pixels).logits,
                                   chat.core(input_ids=ids, pixel_values=pixels).logits, rtol=0, atol=0)

    called = chat.bind_tools([GetWeather]).invoke("What is the weather in Paris? Call the tool.")
    assert isinstance(called.content, str)
    for call in called.tool_calls:  # whether it calls is up to training; the structure is not
        assert call["name"] == "GetWeather" and isinstance(call["args"], dict) and call["id"]

    try:
        import outlines_core  # noqa: F401
    except ImportError:
        return
    # With a demanded, grammar-constrained call even the untrained nano core answers with a valid call.
    forced = chat.bind_tools([GetWeather], tool_choice="any").invoke(
        "What is the weather in Paris?", constrain_tool_calls=True, max_new_tokens=24)
    assert [c["name"] for c in forced.tool_calls] == ["GetWeather"]
    assert isinstance(forced.tool_calls[0]["args"]["city"], str)
