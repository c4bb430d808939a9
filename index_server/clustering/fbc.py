"""FBC: FAISS-based clustering with unique, stable cluster ids — the grouping rule.

Retrieval proposes earlier items as candidates; this class decides, item by item in
arrival order, which cluster an item joins. An item joins a cluster only when it agrees
with the *cluster*, not with one member (``check``):

- its best retrieved member scores at least the threshold;
- its *core* (the cluster's first ``core`` members, from the one that opened it: stable,
  what the cluster was first judged by; not the shown representative, which a policy picks)
  agrees on average at least ``rep_share`` of the threshold, so a chain of pairwise-similar
  siblings A~B~C~D cannot drift away from A (measured on the 864 grocery photos: a 71-photo
  cluster of four products without it, 34 with a core of 4 at the full threshold);
- the mean over up to ``max_checked`` members (the first member, the retrieved ones, then
  the oldest) is at least the threshold and none of them is below ``min_member_share`` of it;
- no member at all has a variant conflict with it (a hard gate: another size, colour,
  flavour...), checked on anchors over up to ``max_conflict_scan`` members.

Every item also gets a *family*: the same product up to its variants (Coke 500 ml and 1.5 l).
A joining item takes its cluster's family; an item that opens a cluster joins the family of
the candidate cluster it agrees with when the variant gates are relaxed (the verifier's
family score), by the same rule on its best member and first member, else it founds a
family. A family is named after the cluster that founded it, so no second counter exists.

Batch clustering is the same rule applied over all items in input order, so a batch build
and incremental assignment of the same items in the same order give the same clusters.
Cluster ids are integers from a counter that only grows (persisted by the store), never
reused; ``cluster_ids`` gives their external form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from index_server.clustering.decision import FAMILY_REP as _FAMILY_REP
from index_server.clustering.decision import ConflictFn, Decision, ScoreFn

if TYPE_CHECKING:
    from index_server.clustering.batch_join import BatchDecisions, KnownPairs

__all__ = ["FBC", "ConflictFn", "Decision", "JoinCheck", "ScoreFn"]


@dataclass
class JoinCheck:
    """The join rule applied to one cluster: whether it passes and, if not, which part
    failed (``reason``), with the numbers behind it. ``explain`` reports the same object."""

    cluster: int
    ok: bool
    agreement: float = 0.0  # mean probability over the checked members
    core_mean: float = 0.0  # mean probability over the core (the first members)
    best_pair: float = 0.0
    nearest: int = -1  # the best-scoring member
    reason: str = ""  # "" when ok
    conflict_row: int = -1  # a member with a variant conflict, when that is the reason


class _Probabilities:
    """Pair probabilities of one row against others, scored on demand and kept."""

    def __init__(self, row: int, score: ScoreFn) -> None:
        self.row, self.score = row, score
        self.item: dict[int, float] = {}
        self.family: dict[int, float] = {}

    def need(self, rows: Sequence[int]) -> None:
        missing = [m for m in dict.fromkeys(rows) if m not in self.item]
        if not missing:
            return
        got = self.score(self.row, missing)
        item, family = got if isinstance(got, tuple) else (got, got)
        self.item.update(zip(missing, np.asarray(item).tolist(), strict=True))
        self.family.update(zip(missing, np.asarray(family).tolist(), strict=True))


class FBC:
    """Cluster state (row -> cluster, cluster -> members, cluster -> family) and the rule."""

    def __init__(
        self,
        threshold: float = 0.5,
        max_checked: int = 8,
        min_member_share: float = 0.25,
        rep_share: float = 0.5,
        max_conflict_scan: int = 256,
        family_probe: int = 2,
        core: int = 1,
    ) -> None:
        self.threshold = threshold
        self.max_checked = max_checked
        self.min_member_share = min_member_share
        self.rep_share = rep_share
        self.max_conflict_scan = max_conflict_scan
        self.family_probe = family_probe
        self.core = core
        self.cluster_of: dict[int, int] = {}
        self.members: dict[int, list[int]] = {}
        self.family_of: dict[int, int] = {}  # cluster -> family (a cluster number)
        self.next_id = 1
        # row -> the id its item had when it was alone in its cluster and then changed: kept
        # if the new version opens a cluster (it stayed), never handed to another item
        self.keep: dict[int, int] = {}

    def new_cluster(self, row: int, family: int = 0) -> int:
        cluster = self.keep.pop(row, 0)
        if not cluster or cluster in self.members:
            cluster = self.next_id
            self.next_id += 1
        self.members[cluster] = [row]
        self.cluster_of[row] = cluster
        self.family_of[cluster] = family or cluster
        return cluster

    def join(self, row: int, cluster: int) -> None:
        self.members[cluster].append(row)
        self.cluster_of[row] = cluster

    def restore(self, row: int, cluster: int, family: int = 0) -> None:
        """Reload a stored assignment (store order = row order)."""
        self.members.setdefault(cluster, []).append(row)
        self.cluster_of[row] = cluster
        self.family_of.setdefault(cluster, family or cluster)
        self.next_id = max(self.next_id, cluster + 1)

    def remove(self, row: int) -> None:
        cluster = self.cluster_of.pop(row, None)
        if cluster is not None:
            self.members[cluster].remove(row)
            if not self.members[cluster]:
                del self.members[cluster]

    def family(self, row: int) -> int:
        return self.family_of[self.cluster_of[row]]

    def first_member(self, cluster: int) -> int:
        return self.members[cluster][0]

    def decide(
        self,
        row: int,
        candidates: Sequence[int],
        score: ScoreFn,
        upper: Sequence[float] | None = None,
        conflicts: ConflictFn | None = None,
    ) -> Decision:
        """Place ``row`` given its retrieved ``candidates`` (already assigned rows).

        ``upper``, when given, holds an upper bound of each candidate's probability: a
        cluster none of whose candidates can reach the threshold is not scored, so the
        decision (cluster, nearest, agreement) is the same as without bounds while most
        pairs are never scored. One difference: when the item opens a new cluster,
        ``best_pair`` is the largest of the scored probabilities and the bounds of the
        unscored candidates — an upper bound of the best pair, so the confidence of a new
        cluster (1 - best_pair) errs low. ``conflicts`` tells which members have a variant
        conflict with the row (none when not given).
        """
        cluster_of = self.cluster_of
        bound = {
            int(c): float(u)
            for c, u in zip(candidates, upper or (), strict=False)
            if c in cluster_of
        }
        known = [c for c in candidates if c in cluster_of]
        if not known:
            return self._open(row, Decision(row, 0, -1, 0.0, 0.0, True), {}, None, {})
        probs = _Probabilities(row, score)
        if upper is None:
            probs.need(known)
        else:  # one verifier call for every pair that may pass, not one per cluster
            probs.need([c for c in known if bound[c] >= self.threshold])
        by_cluster: dict[int, list[int]] = {}
        for cand in known:
            by_cluster.setdefault(cluster_of[cand], []).append(cand)
        best: JoinCheck | None = None
        for cluster, cands in by_cluster.items():
            if upper is not None and max(bound[c] for c in cands) < self.threshold:
                continue
            check = self.check(row, cluster, cands, probs, conflicts)
            if check.ok and (best is None or check.agreement > best.agreement):
                best = check
        if best is None:
            scored = [probs.item.get(c, bound.get(c, 0.0)) for c in known]
            opened = Decision(row, 0, -1, 0.0, max(scored), True)
            return self._open(row, opened, by_cluster, probs, bound)
        self.join(row, best.cluster)
        return Decision(
            row,
            best.cluster,
            best.nearest,
            best.agreement,
            best.best_pair,
            False,
            self.family_of[best.cluster],
        )

    def decide_batch(
        self,
        rows: Sequence[int] | np.ndarray,
        candidates: np.ndarray,
        score: ScoreFn,
        upper: np.ndarray | None = None,
        conflicts: ConflictFn | None = None,
        known: KnownPairs | None = None,
    ) -> BatchDecisions:
        """``decide`` for each of ``rows`` in order, in compiled code (``batch_join``): the
        same decisions, cluster ids and state, returned as arrays.

        ``candidates`` (n, k) int, -1 padded, and ``upper`` (n, k) as ``decide`` takes them
        per row; ``known`` holds probabilities computed ahead; ``score`` and ``conflicts``
        answer whatever the rule asks beyond them (counted in the result)."""
        from index_server.clustering.batch_join import decide_batch

        return decide_batch(self, rows, candidates, score, upper, conflicts, known)

    def check(
        self,
        row: int,
        cluster: int,
        retrieved: Sequence[int],
        probs: _Probabilities | ScoreFn,
        conflicts: ConflictFn | None = None,
        before: int | None = None,
    ) -> JoinCheck:
        """Would ``row`` join ``cluster``, given its ``retrieved`` members? (module doc).

        ``before``: judge the cluster as it was when row ``before`` was decided (its members
        of lower rows), as ``explain`` does for a decision made earlier."""
        if not isinstance(probs, _Probabilities):
            probs = _Probabilities(row, probs)
        members = self.members[cluster]
        if before is not None:
            members = [m for m in members if m < before]
        if not members:
            return JoinCheck(cluster, False, reason="the cluster had no members yet")
        retrieved = [m for m in retrieved if m in members] or members[:1]
        probs.need(retrieved)
        top = max(retrieved, key=probs.item.__getitem__)
        out = JoinCheck(cluster, False, best_pair=probs.item[top], nearest=top)
        t = self.threshold
        if probs.item[top] < t:
            out.reason = f"best member scores {probs.item[top]:.2f} < threshold {t:.2f}"
            return out
        core = members[: self.core]
        checked = self._members_to_check(members, retrieved)
        probs.need(core + checked)
        out.core_mean = sum(probs.item[m] for m in core) / len(core)  # the core's mean
        out.agreement = sum(probs.item[m] for m in checked) / len(checked)
        weakest = min(checked, key=probs.item.__getitem__)
        if out.core_mean < t * self.rep_share:
            out.reason = (
                f"its first {len(core)} member(s) score {out.core_mean:.2f} on average < "
                f"{self.rep_share:g} x threshold {t * self.rep_share:.2f}"
            )
        elif out.agreement < t:
            out.reason = f"agreement with its members {out.agreement:.2f} < threshold {t:.2f}"
        elif probs.item[weakest] < t * self.min_member_share:
            out.reason = (
                f"a member scores {probs.item[weakest]:.2f} < "
                f"{self.min_member_share:g} x threshold {t * self.min_member_share:.2f}"
            )
            out.conflict_row = weakest
        elif (
            conflicts is not None
            and (hit := self._conflicting(row, members, checked, conflicts)) >= 0
        ):
            out.reason = "a variant conflict with a member"
            out.conflict_row = hit
        else:
            out.ok = True
        return out

    def _conflicting(
        self, row: int, members: Sequence[int], checked: Sequence[int], conflicts: ConflictFn
    ) -> int:
        """A member (beyond the checked ones, which were scored) in conflict with ``row``."""
        seen = set(checked)
        rest = [m for m in members[: self.max_conflict_scan] if m not in seen]
        if not rest:
            return -1
        hits = np.flatnonzero(conflicts(row, rest))
        return rest[int(hits[0])] if len(hits) else -1

    def _open(
        self,
        row: int,
        decision: Decision,
        by_cluster: dict[int, list[int]],
        probs: _Probabilities | None,
        bound: dict[int, float],
    ) -> Decision:
        """Open a cluster for ``row`` in the family it agrees with (module doc), or a new one."""
        family, best = 0, 0.0
        t = self.threshold
        if probs is not None and bound:
            # A vetoed sibling's family score may exceed its bound (the gate's words are set
            # aside): the best few plausible candidates the bound skipped are scored too.
            skipped = [c for c in bound if c not in probs.item and bound[c] >= t * _FAMILY_REP]
            probs.need(sorted(skipped, key=bound.__getitem__, reverse=True)[: self.family_probe])
        for cluster, cands in by_cluster.items():
            assert probs is not None
            top = max((probs.family[c] for c in cands if c in probs.family), default=0.0)
            if top < t or top <= best:
                continue
            rep = self.first_member(cluster)
            probs.need([rep])
            if probs.family[rep] >= t * _FAMILY_REP:
                family, best = self.family_of[cluster], top
        decision.cluster = self.new_cluster(row, family)
        decision.family = self.family_of[decision.cluster]
        return decision

    def _members_to_check(self, members: Sequence[int], retrieved: Sequence[int]) -> list[int]:
        """The first member, the retrieved members, then the oldest, up to ``max_checked``."""
        chosen = list(dict.fromkeys([members[0], *retrieved]))[: self.max_checked]
        for m in members:
            if len(chosen) >= self.max_checked:
                break
            if m not in chosen:
                chosen.append(m)
        return chosen
