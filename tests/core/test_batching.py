"""Continuous batching: concurrent calls share forward passes, join and leave at token boundaries,
and each row decodes what it would decode alone (genaisys.core.batching)."""

from __future__ import annotations

import base64
import io
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from PIL import Image
from pydantic import ValidationError

from genaisys.core.chat import ChatCore

from .conftest import GetWeather, make_lm, make_tokenizer

PROMPTS = ["One", "The weather in Paris", "What is in the picture? A cat", "One two three four five six",
           "You are a helpful assistant.", "ten"]


@pytest.fixture
def lm_tok():
    tok = make_tokenizer()
    lm = make_lm(len(tok))
    sizes: list[int] = []
    lm.register_forward_hook(lambda m, args, kwargs, out: sizes.append(out.logits.shape[0]), with_kwargs=True)
    lm.batch_sizes = sizes
    return lm, tok


def _staggered(fn, items, gap_s=0.01):
    """Call ``fn`` on each item from its own thread, the starts ``gap_s`` apart (rows join mid-batch)."""
    def later(pair):
        i, item = pair
        time.sleep(i * gap_s)
        return fn(item)

    with ThreadPoolExecutor(len(items)) as pool:
        return list(pool.map(later, enumerate(items)))


def _drained(batcher, timeout_s: float = 5.0) -> bool:
    """Whether the batch empties (rows leave right after handing over their last token)."""
    deadline = time.monotonic() + timeout_s
    while batcher.rows and time.monotonic() < deadline:
        time.sleep(0.01)
    return batcher.rows == []


def _streamed(chat, prompt, **kwargs) -> str:
    return "".join(str(c.content) for c in chat.stream(prompt, **kwargs))


def test_concurrent_streams_and_invokes_share_forward_passes_and_equal_their_solo_decode(lm_tok):
    lm, tok = lm_tok
    solo = ChatCore(language_model=lm, tokenizer=tok, max_new_tokens=24, continuous_batching=False)
    alone = [solo.invoke(p).content for p in PROMPTS]
    lm.batch_sizes.clear()
    chat = ChatCore(language_model=lm, tokenizer=tok, max_new_tokens=24)
    got = _staggered(lambda ip: _streamed(chat, ip[1]) if ip[0] % 2 else chat.invoke(ip[1]).content,
                     list(enumerate(PROMPTS)))
    assert got == alone
    assert chat.engine.batcher().peak_rows > 1 and max(lm.batch_sizes) > 1
    assert _drained(chat.engine.batcher())


def test_each_row_keeps_its_own_sampling_settings(lm_tok):
    lm, tok = lm_tok
    settings = [{"temperature": 0.9, "seed": 1}, {"temperature": 0.0}, {"temperature": 1.3, "top_p": 0.8, "seed": 7},
                {"temperature": 0.9, "seed": 2, "max_new_tokens": 5}, {"temperature": 0.0, "max_new_tokens": 3}]
    solo = ChatCore(language_model=lm, tokenizer=tok, max_new_tokens=20, continuous_batching=False)
    alone = [solo.invoke(p, **kw).content for p, kw in zip(PROMPTS, settings)]
    chat = ChatCore(language_model=lm, tokenizer=tok, max_new_tokens=20)
    got = _staggered(lambda pk: _streamed(chat, pk[0], **pk[1]), list(zip(PROMPTS, settings)))
    assert got == alone
    assert len(alone[4]) < len(alone[1])  # the 3-token row left the batch early


