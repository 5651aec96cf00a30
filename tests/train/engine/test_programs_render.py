"""Training text equals inference text: for each prebuilt graph, a scenario recorded around the
oracle, then replayed through a real `ChatCore` that gives the same answers, must render to the
very prompts the core decodes from — token for token, tool section, context and history included."""

from __future__ import annotations

import random
from typing import Any

import pytest
from langchain_core.messages import AIMessage

from genaisys.core.chat import ChatCore
from genaisys.core.toolcall import render_tool_call
from genaisys.train.engine.programs.oracle import OracleCore, View, merge_calls
from tests.train.conftest import tiny_chat

pytestmark = pytest.mark.packaged  # the worlds' memory embeds with the packaged MiniLM


class ReplayCore(ChatCore):
    """A real ChatCore whose decoding is replaced by a policy's answer, written as the core would
    write it (call markup included); the prompt it would decode from is kept in ``prompts``."""

    policy: Any = None
    prompts: list[str] = []

    def _run(self, messages, stop=None, **kwargs):
        tools = None if kwargs.get("tool_choice") == "none" else kwargs.get("tools") or None
        prompt, _ = self._render(messages, tools, kwargs.get("tool_choice"))
        self.prompts.append(prompt)
        reply = self.policy(View(list(messages), list(tools or []), ""))
        reply = AIMessage(reply) if isinstance(reply, str) else reply
        text = "\n".join(p for p in (reply.text, *(render_tool_call(c["name"], c["args"]) for c in reply.tool_calls)) if p)
        info = self._final_info(text, tools, 0, 0, ended=True)
        if info["content"]:
            yield info["content"], {}
        yield "", info


def _worlds(tmp_path, focus=None, floor=None, order="document"):
    from genaisys.train.engine.programs.world import World

    return [World(tmp_path / f"world{i}", n_products=4, api_notes=False, handbooks=2 if focus else 0,
                  context_sentences=focus, context_min_score=floor, context_order=order) for i in (0, 1)]


def _check(records: list[dict], prompts: list[str], chat: ChatCore, n_calls: int) -> None:
    from genaisys.train.data import to_messages
    from genaisys.train.encoding import encode_conversation

    assert n_calls == len(prompts) and records
    rendered = []
    for record in records:
        messages, tools = to_messages(record)
        ai = [i for i, m in enumerate(messages) if isinstance(m, AIMessage)]
        enc = encode_conversation(chat, messages, tools, train_on=record.get("train_on", "all"))
        labelled = {i for i in range(len(messages))}
        assert labelled and enc.spans
        for i in ai:  # every recorded call: the prompt before its reply, as inference renders it
            before, _ = chat.render_prompt(messages[:i], tools=tools)
            rendered.append(before)
    # each inference prompt appears among the training prompts (folded chains cover several calls)
    missing = [p for p in prompts if p not in rendered]
    assert not missing, f"{len(missing)} inference prompt(s) the training records never render; first:\n{missing[0][-600:]}"


def _run_both(tmp_path, record, focus=None, floor=None, order="document", **chat_options):
    """``record(world, model, seed)`` drives a graph; returns (records, inference prompts, calls).
    ``focus``: the oracle (as the recorders set it) and the core read context focused to that many
    sentences, ``floor``: none scoring below it, laid out in ``order``."""
    oracle_world, replay_world = _worlds(tmp_path, focus, floor, order)
    oracle = OracleCore.for_world("", oracle_world)
    record(oracle_world, oracle, 0)
    records = [c.to_record(f"r{i}", blobs=oracle_world.blobs, train_on=t)
               for i, (c, t) in enumerate(merge_calls(oracle.calls))]
    chat = tiny_chat(**chat_options)
    chat.core.config.context_sentences = focus  # as the nano recipe writes them into the trained core's config
    chat.core.config.context_min_score = floor
    chat.core.config.context_order = order
    replay = ReplayCore(core=chat.core, blobs=replay_world.blobs, max_new_tokens=4)
    assert (replay.context_sentences, replay.context_min_score, replay.context_order) == (focus, floor, order)
    record(replay_world, replay, 0)
    return records, replay.prompts, len(oracle.calls), chat


