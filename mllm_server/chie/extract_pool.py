"""CHIE extraction in worker processes, so every core works while the encoder runs.

The rules backend is pure Python (one core, the GIL); the encoder (ONNX Runtime / torch) runs in
native threads. On a 2-core machine a sequential run keeps one core idle through most of the
concept stage. ``ExtractPool`` runs ``extract_concepts`` for whole batches in ``spawn``-ed worker
processes (fork after the encoder's threads started is unsafe), each building the backend once;
the caller encodes batch k while the workers extract batch k+1 and later. Batches are the same as
in a sequential run and extraction is per item, so the concepts are the same.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from fitrep.columns import ColumnRoles
from fitrep.domain import ConceptSet, Item

from mllm_server.chie.engine import extract_concepts
from mllm_server.chie.extractor import ConceptExtractor, create_extractor
from serving.gc_policy import tune_for_batches
from serving.machine import usable_cores

_extractor: ConceptExtractor | None = None  # one per worker process


def _start_worker(backend: str, options: dict[str, Any], parent: int) -> None:
    global _extractor
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    tune_for_batches()
    _extractor = create_extractor(backend, **options)


def _exit_with(parent: int) -> None:
    """End this worker when its parent is gone: a killed ``fitrep dedup`` (SIGKILL, a crash)
    never closes the task queue, whose write end every spawned worker also holds, so a worker
    would otherwise wait on it forever."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def _extract(items: Sequence[Item], columns: ColumnRoles) -> tuple[list[ConceptSet], float]:
    """A batch's concepts and the CPU seconds the worker spent on them."""
    assert _extractor is not None, "worker started without its backend"
    cpu = time.process_time()
    concept_sets = extract_concepts(_extractor, items, columns)
    return concept_sets, time.process_time() - cpu


def default_workers() -> int:
    """One worker per core the process may use (the encoder's threads share them)."""
    return usable_cores()


class ExtractPool:
    """``workers`` processes running backend ``backend`` (with ``options``) over batches."""

    def __init__(self, backend: str, options: dict[str, Any], workers: int) -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.workers = workers
        self.cpu_seconds = 0.0  # CPU the workers spent extracting, for utilisation reports
        self._pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(backend, dict(options), os.getpid()),
        )

    def extract(
        self, batches: Iterator[Sequence[Item]], columns: ColumnRoles
    ) -> Iterator[list[ConceptSet]]:
        """Concepts of each batch, in order; up to two batches per worker in flight."""
        pending: deque[Future[tuple[list[ConceptSet], float]]] = deque()
        for batch in batches:
            pending.append(self._pool.submit(_extract, batch, columns))
            if len(pending) >= 2 * self.workers:
                yield self._collect(pending.popleft())
        while pending:
            yield self._collect(pending.popleft())

    def extract_batch(self, items: Sequence[Item], columns: ColumnRoles) -> list[ConceptSet]:
        """One batch's concepts, for a server whose concurrent calls share the workers (a bad
        item's InvalidInput comes back whole from the worker's own check)."""
        return self._collect(self._pool.submit(_extract, items, columns))

    def warm_up(self) -> None:
        """Start every worker and build its backend now, not on the first calls."""
        probe = [Item(id="warmup", title="warm up item 1 kg")]
        calls = [self._pool.submit(_extract, probe, ColumnRoles()) for _ in range(self.workers)]
        for future in calls:
            future.result()

    def _collect(self, future: Future[tuple[list[ConceptSet], float]]) -> list[ConceptSet]:
        concept_sets, cpu = future.result()
        self.cpu_seconds += cpu
        return concept_sets

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
