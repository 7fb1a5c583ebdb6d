"""Micro-batching for ``polytag serve``: the sentences of concurrent requests share ``predict`` calls.

Why chunks: one ``predict`` call cannot be interrupted, so a call is kept small. Each call (a *chunk*)
takes at most ``max_batch_sentences`` sentences and ``max_chunk_subtokens`` work units (a sentence's
subtokens, or its characters / 32 when more, since tokenizing follows characters; a single sentence
over that goes alone). Between chunks the worker drops requests whose client gave up (timeout,
disconnect: their future is done), takes newly queued requests in, and picks the next chunk shortest
remaining work first, with aging (a request's remaining work counts less for every chunk it waited), so
a small request sent during a large one waits about one chunk, not the whole large request, and a large
request is not starved. Requests that arrive together still share calls, and shortest first puts
sentences of similar length together, so a call pads less.

When: as soon as the model is idle (continuous batching): the next call takes whatever queued while the
previous one ran. ``max_wait_ms`` > 0 makes an idle model wait that long for more requests first, which
measured slower (docs/serving.md): the model idles while the requests it waits for are still being read.
With ``concurrency`` > 1 (one call per prediction worker process) that many calls run at once; a request
cut into several chunks is answered when all of them are done, in whatever order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("polytag")


@dataclass(eq=False)
class Job:
    """One request's sentences, their costs (subtokens), and how far prediction has got."""

    sentences: list[Any]
    costs: list[int]  # subtokens of each sentence: what the queue limits count
    weights: list[int]  # work units of each sentence: what chunks are bounded in
    future: asyncio.Future
    done: int = 0  # sentences handed to predict calls so far (in text order)
    finished: int = 0  # sentences predicted so far (calls may finish in any order)
    waited: int = 0  # chunks predicted while this job was waiting
    remaining: int = field(init=False)  # subtokens not yet predicted

    def __post_init__(self) -> None:
        self.remaining = sum(self.costs)

    def work_left(self) -> int:
        return sum(self.weights[self.done :])


