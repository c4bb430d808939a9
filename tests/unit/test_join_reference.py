import numpy as np

from index_server.clustering.cluster_ids import format_cluster_id, parse_cluster_id
from tests.join_reference import ReferenceJoin


def _scorer(table):
    def score(row, rows):
        return np.array([table.get(frozenset((row, r)), 0.0) for r in rows], np.float32)

    return score


def test_no_chaining_through_one_member():
    # 0~1 and 1~2 are duplicates, 0 and 2 are not: 2 must not join {0, 1}.
    table = {frozenset((0, 1)): 0.95, frozenset((1, 2)): 0.9, frozenset((0, 2)): 0.02}
    fbc = ReferenceJoin(threshold=0.5)
    score = _scorer(table)
    d0 = fbc.decide(0, [], score)
    d1 = fbc.decide(1, [0], score)
    d2 = fbc.decide(2, [1, 0], score)
    assert d1.cluster == d0.cluster and not d1.is_new
    assert d2.is_new and d2.cluster != d0.cluster


def test_joins_the_cluster_it_agrees_with_most():
    table = {frozenset((0, 2)): 0.6, frozenset((1, 2)): 0.9}
    fbc = ReferenceJoin(threshold=0.5)
    score = _scorer(table)
    fbc.decide(0, [], score)
    fbc.decide(1, [0], score)
    d = fbc.decide(2, [0, 1], score)
    assert d.cluster == fbc.cluster_of[1] and d.nearest_row == 1


def test_ids_are_unique_and_never_reused():
    fbc = ReferenceJoin()
    a = fbc.new_cluster(0)
    fbc.remove(0)
    b = fbc.new_cluster(1)
    assert b > a
    assert parse_cluster_id(format_cluster_id(b)) == b


def test_a_member_that_clearly_disagrees_blocks_the_join():
    # mean over {0, 1} is 0.525 >= 0.5, but member 1 is below a quarter of the threshold
    table = {frozenset((0, 1)): 0.9, frozenset((0, 2)): 0.95, frozenset((1, 2)): 0.1}
    fbc = ReferenceJoin(threshold=0.5)
    score = _scorer(table)
    fbc.decide(0, [], score)
    fbc.decide(1, [0], score)
    assert fbc.decide(2, [0, 1], score).is_new
    lenient = ReferenceJoin(threshold=0.5, min_member_share=0.0)
    lenient.decide(0, [], score)
    lenient.decide(1, [0], score)
    assert not lenient.decide(2, [0, 1], score).is_new
