"""The engine's compact per-row stores give back exactly what was put in."""

from __future__ import annotations

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
    assert packed.nbytes() < 100


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
