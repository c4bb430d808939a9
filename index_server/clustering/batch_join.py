"""``JoinRule.decide_batch``: the join rule for a whole batch of rows in compiled code.

The batch is decided as the rule one row at a time would decide its rows one after the other
(same clusters, families, nearest rows, probabilities and cluster counter; the tests hold it
to ``tests/join_reference.py``), by ``join_kernel`` over arrays: the rule's dicts are read
once for the clusters of the candidates assigned before the batch, the kernel decides, and
the result is written back into the rule.

Pair probabilities come from the caller's arrays (``KnownPairs``: the candidates' and
further members' probabilities, computed ahead) and otherwise from ``score``: when the rule
asks for pairs that were not computed ahead, the kernel stops at that row, ``score`` is
called with exactly the rows the reference ``decide`` would pass it, and the row is decided again
with the answers. Variant conflicts are asked of ``conflicts`` the same way. Those calls are
the fallback; ``BatchDecisions.callbacks`` and ``.rows_with_callbacks`` count them.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain, repeat
from typing import Protocol

import numpy as np
import numpy.typing as npt

from index_server.clustering import join_kernel as jk
from index_server.clustering.decision import FAMILY_REP as _FAMILY_REP
from index_server.clustering.decision import ConflictFn, Decision, ScoreFn
from index_server.clustering.join_pairs import CONFLICT


class RuleState(Protocol):
    """What the batch reads and writes of ``join_rule.JoinRule`` (its parameters and cluster
    state; a protocol, since ``join_rule`` imports this module)."""

    threshold: float
    max_checked: int
    min_member_share: float
    core_share: float
    max_conflict_scan: int
    family_probe: int
    core: int
    cluster_of: dict[int, int]
    members: dict[int, list[int]]
    family_of: dict[int, int]
    next_id: int
    keep: dict[int, int]


I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


@dataclass
class KnownPairs:
    """Pair probabilities computed before the join, for the rows of a batch.

    ``candidate_item`` / ``candidate_family``: (n, k) float, aligned with the batch's
    candidates, NaN where not computed. ``member_ptr`` (n + 1,) with ``member_rows``,
    ``member_item``, ``member_family`` (m,): further rows (cluster members that were not
    candidates) in CSR form. Values must equal what the batch's ``score`` would return."""

    candidate_item: np.ndarray
    candidate_family: np.ndarray | None = None
    member_ptr: np.ndarray | None = None
    member_rows: np.ndarray | None = None
    member_item: np.ndarray | None = None
    member_family: np.ndarray | None = None


@dataclass
class BatchDecisions:
    """What the rule decided for each row of the batch, as arrays (n,)."""

    rows: I64
    cluster: I64
    nearest_row: I64
    probability: F64
    best_pair: F64
    is_new: npt.NDArray[np.bool_]
    family: I64
    callbacks: int = 0  # calls to ``score`` or ``conflicts`` (the fallback)
    rows_with_callbacks: int = 0
    # where the time went (s): arrays, state_read (the rule's dicts for the clusters of candidates
    # assigned before the batch), kernel, callbacks, write_back
    seconds: dict[str, float] | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def decision(self, i: int) -> Decision:
        return Decision(
            int(self.rows[i]),
            int(self.cluster[i]),
            int(self.nearest_row[i]),
            float(self.probability[i]),
            float(self.best_pair[i]),
            bool(self.is_new[i]),
            int(self.family[i]),
        )

    def decisions(self) -> list[Decision]:
        return [self.decision(i) for i in range(len(self))]


def _batch_positions(rows: I64, cand_rows: I64) -> I64:
    """Position in ``rows`` of each candidate that is a batch row, else -1."""
    n = len(rows)
    if rows[-1] - rows[0] == n - 1 and np.all(np.diff(rows) == 1):
        pos = cand_rows - rows[0]
        return np.where((pos >= 0) & (pos < n), pos, -1)
    order = np.argsort(rows, kind="stable")
    at = np.minimum(np.searchsorted(rows[order], cand_rows), n - 1)
    return np.where(rows[order][at] == cand_rows, order[at], -1)


