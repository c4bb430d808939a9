"""The collector's batch thresholds: raised for batch work, the caller's put back after."""

from __future__ import annotations

import gc

import pytest
from fitrep.domain import InvalidInput, Item
from fitrep.pipeline import Pipeline

from serving.gc_policy import BATCH_THRESHOLDS, batch_collections, tune_for_batches


@pytest.fixture
def thresholds():
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_thresholds_only_rise_and_come_back(thresholds) -> None:
    gc.set_threshold(700, 10, 10)
    with batch_collections():
        assert gc.get_threshold() == BATCH_THRESHOLDS
    assert gc.get_threshold() == (700, 10, 10)
    gc.set_threshold(200_000, 5, 500)  # a caller's own larger ones stay
    assert tune_for_batches() == (200_000, 5, 500)
    assert gc.get_threshold() == (200_000, 20, 500)


def test_sdk_batch_calls_put_the_callers_thresholds_back(thresholds) -> None:
    gc.set_threshold(700, 10, 10)
    seen: list[tuple[int, int, int]] = []
    pipeline = Pipeline.create(workers=1)
    try:
        items = [Item(f"i{n}", f"acme kettle {n % 7} l steel") for n in range(40)]
        pipeline.dedup(items[:30], lambda *_: seen.append(gc.get_threshold()))
        pipeline.assign(items[30:], lambda *_: seen.append(gc.get_threshold()))
        with pytest.raises(InvalidInput):  # a failing call puts them back too
            pipeline.assign([Item("", "")])
    finally:
        pipeline.close()
    assert seen and set(seen) == {BATCH_THRESHOLDS}
    assert gc.get_threshold() == (700, 10, 10)


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_settle_heap_collects_then_freezes_what_is_alive() -> None:
    import weakref

    from serving.gc_policy import settle_heap

    kept, dropped = _Node(), _Node()
    kept.other, dropped.other = kept, dropped  # two cycles, one still referenced
    gone = weakref.ref(dropped)
    del dropped
    try:
        frozen = settle_heap()
        assert gone() is None  # garbage is collected first, never frozen
        assert frozen == gc.get_freeze_count() > 0
        assert not any(o is kept for o in gc.get_objects())  # out of every generation
    finally:
        gc.unfreeze()
    assert any(o is kept for o in gc.get_objects())