def test_stop_sequences_apply_per_row(lm_tok):
    lm, tok = lm_tok
    chat = ChatCore(language_model=lm, tokenizer=tok, max_new_tokens=20)
    full = chat.invoke(PROMPTS[3]).content
    stop = full[len(full) // 2:len(full) // 2 + 2]
    got = _staggered(lambda s: chat.invoke(PROMPTS[3], stop=s).content, [[stop], None])
    assert got == [full[:full.find(stop)], full]


def test_a_closed_stream_frees_its_row_and_the_others_go_on(lm_tok):
    lm, tok = lm_tok
    long_alone = ChatCore(language_model=lm, tokenizer=tok, max_new_tokens=60, continuous_batching=False)
    lm.generation_config.eos_token_id = None
    tok_eos, tok.eos_token = tok.eos_token, None  # nothing ends a row but its limit or its consumer
    try:
        expected = long_alone.invoke(PROMPTS[1]).content
        chat = ChatCore(language_model=lm, tokenizer=tok, max_new_tokens=60)
        batcher = chat.engine.batcher()
        with ThreadPoolExecutor(1) as pool:
            other = pool.submit(lambda: _streamed(chat, PROMPTS[1]))
            stream = chat.stream(PROMPTS[0], max_new_tokens=10_000)
            for _ in range(3):
                next(stream)
            assert len(batcher.rows) == 2 or other.done()
            stream.close()  # the client went away
            assert other.result(timeout=60) == expected
        assert _drained(batcher)
        steps = batcher.steps
        time.sleep(0.2)
        assert batcher.steps == steps  # nothing is decoding for the closed stream
    finally:
        tok.eos_token = tok_eos


def test_a_batched_stream_with_a_tool_grammar_yields_valid_calls(lm_tok):
    lm, tok = lm_tok
    chat = ChatCore(language_model=lm, tokenizer=tok, max_new_tokens=48)
    forced = chat.bind_tools([GetWeather], tool_choice="GetWeather")
    solo = ChatCore(language_model=lm, tokenizer=tok, max_new_tokens=48, continuous_batching=False)
    alone = solo.bind_tools([GetWeather], tool_choice="GetWeather").invoke(PROMPTS[1])

    def run(i_prompt):
        i, prompt = i_prompt
        if i % 2:
            return _streamed(chat, prompt)
        message = None
        for chunk in forced.stream(prompt):
            message = chunk if message is None else message + chunk
        return message

    got = _staggered(run, list(enumerate(PROMPTS)))
    calls = [m.tool_calls for m in got[0::2]]
    for message_calls in calls:
        assert len(message_calls) == 1 and message_calls[0]["name"] == "GetWeather"
        try:
            GetWeather(**message_calls[0]["args"])
        except ValidationError as exc:  # pragma: no cover - the grammar makes this impossible
            pytest.fail(f"a grammar-guided call did not validate: {exc}")
    assert got[2].tool_calls[0]["args"] == alone.tool_calls[0]["args"]


def test_rows_with_images_join_the_batch_and_equal_their_solo_decode(tiny_core):
    buf = io.BytesIO()
    Image.new("RGB", (12, 9), "red").save(buf, format="PNG")
    image = {"type": "image", "base64": base64.b64encode(buf.getvalue()).decode(), "mime_type": "image/png"}
    questions = [HumanMessage([{"type": "text", "text": "What is in the picture?"}, image]),
                 HumanMessage("One two three"), HumanMessage([image, {"type": "text", "text": "Colour?"}])]
    solo = ChatCore(core=tiny_core, max_new_tokens=12, continuous_batching=False)
    alone = [solo.invoke([q]).content for q in questions]
    chat = ChatCore(core=tiny_core, max_new_tokens=12)
    assert _staggered(lambda q: chat.invoke([q]).content, questions) == alone
    assert chat.engine.batcher().peak_rows > 1


def test_the_prefix_cache_serves_rows_that_join_the_batch(lm_tok):
    lm, tok = lm_tok
    system = SystemMessage("You are a helpful assistant. Answer the question about the image. " * 2)
    turns = [[system, HumanMessage(p)] for p in PROMPTS[:4]]
    fresh = ChatCore(language_model=lm, tokenizer=tok, max_new_tokens=10, prefix_cache=False,
                     continuous_batching=False)
    alone = [fresh.invoke(t).content for t in turns]
    chat = ChatCore(language_model=lm, tokenizer=tok, max_new_tokens=10)
    assert _staggered(lambda t: _streamed(chat, t), turns) == alone
    assert chat.engine.prefix_hits[0] == 0 and min(chat.engine.prefix_hits[1:]) >= 16


def _spy_prefill(chat):
    """Count the rows each grouped prefill took."""
    engine, seen = chat.engine, []
    original = engine.prefill_rows

    def spy(lm, rows):
        seen.append(len(rows))
        return original(lm, rows)

    engine.prefill_rows = spy
    return seen


def test_calls_arriving_together_are_prefilled_in_one_pass_and_equal_their_solo_decode(lm_tok, tiny_core):
    lm, tok = lm_tok
    solo = ChatCore(language_model=lm, tokenizer=tok, max_new_tokens=16, continuous_batching=False)
    alone = [solo.invoke(p).content for p in PROMPTS]
    chat = ChatCore(language_model=lm, tokenizer=tok, max_new_tokens=16, batch_window_ms=300)
    seen = _spy_prefill(chat)
    with ThreadPoolExecutor(len(PROMPTS)) as pool:
        assert list(pool.map(lambda p: _streamed(chat, p), PROMPTS)) == alone
    assert max(seen) > 1  # several rows in one prefill

    # images, and a shared system prompt served from the prefix cache, in the same grouped prefill
    buf = io.BytesIO()
    Image.new("RGB", (12, 9), "green").save(buf, format="PNG")
    image = {"type": "image", "base64": base64.b64encode(buf.getvalue()).decode(), "mime_type": "image/png"}
    system = SystemMessage("You are a helpful assistant. Answer the question about the image. " * 2)
    turns = [[system, HumanMessage(p)] for p in PROMPTS[:3]] + [[HumanMessage([image, {"type": "text", "text": "Hm?"}])]]
    solo = ChatCore(core=tiny_core, max_new_tokens=10, continuous_batching=False, prefix_cache=False)
    alone = [solo.invoke(t).content for t in turns]
    chat = ChatCore(core=tiny_core, max_new_tokens=10, batch_window_ms=300)
    chat.invoke([system, HumanMessage("seed the prefix cache")])
    seen = _spy_prefill(chat)
    with ThreadPoolExecutor(len(turns)) as pool:
        assert list(pool.map(lambda t: chat.invoke(t).content, turns)) == alone
    assert seen and max(seen) > 1
    assert sum(h >= 16 for h in chat.engine.prefix_hits[-len(turns):]) >= 2  # the system prompt came from the cache


def test_an_idle_scheduler_ends_and_lets_go_of_the_model(monkeypatch):
    import gc
    import weakref

    from genaisys.core import batching

    monkeypatch.setattr(batching, "_IDLE_S", 0.05)
    tok = make_tokenizer()
    lm = make_lm(len(tok))
    chat = ChatCore(language_model=lm, tokenizer=tok, max_new_tokens=4)
    first = chat.invoke("One").content
    batcher = chat.engine.batcher()
    deadline = time.monotonic() + 30
    while batcher._running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not batcher._running
    assert chat.invoke("One").content == first  # the next call starts a scheduler again
    ref = weakref.ref(lm)
    del chat, lm, batcher
    deadline = time.monotonic() + 30  # generous: a loaded machine can starve the scheduler's last wake-up
    while ref() is not None and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.05)
    assert ref() is None  # no thread keeps an unused model alive


