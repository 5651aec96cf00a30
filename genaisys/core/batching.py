"""Continuous batching: concurrent calls share one forward pass per token, joining and leaving at
token boundaries (as vLLM, TGI and transformers' ``ContinuousBatchingManager`` schedule them).

`ChatCore` hands each call that can share the batch to its engine's `ContinuousBatcher` as a
`genaisys.core.rows.DecodeRow`: streams and non-streams alike, each with its own sampling
settings and seed, stop rules (applied by the caller, which closes the stream), tool grammar,
"no tool" choice and images. One scheduler thread runs the batch:

1. **join**: the calls that arrived during the last step are prefilled — one alone, several
   together in one forward pass per group (rows sharing a cached prefix start from it, the
   others are left-padded; `GenerationEngine.prefill_rows`) — with the engine's prefix cache
   and their images spliced in, and their first tokens picked; their KV caches are then
   left-padded (or the batch's is) to one length and appended as rows;
2. **step**: one forward pass feeds every row its last token, each at its own position, with an
   attention mask that hides the padding; each row's `DecodeRow.pick` chooses its next token;
3. **leave**: rows that ended — end of text, a closed call, the token limit, or a consumer that
   stopped reading (`BatchJob.cancel`) — are cut out of the cache, and padding no row needs any
   more is trimmed from the left.

A row decodes the tokens it would decode alone: the same `DecodeRow.pick` on its own logits,
which the batch computes under a mask that excludes the other rows' tokens and the padding.

Calls that need more than one row or hidden states per step (visual contrastive decoding,
signal tokens, native MLLMs) decode alone under the engine's lock, between batch steps.

Example:
    >>> from genaisys.core.loading import load_core
    >>> chat = load_core("nano")  # doctest: +SKIP
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> with ThreadPoolExecutor(4) as pool:  # four streams, one batch  # doctest: +SKIP
    ...     answers = list(pool.map(lambda q: "".join(c.content for c in chat.stream(q)), ["Hi", "2+2?"]))
    >>> chat.engine.batcher().peak_rows  # doctest: +SKIP
    2
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from genaisys.core.forward import cache_of, forward_kwargs, unwrapped
from genaisys.errors import CoreError

if TYPE_CHECKING:
    from genaisys.core.generation import GenerationEngine
    from genaisys.core.rows import DecodeRow

__all__ = ["BatchJob", "ContinuousBatcher", "mergeable"]

_END = object()
_IDLE_S = 2.0  # an idle scheduler thread ends after this long, so an unused ChatCore's model can be freed
_LIVE: weakref.WeakSet[ContinuousBatcher] = weakref.WeakSet()  # batchers whose scheduler may be running


@atexit.register
def _stop_schedulers() -> None:
    """At exit, end every scheduler between two steps: a daemon thread still inside torch while the
    interpreter shuts down aborts the process ("terminate called without an active exception")."""
    for batcher in list(_LIVE):
        batcher.stop()


class BatchJob:
    """A call in the batch: iterate it for its tokens; `cancel` takes its row out at the next step."""

    def __init__(self, row: DecodeRow, *, reuse_prefix: bool) -> None:
        self.row, self.reuse_prefix = row, reuse_prefix
        self._tokens: deque[Any] = deque()
        self._ready = threading.Condition()
        self.cancelled = threading.Event()
        self.next_token: int | None = None  # the token the next step feeds this row

    def put(self, item: Any) -> None:
        with self._ready:
            self._tokens.append(item)
            self._ready.notify()

    def __iter__(self) -> Iterator[int]:
        while True:
            with self._ready:
                while not self._tokens:
                    self._ready.wait()
                item = self._tokens.popleft()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def cancel(self) -> None:
        """Stop decoding this call; its row leaves the batch at the next token boundary."""
        self.cancelled.set()


class ContinuousBatcher:
    """The running batch of one `GenerationEngine`, driven by a scheduler thread.

    Args:
        engine: whose language model, lock and prefix cache the batch uses.
        max_rows: the most rows decoded together; later calls wait for a row to leave.
        window_s: when the batch is idle, how long the first call waits for others so that they
            start together (0: start at once; later calls still join at the next token).

    The scheduler thread starts with the first call and ends after 2 s without work, so it never
    keeps a model alive that nothing uses any more.

    Attributes:
        rows: the calls in the batch, in cache order.
        steps: batched forward passes run so far; peak_rows: the largest batch seen.
    """

    def __init__(self, engine: GenerationEngine, *, max_rows: int = 16, window_s: float = 0.0) -> None:
        self.engine, self.max_rows, self.window_s = engine, max(1, max_rows), window_s
        self.rows: list[BatchJob] = []
        self.steps, self.peak_rows = 0, 0
        self._waiting: deque[BatchJob] = deque()
        self._wake = threading.Condition()
        self._cache: Any = None  # the batch's KV cache (B rows, T positions)
        self._mask: Any = None  # (B, T): 1 where a row has a token, 0 for left padding
        self._last_pos: Any = None  # (B, 1): each row's position of its last cached token
        self._running = False  # whether the scheduler thread is up (it ends after `_IDLE_S` without work)
        self._stopping = False
        self._thread: threading.Thread | None = None
        _LIVE.add(self)

    def stop(self, timeout_s: float = 30.0) -> None:
        """End the scheduler at the next token boundary and wait for it; rows still decoding get an error."""
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    def submit(self, row: DecodeRow, *, reuse_prefix: bool = True) -> BatchJob:
        """Queue a call; it joins the batch at the next token boundary. Iterate the job for tokens."""
        job = BatchJob(row, reuse_prefix=reuse_prefix)
        with self._wake:
            if self._stopping:
                raise CoreError("this core's batch scheduler was stopped (the interpreter is exiting)")
            self._waiting.append(job)
            self._wake.notify()
            if not self._running:  # an idle scheduler has ended (and let go of the model): start one
                self._running = True
                self._thread = threading.Thread(target=self._loop, name="genaisys-continuous-batch", daemon=True)
                self._thread.start()
        return job

    # ------------------------------------------------------------------ scheduler
    def _loop(self) -> None:
        while True:
            try:
                arrivals = self._arrivals()
                if arrivals is None:
                    return  # idle or stopping: the thread ends; the next submit starts another
                self._arrive(arrivals)
                if self.rows:
                    self._step()
            except BaseException as exc:  # noqa: BLE001 - every waiting caller gets it; the batch restarts
                for job in self.rows:
                    job.put(exc)
                self.rows, self._cache, self._mask, self._last_pos = [], None, None, None

    def _arrivals(self) -> list[BatchJob] | None:
        """The calls that join before the next step (waits for one when the batch is idle);
        ``None`` when none came for `_IDLE_S` seconds and the scheduler should end."""
        with self._wake:
            if self._stopping:
                for job in [*self.rows, *self._waiting]:
                    job.put(CoreError("this core's batch scheduler was stopped (the interpreter is exiting)"))
                self.rows, self._cache, self._mask, self._last_pos = [], None, None, None
                self._waiting.clear()
                self._running = False
                return None
            if not self.rows:
                deadline = time.monotonic() + _IDLE_S
                while not self._waiting:
                    if self._stopping or (left := deadline - time.monotonic()) <= 0:
                        self._running = False
                        return None
                    self._wake.wait(left)
                deadline = time.monotonic() + self.window_s
                while len(self._waiting) < self.max_rows and (left := deadline - time.monotonic()) > 0:
                    self._wake.wait(left)
            joined = []
            while self._waiting and len(self.rows) + len(joined) < self.max_rows:
                joined.append(self._waiting.popleft())
            return joined

    def _arrive(self, jobs: list[BatchJob]) -> None:
        """Let the arrivals join: one alone, several prefilled together (`GenerationEngine.prefill_rows`)."""
        import torch

        for job in [j for j in jobs if j.cancelled.is_set()]:
            job.put(_END)
        jobs = [j for j in jobs if not j.cancelled.is_set()]
        if len(jobs) < 2 or not _transformers_model(self.engine.lm()):
            for job in jobs:  # a model of unknown cache decodes a row at a time (`_alone`)
                self._join(job)
            return
        try:
            with self.engine.lock, torch.no_grad():
                lm = self.engine.decoder()
                for job in jobs:
                    job.row.lm = lm
                groups = self.engine.prefill_rows(lm, [job.row for job in jobs])
        except Exception:  # noqa: BLE001 - one row's bad input must not fail the others: each alone
            for job in jobs:
                self._join(job)
            return
        for idx, out, mask, last_pos in groups:
            members = [jobs[i] for i in idx]
            cache = cache_of(out)
            going = [b for b, job in enumerate(members) if self._advance(job, out.logits[b, -1])]
            if not going:
                continue
            if not mergeable(cache):
                for b in going:  # a cache that cannot be batched cannot be split by rows either
                    members[b].put(CoreError("this language model's KV cache cannot be batched; "
                                             "use ChatCore(continuous_batching=False)"))
                continue
            if len(going) < len(members):
                cache.batch_select_indices(torch.tensor(going))
                mask, last_pos = mask[going], last_pos[going]
            self._add(cache, mask, last_pos, [members[b] for b in going])

    def _join(self, job: BatchJob) -> None:
        """Prefill one call alone, pick its first token, and append it to the batch as a row."""
        import torch

        row = job.row
        try:
            with self.engine.lock, torch.no_grad():
                row.lm = lm = self.engine.decoder()
                prep = row.inputs()
                out = self.engine._prefill(lm, row.prompt_ids, prep, forward_kwargs(lm)[1], reuse=job.reuse_prefix)
        except Exception as exc:  # noqa: BLE001 - this call's error (a bad image …), not the batch's
            job.put(exc)
            return
        if not self._advance(job, out.logits[0, -1]):
            return
        cache = cache_of(out)
        mask, last_pos = prep["attention_mask"], prep["position_ids"][:, -1:]  # (1, L), (1, 1)
        if not mergeable(cache):  # a model whose cache cannot be batched: it decodes alone, here
            self._alone(job, lm, cache, mask, last_pos)
            return
        self._add(cache, mask, last_pos, [job])

    def _add(self, cache: Any, mask: Any, last_pos: Any, jobs: list[BatchJob]) -> None:
        """Append prefilled rows (their cache, mask (n, L) and last positions (n, 1)) to the batch."""
        import torch

        if not self.rows:
            self._cache, self._mask, self._last_pos = cache, mask, last_pos
        else:
            width = max(self._mask.shape[1], mask.shape[1])
            self._cache = _concat(_pad_left(self._cache, width - self._mask.shape[1]),
                                  _pad_left(cache, width - mask.shape[1]))
            self._mask = torch.cat([_pad_mask(self._mask, width), _pad_mask(mask, width)])
            self._last_pos = torch.cat([self._last_pos, last_pos])
        self.rows.extend(jobs)
        self.peak_rows = max(self.peak_rows, len(self.rows))

    def _advance(self, job: BatchJob, logits: Any) -> bool:
        """Pick a row's next token from its logits and hand it over; whether the row goes on."""
        import torch

        token = job.row.pick(logits.to(torch.float32, copy=True))
        if token is not None:
            job.put(token)
        if token is None or job.row.done or job.cancelled.is_set():
            job.put(_END)
            return False
        job.next_token = token
        return True

    def _step(self) -> None:
        """One forward pass for every row, then each row's next token; ended rows leave."""
        import torch

        self._leave([i for i, job in enumerate(self.rows) if job.cancelled.is_set()], cancelled=True)
        if not self.rows:
            return
        with self.engine.lock, torch.no_grad():
            lm = self.engine.decoder()
            cache_kw = forward_kwargs(lm)[0]
            mask = torch.cat([self._mask, self._mask.new_ones(len(self.rows), 1)], dim=1)
            pos = self._last_pos + 1
            ids = torch.tensor([job.next_token for job in self.rows], device=mask.device).view(-1, 1)
            out = lm(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True, **{cache_kw: self._cache})
        self._cache, self._mask, self._last_pos = cache_of(out), mask, pos
        self.steps += 1
        logits = out.logits[:, -1]  # (B, V)
        ended = [i for i, job in enumerate(self.rows) if not self._advance(job, logits[i])]
        self._leave(ended)

    def _leave(self, gone: list[int], *, cancelled: bool = False) -> None:
        """Cut rows out of the batch, and the left padding no remaining row needs."""
        import torch

        if not gone:
            return
        for i in gone if cancelled else ():
            self.rows[i].put(_END)
        keep = [i for i in range(len(self.rows)) if i not in set(gone)]
        self.rows = [self.rows[i] for i in keep]
        if not keep:
            self._cache, self._mask, self._last_pos = None, None, None
            return
        index = torch.tensor(keep, dtype=torch.long)
        self._cache.batch_select_indices(index)
        self._mask, self._last_pos = self._mask[index], self._last_pos[index]
        used = int(torch.nonzero(self._mask.sum(0))[0])  # the first position some row still has
        if used:
            self._mask = self._mask[:, used:]
            for layer in self._cache.layers:
                layer.keys, layer.values = layer.keys[:, :, used:], layer.values[:, :, used:]

    def _alone(self, job: BatchJob, lm: Any, cache: Any, mask: Any, last_pos: Any) -> None:
        """Decode one row to its end without the batch (a model whose cache cannot be merged)."""
        import torch

        cache_kw = forward_kwargs(lm)[0]
        while True:
            with self.engine.lock, torch.no_grad():
                mask = torch.cat([mask, mask.new_ones(1, 1)], dim=1)
                last_pos = last_pos + 1
                out = lm(input_ids=torch.tensor([[job.next_token]]), attention_mask=mask, position_ids=last_pos,
                         use_cache=True, **{cache_kw: cache})
            cache = cache_of(out)
            if not self._advance(job, out.logits[0, -1]):
                return