def decide_batch(
    rule: RuleState,
    rows: Sequence[int] | np.ndarray,
    candidates: np.ndarray,
    score: ScoreFn,
    upper: np.ndarray | None = None,
    conflicts: ConflictFn | None = None,
    known: KnownPairs | None = None,
) -> BatchDecisions:
    """Decide ``rows`` in order (see ``JoinRule.decide_batch``); the rule's state is updated."""
    started = time.perf_counter()
    rows_a = np.ascontiguousarray(rows, np.int64)
    n = len(rows_a)
    cands = np.asarray(candidates, np.int64)
    if cands.ndim != 2 or len(cands) != n:
        raise ValueError(f"candidates has shape {cands.shape}, expected ({n}, k)")
    if n == 0:
        empty = np.zeros(0, np.int64)
        return BatchDecisions(
            empty, empty, empty, np.zeros(0), np.zeros(0), np.zeros(0, bool), empty
        )
    if upper is not None and np.shape(upper) != cands.shape:
        raise ValueError(f"upper has shape {np.shape(upper)}, candidates {cands.shape}")
    if not rule.cluster_of.keys().isdisjoint(rows_a.tolist()):
        raise ValueError("rows: a batch row is already assigned to a cluster")
    valid = cands >= 0
    cand_ptr = np.zeros(n + 1, np.int64)
    np.cumsum(valid.sum(axis=1), out=cand_ptr[1:])
    cand_rows = np.ascontiguousarray(cands[valid])
    cand_upper = (
        np.ascontiguousarray(np.asarray(upper, np.float64)[valid])
        if upper is not None
        else np.zeros(len(cand_rows))
    )
    nan = np.full(len(cand_rows), np.nan)
    cand_item, cand_family = nan, nan
    ext_ptr, ext_rows = np.zeros(n + 1, np.int64), np.zeros(0, np.int64)
    ext_item, ext_family = np.zeros(0), np.zeros(0)
    if known is not None:
        cand_item = np.ascontiguousarray(np.asarray(known.candidate_item, np.float64)[valid])
        fam = known.candidate_family if known.candidate_family is not None else known.candidate_item
        cand_family = np.ascontiguousarray(np.asarray(fam, np.float64)[valid])
        if known.member_ptr is not None:
            assert known.member_rows is not None and known.member_item is not None
            ext_ptr = np.asarray(known.member_ptr, np.int64)
            ext_rows = np.asarray(known.member_rows, np.int64)
            ext_item = np.asarray(known.member_item, np.float64)
            ext_family = np.asarray(
                known.member_family if known.member_family is not None else known.member_item,
                np.float64,
            )

    # the clusters of candidates assigned before the batch: -1 not assigned, -2 assigned in a
    # cluster the rule never opens for this batch (every candidate in it is bounded below the
    # family floor: never scored, so its members are never read), else a local cluster
    cand_pos = _batch_positions(rows_a, cand_rows)
    outside = cand_pos < 0
    arrays_done = time.perf_counter()
    before, inverse = np.unique(cand_rows[outside], return_inverse=True)
    cluster_of, members = rule.cluster_of, rule.members
    of_before = np.fromiter(
        map(cluster_of.get, before.tolist(), repeat(-1)), np.int64, count=len(before)
    )
    assigned = of_before >= 0
    floor = rule.threshold * min(1.0, _FAMILY_REP)
    if upper is not None and floor > 0:
        high = (cand_upper[outside] >= floor).astype(np.float64)
        reached = np.bincount(inverse, high, minlength=len(before)) > 0
        local = np.unique(of_before[assigned & reached])
        opened = assigned & np.isin(of_before, local)
    else:
        local, opened = np.unique(of_before[assigned]), assigned
    clusters = local.tolist()
    lc_of_before = np.where(assigned, -2, -1)
    lc_of_before[opened] = np.searchsorted(local, of_before[opened])
    cand_lc = np.full(len(cand_rows), -1, np.int64)
    cand_lc[outside] = lc_of_before[inverse]

    member_cap = max(rule.core, rule.max_checked, rule.max_conflict_scan, 1)
    prefixes = [members[c][:member_cap] for c in clusters]
    n_loaded = sum(len(p) for p in prefixes)
    cap_lc, cap_slots = len(clusters) + n, n_loaded + n
    lc_id = np.zeros(cap_lc, np.int64)
    lc_family = np.zeros(cap_lc, np.int64)
    lc_head = np.full(cap_lc, -1, np.int64)
    lc_tail = np.full(cap_lc, -1, np.int64)
    slot_row = np.zeros(cap_slots, np.int64)
    slot_next = np.full(cap_slots, -1, np.int64)
    if clusters:
        lc_id[: len(clusters)] = clusters
        lc_family[: len(clusters)] = [rule.family_of[c] for c in clusters]
        sizes = np.array([len(p) for p in prefixes], np.int64)
        heads = np.r_[0, np.cumsum(sizes)[:-1]]
        lc_head[: len(clusters)] = heads
        lc_tail[: len(clusters)] = heads + sizes - 1
        slot_row[:n_loaded] = list(chain.from_iterable(prefixes))
        slot_next[:n_loaded] = np.arange(1, n_loaded + 1)
        slot_next[lc_tail[: len(clusters)]] = -1
    counters = np.array([len(clusters), n_loaded, rule.next_id, 0], np.int64)
    keep = np.zeros(n, np.int64)
    if rule.keep:
        for i, r in enumerate(rows_a.tolist()):
            kept = rule.keep.get(r, 0)
            keep[i] = kept if kept not in members else 0
    keep_used = np.zeros(n, np.int64)

    params_f = np.array(
        [rule.threshold, rule.min_member_share, rule.core_share, _FAMILY_REP], np.float64
    )
    params_i = np.array(
        [
            rule.max_checked,
            rule.max_conflict_scan,
            rule.family_probe,
            rule.core,
            upper is not None,
            conflicts is not None,
        ],
        np.int64,
    )
    per_row = np.diff(cand_ptr) + np.diff(ext_ptr)
    table_cap = int(per_row.max(initial=0))
    pos_lc = np.full(n, -1, np.int64)
    out_cluster = np.zeros(n, np.int64)
    out_nearest = np.zeros(n, np.int64)
    out_probability = np.zeros(n)
    out_best_pair = np.zeros(n)
    out_is_new = np.zeros(n, np.bool_)
    out_family = np.zeros(n, np.int64)
    req_info = np.zeros(3, np.int64)

    sup_rows: list[int] = []
    sup_item: list[float] = []
    sup_family: list[float] = []
    conf_rows: list[int] = []
    conf_hit: list[bool] = []
    callbacks, called_rows = 0, 0
    position, sup_position = 0, -1
    read_done = time.perf_counter()
    in_callbacks = 0.0
    while True:
        cap = table_cap + len(sup_rows)
        req_rows = np.zeros(member_cap + rule.max_checked + cap + 1, np.int64)
        position = jk.join_rows(
            position,
            rows_a,
            cand_ptr,
            cand_rows,
            cand_upper,
            cand_lc,
            cand_pos,
            cand_item,
            cand_family,
            ext_ptr,
            ext_rows,
            ext_item,
            ext_family,
            np.array(sup_rows, np.int64),
            np.array(sup_item, np.float64),
            np.array(sup_family, np.float64),
            np.array(conf_rows, np.int64),
            np.array(conf_hit, np.bool_),
            keep,
            params_f,
            params_i,
            pos_lc,
            lc_id,
            lc_family,
            lc_head,
            lc_tail,
            slot_row,
            slot_next,
            counters,
            keep_used,
            out_cluster,
            out_nearest,
            out_probability,
            out_best_pair,
            out_is_new,
            out_family,
            member_cap,
            cap,
            req_rows,
            req_info,
        )
        if position >= n:
            break
        if position != sup_position:  # answers belong to one row
            sup_rows, sup_item, sup_family, conf_rows, conf_hit = [], [], [], [], []
            sup_position = position
            called_rows += 1
        callbacks += 1
        row = int(rows_a[position])
        asked = req_rows[: req_info[2]].tolist()
        asked_at = time.perf_counter()
        if req_info[0] == CONFLICT:
            assert conflicts is not None
            conf_rows += asked
            conf_hit += np.asarray(conflicts(row, asked), bool).tolist()
        else:
            got = score(row, asked)
            item, family = got if isinstance(got, tuple) else (got, got)
            sup_rows += asked
            sup_item += np.asarray(item, np.float64).tolist()
            sup_family += np.asarray(family, np.float64).tolist()
        in_callbacks += time.perf_counter() - asked_at

    decided = time.perf_counter()
    with _no_gc():
        _write_back(rule, rows_a, out_cluster, out_is_new, out_family, int(counters[jk.NEXT_ID]))
    seconds = {
        "arrays": arrays_done - started,
        "state_read": read_done - arrays_done,
        "kernel": decided - read_done - in_callbacks,
        "callbacks": in_callbacks,
        "write_back": time.perf_counter() - decided,
    }
    return BatchDecisions(
        rows_a,
        out_cluster,
        out_nearest,
        out_probability,
        out_best_pair,
        out_is_new,
        out_family,
        callbacks,
        called_rows,
        seconds,
    )


@contextmanager
def _no_gc() -> Iterator[None]:
    """Without the cyclic collector for a while: writing a batch back creates a list per new
    cluster, and collections triggered by them traverse every cluster's list (1M rows: ~40 %
    of the write-back); the lists hold ints only, so no cycle waits for a collection."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _write_back(
    rule: RuleState, rows: I64, cluster: I64, is_new: np.ndarray, family: I64, next_id: int
) -> None:
    """The rule's dicts as ``new_cluster`` / ``join`` would have left them, row after row."""
    row_list, cluster_list = rows.tolist(), cluster.tolist()
    rule.cluster_of.update(zip(row_list, cluster_list, strict=True))
    opened = rows[is_new].tolist()
    opened_ids = cluster[is_new].tolist()
    rule.members.update(zip(opened_ids, map(list, zip(opened, strict=True)), strict=True))
    rule.family_of.update(zip(opened_ids, family[is_new].tolist(), strict=True))
    members = rule.members
    joined = ~is_new
    for r, c in zip(rows[joined].tolist(), cluster[joined].tolist(), strict=True):
        members[c].append(r)
    if rule.keep:
        for r in opened:
            rule.keep.pop(r, None)
    rule.next_id = next_id
