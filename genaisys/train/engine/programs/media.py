"""Any-to-any conversations, recorded: media in, text, images and speech out.

Threads run through `build_any_to_any_graph`: photos are read through the textualizer, shapes
by the encoder, and the decoder tools (``generate_image``, ``speak``) are bound beside a few
others, so the core learns to call a decoder when it is asked to draw or to say something aloud,
and to answer in text otherwise. A question to be answered aloud ("What's 12 times 9? Say it out
loud.") is worked out first and its *answer* is spoken (`intents.spoken_answer`), not the question.

Example:
    >>> records = record_any_to_any(world, 4, replay=replay, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from genaisys.train.engine.programs import intents
from genaisys.train.engine.programs.oracle import OracleCore, merge_calls

__all__ = ["record_any_to_any"]


def record_any_to_any(world: Any, n_threads: int, *, replay: dict[str, str], seed: int = 0, verdict: str = "first",
                      shades: str = "pure", progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Record ``n_threads`` short threads (1-3 turns) through the any-to-any graph (``verdict`` and
    ``shades``: the photo and shape answers, as in `~genaisys.train.engine.programs.assistant.plan_thread`)."""
    from genaisys.core.perception import looks_like_shapes
    from genaisys.graphs import build_any_to_any_graph, run_turn
    from genaisys.graphs.media import ByContent
    from genaisys.train.engine.programs.assistant import Turn, photo_turn, shape_turn, talk_turn
    from genaisys.train.engine.programs.tools import stand_in_decoders

    rng = random.Random(seed)
    oracle = OracleCore.for_world("any_to_any", world)
    records: list[dict[str, Any]] = []
    for i in range(n_threads):
        extra = rng.sample(["calculator", "current_time", "memory_search", "get_weather", "read_file"], rng.randint(0, 2))
        if "calculator" not in extra and rng.random() < 0.5:  # spoken answers mostly need it
            extra.append("calculator")
        decoders = stand_in_decoders()
        if rng.random() < 0.15:  # now and then one decoder is missing
            decoders.pop(rng.choice(["image", "speech"]))
        graph = build_any_to_any_graph(oracle, blobs=world.blobs, textualizers={"image": world.textualizer},
                                       decoders=decoders, policy=ByContent(looks_like_shapes),
                                       tools=world.toolset(extra), memory=world.memory if "memory_search" in extra else None,
                                       checkpointer=":memory:")
        bound = [*extra, *(["generate_image"] if "image" in decoders else []), *(["speak"] if "speech" in decoders else [])]
        first = len(oracle.calls)
        for j in range(rng.choice([1, 1, 2, 3])):
            kind = rng.choices(["draw", "speak", "spoken", "photo", "shape", "talk", "tool"],
                               [30, 12, 14, 14, 10, 14, 14])[0]
            if kind in ("draw", "speak", "spoken"):
                ask = intents.INTENTS[kind](rng)
                turn = Turn(kind, ask.text, ask.policy(bound), needs=ask.tool)
            elif kind == "photo":
                turn = photo_turn(world, rng, verdict)
            elif kind == "shape":
                turn = shape_turn(rng, verdict, shades)
            elif kind == "talk":
                turn = talk_turn(rng, replay)
            else:
                ask = intents.INTENTS[rng.choice(["arithmetic", "clock", "weather", "file"])](rng)
                turn = Turn(ask.intent, ask.text, ask.policy(bound), needs=ask.tool)
            if turn.before:
                turn.before()
            oracle.policy = turn.policy
            oracle.meta = {"kind": turn.kind, "turn": j, "tools": len(bound)}
            run_turn(graph, turn.content, thread_id=f"a2a-{seed}-{i}")
        for k, (recorded, train_on) in enumerate(merge_calls(oracle.calls[first:])):
            records.append(recorded.to_record(f"a2a-{seed}-{i}-{k}", blobs=world.blobs, train_on=train_on))
        if progress:
            progress(i + 1)
    return records
