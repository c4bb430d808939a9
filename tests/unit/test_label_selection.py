"""`fitrep label`'s selection rule: most uncertain first, one pair per cluster in a batch."""

from __future__ import annotations

import numpy as np
from fitrep.labelling.selection import margins, select


def test_margin_is_the_logit_distance_to_the_threshold():
    m = margins(np.log([1.0, 0.25, 4.0]), threshold=0.5)  # logits 0, -1.39, 1.39
    assert np.allclose(m, [0.0, np.log(4), np.log(4)])
    assert margins([0.0], threshold=0.2)[0] > 0  # 0.5 is not uncertain when t = 0.2


def test_the_most_uncertain_pairs_come_first():
    groups = [("a",), ("b",), ("c",), ("d",)]
    assert select([0.9, 0.1, 0.5, 0.3], groups, k=3) == [1, 3, 2]


def test_a_batch_asks_about_each_cluster_once():
    # pairs 0-2 all touch cluster x and are the most uncertain: only the first is taken
    groups = [("x", "p"), ("x", "q"), ("r", "x"), ("s", "t"), ("u", "v")]
    assert select([0.0, 0.1, 0.2, 0.5, 0.9], groups, k=3) == [0, 3, 4]


def test_when_diverse_pairs_run_out_the_most_uncertain_fill_in():
    groups = [("x",), ("x",), ("x",)]
    assert select([0.3, 0.1, 0.2], groups, k=3) == [1, 2, 0]


def test_decided_pairs_and_blocked_groups_are_skipped():
    groups = [("x",), ("y",), ("z",), ("w",)]
    assert select([0.0, 0.1, 0.2, 0.3], groups, k=2, exclude={0}, blocked={"y"}) == [2, 3]
    assert select([0.0, 0.1], [("x",), ("y",)], k=5, exclude={0, 1}) == []
