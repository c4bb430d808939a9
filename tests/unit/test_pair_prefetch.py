"""The pair-feature worker: its features are the join's own, so its decisions are too."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
from fitrep.domain import Anchors
from fitrep.readers import read_items
from fitrep.synthetic import electronics, templates

from index_server.config import IndexConfig
from index_server.engine import IndexEngine
from index_server.rows.packed_anchors import PackedAnchors
from index_server.scoring import pair_prefetch
from index_server.scoring.features import record_pair_features
from index_server.scoring.pair_prefetch import PairPrefetch
from mllm_server.chie.encoder import LevelEncoder
from mllm_server.chie.engine import ConceptEngine
from mllm_server.chie.rules import RulesExtractor
from tests.conftest import hash_embed


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory):
    """Two generated shapes as a user's files hold them (template slots; codes, brand and
    listing columns), seeds no other test reads."""
    root = tmp_path_factory.mktemp("catalogues")
    shapes = (templates.generate(700, seed=41), electronics.generate(43, lines=40))
    items = [it for c in shapes for it in read_items(c.write_jsonl(root / f"{c.name}.jsonl"))]
    return ConceptEngine(RulesExtractor(), LevelEncoder(embed=hash_embed)).process(items)


def _wait_for(prefetch: PairPrefetch, i: int) -> dict[int, dict[str, float]]:
    deadline = time.monotonic() + 60
    while (got := prefetch.take(i)) is None:
        assert time.monotonic() < deadline, f"the worker never did row {i}"
        time.sleep(0.01)
    return got


def test_the_worker_computes_the_same_features(embedded):
    anchors = [e.concepts.anchors for e in embedded]
    packed = PackedAnchors(anchors)
    prefetch = PairPrefetch(packed)
    try:
        rows = list(range(100, 140))
        plans = [[r - 1, r - 7, r - 1, 0] for r in rows]  # a repeated row is done once
        prefetch.submit(rows, plans)
        for i in range(len(rows) - 1, -1, -1):  # the worker starts at the last row
            got = _wait_for(prefetch, i)
            assert list(got) == list(dict.fromkeys(plans[i]))
            for other, features in got.items():
                assert features == record_pair_features(anchors[rows[i]], anchors[other])
        assert prefetch.taken == 3 * len(rows)
    finally:
        prefetch.close()


def _assignments(embedded, monkeypatch, caplog, worker: bool) -> list[tuple[object, ...]]:
    monkeypatch.setattr(pair_prefetch, "MIN_ROWS", 1 if worker else 10**9)
    monkeypatch.setattr(pair_prefetch, "usable_cores", lambda: 2)  # a 1-core runner too
    monkeypatch.setenv(pair_prefetch.ENV, "1")
    with caplog.at_level(logging.INFO, logger="fitrep.index"):
        done = IndexEngine(config=IndexConfig()).build(embedded)
    return [
        (a.cluster_id, a.nearest_item_id, a.similarity, a.confidence, a.family_id) for a in done
    ]


def test_decisions_with_the_worker_are_those_without(embedded, monkeypatch, caplog):
    alone = _assignments(embedded, monkeypatch, caplog, worker=False)
    assert "pairs_taken" not in caplog.text
    caplog.clear()
    with_worker = _assignments(embedded, monkeypatch, caplog, worker=True)
    taken = [int(r.message.rpartition("=")[2]) for r in caplog.records if "pairs_taken" in r.msg]
    assert taken and taken[0] > 100, caplog.text  # the worker did a share of the pairs
    assert with_worker == alone
    assert len({a[0] for a in alone}) < len(alone)  # some items merged


def test_a_lost_worker_leaves_the_join_to_compute_alone(caplog):
    packed = PackedAnchors([Anchors(tokens=("a",)), Anchors(tokens=("b",))])
    prefetch = PairPrefetch(packed)
    prefetch._proc.kill()
    prefetch._proc.join()
    with caplog.at_level(logging.WARNING, logger="fitrep.index"):
        prefetch.submit([1], [[0]])
        assert prefetch.take(0) is None
    prefetch.close()
    assert "pair_worker_lost" in caplog.text


def test_small_batches_and_one_core_go_without_a_worker(monkeypatch):
    monkeypatch.setattr(pair_prefetch, "usable_cores", lambda: 2)
    assert pair_prefetch.wanted(10**6, stored=10**6)  # a build
    assert not pair_prefetch.wanted(pair_prefetch.MIN_ROWS - 1, stored=0)
    # an assign of a few thousand rows into a large index: not worth sending it every row
    assert not pair_prefetch.wanted(8192, stored=10**6)
    assert pair_prefetch.wanted(8192, stored=100_000)
    monkeypatch.setattr(pair_prefetch, "usable_cores", lambda: 1)
    assert not pair_prefetch.wanted(10**6, stored=10**6)
    monkeypatch.setattr(pair_prefetch, "usable_cores", lambda: 2)
    monkeypatch.setenv(pair_prefetch.ENV, "0")
    assert not pair_prefetch.wanted(10**6, stored=10**6)


def test_the_worker_gets_every_row_packed(tmp_path: Path):
    rows = [Anchors(code=("x1",), code_any=()), Anchors(tokens=("a", "b"))]
    copy = PackedAnchors.of_packed(PackedAnchors(rows).packed_rows())
    assert list(copy) == rows and copy[0].code_any == ()


def test_large_chunks_sent_while_the_worker_answers_do_not_deadlock(embedded):
    """Each side's send waits for the other to read once a message outgrows the socket's
    buffer; the worker reads in a thread of its own, so neither waits for good."""
    anchors = [e.concepts.anchors for e in embedded]
    prefetch = PairPrefetch(PackedAnchors(anchors))
    done = threading.Event()

    def run() -> None:
        rows = list(range(300, 700))
        plans = [list(range(0, 300)) for _ in rows]  # ~1 MB a chunk: beyond any buffer
        for _ in range(3):  # superseded twice while the worker is sending
            prefetch.submit(rows, plans)
            time.sleep(0.2)
        assert len(_wait_for(prefetch, len(rows) - 1)) == 300
        done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=60)
    deadlocked = not done.is_set()
    if deadlocked:
        prefetch._proc.kill()  # frees the join's side, blocked in its send
    prefetch.close()
    assert not deadlocked
