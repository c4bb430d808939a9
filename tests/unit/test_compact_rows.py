"""The engine's compact per-row stores give back exactly what was put in."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import pytest
from fitrep.domain import Anchors, Level

from index_server.clustering.decision_log import DecisionLog
from index_server.rows.packed_anchors import PackedAnchors


def test_packed_anchors_round_trip_and_keep_empty_lists():
    rows = [{"code": ["t0441"], "code_any": []}, {"tokens": ["oat", "drink"]}, {}]
    packed = PackedAnchors(Anchors.from_json(r) for r in rows[:1])
    packed.extend(Anchors.from_json(r) for r in rows[1:])
    assert len(packed) == 3
    first = packed[0].to_json()
    assert first == rows[0] and "code_any" in first  # empty != missing for the verifier
    assert [a.to_json() for a in packed[1:]] == rows[1:]
    assert [a.to_json() for a in packed] == rows
    assert packed.nbytes() < 3 * 80  # a near-empty row packs to ~70 bytes


def test_packed_anchors_cache_gives_the_decoded_anchors_and_stays_bounded():
    rows = [
        Anchors.from_json({"code": [f"t{n}"], "tokens": ["oat", str(n)], "code_any": []})
        for n in range(10)
    ]
    packed = PackedAnchors(rows, cached=4)
    for _ in range(3):  # misses, then hits, then misses again past the bound
        for n in (0, 1, 2, 9, -1, 5, 0):
            assert packed[n] == rows[n]
    assert packed[9] is packed[-1]  # one unpacked object serves every reader
    assert len(packed._unpacked) <= 4
    assert packed[2:5] == rows[2:5] and list(packed) == rows
    with pytest.raises(IndexError):
        packed[10]


def test_packed_anchors_cache_shared_by_threads():
    rows = [Anchors.from_json({"tokens": [str(n)], "price": [str(n * 3)]}) for n in range(300)]
    packed = PackedAnchors(rows, cached=50)

    def read(seed: int) -> bool:
        order = [(seed * 7919 + k * 31) % 300 for k in range(2000)]
        return all(packed[n] == rows[n] for n in order)

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(read, range(8)))
    assert len(packed._unpacked) <= 50


def test_anchors_json_round_trip_keeps_every_field():
    full = {
        f.name: ([] if f.name in ("code_any", "number_any") else [f"{f.name}1", "2"])
        for f in dataclasses.fields(Anchors)
    }
    full["variant_any"] = ["colour:red"]
    a = Anchors.from_json({**full, "unknown": ["x"]})
    assert a.to_json() == full and list(a.to_json()) == list(full)  # declaration order
    assert Anchors.from_json({"code": [441, "a"]}).code == ("441", "a")  # values as strings
    assert Anchors.from_json({}) == Anchors() == Anchors.from_json(None)
    assert Anchors.from_json({"code_any": []}).code_any == ()


def test_decision_log_rebuilds_assignments():
    ids = [f"i{n}" for n in range(3000)]
    log = DecisionLog(ids)
    for row in range(3000):  # past the first capacity, so the columns grow
        if row % 2:
            log.record(7, row - 1, 0.75, 0.6, False, {Level.PRIMARY: 0.5, Level.VISUAL: 0.25})
        else:
            log.record(row + 100, -1, 0.125, 0.875, True)
    joined, opened = log[2999], log[2998]
    assert (joined.cluster_id, joined.nearest_item_id, joined.is_new_cluster) == (
        "c00000007",
        "i2998",
        False,
    )
    assert joined.per_level == {Level.PRIMARY: 0.5, Level.VISUAL: 0.25}
    assert (joined.similarity, joined.confidence) == (0.75, pytest.approx(0.6))
    assert opened.nearest_item_id == "" and opened.per_level == {} and opened.is_new_cluster
    assert len(log) == 3000
    with pytest.raises(IndexError):
        log[3000]
