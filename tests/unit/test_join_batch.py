"""JoinRule.decide_batch (the join rule in compiled code) decides exactly as the reference
``decide`` (tests/join_reference.py), row by row.

Random workloads with ties, bounds, cores, member floors, variant conflicts, families, ids kept
by changed items, rows assigned before the batch, repeated and unassigned candidates, and
probabilities partly computed ahead: every decision, the final state and (without precomputed
probabilities) every call to ``score`` must be the same in both paths.
"""

from __future__ import annotations

import numpy as np
import pytest

from index_server.clustering.batch_join import KnownPairs
from index_server.clustering.join_rule import JoinRule
from tests.join_reference import ReferenceJoin

LEVELS = np.array([0.0, 0.05, 0.25, 0.3, 0.45, 0.5, 0.6, 0.75, 0.9, 0.9, 1.0], np.float32)


class World:
    """Symmetric pair probabilities (few levels: ties), family >= item, conflicts."""

    def __init__(self, rng: np.random.Generator, n: int) -> None:
        group = rng.integers(0, max(n // 6, 1), size=n)
        same = group[:, None] == group[None, :]
        hi = rng.choice(LEVELS[5:], size=(n, n))
        lo = rng.choice(LEVELS[:8], size=(n, n))
        item = np.where(same, hi, lo).astype(np.float32)
        self.item = np.triu(item) + np.triu(item, 1).T
        lift = rng.choice(np.array([0.0, 0.0, 0.3, 0.6], np.float32), size=(n, n))
        family = np.minimum(self.item + np.triu(lift) + np.triu(lift, 1).T, 1.0)
        self.family = family.astype(np.float32)
        conflict = rng.random((n, n)) < 0.25
        self.conflict = np.triu(conflict) | np.triu(conflict, 1).T
        slack = rng.choice(np.array([0.0, 0.0, 0.1, 0.3, 0.6]), size=(n, n))
        self.upper = self.item + slack  # an upper bound of each pair's probability
        self.calls: list[tuple[int, tuple[int, ...]]] = []

    def score(self, row, others):
        self.calls.append((row, tuple(others)))
        return self.item[row, others], self.family[row, others]

    def conflicts(self, row, others):
        return self.conflict[row, others]


def _rule(rng: np.random.Generator) -> ReferenceJoin:
    return ReferenceJoin(
        threshold=float(rng.choice([0.45, 0.5, 0.6])),
        max_checked=int(rng.integers(1, 5)),
        min_member_share=float(rng.choice([0.0, 0.25, 0.5])),
        core_share=float(rng.choice([0.5, 1.0])),
        max_conflict_scan=int(rng.integers(2, 7)),
        family_probe=int(rng.integers(0, 3)),
        core=int(rng.integers(1, 4)),
    )


def _candidates(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """Mostly earlier rows, some later ones (not assigned yet), repeats and -1 padding."""
    cands = np.full((n, k), -1, np.int64)
    for i in range(1, n):
        m = int(rng.integers(0, k + 1))
        earlier = rng.integers(max(0, i - 12), i, size=m)
        later = rng.integers(0, n, size=m)
        cands[i, :m] = np.where(rng.random(m) < 0.85, earlier, later)
    return cands


def _state(fbc: ReferenceJoin) -> tuple:
    return fbc.cluster_of, fbc.members, fbc.family_of, fbc.next_id, fbc.keep


@pytest.mark.parametrize("seed", range(60))
def test_batch_decides_like_decide(seed):
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(30, 120)), int(rng.integers(1, 9))
    world = World(rng, n)
    cands = _candidates(rng, n, k)
    upper = world.upper[np.arange(n)[:, None], np.maximum(cands, 0)]
    with_upper = bool(rng.random() < 0.7)
    with_conflicts = bool(rng.random() < 0.7)
    conflicts = world.conflicts if with_conflicts else None
    split = int(rng.integers(0, n // 2))  # rows decided before the batch, one by one
    precompute = seed % 3  # 0: nothing ahead, 1: some candidates, 2: candidates and members

    one, batch = _rule(np.random.default_rng(seed)), _rule(np.random.default_rng(seed))
    for fbc in (one, batch):
        for row in range(split):
            c = cands[row][cands[row] >= 0]
            fbc.decide(
                row, c.tolist(), world.score, upper[row, cands[row] >= 0].tolist(), conflicts
            )
        # a changed item that was alone leaves its cluster and may keep its id (engine._add)
        alone = sorted(c for c, m in fbc.members.items() if len(m) == 1)[:3]
        for i, cluster in enumerate(alone):
            row = fbc.members[cluster][0]
            fbc.remove(row)
            fbc.keep[split + 2 * i] = cluster

    world.calls.clear()
    expected = []
    for row in range(split, n):
        valid = cands[row] >= 0
        u = upper[row, valid].tolist() if with_upper else None
        expected.append(one.decide(row, cands[row, valid].tolist(), world.score, u, conflicts))
    calls_one, world.calls = world.calls, []

    rows = np.arange(split, n)
    known = None
    if precompute:
        cand = cands[rows]
        ahead = (rng.random(cand.shape) < 0.6) & (cand >= 0)
        safe = np.maximum(cand, 0)
        item = np.where(ahead, world.item[rows[:, None], safe], np.nan)
        family = np.where(ahead, world.family[rows[:, None], safe], np.nan)
        known = KnownPairs(item, family)
        if precompute == 2:
            extra = [rng.choice(n, size=int(rng.integers(0, 6)), replace=False) for _ in rows]
            known.member_ptr = np.r_[0, np.cumsum([len(e) for e in extra])]
            known.member_rows = np.concatenate(extra).astype(np.int64)
            owner = np.repeat(rows, [len(e) for e in extra])
            known.member_item = world.item[owner, known.member_rows]
            known.member_family = world.family[owner, known.member_rows]
    # the batch in two parts: the second sees clusters the first opened as "before the batch"
    cut = split + int(rng.integers(0, n - split + 1))
    got = []
    for part in (slice(0, cut - split), slice(cut - split, n - split)):
        part_known = None
        if known is not None:
            part_known = KnownPairs(known.candidate_item[part], known.candidate_family[part])
            if known.member_ptr is not None:
                lo, hi = known.member_ptr[part.start], known.member_ptr[part.stop]
                part_known.member_ptr = known.member_ptr[part.start : part.stop + 1] - lo
                part_known.member_rows = known.member_rows[lo:hi]
                part_known.member_item = known.member_item[lo:hi]
                part_known.member_family = known.member_family[lo:hi]
        result = batch.decide_batch(
            rows[part],
            cands[rows[part]],
            world.score,
            upper[rows[part]] if with_upper else None,
            conflicts,
            part_known,
        )
        got += result.decisions()

    assert got == expected
    assert _state(batch) == _state(one)
    if known is None:
        assert world.calls == calls_one  # the same pairs asked of the verifier, in order


def test_fallback_is_counted_and_precomputed_pairs_avoid_it():
    world = World(np.random.default_rng(7), 40)
    cands = _candidates(np.random.default_rng(8), 40, 6)
    rows = np.arange(40)
    asked = ReferenceJoin().decide_batch(rows, cands, world.score)
    assert asked.callbacks > 0 and asked.rows_with_callbacks <= asked.callbacks

    safe = np.maximum(cands, 0)
    known = KnownPairs(world.item[rows[:, None], safe], world.family[rows[:, None], safe])
    members = ReferenceJoin(max_checked=1, core=1)  # only candidates (and a first member) are asked
    ahead = members.decide_batch(rows, cands, world.score, known=known)
    assert ahead.rows_with_callbacks < asked.rows_with_callbacks


def test_a_batch_row_already_assigned_is_refused():
    fbc = ReferenceJoin()
    fbc.decide(0, [], lambda row, others: np.zeros(len(others), np.float32))
    with pytest.raises(ValueError, match="already assigned"):
        fbc.decide_batch([0, 1], np.full((2, 1), -1), lambda row, others: np.zeros(len(others)))


def test_a_low_bound_candidate_still_counts_in_its_cluster():
    """A candidate bounded below every floor is grouped with its cluster all the same (the
    compiled path skips reading clusters only all of whose candidates are): here candidate 1
    is one of the checked members, in place of the older member 2, and is too weak."""
    q = {0: 0.9, 1: 0.1, 2: 0.9, 3: 0.9, 6: 0.9}

    def score(row, others):
        return np.array([q[o] for o in others], np.float32)

    one, batch = ReferenceJoin(threshold=0.5, max_checked=3), JoinRule(threshold=0.5, max_checked=3)
    for rule in (one, batch):
        for row in (0, 2, 6, 1, 3):
            rule.restore(row, 1)
    cands, upper = np.array([[3, 1]]), np.array([[0.95, 0.12]])
    expected = one.decide(7, [3, 1], score, upper[0].tolist())
    assert expected.is_new  # checked 0, 3, 1: member 1 scores 0.1 < 0.25 x 0.5
    assert batch.decide_batch([7], cands, score, upper).decision(0) == expected
