"""Python's cyclic garbage collector, set for batch work: a young generation of 50,000 objects.

A batch of items allocates millions of short-lived objects (features, dicts, JSON forms); with
the default thresholds (700, 10, 10) the collector ran ~11,000 young and 20 full collections
over a 100k-item ``fitrep dedup``, 11 s of its 104 (each full one walks every live object:
the catalogue, the anchors, the index's rows). With (50000, 20, 100): 150 young, 7 middle,
no full collection, 3 s, the same peak RSS (2.11 GB); nothing here makes reference cycles
in bulk, so nothing waits on a full collection to be freed. Processes that are ours (the
CLI, the servers, the worker processes) set it once; the SDK's batch calls set it for their
duration and put the caller's back (``batch_collections``). Thresholds only ever rise.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

BATCH_THRESHOLDS = (50_000, 20, 100)


def tune_for_batches() -> tuple[int, int, int]:
    """Raise the collector's thresholds to ``BATCH_THRESHOLDS`` (none is lowered); returns
    the previous ones."""
    old = gc.get_threshold()
    gc.set_threshold(*(max(a, b) for a, b in zip(old, BATCH_THRESHOLDS, strict=True)))
    return old  # type: ignore[return-value]


def settle_heap() -> int:
    """Collect once, then leave every object alive now out of later collections
    (``gc.freeze``): for a server, after it has loaded its index or model. A full collection
    walks every tracked object: 290 ms over a loaded 100k-item index (554k objects), ~3 s at
    1M, a stop of every call whenever the collector decides to; the loaded objects make no
    cyclic garbage (an engine dropped or reloaded leaves none to collect), and frozen ones
    are still freed by reference counting. Returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


@contextmanager
def batch_collections() -> Iterator[None]:
    """``tune_for_batches`` for the duration of a block, then the thresholds as they were."""
    old = tune_for_batches()
    try:
        yield
    finally:
        gc.set_threshold(*old)
