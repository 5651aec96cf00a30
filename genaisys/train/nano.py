"""The nano recipe: train the embedded default core on the programs it runs in.

EfficientNet-Lite0 (frozen, features cached) → ``mlp2x_gelu`` connector (all 49 image tokens) →
SmolLM2-135M-Instruct (frozen) + LoRA on every projection, in three stages and an optional fourth:

1. **align** — connector only: caption requests about shapes drawn many ways
   (`genaisys.train.engine.shapes`) and easy-VQA images → "A red circle.";
2. **sft** — connector + LoRA on one mix:

   - **recorded programs** (`genaisys.train.engine.programs`): the assistant, RAG, any-to-any and
     planner graphs run around a scripted oracle with real tools, a real Chroma memory of
     training documents and a real blob store; every model call is kept exactly as the graph
     rendered it (system prompt, recalled context, tool list, history, tool results);
   - **vision**: questions about shapes drawn many ways and about easy-VQA *train* images, asked
     many ways, yes/no balanced;
   - **replay**: requests that need no tool, answered with the base model's own answers.

3. **refine** — connector + LoRA again, from the sft core, on a second recording of the programs
   in a new world (other documents, more kinds of fact, facts in tables, YAML and key lists; more
   follow-ups, photos and tool requests), shapes in every shade their colour name covers, and
   short general-knowledge replay. Yes/no answers about photos and shapes now give the evidence
   first and the verdict last ("It is a red circle, so no."): a verdict guessed before the
   colour and shape are named was right about half the time.
4. **signal** (optional; ``stages=[..., "signal"]``) — NExT-GPT's output side: four image signal
   tokens ``[IMG0..3]`` and an output projector join the refine core; the projector and LoRA train
   on threads whose draw requests the core answers by writing the caption and emitting the tokens
   (`genaisys.train.engine.programs.signals`), beside refine replay, with the LM loss plus the L2
   distance to the shape decoder's MiniLM caption embedding (the ``decoder`` stage); then the
   projector alone is fitted on the tokens' cached hidden states (`fit_signal_projector`).

The prompt up to 96 tokens before each answer runs as a gradient-free cache
(``frozen_context``), and micro-batches are packed by tokens (``max_batch_tokens``): a
1,500-token graph prompt trains alone, sixteen short questions together. The evaluation's
material — Python's help topics, the scikit-image / scikit-learn photos, the demo's turns and
the held-out sets — never enters the data (a test checks it). ``genaisys train nano`` runs the
recipe; every stage checkpoints, so an interrupted run continues where it stopped. With
``ship=True`` the trained parts are written to ``genaisys/core/nano/`` with a model card.

Example:
    >>> recipe = NanoRecipe(output_dir="runs/nano", scale=0.01)  # a smoke run  # doctest: +SKIP
    >>> train_nano(recipe)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from genaisys.types import ContextOrder

__all__ = ["NanoRecipe", "TEXT_QUESTIONS", "build_nano_data", "earlier_timings", "nano_chat", "request_diversity",
           "train_nano"]

# The recipe's evaluation, model card and shipping (evaluate_nano, write_model_card, ship_nano) use the
# evaluation too, so they live a layer above training and evaluation: genaisys.improve.nano.

# Text-only questions for the regression check (the answer must appear in the reply).
TEXT_QUESTIONS: tuple[tuple[str, str], ...] = (
    ("What is the capital of France?", "paris"),
    ("What is the capital of Japan?", "tokyo"),
    ("What is the capital of Italy?", "rome"),
    ("What is the capital of Germany?", "berlin"),
    ("What is the capital of Spain?", "madrid"),
    ("How many days are in a week?", "seven|7"),
    ("How many legs does a spider have?", "eight|8"),
    ("What colour is the sky on a clear day?", "blue"),
    ("What is the largest planet in the solar system?", "jupiter"),
    ("Which planet is known as the Red Planet?", "mars"),
    ("What do bees make?", "honey"),
    ("What is the freezing point of water in Celsius?", "0|zero"),
    ("Who wrote 'Romeo and Juliet'?", "shakespeare"),
    ("What gas do plants absorb from the air?", "carbon dioxide|co2"),
    ("What is the opposite of 'hot'?", "cold"),
    ("How many continents are there on Earth?", "seven|7"),
    ("What is the chemical symbol for water?", "h2o"),
    ("What language is mainly spoken in Brazil?", "portuguese"),
    ("What is the boiling point of water in Celsius?", "100"),
    ("Which animal is known as the king of the jungle?", "lion"),
)


class NanoRecipe(BaseModel):
    """What `train_nano` does; the defaults are the shipped recipe.

    ``scale`` multiplies every data size (``0.01`` is a smoke run).
    """

    model_config = ConfigDict(extra="forbid")

    output_dir: Path = Path("runs/nano")
    seed: int = 0
    scale: float = Field(1.0, gt=0)
    n_image_tokens: int | None = Field(None, description="image tokens per image; None: all 49 of the encoder")
    align_shapes: int = 1200
    align_easy_vqa: int = 400
    assistant_threads: int = 550
    rag_questions: int = 220
    any_to_any_threads: int = 40
    planner_requests: int = 20
    shape_questions: int = 600
    easy_vqa_questions: int = 150
    pope_probes: int = 100
    replay_prompts: int = 100
    refine_assistant_threads: int = 380
    refine_rag_questions: int = 110
    refine_any_to_any_threads: int = 12
    refine_planner_requests: int = 8
    refine_shape_questions: int = 1000
    refine_replay_prompts: int = 100
    refine_fact_prompts: int = 200
    refine_handbooks: int = Field(0, description="prose documents of other domains (handbooks, appliance guides, "
                                                 "event notices, course pages, club rules) in the refine world; the "
                                                 "focused-context candidate used 28")
    refine_composed: int = Field(0, description="notes of composed facts in the refine world: many kinds of fact "
                                                "(a count, a name, a duration, a day, a price, a person, a place of "
                                                "many things) from a few frames (genaisys.train.engine.programs.frames)")
    refine_weights: dict[str, Any] = Field(
        default_factory=lambda: {"intent": 50, "document": [24, 8], "talk": 8, "photo": 16, "shape": 6, "tell": 8,
                                 "followup": 45},
        description="turn mix of the refine stage's assistant threads (see programs.assistant.TURN_WEIGHTS)")
    refine_answerable: float = Field(0.72, ge=0, le=1, description="share of the refine stage's document questions "
                                                                 "that the documents answer (the rest are declined)")
    signal_threads: int = Field(450, description="signal stage: threads recorded with draw requests answered by "
                                                  "image signal tokens (programs.signals)")
    signal_replay: int = Field(450, description="signal stage: refine records replayed beside them (their draws "
                                                "turned into signal tokens), so the rest of what the core does holds")
    signal_tokens: int = Field(4, ge=1, description="image signal tokens [IMG0..k-1] the signal stage adds")
    signal_scale: float = Field(384.0, description="weight of the signal stage's L2 term: 384 × the mean squared "
                                                   "error is the squared distance to the unit MiniLM caption embedding")
    align_lr: float = 1e-3
    sft_lr: float = 3e-4
    refine_lr: float = 2e-4
    signal_lr: float = 4e-4
    signal_projector_epochs: int = Field(200, ge=0, description="after the signal stage, epochs of fitting the "
                                                                "output projector alone on the signal tokens' cached "
                                                                "hidden states of varied one-turn draws (0: none)")
    signal_caption_rows: int = Field(800, ge=1, description="one-turn draws of varied colours, shapes and sizes the "
                                                            "projector is fitted on (programs.signals.caption_records)")
    stages: list[str] = Field(default_factory=lambda: ["align", "sft", "refine"],
                              description="stages to run, in order, from align, sft, refine and signal")
    init_core: Path | None = Field(None, description="a trained core the first stage starts from (default: the "
                                                     "untrained nano); its evaluation.json timings are kept")
    context_sentences: int | None = Field(None, ge=1, description="sentences of recalled context the core learns "
                                                                  "to read (genaisys.memory.focus; the focused-"
                                                                  "context candidate used 6); None: whole chunks")
    context_min_score: float | None = Field(None, description="with context_sentences: the relevance floor of the "
                                                               "focus (MiniLM cosine; 0.55 was probed on dev); "
                                                               "None: the best sentences whatever they score")
    context_order: ContextOrder = Field("document", description="with context_sentences: how the "
                                                       "kept sentences are laid out (genaisys.memory.focus.ORDERS): "
                                                       "grouped by chunk, or one entry each, best first")
    lora_r: int = 16
    lora_alpha: int = 32
    lora_targets: list[str] = Field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj",
                                                             "gate_proj", "up_proj", "down_proj"])
    frozen_context: int | None = Field(96, description="prompt tokens before each answer that keep gradients; "
                                                        "earlier ones run as a gradient-free cache (None: all train)")
    max_batch_tokens: int = Field(1024, description="padded tokens per micro-batch (packed by length): long graph "
                                                    "prompts train alone, so each keeps its own gradient-free prefix")
    mixed_precision: str = Field("bf16", description="bf16 autocast: ~1.2-1.7x faster on CPUs with AVX512-BF16")
    threads: int | None = None
    progress: bool = True

    def n(self, count: int) -> int:
        return max(2, round(count * self.scale))


def nano_chat(recipe: NanoRecipe) -> Any:
    """A fresh, untrained nano `ChatCore` with the recipe's image-token count (connector seeded)."""
    import torch

    from genaisys.core.chat import ChatCore
    from genaisys.core.loading import nano_config
    from genaisys.core.multimodal import MultimodalCore

    config = nano_config().model_copy(update={"n_image_tokens": recipe.n_image_tokens,
                                              "context_sentences": recipe.context_sentences,
                                              "context_min_score": recipe.context_min_score,
                                              "context_order": recipe.context_order})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        core = MultimodalCore(config)
    return ChatCore(core=core, model_name="genaisys-nano")


