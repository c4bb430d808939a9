"""Dynamic batching: concurrent calls served by one batch, as Triton and TGI do.

A service that answers many small requests pays a fixed cost per engine call (a transaction and
its fsync, planning, a search) that a large batch shares out. ``DynamicBatcher`` puts each call on
a queue; one worker takes every call waiting when it is free (continuous batching: under load the
queue fills while the engine works), optionally waits ``max_wait_s`` for more, and hands the group
to ``run``. Each caller is answered only when ``run`` has returned, so an answer still means what
the engine guarantees for it (durable, for the index tier).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
log = logging.getLogger("fitrep.serving")

# run(requests) -> one result or exception per request, in order
BatchRun = Callable[[Sequence[T]], Sequence["R | BaseException"]]


class BatcherClosed(RuntimeError):
    """A call arrived after ``close``."""


class DynamicBatcher(Generic[T, R]):
    """Serve concurrent ``submit`` calls in groups of at most ``max_items`` (by ``size``).

    ``max_wait_s`` is how long the worker waits for company once a call is alone in the queue
    (0: never wait; batches still form while the engine is busy). A call larger than
    ``max_items`` runs alone; ``max_calls`` = 1 turns batching across calls off.
    """

    def __init__(
        self,
        run: BatchRun[T, R],
        size: Callable[[T], int],
        max_items: int,
        max_wait_s: float = 0.0,
        max_calls: int = 64,
        name: str = "batcher",
    ) -> None:
        if max_items < 1 or max_calls < 1 or max_wait_s < 0:
            raise ValueError("max_items and max_calls must be >= 1, max_wait_s >= 0")
        self._run, self._size = run, size
        self.max_items, self.max_wait_s, self.max_calls = max_items, max_wait_s, max_calls
        self._queue: queue.Queue[tuple[T, Future[R]] | None] = queue.Queue()
        self._held: tuple[T, Future[R]] | None = None  # a call that did not fit the last batch
        self._closed = False
        self.batches = 0  # groups run, and calls served, for metrics and tests
        self.calls = 0
        self._worker = threading.Thread(target=self._loop, name=name, daemon=True)
        self._worker.start()

    def submit(self, request: T) -> R:
        """Block until the batch holding ``request`` has run; its result, or its exception."""
        if self._closed:
            raise BatcherClosed("the server is shutting down")
        future: Future[R] = Future()
        self._queue.put((request, future))
        return future.result()

    def close(self) -> None:
        """Finish the calls already queued, then stop the worker."""
        self._closed = True
        self._queue.put(None)
        self._worker.join()

    def _take(self) -> list[tuple[T, Future[R]]] | None:
        first = self._held or self._queue.get()
        self._held = None
        if first is None:
            return None
        group, total = [first], self._size(first[0])
        deadline = time.monotonic() + (self.max_wait_s if self.max_calls > 1 else 0.0)
        while total < self.max_items and len(group) < self.max_calls:
            try:
                wait = deadline - time.monotonic()
                nxt = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is None:
                self._queue.put(None)  # close after this group
                break
            if total + self._size(nxt[0]) > self.max_items:
                self._held = nxt
                break
            group.append(nxt)
            total += self._size(nxt[0])
        return group

    def _loop(self) -> None:
        while (group := self._take()) is not None:
            self.batches += 1
            self.calls += len(group)
            try:
                results = self._run([request for request, _ in group])
                if len(results) != len(group):
                    raise RuntimeError(f"batch run gave {len(results)} results for {len(group)}")
            except Exception as exc:  # every caller of the group must hear of it
                log.exception("event=batch_failed calls=%d", len(group))
                results = [exc] * len(group)
            for (_, future), result in zip(group, results, strict=True):
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)