def _transformers_model(lm: Any) -> bool:
    """Whether ``lm`` is a transformers model (whose KV cache rows can be padded, joined and cut)."""
    from transformers import PreTrainedModel

    return isinstance(unwrapped(lm), PreTrainedModel)


def mergeable(cache: Any) -> bool:
    """Whether a KV cache can be padded, concatenated and cut by rows: transformers' dynamic
    cache with full (not sliding-window) attention in every layer."""
    layers = getattr(cache, "layers", None)
    return bool(layers) and hasattr(cache, "batch_select_indices") and all(
        getattr(layer, "keys", None) is not None and not getattr(layer, "is_sliding", False) for layer in layers)


def _pad_left(cache: Any, n: int) -> Any:
    """The cache with ``n`` zero positions before each row's keys and values (masked out)."""
    import torch

    if n:
        for layer in cache.layers:
            b, h, _, d = layer.keys.shape
            layer.keys = torch.cat([layer.keys.new_zeros(b, h, n, d), layer.keys], dim=2)
            layer.values = torch.cat([layer.values.new_zeros(b, h, n, layer.values.shape[-1]), layer.values], dim=2)
    return cache


def _concat(batch: Any, row: Any) -> Any:
    """``row``'s cache appended to ``batch``'s as more rows (both the same length)."""
    import torch

    for mine, theirs in zip(batch.layers, row.layers, strict=True):
        mine.keys = torch.cat([mine.keys, theirs.keys])
        mine.values = torch.cat([mine.values, theirs.values])
    return batch


def _pad_mask(mask: Any, width: int) -> Any:
    """A (B, T) attention mask left-padded with zeros to ``width``."""
    import torch

    return torch.cat([mask.new_zeros(mask.shape[0], width - mask.shape[1]), mask], dim=1)
