"""The join rule item by item in plain Python: the reference the compiled join is held to.

Production decides through ``JoinRule.decide_batch`` (numba, ``clustering/join_kernel.py``);
``ReferenceJoin.decide`` places one row at a time with the same rule, readable, and the tests
(``test_join_batch.py``, ``test_bounds.py``) require both to give the same clusters, families,
nearest rows and probabilities. ``benchmarks/join.py`` times it as the Python baseline.
"""

from __future__ import annotations

from collections.abc import Sequence

from index_server.clustering.decision import FAMILY_REP, ConflictFn, Decision, ScoreFn
from index_server.clustering.join_rule import JoinCheck, JoinRule, PairTable


class ReferenceJoin(JoinRule):
    """``JoinRule`` with ``decide``: one row at a time (module doc)."""

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
        probs = PairTable(row, score)
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

    def _open(
        self,
        row: int,
        decision: Decision,
        by_cluster: dict[int, list[int]],
        probs: PairTable | None,
        bound: dict[int, float],
    ) -> Decision:
        """Open a cluster for ``row`` in the family it agrees with, or a new one."""
        family, best = 0, 0.0
        t = self.threshold
        if probs is not None and bound:
            # A vetoed sibling's family score may exceed its bound (the gate's words are set
            # aside): the best few plausible candidates the bound skipped are scored too.
            skipped = [c for c in bound if c not in probs.item and bound[c] >= t * FAMILY_REP]
            probs.need(sorted(skipped, key=bound.__getitem__, reverse=True)[: self.family_probe])
        for cluster, cands in by_cluster.items():
            assert probs is not None
            top = max((probs.family[c] for c in cands if c in probs.family), default=0.0)
            if top < t or top <= best:
                continue
            rep = self.first_member(cluster)
            probs.need([rep])
            if probs.family[rep] >= t * FAMILY_REP:
                family, best = self.family_of[cluster], top
        decision.cluster = self.new_cluster(row, family)
        decision.family = self.family_of[decision.cluster]
        return decision
