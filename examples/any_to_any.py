"""Any-to-any, offline: a photo goes in through a textualizer (ADC), an answer comes out as speech (DAC).

1. ``build_any_to_any_graph`` with the nano core, the image textualizer (EfficientNet-Lite0
   ImageNet labels) and the espeak-ng speech decoder as the core's ``speak`` tool: the photo is
   turned into text, the core answers, and it may call ``speak``.
2. A lesson in custom graphs: a small graph from the same genaisys nodes that *always* answers
   aloud, whatever the core decides: perceive → textualize → think → our own ``answer_aloud``
   node (turns the answer into a ``speak`` call) → decode. The WAV lands in the blob store and
   on disk with a JSON sidecar of its voice settings.
3. Draw, then look: genaisys's own shape decoder as ``generate_image`` (drawing from the core's
   signal tokens when the core has them, ``--core runs/nano-signal/signal/final``), and
   ``see_outputs=True``: the drawn image goes back into the conversation, so "What did you
   draw?" is answered by the core reading the picture through its encoder (the native path).
   The shape oracle says what is really in the image, to compare.

Without espeak-ng the output decoder is a tiny *random* diffusers text-to-image pipeline built
from a config (it shows the plumbing; it draws noise: no diffusion weights ship here).

Run: python examples/any_to_any.py [--max-new-tokens 48] [--out DIR] [--core nano]
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import skimage.data  # noqa: E402
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage  # noqa: E402
from langgraph.graph import END, START, StateGraph  # noqa: E402
from PIL import Image  # noqa: E402

import genaisys  # noqa: E402
from genaisys.graphs import AssistantState, build_any_to_any_graph, run_turn  # noqa: E402
from genaisys.graphs.media import (  # noqa: E402
    DECODER_TOOL_NAMES,
    make_decode_node,
    make_perceive_node,
    make_textualize_node,
    route_after_perceive,
)
from genaisys.graphs.nodes import make_think_node  # noqa: E402
from genaisys.memory.blobs import BlobStore  # noqa: E402
from genaisys.datasets.shape_oracle import classify_shape_image  # noqa: E402
from genaisys.tools.decoders import (  # noqa: E402
    DiffusersImageDecoder,
    EspeakSpeechDecoder,
    ShapeImageDecoder,
    read_params,
)
from genaisys.tools.textualizers import ImageTextualizer  # noqa: E402


def tiny_random_image_pipeline(folder: Path) -> Path:
    """A random 1-block StableDiffusionPipeline saved to ``folder`` (the fallback decoder)."""
    import string

    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in string.ascii_lowercase:
        vocab[c], vocab[c + "</w>"] = len(vocab), len(vocab) + 1
    pipe = StableDiffusionPipeline(
        unet=UNet2DConditionModel(block_out_channels=(16,), layers_per_block=1, sample_size=8,
                                  down_block_types=("CrossAttnDownBlock2D",), up_block_types=("CrossAttnUpBlock2D",),
                                  cross_attention_dim=16, norm_num_groups=8, attention_head_dim=4),
        vae=AutoencoderKL(block_out_channels=(8,), down_block_types=("DownEncoderBlock2D",),
                          up_block_types=("UpDecoderBlock2D",), latent_channels=4, norm_num_groups=4),
        text_encoder=CLIPTextModel(CLIPTextConfig(vocab_size=len(vocab), hidden_size=16, intermediate_size=32,
                                                  num_attention_heads=2, num_hidden_layers=1, bos_token_id=0,
                                                  eos_token_id=1, pad_token_id=1, max_position_embeddings=16)),
        tokenizer=CLIPTokenizer(vocab=vocab, merges=[], model_max_length=16),
        scheduler=DDIMScheduler(beta_schedule="scaled_linear", clip_sample=False, steps_offset=1),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(str(folder))
    return folder


def photo_message(question: str) -> HumanMessage:
    buf = io.BytesIO()
    Image.fromarray(skimage.data.chelsea()).save(buf, format="PNG")
    return HumanMessage(content=[
        {"type": "text", "text": question},
        {"type": "image", "base64": base64.b64encode(buf.getvalue()).decode(), "mime_type": "image/png"},
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--out", type=Path, default=None, help="where decoded files go (default: a temp folder)")
    parser.add_argument("--core", default="nano", help="core spec for genaisys.load_core (default: the shipped nano)")
    args = parser.parse_args()

    out = args.out or Path(tempfile.mkdtemp(prefix="genaisys-any2any-"))
    blobs = BlobStore(out / "blobs")
    if shutil.which("espeak-ng"):
        kind, decoder = "speech", EspeakSpeechDecoder(output_dir=out, blobs=blobs)
    else:
        print("espeak-ng is not installed (apt-get install espeak-ng): answering with a tiny random image decoder")
        kind = "image"
        decoder = DiffusersImageDecoder(model=str(tiny_random_image_pipeline(out / "tiny-sd")), steps=1,
                                        width=32, height=32, output_dir=out, blobs=blobs)
    core = genaisys.load_core(args.core, max_new_tokens=args.max_new_tokens, blobs=blobs)
    textualizers = {"image": ImageTextualizer(ocr=False)}
    question = "What animal is in this photo? Answer in a few words."

    # 1. the prebuilt any-to-any graph: the decoder is a tool the core may call
    graph = build_any_to_any_graph(core, blobs=blobs, native=(), textualizers=textualizers,
                                   decoders={kind: decoder}, checkpointer=False)
    state = run_turn(graph, photo_message(question), thread_id="any2any")
    [seen] = state["perception"]
    print(f"perceive: {seen['kind']} → {seen['route']} ({seen['reason']})")
    print("core:", state["messages"][-1].text)
    print("decoders the core called:", [a["producer"] for a in state.get("artifacts") or []] or "none")

    # 2. a custom graph from the same nodes that always answers in the output modality
    tool = DECODER_TOOL_NAMES[kind]

    def answer_aloud(s: AssistantState) -> dict:
        """Our own node: the core's answer becomes a call to the decoder tool."""
        answer = s["messages"][-1].text.strip() or "I could not tell."
        return {"messages": [AIMessage("", tool_calls=[{"name": tool, "args": {"prompt": answer},
                                                         "id": "answer-aloud", "type": "tool_call"}])]}

    builder = StateGraph(AssistantState)
    builder.add_node("perceive", make_perceive_node(blobs=blobs, native=(), textualizers=textualizers))
    builder.add_node("textualize", make_textualize_node(blobs=blobs, textualizers=textualizers))
    builder.add_node("think", make_think_node(core))
    builder.add_node("answer_aloud", answer_aloud)
    builder.add_node("decode", make_decode_node({kind: decoder}, blobs=blobs))
    builder.add_edge(START, "perceive")
    builder.add_conditional_edges("perceive", route_after_perceive, {"textualize": "textualize", "next": "think"})
    builder.add_edge("textualize", "think")
    builder.add_edge("think", "answer_aloud")
    builder.add_edge("answer_aloud", "decode")
    builder.add_edge("decode", END)
    state = builder.compile().invoke({"messages": [photo_message(question)]})
    made = next(m for m in reversed(state["messages"]) if isinstance(m, ToolMessage))
    if not (isinstance(made.artifact, dict) and made.artifact.get("blob_id")):
        raise SystemExit(f"the {tool} tool failed: {made.content}")
    blob_id = made.artifact["blob_id"]
    [written] = [p for p in out.glob(f"{kind}-*") if p.suffix != ".json" and read_params(p)["blob_id"] == blob_id]
    record = read_params(written)
    print(f"{tool}: {record['params'].get('text') or record['params'].get('prompt')!r}")
    print(f"  blob {blob_id} ({blobs.mime_type(blob_id)}, {len(blobs.get(blob_id))} bytes)")
    print(f"  file {written} + {written.name}.json")

    # 3. draw, then look at what was drawn (a tool call needs more tokens than a short answer)
    painter = ShapeImageDecoder(signals=core.signal_embeddings, blobs=blobs, output_dir=out / "drawn")
    drawer = core.model_copy(update={"max_new_tokens": max(args.max_new_tokens, 48)})
    graph = build_any_to_any_graph(drawer, blobs=blobs, decoders={"image": painter}, see_outputs=True,
                                   checkpointer=":memory:")
    state = run_turn(graph, "Draw a blue triangle.", thread_id="draw")
    calls = [c for m in state["messages"] if isinstance(m, AIMessage) for c in m.tool_calls]
    print("draw:", [(c["name"], "signal tokens" if c["args"].get("signal") else "text", c["args"].get("prompt"))
                    for c in calls] or "no decoder call")
    for art in state.get("artifacts") or []:
        seen = classify_shape_image(blobs.get(art["blob_id"]))
        print(f"  drew {art['blob_id'][:20]}…; the shape oracle sees: {seen.color} {seen.shape}")
    state = run_turn(graph, "What did you draw?", thread_id="draw")
    print("what did you draw? →", state["messages"][-1].text)


if __name__ == "__main__":
    main()