def test_stopping_the_scheduler_joins_it_and_later_calls_are_refused(lm_tok):
    # What the interpreter's exit does to every batcher (a daemon thread inside torch at exit aborts the process).
    from genaisys.errors import CoreError

    lm, tok = lm_tok
    chat = ChatCore(language_model=lm, tokenizer=tok, max_new_tokens=4)
    chat.invoke("One")
    batcher = chat.engine.batcher()
    batcher.stop()
    assert not batcher._running and not batcher._thread.is_alive()
    with pytest.raises(CoreError, match="stopped"):
        chat.invoke("One")


def test_rows_of_two_cached_prefixes_arriving_together_each_start_from_their_own(lm_tok):
    # Keeping one group's prompt evicts the oldest kept prefix: the other group must still get its own.
    lm, tok = lm_tok
    systems = [SystemMessage("You are a helpful assistant. Answer the question about the image. " * 2),
               SystemMessage("One two three four five six seven eight nine ten. " * 3)]
    turns = [[systems[i % 2], HumanMessage(p)] for i, p in enumerate(PROMPTS[:4])] + [[HumanMessage("ten")]]
    fresh = ChatCore(language_model=lm, tokenizer=tok, max_new_tokens=10, prefix_cache=False,
                     continuous_batching=False)
    alone = [fresh.invoke(t).content for t in turns]
    chat = ChatCore(language_model=lm, tokenizer=tok, max_new_tokens=10, batch_window_ms=300)
    for filler in ("The weather in Paris is sunny today, 21 degrees. " * 2, "What is in the picture? " * 4):
        chat.invoke(filler)  # the kept prefixes: 4, the two system prompts the oldest
    for system in systems:
        chat.invoke([system, HumanMessage("seed")])
    seen = _spy_prefill(chat)
    with ThreadPoolExecutor(len(turns)) as pool:
        assert list(pool.map(lambda t: chat.invoke(t).content, turns)) == alone
    assert seen and max(seen) > 1
    assert sum(h >= 16 for h in chat.engine.prefix_hits[-len(turns):]) >= 3