class MicroBatcher:
    """Collects the sentences of concurrent requests into bounded ``predict`` calls (see the module doc)."""

    def __init__(
        self,
        predict: Callable[[list[Any]], None],
        enabled: bool = True,
        max_batch_sentences: int = 64,
        max_wait_ms: float = 0.0,
        max_chunk_subtokens: int = 2048,
        concurrency: int = 1,
    ) -> None:
        self.predict = predict
        # predict calls in flight at once (``predict`` must take concurrent calls when more than 1)
        self.concurrency = max(1, int(concurrency))
        self.enabled = enabled
        self.max_batch_sentences = max(1, int(max_batch_sentences))
        self.max_chunk_cost = max(1, int(max_chunk_subtokens))
        self.max_wait = max(0.0, float(max_wait_ms)) / 1000.0
        self.queue: asyncio.Queue[Job] | None = None
        self.executor = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="polytag-predict")
        self.task: asyncio.Task | None = None
        self.calls: set[asyncio.Task] = set()  # predict calls in flight
        self.active: list[Job] = []
        self.predict_calls = 0
        self.predicted_sentences = 0  # over predict_calls: the mean batch the model actually saw
        self.predict_seconds = 0.0  # wall time inside predict: over elapsed time, how busy the model is
        self.batched_requests = 0
        self.largest_batch = 0
        self.queued_sentences = 0  # submitted and not yet predicted (or dropped)
        self.queued_subtokens = 0
        self.failed_requests = 0
        self.abandoned_requests = 0  # dropped before they were finished: their client gave up

    async def start(self) -> None:
        self.queue = asyncio.Queue()
        self.task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        for task in [self.task, *self.calls]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def submit(
        self, sentences: list[Any], costs: Sequence[int] | None = None, weights: Sequence[int] | None = None
    ) -> None:
        """Predict ``sentences`` in place, together with whatever else is queued; cancelling the wait
        abandons the work not yet started. ``costs``: their subtokens (default 1 each); ``weights``:
        their work units (default: the costs)."""
        future = self.enqueue(sentences, costs, weights)
        try:
            await future
        finally:
            if not future.done():  # the waiting request gave up (timeout, client gone)
                future.cancel()

    def enqueue(
        self, sentences: list[Any], costs: Sequence[int] | None = None, weights: Sequence[int] | None = None
    ) -> asyncio.Future:
        """Queue ``sentences``; the future is done when they are predicted. Cancelling it abandons the
        work not yet started. Why not only :meth:`submit`: a request that waits on this future together
        with its disconnect watch needs no task of its own (one task fewer per request on the loop)."""
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        if not sentences:
            future.set_result(None)
            return future
        if self.queue is None:
            raise RuntimeError("the batcher is not running")
        costs = list(costs) if costs is not None else [1] * len(sentences)
        weights = list(weights) if weights is not None else costs
        job = Job(list(sentences), costs, weights, future)
        self.queued_sentences += len(job.sentences)
        self.queued_subtokens += job.remaining
        self.queue.put_nowait(job)
        return future

    def _take_queued(self) -> None:
        assert self.queue is not None
        while not self.queue.empty() and (self.enabled or not self.active):
            self.active.append(self.queue.get_nowait())

    def _release(self, job: Job, sentences: int, cost: int) -> None:
        self.queued_sentences -= sentences
        self.queued_subtokens -= cost
        job.remaining -= cost

    def _drop_dead(self) -> None:
        for job in [j for j in self.active if j.future.done()]:
            self.active.remove(job)
            self.abandoned_requests += 1
            self._release(job, len(job.sentences) - job.finished, job.remaining)

    async def _run(self) -> None:
        assert self.queue is not None
        loop = asyncio.get_running_loop()
        slots = asyncio.Semaphore(self.concurrency)
        while True:
            # first a free call, then the work: what queues meanwhile waits in the queue
            await slots.acquire()
            if not self._pending_sentences():
                self.active.append(await self.queue.get())
                if (
                    self.enabled
                    and self.max_wait > 0
                    and self._pending_sentences() < self.max_batch_sentences
                ):
                    self._take_queued()
                    if self._pending_sentences() < self.max_batch_sentences:
                        await asyncio.sleep(self.max_wait)
            self._take_queued()
            self._drop_dead()
            chunk = self._next_chunk() if self.active else []
            if not chunk:
                slots.release()
                continue
            for job, _, end in chunk:
                job.done = end
            call = asyncio.create_task(self._predict_chunk(loop, chunk))
            self.calls.add(call)
            call.add_done_callback(self.calls.discard)
            call.add_done_callback(lambda _: slots.release())

    def _pending_sentences(self) -> int:
        return sum(len(job.sentences) - job.done for job in self.active)

    def _next_chunk(self) -> list[tuple[Job, int, int]]:
        """``(job, start, end)`` slices of the next predict call: least remaining work first, with aging."""
        order = (
            sorted(self.active, key=lambda j: j.work_left() // (1 + j.waited))
            if self.enabled
            else self.active
        )
        chunk: list[tuple[Job, int, int]] = []
        sentences = cost = 0
        for job in order:
            end = job.done
            while end < len(job.sentences) and sentences < self.max_batch_sentences:
                if sentences and cost + job.weights[end] > self.max_chunk_cost:
                    break
                cost += job.weights[end]
                sentences += 1
                end += 1
            if end > job.done:
                chunk.append((job, job.done, end))
            if sentences >= self.max_batch_sentences or cost >= self.max_chunk_cost or not self.enabled:
                break
        return chunk

    def _timed_predict(self, sentences: list[Any]) -> None:
        start = time.perf_counter()
        try:
            self.predict(sentences)
        finally:
            self.predict_seconds += time.perf_counter() - start

    async def _predict_chunk(
        self, loop: asyncio.AbstractEventLoop, chunk: list[tuple[Job, int, int]]
    ) -> None:
        """One predict call for the chunk; if it fails, each job's part again on its own."""
        sentences = [s for job, start, end in chunk for s in job.sentences[start:end]]
        self.predict_calls += 1
        self.predicted_sentences += len(sentences)
        self.batched_requests += len(chunk)
        self.largest_batch = max(self.largest_batch, len(sentences))
        try:
            await loop.run_in_executor(self.executor, self._timed_predict, sentences)
        except Exception as exc:  # noqa: BLE001 - isolated below, then handed to the request that caused it
            if len(chunk) > 1:  # find the culprit: the other requests must not fail with it
                for part in chunk:
                    if not part[0].future.done():
                        await self._predict_chunk(loop, [part])
                return
            job = chunk[0][0]
            log.exception("prediction failed")
            self.failed_requests += 1
            if job in self.active:
                self.active.remove(job)
                self._release(job, len(job.sentences) - job.finished, job.remaining)
            if not job.future.done():
                job.future.set_exception(exc)
            return
        in_chunk = {id(job) for job, _, _ in chunk}
        for job, start, end in chunk:
            if job not in self.active:  # dropped or failed meanwhile
                continue
            self._release(job, end - start, sum(job.costs[start:end]))
            job.finished += end - start
            if job.finished == len(job.sentences):
                self.active.remove(job)
                if not job.future.done():
                    job.future.set_result(None)
        for job in self.active:
            if id(job) not in in_chunk:
                job.waited += 1


__all__ = ["Job", "MicroBatcher"]
