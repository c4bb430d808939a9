"""The screened exact index (index_server/candidates/screened_index.py) answers exactly as a full
scan does, while scoring only a few rows exactly; the engine runs small calls on one thread."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from fitrep.domain import EmbeddedItem

from index_server.candidates import screened_index
from index_server.candidates.screened_index import ScreenedExactIndex
from index_server.candidates.vector_index import FaissIndex, create_index
from index_server.config import IndexConfig
from index_server.engine import IndexEngine


def _clustered(n: int, d: int, seed: int, centres: int = 12) -> np.ndarray:
    """Unit vectors around a few centres (as items of a catalogue are), some exact copies."""
    rng = np.random.default_rng(seed)
    c = rng.normal(size=(centres, d))
    x = c[rng.integers(centres, size=n)] + 0.1 * rng.normal(size=(n, d))
    x[rng.choice(n, n // 20, replace=False)] = x[0]  # ties: copies of one row
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _exact_top(data: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """float64 full scan: (scores, rows), ties to the lower row."""
    ip = queries.astype(np.float64) @ data.astype(np.float64).T
    order = np.lexsort((np.broadcast_to(np.arange(len(data)), ip.shape), -ip), axis=1)[:, :k]
    return np.take_along_axis(ip, order, axis=1), order


def _assert_same_rows(rows: np.ndarray, want: np.ndarray, scores: np.ndarray) -> None:
    """The same rows in the same order, except among scores within float rounding (ties)."""
    near_tie = np.abs(np.diff(scores, axis=1)) < 1e-5
    clear = ~(np.pad(near_tie, ((0, 0), (1, 0))) | np.pad(near_tie, ((0, 0), (0, 1))))
    assert clear.mean() > 0.5
    assert (rows[clear] == want[clear]).all()


@pytest.mark.parametrize("k", [1, 10, 33, 129])
def test_screened_search_is_the_exact_top_k(k):
    data = _clustered(5000, 96, 0)
    queries = np.concatenate([data[::250], _clustered(40, 96, 1)])
    index = ScreenedExactIndex(96, dims=16)
    index.rebuild(data[:1500])  # below BRUTE_ROWS: no basis yet
    assert index.basis is None
    for start, stop in ((1500, 1501), (1501, 3200), (3200, 5000)):  # fitted, refitted, grown
        index.add(data[start:stop])
    assert index.ntotal == 5000 and index.basis is not None and index.fit_rows == 3200
    scores, rows = index.search(queries, k)
    want_scores, want_rows = _exact_top(data, queries, k)
    np.testing.assert_allclose(scores, want_scores, atol=1e-5)
    _assert_same_rows(rows, want_rows, want_scores)
    # and it screened: the exact scores were taken for a small share of the rows
    assert 0 < index.scored < 0.3 * len(queries) * len(data)


def test_screened_search_matches_faiss_flat_and_handles_small_indexes():
    data = _clustered(3000, 64, 2)
    flat, screened = FaissIndex(64, "ip", ivf_min_items=10**9), ScreenedExactIndex(64, dims=8)
    for index in (flat, screened):
        index.rebuild(data)
    s_f, r_f = flat.search(data[:50], 16)
    s_s, r_s = screened.search(data[:50], 16)
    np.testing.assert_allclose(s_s, s_f, atol=1e-5)
    _assert_same_rows(r_s, r_f, s_f)

    small = ScreenedExactIndex(8, dims=4)
    assert small.search(data[:3, :8], 5)[1].shape == (3, 0)
    few = data[:4, :8] / np.linalg.norm(data[:4, :8], axis=1, keepdims=True)
    small.rebuild(few)
    _, rows = small.search(few, 16)  # k above ntotal: clipped, like FAISS
    assert rows.shape == (4, 4) and (rows[:, 0] == np.arange(4)).all()
    copy = ScreenedExactIndex(8, dims=4)
    copy.deserialize(small.serialize())
    assert (copy.search(few, 2)[1] == rows[:, :2]).all()


def test_a_reserve_grows_no_buffer_and_finds_the_same_rows():
    data = _clustered(3000, 64, 3)
    grown, reserved = ScreenedExactIndex(64, dims=8), ScreenedExactIndex(64, dims=8, reserve=3000)
    for index in (grown, reserved):
        index.rebuild(data[:100])
    buffer = reserved._x
    for start in range(100, 3000, 700):  # crosses the 1,024 and 2,048 rows a plain index doubles at
        for index in (grown, reserved):
            index.add(data[start : start + 700])
    assert reserved._x is buffer and len(buffer) == 3000  # never copied
    assert len(grown._x) == 4096  # doubled (the copies the reserve saves)
    s_g, r_g = grown.search(data[::97], 16)
    s_r, r_r = reserved.search(data[::97], 16)
    assert (r_g == r_r).all() and (s_g == s_r).all()
    reserved.add(data[:1])  # past the reserve: grows as before
    assert reserved.ntotal == 3001 and len(reserved._x) == 6000


def test_the_generator_reserves_the_rows_below_spdr(fast_items):
    from index_server.candidates.generator import SCREEN_RESERVE_ROWS
    from index_server.config import IndexConfig
    from index_server.engine import IndexEngine

    engine = IndexEngine(None, IndexConfig(screen_dims=8, spdr_min_items=5000))
    engine.assign_items(fast_items[:40])
    index = engine.candidates.cindex
    assert isinstance(index, ScreenedExactIndex)
    assert index.reserve == min(5000, SCREEN_RESERVE_ROWS)


def test_create_index_screens_the_full_space_only_when_asked():
    assert isinstance(create_index(256, "ip", screen_dims=32), ScreenedExactIndex)
    assert isinstance(create_index(256, "ip"), FaissIndex)  # 0: the Flat scan
    assert isinstance(create_index(64, "l2", screen_dims=32), FaissIndex)  # a reduced space
    assert isinstance(create_index(16, "ip", screen_dims=32), FaissIndex)  # nothing to screen


def test_engine_decides_the_same_with_and_without_screening(fast_items, monkeypatch):
    monkeypatch.setattr(screened_index, "BRUTE_ROWS", 4)  # screen from the 4th row on
    monkeypatch.setattr(screened_index, "SCREEN_K", 4)  # for k up to a quarter of the rows
    monkeypatch.setattr(screened_index, "_BLOCK", 4096)  # and in several query blocks
    # the catalogue and copies of it under other ids (ties the search must break alike)
    copies = [_renamed(it, f"copy{c}-{it.item_id}") for c in range(3) for it in fast_items[::2]]
    items = list(fast_items) + copies
    runs = {}
    for dims in (0, 4):
        engine = IndexEngine(config=IndexConfig(k=2, screen_dims=dims))
        calls = [items[s : s + 7] for s in range(0, len(items), 7)]
        runs[dims] = [a.cluster_id for call in calls for a in engine.assign(call)]
        found = engine.candidates.candidates(list(range(engine.n)))
        assert engine.candidates.describe()[1].startswith("ScreenedExact" if dims else "Flat")
        assert getattr(engine.candidates.cindex, "scored", 1) > 0  # it did screen
        runs[dims].append(found.tolist())
    assert runs[4] == runs[0]


def _renamed(item: EmbeddedItem, item_id: str) -> EmbeddedItem:
    return EmbeddedItem(
        replace(item.concepts, item_id=item_id), replace(item.embeddings, item_id=item_id)
    )


def test_small_calls_run_blas_and_openmp_on_one_thread(fast_items, monkeypatch):
    from threadpoolctl import threadpool_info

    seen: list[set[int]] = []
    engine = IndexEngine(config=IndexConfig(single_thread_below=4))
    real = engine.candidates.candidates

    def spy(rows: list[int]) -> np.ndarray:
        seen.append({int(pool["num_threads"]) for pool in threadpool_info()})
        return real(rows)

    monkeypatch.setattr(engine.candidates, "candidates", spy)
    engine.assign(fast_items[:4])  # the first call (no index yet): as set
    engine.assign(fast_items[4:7])  # 3 < 4 items: one thread
    engine.assign(fast_items[7:])  # 4 or more: as set
    assert seen[1] == {1}
    if seen[0] != {1}:  # a machine with one core shows 1 everywhere
        assert seen[2] == seen[0]