def _caption_records(n: int, folder: Path, seed: int) -> list[dict[str, Any]]:
    from genaisys.datasets.shapes import COLORS, SHAPES
    from genaisys.train.engine.easy_vqa import CAPTION_PROMPTS
    from genaisys.train.engine.shapes import render_varied

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    pairs = [(c, s) for c in COLORS for s in SHAPES]
    out = []
    for i in range(n):
        if i % len(pairs) == 0:
            rng.shuffle(pairs)
        color, shape = pairs[i % len(pairs)]
        image, _ = render_varied(color, shape, rng)
        path = folder / f"caption-{seed}-{i:06d}.png"
        image.save(path)
        out.append({"id": f"shape-cap-{seed}-{i}", "images": [str(path.resolve())],
                    "conversations": [{"from": "human", "value": f"<image>\n{rng.choice(CAPTION_PROMPTS)}"},
                                      {"from": "gpt", "value": f"A {color} {shape}."}],
                    "meta": {"source": "shapes", "kind": "caption"}})
    return out


def build_nano_data(recipe: NanoRecipe, *, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Write the data (JSONL) of the recipe's ``stages`` under ``output_dir/data``; returns the
    files and counts.

    The recorded programs run in a `World` under ``output_dir/world`` (``world-refine`` for the
    refine stage); the base model's replay answers are cached in ``output_dir/data/replay*.json``
    (the slow part of a first run).
    """
    _check_stages(recipe)
    files: dict[str, Any] = {"counts": {}}
    if {"align", "sft"} & set(recipe.stages):
        files.update(_first_data(recipe, log=log))
    if "refine" in recipe.stages:
        refine = _refine_data(recipe, log=log)
        files["refine"] = refine.pop("refine")
        files["counts"].update(refine["counts"])
    if "signal" in recipe.stages:
        signal = _signal_data(recipe, log=log)
        files["signal"] = signal.pop("signal")
        files["counts"].update(signal["counts"])
    return files


def _first_data(recipe: NanoRecipe, *, log: Callable[[str], None] = print) -> dict[str, Any]:
    """The align and sft stages' data."""
    from genaisys.train.data import write_records
    from genaisys.train.engine.easy_vqa import captions, pope_probes, qa
    from genaisys.train.engine.programs import record_programs
    from genaisys.train.engine.programs.talk import base_answers, talk_prompts
    from genaisys.train.engine.programs.world import World
    from genaisys.train.engine.shapes import shape_records
    from genaisys.train.holdout import drop_evaluation_overlap

    data = recipe.output_dir / "data"
    data.mkdir(parents=True, exist_ok=True)
    s, n = recipe.seed, recipe.n
    prompts = talk_prompts(random.Random(s), n(recipe.replay_prompts))
    replay = base_answers(prompts, data / "replay.json", excluded=[q for q, _ in TEXT_QUESTIONS], progress=log)
    log(f"replay: {len(replay)} of {len(prompts)} base answers kept")
    world = World(recipe.output_dir / "world", seed=s, context_sentences=recipe.context_sentences,
                  context_min_score=recipe.context_min_score, context_order=recipe.context_order)
    programs = record_programs(world, replay=replay, seed=s, assistant=n(recipe.assistant_threads),
                               rag=n(recipe.rag_questions), any_to_any=n(recipe.any_to_any_threads),
                               planner=n(recipe.planner_requests), log=log)
    vision = [*shape_records(n(recipe.shape_questions), data / "shapes", seed=s + 1),
              *qa("train", n(recipe.easy_vqa_questions), s + 2), *pope_probes("train", n(recipe.pope_probes), s + 3)]
    plain = [{"id": f"replay-{i}", "conversations": [{"from": "human", "value": q}, {"from": "gpt", "value": a}],
              "meta": {"source": "replay"}} for i, (q, a) in enumerate(sorted(replay.items()))]
    align = [*_caption_records(n(recipe.align_shapes), data / "captions", s + 4),
             *captions("train", n(recipe.align_easy_vqa), s + 5)]
    sft = [*programs, *vision, *plain]
    random.Random(s).shuffle(sft)
    # evaluation material never trains: a composed phrasing that an evaluator also wrote is dropped
    sft, dropped = drop_evaluation_overlap(sft)
    align, dropped_align = drop_evaluation_overlap(align)
    (data / "overlap.json").write_text(json.dumps(dropped + dropped_align, indent=1))
    log(f"dropped {len(dropped) + len(dropped_align)} record(s) that matched evaluation material ({data / 'overlap.json'})")
    counts = {"align": len(align), "programs": len(programs), "vision": len(vision), "replay": len(plain),
              "sft": len(sft), "dropped_as_evaluation_material": len(dropped) + len(dropped_align)}
    (data / "diversity.json").write_text(json.dumps(request_diversity(sft), indent=1))
    return {"align": write_records(data / "align.jsonl", align), "sft": write_records(data / "sft.jsonl", sft),
            "counts": counts}


def _refine_data(recipe: NanoRecipe, *, log: Callable[[str], None] = print) -> dict[str, Any]:
    """The refine stage's data: programs recorded in a world of its own, shapes in wide shades with
    the verdict last, and replay of long and short answers."""
    from genaisys.datasets.heldout import material
    from genaisys.train.data import write_records
    from genaisys.train.engine.programs import record_programs
    from genaisys.train.engine.programs.talk import base_answers, fact_prompts, talk_prompts
    from genaisys.train.engine.programs.world import World
    from genaisys.train.engine.shapes import shape_records
    from genaisys.train.holdout import drop_evaluation_overlap

    data = recipe.output_dir / "data"
    data.mkdir(parents=True, exist_ok=True)
    s, n = recipe.seed + 100, recipe.n
    excluded = [q for q, _ in TEXT_QUESTIONS] + list(material()["text"])
    prompts = talk_prompts(random.Random(s), n(recipe.refine_replay_prompts))
    prompts += fact_prompts(random.Random(s + 1), n(recipe.refine_fact_prompts), excluded=excluded)
    replay = base_answers(prompts, data / "replay-refine.json", excluded=[q for q, _ in TEXT_QUESTIONS],
                          progress=log)
    log(f"refine replay: {len(replay)} of {len(prompts)} base answers kept")
    handbooks = n(recipe.refine_handbooks) if recipe.refine_handbooks else 0
    composed = n(recipe.refine_composed) if recipe.refine_composed else 0
    world = World(recipe.output_dir / "world-refine", seed=s, extended=True, handbooks=handbooks, composed=composed,
                  context_sentences=recipe.context_sentences, context_min_score=recipe.context_min_score,
                  context_order=recipe.context_order)
    options = {"weights": recipe.refine_weights, "verdict": "last", "shades": "wide",
               "answerable": recipe.refine_answerable}
    programs = record_programs(world, replay=replay, seed=s, assistant=n(recipe.refine_assistant_threads),
                               rag=n(recipe.refine_rag_questions), any_to_any=n(recipe.refine_any_to_any_threads),
                               planner=n(recipe.refine_planner_requests), assistant_options=options, log=log)
    vision = shape_records(n(recipe.refine_shape_questions), data / "shapes-refine", seed=s + 2, verdict="last",
                           shades="wide")
    plain = [{"id": f"refine-replay-{i}", "conversations": [{"from": "human", "value": q}, {"from": "gpt", "value": a}],
              "meta": {"source": "replay"}} for i, (q, a) in enumerate(sorted(replay.items()))]
    records = [*programs, *vision, *plain]
    random.Random(s).shuffle(records)
    records, dropped = drop_evaluation_overlap(records)
    (data / "overlap-refine.json").write_text(json.dumps(dropped, indent=1))
    log(f"refine: dropped {len(dropped)} record(s) that matched evaluation material")
    (data / "diversity-refine.json").write_text(json.dumps(request_diversity(records), indent=1))
    counts = {"refine": len(records), "refine_programs": len(programs), "refine_vision": len(vision),
              "refine_replay": len(plain), "refine_dropped_as_evaluation_material": len(dropped)}
    return {"refine": write_records(data / "refine.jsonl", records), "counts": counts}


def _signal_data(recipe: NanoRecipe, *, log: Callable[[str], None] = print) -> dict[str, Any]:
    """The signal stage's data: threads whose draw requests are answered with image signal tokens
    (`programs.signals`), and a sample of the refine data (made first if missing) as replay."""
    from genaisys.train.data import write_records
    from genaisys.train.engine.programs.signals import as_signal_records, record_signal_threads
    from genaisys.train.engine.programs.world import World
    from genaisys.train.holdout import drop_evaluation_overlap

    data = recipe.output_dir / "data"
    if not (data / "refine.jsonl").is_file() or not (data / "replay-refine.json").is_file():
        _refine_data(recipe, log=log)
    s, n = recipe.seed + 200, recipe.n
    from genaisys.train.engine.programs.talk import base_answers

    cached = json.loads((data / "replay-refine.json").read_text())  # the refine stage's base answers
    replay = base_answers(sorted(cached), data / "replay-refine.json")
    world = World(recipe.output_dir / "world-signal", seed=s, extended=True,
                  context_sentences=recipe.context_sentences, context_min_score=recipe.context_min_score,
                  context_order=recipe.context_order)
    threads = record_signal_threads(world, n(recipe.signal_threads), replay=replay, seed=s)
    refine = [json.loads(line) for line in (data / "refine.jsonl").read_text().splitlines() if line.strip()]
    rng = random.Random(s)
    replayed = as_signal_records(rng.sample(refine, min(len(refine), n(recipe.signal_replay))))
    records = [*threads, *replayed]
    rng.shuffle(records)
    records, dropped = drop_evaluation_overlap(records)
    log(f"signal: {len(threads)} recorded, {len(replayed)} refine records replayed, {len(dropped)} dropped as "
        "evaluation material")
    (data / "diversity-signal.json").write_text(json.dumps(request_diversity(threads), indent=1))
    counts = {"signal": len(records), "signal_draws": sum(1 for r in records if r.get("target_caption")),
              "signal_replay": len(replayed), "signal_dropped_as_evaluation_material": len(dropped)}
    return {"signal": write_records(data / "signal.jsonl", records), "counts": counts}


def request_diversity(records: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """How varied the users' requests are, per kind of turn (the last human turn of each record):
    `genaisys.train.engine.phrasing.diversity`, plus ``all`` over every kind."""
    from collections import defaultdict

    from genaisys.train.engine.phrasing import diversity

    by_kind: dict[str, list[str]] = defaultdict(list)
    for rec in records:
        humans = [t["value"] for t in rec["conversations"] if t["from"] == "human"]
        if humans:
            text = humans[-1].replace("<image>", "").strip().split("\n[the attached")[0]
            by_kind[str((rec.get("meta") or {}).get("kind", "other"))].append(text)
    out = {kind: diversity(texts, pairs=1000) for kind, texts in sorted(by_kind.items()) if len(texts) > 1}
    out["all"] = diversity([t for texts in by_kind.values() for t in texts], pairs=3000)
    return out


_STAGES = ("align", "sft", "refine", "signal")


def _check_stages(recipe: NanoRecipe) -> None:
    """Refuse an unknown stage name before any data is made."""
    unknown = [st for st in recipe.stages if st not in _STAGES]
    if unknown:
        from genaisys.errors import ConfigError

        raise ConfigError(f"unknown nano stage(s) {unknown}; known: {', '.join(_STAGES)}")


def _stage_config(recipe: NanoRecipe, name: str, data: Path, **loop: Any) -> Any:
    from genaisys.assets import cache_dir
    from genaisys.train.config import TrainConfig

    options: dict[str, Any] = {"feature_dir": str(cache_dir() / "features"),
                               "max_batch_tokens": recipe.max_batch_tokens}
    lora = None
    if name != "align":
        lora = {"r": recipe.lora_r, "alpha": recipe.lora_alpha, "target_modules": recipe.lora_targets}
        if recipe.frozen_context is not None:
            options["frozen_context"] = recipe.frozen_context
    if name == "signal":  # decoder-side alignment (NExT-GPT) of the new image signal tokens, LoRA learning when
        options.update(decoder="shapes", modality="image", scale=recipe.signal_scale,
                       train=["output_projectors", "lora", "signal_rows"])
    # refine is an sft stage (assistant-turn loss on connector + LoRA) on its own data and folder
    kind = {"align": "align", "signal": "decoder"}.get(name, "sft")
    return TrainConfig(stage=kind, core=str(recipe.output_dir / name), data=[data],
                       lora=lora,
                       stage_options=options,
                       loop={"output_dir": str(recipe.output_dir / name), "epochs": 1, "batch_size": 1,
                             "seed": recipe.seed, "progress": recipe.progress, "log_every": 5, "save_every": 50,
                             "warmup_steps": 10, "scheduler": "cosine",
                             "mixed_precision": recipe.mixed_precision, **loop})


def train_nano(recipe: NanoRecipe, *, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Build the data, then run the stages (skipping any whose ``final/`` exists).

    Returns timings (per stage: steps, wall time, samples/s, losses, peak RSS), the data files and
    the trained core folder (``output_dir/<last stage>/final``). With ``init_core`` and fewer
    stages (``stages=["refine"]``), the first stage run starts from that core.
    """
    import torch

    from genaisys.core.chat import ChatCore
    from genaisys.core.multimodal import MultimodalCore
    from genaisys.train.run import run_stage

    _check_stages(recipe)
    if recipe.threads:
        torch.set_num_threads(recipe.threads)
    recipe.output_dir.mkdir(parents=True, exist_ok=True)
    (recipe.output_dir / "recipe.json").write_text(recipe.model_dump_json(indent=2))
    t0 = time.perf_counter()
    files = build_nano_data(recipe, log=log)
    timings: dict[str, Any] = {"data_s": round(time.perf_counter() - t0, 1), "records": files["counts"]}
    log(f"data written to {recipe.output_dir / 'data'} in {timings['data_s']} s: {files['counts']}")
    timings.update(earlier_timings(recipe, files["counts"]))
    chat = None
    lrs = {"align": recipe.align_lr, "sft": recipe.sft_lr, "refine": recipe.refine_lr, "signal": recipe.signal_lr}
    stages = [(st, lrs[st]) for st in _STAGES if st in recipe.stages]
    for stage, lr in stages:
        final = recipe.output_dir / stage / "final"
        if (final / "genaisys_core.json").is_file():
            log(f"{stage}: already trained ({final}); skipping")
            if (recipe.output_dir / stage / "timing.json").is_file():  # the figures of the run that trained it
                timings[stage] = json.loads((recipe.output_dir / stage / "timing.json").read_text())
            chat = None
            continue
        if chat is None:
            previous = [recipe.output_dir / s / "final" for s, _ in stages[:[s for s, _ in stages].index(stage)]]
            done = [p for p in previous if (p / "genaisys_core.json").is_file()]
            if not done and recipe.init_core is not None:
                done = [Path(recipe.init_core)]
            core = MultimodalCore.from_pretrained(done[-1]) if done else nano_chat(recipe).core
            # the core reads recalled context as its data showed it (focused or whole), whatever it started from
            core.config.context_sentences = recipe.context_sentences
            core.config.context_min_score = recipe.context_min_score
            core.config.context_order = recipe.context_order
            chat = ChatCore(core=core, model_name="genaisys-nano")
        if stage == "signal" and "image" not in chat.core.signal_token_ids:
            from genaisys.core.output_projector import OutputProjectorConfig
            from genaisys.tools.decoders.shapes import CONDITIONING_DIM

            chat.core.add_signal_tokens("image", recipe.signal_tokens, OutputProjectorConfig(
                out_tokens=1, out_dim=CONDITIONING_DIM, d_model=256, n_layers=2, n_heads=4))
        t = time.perf_counter()
        result = run_stage(_stage_config(recipe, stage, files[stage], lr=lr), chat=chat)
        timings[stage] = {"wall_s": round(time.perf_counter() - t, 1), "steps": result.steps,
                          **loss_ends(result.losses), "precision": result.extra.get("precision"),
                          "samples_per_s": round(result.samples_per_s, 2), "peak_rss_mb": round(result.peak_rss_mb)}
        if stage == "signal" and recipe.signal_projector_epochs:
            timings[stage]["projector_fit"] = fit_signal_projector(chat, recipe, files[stage], log=log)
        (recipe.output_dir / stage / "timing.json").write_text(json.dumps(timings[stage]))
        log(f"{stage}: {json.dumps(timings[stage])}")
    timings["total_s"] = round(time.perf_counter() - t0, 1)
    timings["diversity"] = {part: json.loads(path.read_text()).get("all") for part, path in
                            (("sft", recipe.output_dir / "data" / "diversity.json"),
                             ("refine", recipe.output_dir / "data" / "diversity-refine.json"))
                            if part in recipe.stages and path.is_file()}
    (recipe.output_dir / "timings.json").write_text(json.dumps(timings, indent=2))
    return {"core": recipe.output_dir / stages[-1][0] / "final", "timings": timings, "data": files}


def fit_signal_projector(chat: Any, recipe: NanoRecipe, data: Path, *,
                         log: Callable[[str], None] = print) -> dict[str, Any]:
    """Fit the image output projector of the signal stage's core alone (`fit_output_projector`) on the
    cached signal hidden states of varied one-turn draws (`caption_records`, with the tool list of
    the stage's draws) and save it into ``signal/final``; returns the fit's figures.

    Fitted on the stage's own draws (about 40 distinct captions) the projector memorised them:
    squared distance 0.001 on those and 0.40 on captions left out (zeros: 1.0). On 800 draws of
    26 colours × 13 shapes × sizes it was 0.06 on captions left out.
    """
    from genaisys.train.engine.programs.signals import caption_records
    from genaisys.train.run import _conditioner
    from genaisys.train.stages.decoder import fit_output_projector

    t = time.perf_counter()
    records = [json.loads(line) for line in data.read_text().splitlines() if line.strip()]
    tools = next((r.get("tools") for r in records if r.get("target_caption")), None) or []
    rows = caption_records(recipe.signal_caption_rows, tools, seed=recipe.seed)
    fit = fit_output_projector(chat, rows, _conditioner("shapes"), modality="image",
                               epochs=recipe.signal_projector_epochs, seed=recipe.seed, log=log)
    chat.core.save_pretrained(recipe.output_dir / "signal" / "final")
    fit["wall_s"] = round(time.perf_counter() - t, 1)
    log(f"signal: output projector fitted on cached hidden states: {fit}")
    return fit


def earlier_timings(recipe: NanoRecipe, counts: dict[str, Any]) -> dict[str, Any]:
    """What the run that trained ``init_core`` recorded, for a run that starts from it: the figures
    of the stages it does not run again (marked with ``from``), those of a stage it runs once more
    as ``"<stage> (earlier run)"``, ``"<stage> (earlier run 2)"`` … in order (the core went through all), and the record counts of the data
    it does not make anew (``records``). Empty without an ``init_core`` that has an evaluation.json.

    Example:
        >>> earlier_timings(NanoRecipe(), {})
        {}
    """
    if recipe.init_core is None or not (Path(recipe.init_core) / "evaluation.json").is_file():
        return {}
    earlier = json.loads((Path(recipe.init_core) / "evaluation.json").read_text()).get("timings") or {}
    out: dict[str, Any] = {}
    runs: dict[str, int] = {}  # earlier runs of each stage this run trains again, numbered in order
    for key, value in earlier.items():  # stages, in the order that run trained them
        stage = key.split(" (", 1)[0]
        if stage in _STAGES and isinstance(value, dict):
            name = key
            if stage in recipe.stages:
                runs[stage] = runs.get(stage, 0) + 1
                name = f"{stage} (earlier run{'' if runs[stage] == 1 else f' {runs[stage]}'})"
            out[name] = {**value, "from": value.get("from") or str(recipe.init_core)}
    out["records"] = {**{k: v for k, v in (earlier.get("records") or {}).items() if k not in counts}, **counts}
    return out


def loss_ends(losses: Sequence[float]) -> dict[str, float | int | None]:
    """The mean loss of a stage's first and last 5 % of steps (``loss_steps`` each, at least one).

    One step's loss swings with what its micro-batch holds (0.17 to 1.7 late in the refine stage),
    so a single first or last step says little about how far a stage went.

    >>> loss_ends([4.0, 3.0] + [1.0] * 36 + [0.5, 0.7])
    {'first_loss': 3.5, 'final_loss': 0.6, 'loss_steps': 2}
    >>> loss_ends([])
    {'first_loss': None, 'final_loss': None, 'loss_steps': 0}
    """
    if not losses:
        return {"first_loss": None, "final_loss": None, "loss_steps": 0}
    k = max(1, len(losses) // 20)
    return {"first_loss": round(sum(losses[:k]) / k, 4), "final_loss": round(sum(losses[-k:]) / k, 4),
            "loss_steps": k}


# Old imports of the moved functions keep working, with a DeprecationWarning.
from genaisys._lazy import moved_exports  # noqa: E402

__getattr__, __dir__ = moved_exports(__name__, dict.fromkeys(("evaluate_nano", "write_model_card", "ship_nano"),
                                                             "genaisys.improve.nano"))
