"""The second core's share of the join: a chunk's record-only pair features, computed ahead.

The join decides rows one after another, and most of a row's time is its pairs' features;
most of those read the two records alone (``features.record_pair_features``: the hard gates,
codes, editions, brands, the record's columns), not the token statistics of the rows around
them. When a chunk starts, the pairs the join will ask about first are known (the rows'
plans, ``Clusterer._plan``: the clusters stay as at the chunk start until the chunk's
decisions are written back), so a worker process computes those features from the chunk's
last row backwards while the join works forwards, taking what the worker has done and
computing the rest itself. The join finds the next chunk's candidates and bounds before it
decides this one, so the worker has a head start of about a chunk's work. A result is the
same function of the same two records wherever it is computed, so the decisions are those
of one process (``test_pair_prefetch``); all that is lost where the two meet is the
worker's last block.

Not a thread: the features are Python, and two threads holding the GIL in turn were slower
than one (docs/architecture.md). The worker is spawned, not forked (the caller may be a gRPC
server or hold FAISS's threads, which a fork does not carry over), and gets the rows' packed
anchors once. If it fails, the join computes every feature itself and logs it once.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import threading
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from index_server.rows.packed_anchors import PackedAnchors
from index_server.scoring.features import RECORD_PAIR_FEATURES, record_pair_features
from serving.gc_policy import tune_for_batches
from serving.machine import usable_cores

log = logging.getLogger("fitrep.index")

# Rows fewer than this are decided without a worker: spawning one (importing numpy and the
# scorer, ~1 s) costs more than it saves on a small batch (an online assign).
MIN_ROWS = 4096
# ... nor a batch under 1/64 of the rows stored: the worker is sent every stored row (~250
# bytes each: 250 MB at 1M) for the pairs of this batch alone (~100 us each saved).
MIN_SHARE = 1 / 64
BLOCK_ROWS = 16  # rows per message from the worker (the join waits for none of them)
ENV = "FITREP_PAIR_WORKER"  # "0": no worker (one process, as before)

PairFeatures = dict[int, dict[str, float]]  # other row -> its record pair features


def _serve(conn: Connection) -> None:
    """The worker: the rows first, then for each chunk (the newest supersedes the rest), its
    rows' planned pairs' features from the last row backwards, ``BLOCK_ROWS`` rows a
    message. A thread of its own reads the join's messages, so the join's send never waits
    on this process's send (each would wait for the other to read: a deadlock)."""
    tune_for_batches()
    anchors = PackedAnchors.of_packed(conn.recv())
    inbox: queue.Queue[Any] = queue.Queue()

    def read() -> None:
        while True:
            try:
                message = conn.recv()
            except (OSError, EOFError):
                message = None
            inbox.put(message)
            if message is None:
                return

    threading.Thread(target=read, daemon=True).start()
    job: tuple[int, np.ndarray, np.ndarray, np.ndarray, int] | None = None
    while True:
        while job is None or not inbox.empty():
            message = inbox.get()
            if message is None:
                return
            job = (*message, len(message[1]))
        chunk, rows, ptr, others, end = job
        start = max(end - BLOCK_ROWS, 0)
        values = np.array(
            [
                [f[name] for name in RECORD_PAIR_FEATURES]
                for i in range(start, end)
                for f in (
                    record_pair_features(anchors[int(rows[i])], anchors[int(o)])
                    for o in others[ptr[i] : ptr[i + 1]]
                )
            ],
            np.float64,
        ).reshape(-1, len(RECORD_PAIR_FEATURES))
        try:
            conn.send((chunk, start, end, values))
        except OSError:  # the join is gone
            return
        job = None if start == 0 else (chunk, rows, ptr, others, start)


def wanted(n_rows: int, stored: int) -> bool:
    """Whether deciding ``n_rows`` rows of the ``stored`` ones should start a worker: enough
    rows, and enough of the store's (a build; not a small assign into a large index), a
    second core, and not switched off (``FITREP_PAIR_WORKER=0``)."""
    return (
        n_rows >= MIN_ROWS
        and n_rows >= MIN_SHARE * stored
        and usable_cores() >= 2
        and os.environ.get(ENV, "1") != "0"
    )


class PairPrefetch:
    """A worker computing ``record_pair_features`` of each chunk's planned pairs (module
    doc). ``submit`` a chunk's plans, then ``take(i)`` row ``i``'s pairs (None: not done yet,
    compute them here)."""

    def __init__(self, anchors: PackedAnchors) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._proc = context.Process(
            target=_serve, args=(child,), daemon=True, name="fitrep-pair-features"
        )
        self._proc.start()
        child.close()
        self._alive = True
        # The rows go over the connection, not as the process's arguments: a worker that
        # dies while starting leaves a spawn's argument pipe blocked for good, the
        # connection raises. Sent from a thread (the write waits for the worker's imports,
        # ~1 s) while the first chunk's candidates are found; ``submit`` waits for it.
        packed = anchors.packed_rows()
        self._known_rows = len(packed)  # rows the worker holds
        self._sending = threading.Thread(
            target=self._call, args=(lambda: self._conn.send(packed),), daemon=True
        )
        self._sending.start()
        self._chunk = 0
        self._others: list[list[int]] = []
        self._done: dict[int, PairFeatures] = {}
        self.taken = 0  # pairs the join took from the worker

    def submit(self, rows: Sequence[int], plans: Sequence[Sequence[int]]) -> None:
        """The rows of a new chunk and the other rows each is planned against."""
        self._sending.join()
        self._chunk += 1
        self._done = {}
        self._others = [
            [o for o in dict.fromkeys(plan) if o < self._known_rows]
            if row < self._known_rows
            else []
            for row, plan in zip(rows, plans, strict=True)
        ]
        ptr = np.cumsum([0, *map(len, self._others)])
        flat = np.fromiter((o for p in self._others for o in p), np.int64, int(ptr[-1]))
        self._call(lambda: self._send((self._chunk, np.asarray(rows, np.int64), ptr, flat)))

    def take(self, i: int) -> PairFeatures | None:
        """Row ``i``'s planned pairs' features, if the worker has done them."""
        if i not in self._done and self._alive:
            self._call(self._drain)
        got = self._done.pop(i, None)
        if got is not None:
            self.taken += len(got)
        return got

    def close(self) -> None:
        self._sending.join()
        if self._alive:
            self._call(lambda: self._conn.send(None))
        self._proc.join(timeout=5)
        if self._proc.is_alive():
            self._proc.terminate()
        self._conn.close()

    def _send(self, message: Any) -> None:
        self._drain()  # results of an older chunk: read (and dropped) before the worker blocks
        self._conn.send(message)

    def _drain(self) -> None:
        while self._conn.poll():
            chunk, start, end, values = self._conn.recv()
            if chunk != self._chunk:
                continue
            at = 0
            for i in range(start, end):
                others = self._others[i]
                block = values[at : at + len(others)].tolist()
                at += len(others)
                self._done[i] = {
                    o: dict(zip(RECORD_PAIR_FEATURES, v, strict=True))
                    for o, v in zip(others, block, strict=True)
                }

    def _call(self, action: Any) -> None:
        if not self._alive:
            return
        try:
            action()
        except (OSError, EOFError) as exc:  # the worker died: the join goes on alone
            self._alive = False
            self._done = {}
            log.warning("event=pair_worker_lost error=%s (features computed in-process)", exc)
