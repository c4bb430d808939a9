"""What the join rule reports for a cluster it judges (the ``JoinCheck`` that explain turns into
words): which part failed, with the numbers behind it, and a member to blame only when a
member is the reason; cluster ids in their external form, both ways."""

from __future__ import annotations

import numpy as np
import pytest

from index_server.clustering.cluster_ids import (
    format_cluster_id,
    format_family_id,
    parse_cluster_id,
    resolve,
)
from tests.join_reference import ReferenceJoin


def _scores(table: dict[int, float]):
    """Row 9 against members 0..: ``table`` gives each member's probability."""

    def score(row, rows):
        return np.array([table.get(r, 0.0) for r in rows], np.float32)

    return score


def _cluster(fbc: ReferenceJoin, n: int) -> int:
    cluster = fbc.new_cluster(0)
    for row in range(1, n):
        fbc.join(row, cluster)
    return cluster


def test_a_best_member_below_the_threshold_is_the_reason_and_no_member_is_blamed():
    fbc = ReferenceJoin(threshold=0.5, core=1, core_share=0.5)
    cluster = _cluster(fbc, 3)
    check = fbc.check(9, cluster, [1, 2], _scores({0: 0.2, 1: 0.4, 2: 0.3}))
    assert not check.ok and check.conflict_row == -1
    assert (check.nearest, check.best_pair) == (1, pytest.approx(0.4))
    assert check.reason == "best member scores 0.40 < threshold 0.50"


def test_a_core_that_disagrees_is_the_reason_with_its_share_of_the_threshold():
    fbc = ReferenceJoin(threshold=0.5, core_share=0.8, core=2, max_checked=8)
    cluster = _cluster(fbc, 4)
    check = fbc.check(9, cluster, [3], _scores({0: 0.3, 1: 0.3, 2: 0.9, 3: 0.9}))
    assert not check.ok and check.conflict_row == -1
    assert check.core_mean == pytest.approx(0.3)
    assert check.reason == ("its first 2 member(s) score 0.30 on average < 0.8 x threshold 0.40")


def test_low_agreement_is_the_reason_and_no_member_is_blamed():
    fbc = ReferenceJoin(threshold=0.5, core_share=0.5, min_member_share=0.0, max_checked=3, core=1)
    cluster = _cluster(fbc, 3)
    check = fbc.check(9, cluster, [1], _scores({0: 0.3, 1: 0.9, 2: 0.1}))
    assert not check.ok and check.conflict_row == -1
    assert check.agreement == pytest.approx((0.3 + 0.9 + 0.1) / 3)
    assert check.reason == "agreement with its members 0.43 < threshold 0.50"


def test_a_member_far_below_the_rest_is_blamed():
    fbc = ReferenceJoin(threshold=0.5, min_member_share=0.25, max_checked=4, core=1, core_share=0.5)
    cluster = _cluster(fbc, 4)
    check = fbc.check(9, cluster, [1], _scores({0: 0.9, 1: 0.9, 2: 0.9, 3: 0.1}))
    assert not check.ok and check.conflict_row == 3
    assert check.reason == "a member scores 0.10 < 0.25 x threshold 0.12"


def test_a_cluster_that_agrees_passes_with_no_reason_and_no_member():
    fbc = ReferenceJoin(threshold=0.5, max_checked=2, core=1, core_share=0.5)
    cluster = _cluster(fbc, 3)
    check = fbc.check(9, cluster, [2], _scores({0: 0.8, 1: 0.2, 2: 0.9}))
    assert check.ok and check.reason == "" and check.conflict_row == -1
    assert check.agreement == pytest.approx(0.85)  # the first and the retrieved member


def test_a_cluster_is_judged_as_it_was_before_a_row():
    fbc = ReferenceJoin(threshold=0.5, max_checked=8, min_member_share=0.5, core=1, core_share=0.5)
    cluster = _cluster(fbc, 3)
    score = _scores({0: 0.9, 1: 0.9, 2: 0.0})
    assert not fbc.check(9, cluster, [0], score).ok  # member 2 is far below
    assert fbc.check(9, cluster, [0], score, before=2).ok  # as it was before row 2 joined
    empty = fbc.check(9, cluster, [0], score, before=0)
    assert not empty.ok and empty.reason == "the cluster had no members yet"


@pytest.mark.parametrize("number", [1, 7, 12345678, 123456789])
def test_cluster_ids_read_back_what_they_write(number):
    assert parse_cluster_id(format_cluster_id(number)) == number
    assert format_family_id(number) == "f" + format_cluster_id(number)[1:]


def test_a_short_cluster_id_is_read_and_anything_else_refused():
    assert parse_cluster_id("c7") == 7
    for text in ("", "c", "7", "f00000007", "c0000000x", "C00000007", "c-1"):
        with pytest.raises(ValueError, match="not a cluster id"):
            parse_cluster_id(text)


def test_an_alias_resolves_through_every_merge():
    assert resolve({3: 2, 2: 1}, 3) == 1
    assert resolve({3: 2}, 5) == 5


def test_a_batch_of_rows_with_gaps_is_decided_as_row_by_row():
    """Rows need not be consecutive (a caller's own numbering): the batch still finds which
    candidates are rows of the batch decided before them."""
    rng = np.random.default_rng(7)
    rows = [0, 2, 3, 6, 7, 9, 12, 13]
    close = rng.random((14, 14)) < 0.5
    prob = np.where(close | close.T, 0.9, 0.1)

    def score(row, others):
        return np.array([prob[row, o] for o in others], np.float32)

    cands = np.full((len(rows), 4), -1, np.int64)
    for i in range(1, len(rows)):
        earlier = rows[max(0, i - 4) : i][::-1]
        cands[i, : len(earlier)] = earlier
    one, batch = (
        ReferenceJoin(threshold=0.5, max_checked=2, core=1, core_share=0.5),
        ReferenceJoin(threshold=0.5, max_checked=2, core=1, core_share=0.5),
    )
    expected = [
        one.decide(r, [int(c) for c in cands[i] if c >= 0], score) for i, r in enumerate(rows)
    ]
    got = batch.decide_batch(rows, cands, score).decisions()
    assert [(d.cluster, d.nearest_row, d.is_new) for d in got] == [
        (d.cluster, d.nearest_row, d.is_new) for d in expected
    ]
    assert len({d.cluster for d in expected}) < len(rows)  # some rows joined
    assert batch.members == one.members


def test_a_batch_refuses_candidates_of_another_shape():
    def score(row, others):
        return np.ones(len(others), np.float32)

    fbc = ReferenceJoin(core=1, core_share=0.5)
    for bad in (np.zeros((2, 3), np.int64), np.zeros((4, 3), np.int64), np.zeros(3, np.int64)):
        with pytest.raises(ValueError, match="candidates has shape"):
            fbc.decide_batch([0, 1, 2], bad, score)
    assert fbc.members == {}