def _assistant(world, model, seed):
    from genaisys.core.perception import looks_like_shapes
    from genaisys.graphs import build_assistant_graph, run_turn
    from genaisys.graphs.media import ByContent
    from genaisys.train.engine.programs import intents
    from genaisys.train.engine.programs.assistant import doc_turn, followup_turn, photo_turn, shape_turn

    rng = random.Random(seed)
    tools = ["calculator", "read_file", "memory_search"]
    ask = intents.arithmetic(random.Random(3))
    from genaisys.train.engine.programs.assistant import Turn

    turns = [Turn("arithmetic", ask.text, ask.policy(tools), needs="calculator", facts=ask.facts),
             doc_turn(world, rng, tools, True), photo_turn(world, rng), shape_turn(rng)]
    turns.append(followup_turn(random.Random(1), turns, tools))
    graph = build_assistant_graph(model, tools=world.toolset(tools), memory=world.memory, blobs=world.blobs,
                                  checkpointer=":memory:", textualizers={"image": world.textualizer},
                                  policy=ByContent(looks_like_shapes))
    for turn in turns:
        if turn.before:
            turn.before()
        model.policy = turn.policy
        run_turn(graph, turn.content, thread_id="t")


def _rag(world, model, seed):
    from genaisys.graphs import build_rag_graph, run_turn
    from genaisys.train.engine.programs.assistant import _chunk_with

    graph = build_rag_graph(model, world.memory, min_score=-1.0)
    fact = world.documents[0].facts[0]
    model.policy = lambda v: f"{fact.sentence} [{_chunk_with(v, fact.evidence) or 1}]"
    run_turn(graph, fact.questions[0], thread_id="r")


def _any_to_any(world, model, seed):
    from genaisys.core.perception import looks_like_shapes
    from genaisys.graphs import build_any_to_any_graph, run_turn
    from genaisys.graphs.media import ByContent
    from genaisys.train.engine.programs import intents
    from genaisys.train.engine.programs.assistant import photo_turn
    from genaisys.train.engine.programs.tools import stand_in_decoders

    graph = build_any_to_any_graph(model, blobs=world.blobs, textualizers={"image": world.textualizer},
                                   decoders=stand_in_decoders(), policy=ByContent(looks_like_shapes),
                                   checkpointer=":memory:")
    ask = intents.draw(random.Random(2))
    photo = photo_turn(world, random.Random(5))
    model.policy = ask.policy(["generate_image", "speak"])
    run_turn(graph, ask.text, thread_id="a")
    photo.before()
    model.policy = photo.policy
    run_turn(graph, photo.content, thread_id="a")


def _signal(world, model, seed):
    from genaisys.core.perception import looks_like_shapes
    from genaisys.graphs import build_any_to_any_graph, run_turn
    from genaisys.graphs.media import ByContent
    from genaisys.train.engine.programs import intents
    from genaisys.train.engine.programs.signals import draw_ask
    from genaisys.train.engine.programs.tools import stand_in_decoders

    graph = build_any_to_any_graph(model, blobs=world.blobs, textualizers={"image": world.textualizer},
                                   decoders=stand_in_decoders(), policy=ByContent(looks_like_shapes),
                                   tools=world.toolset(["calculator"]), checkpointer=":memory:")
    for ask in (draw_ask(random.Random(4)), intents.arithmetic(random.Random(5))):
        model.policy = ask.policy(["generate_image", "speak", "calculator"])
        run_turn(graph, ask.text, thread_id="s")


def _planner(world, model, seed):
    from genaisys.graphs import run_turn
    from genaisys.graphs.planner import build_planner_graph
    from genaisys.train.engine.programs.planner import _summary

    plan = '[{"task": "calculator", "id": 1, "dep": [-1], "args": {"expression": "12 * 7"}}, ' \
           '{"task": "calculator", "id": 2, "dep": [1], "args": {"expression": "<GENERATED>-1 * 3"}}]'
    graph = build_planner_graph(model, tools=world.toolset(["calculator", "read_file"]))
    model.policy = lambda v: _summary(v) if "Their results follow" in v.system else plan
    run_turn(graph, "Compute 12 times 7, then multiply the result by 3.", thread_id="p")


@pytest.mark.parametrize("graph", [_assistant, _rag, _any_to_any, _planner], ids=lambda f: f.__name__.strip("_"))
def test_recorded_training_text_is_the_inference_text(tmp_path, graph):
    records, prompts, n_calls, chat = _run_both(tmp_path, graph)
    _check(records, prompts, chat, n_calls)


@pytest.mark.parametrize("floor,order", [(None, "document"), (0.5, "document"), (0.5, "best")],
                         ids=["any-score", "floor", "best-first"])
@pytest.mark.parametrize("graph", [_assistant, _rag], ids=lambda f: f.__name__.strip("_"))
def test_focused_context_is_trained_as_it_is_read(tmp_path, graph, floor, order):
    records, prompts, n_calls, chat = _run_both(tmp_path, graph, focus=3, floor=floor, order=order)
    _check(records, prompts, chat, n_calls)
    import re

    shown = [re.findall(r"^\[\d+\] \(source: [^)]*\) (.*)$", p, re.M) for p in prompts]
    with_context = [chunks for chunks in shown if chunks]
    assert with_context and all(sum(len(c.split(" … ")) for c in chunks) <= 3 for chunks in with_context)
    if order == "best":  # one sentence per entry
        assert all(" … " not in c for chunks in with_context for c in chunks)
    if graph is _assistant:
        # the photo, shape and follow-up turns bear on no document: a floor leaves them without context,
        # and says so (the note is in the prompts the records train on, since _check found them all there)
        from genaisys.graphs.nodes import NO_CONTEXT_TEXT

        assert (len(with_context) < len(shown)) == (floor is not None)
        noted = [p for p, chunks in zip(prompts, shown) if NO_CONTEXT_TEXT in p]
        assert bool(noted) == (floor is not None) and all(not chunks for p, chunks in zip(prompts, shown)
                                                          if NO_CONTEXT_TEXT in p)


def test_a_draw_by_signal_tokens_is_trained_as_the_core_emits_it(tmp_path):
    from genaisys.train.engine.programs.signals import as_signal_records

    proj = {"image": {"out_tokens": 1, "out_dim": 8, "n_layers": 1, "n_heads": 2}}
    records, prompts, n_calls, chat = _run_both(tmp_path, _signal, signal_tokens={"image": 4}, output_projectors=proj)
    _check(records, prompts, chat, n_calls)
    later = [p for p in prompts if "[IMG0][IMG1][IMG2][IMG3]" in p]  # the calls after the draw read it back
    assert len(later) >= 2 and all(p.count("[IMG0]") == 1 and "sig_oracle" not in p for p in later)
    for record in as_signal_records(records):  # each record that draws learns to match its own caption
        drawn = [tc["arguments"]["prompt"] for t in record["conversations"] for tc in t.get("tool_calls", [])
                 if tc["arguments"].get("signal")]
        assert record.get("target_caption") == (drawn[0] if drawn else None)


def test_caption_draws_vary_and_never_ask_for_a_held_out_pair():
    from genaisys.datasets.heldout.draw import PAIRS
    from genaisys.train.engine.programs.signals import caption_records

    rows = caption_records(300, [], seed=1)
    captions = {r["target_caption"] for r in rows}
    assert len(rows) == 300 and len(captions) > 150
    assert not any(f"{c} {s}" in cap for cap in captions for c, s in PAIRS)
    [reply] = [t for t in rows[0]["conversations"] if t["from"] == "gpt"]
    assert reply["value"] == rows[0]["target_caption"] and reply["tool_calls"][0]["arguments"]["signal"]
