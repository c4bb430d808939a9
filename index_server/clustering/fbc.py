"""FBC: FAISS-based clustering with unique, stable cluster ids — the grouping rule.

Retrieval proposes earlier items as candidates; this class decides, item by item in
arrival order, which cluster an item joins. An item joins a cluster only when it agrees
with the cluster (mean verified probability over up to ``max_checked`` members at least the
threshold, and none of them below a quarter of it), not with a single member: that is what
stops A~B, B~C from chaining A, B and C together. Batch clustering is the same rule
applied over all items in input order, so a batch build and incremental assignment of the
same items in the same order give the same clusters.

Cluster ids are integers from a counter that only grows (persisted by the store), never
reused; ``cluster_ids`` gives their external form.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

ScoreFn = Callable[[int, Sequence[int]], np.ndarray]  # (row, rows) -> probabilities


@dataclass
class Decision:
    row: int
    cluster: int
    nearest_row: int  # -1 when a new cluster was opened
    probability: float  # agreement with the joined cluster (mean over checked members)
    best_pair: float  # the best single-pair probability behind the decision
    is_new: bool


class FBC:
    """Cluster state (row -> cluster, cluster -> members) and the join rule."""

    def __init__(
        self, threshold: float = 0.5, max_checked: int = 8, min_member_share: float = 0.25
    ) -> None:
        self.threshold = threshold
        self.max_checked = max_checked
        self.min_member_share = min_member_share
        self.cluster_of: dict[int, int] = {}
        self.members: dict[int, list[int]] = {}
        self.next_id = 1

    def new_cluster(self, row: int) -> int:
        cluster = self.next_id
        self.next_id += 1
        self.members[cluster] = [row]
        self.cluster_of[row] = cluster
        return cluster

    def join(self, row: int, cluster: int) -> None:
        self.members[cluster].append(row)
        self.cluster_of[row] = cluster

    def restore(self, row: int, cluster: int) -> None:
        """Reload a stored assignment (store order = row order)."""
        self.members.setdefault(cluster, []).append(row)
        self.cluster_of[row] = cluster
        self.next_id = max(self.next_id, cluster + 1)

    def remove(self, row: int) -> None:
        cluster = self.cluster_of.pop(row, None)
        if cluster is not None:
            self.members[cluster].remove(row)
            if not self.members[cluster]:
                del self.members[cluster]

    def decide(
        self,
        row: int,
        candidates: Sequence[int],
        score: ScoreFn,
        upper: Sequence[float] | None = None,
    ) -> Decision:
        """Place ``row`` given its retrieved ``candidates`` (already assigned rows).

        ``upper``, when given, holds an upper bound of each candidate's probability: a
        cluster none of whose candidates can reach the threshold is not scored, so the
        decision (cluster, nearest, agreement) is the same as without bounds while most
        pairs are never scored. One difference: when the item opens a new cluster,
        ``best_pair`` is the largest of the scored probabilities and the bounds of the
        unscored candidates — an upper bound of the best pair, so the confidence of a new
        cluster (1 - best_pair) errs low; scoring every candidate just to report it would
        cost most of the time of an assign.
        """
        cluster_of = self.cluster_of
        bound: dict[int, float] | None = None
        if upper is None:
            known = [c for c in candidates if c in cluster_of]
        else:
            bound = {}
            known = []
            for c, u in zip(candidates, upper, strict=True):
                if c in cluster_of:
                    known.append(c)
                    bound[c] = float(u)
        if not known:
            return Decision(row, self.new_cluster(row), -1, 0.0, 0.0, True)
        probs: dict[int, float] = {}

        def need(rows: Sequence[int]) -> None:
            missing = [m for m in rows if m not in probs]
            if missing:
                probs.update(zip(missing, score(row, missing).tolist(), strict=True))

        if bound is None:
            need(known)
        else:  # one verifier call for every pair that may pass, not one per cluster
            need([c for c in known if bound[c] >= self.threshold])
        by_cluster: dict[int, list[int]] = {}
        for cand in known:
            by_cluster.setdefault(cluster_of[cand], []).append(cand)
        best: tuple[float, float, int, int] | None = (
            None  # (agreement, best pair, cluster, nearest)
        )
        for cluster, cands in by_cluster.items():
            if bound is not None:
                if max(bound[c] for c in cands) < self.threshold:
                    continue
                need(cands)
            top = max(cands, key=probs.__getitem__)
            if probs[top] < self.threshold:
                continue
            checked = self._members_to_check(cluster, cands)
            need(checked)
            agreement = sum(probs[m] for m in checked) / len(checked)
            # Mean agreement alone lets one strong pair carry a member that clearly differs;
            # no checked member may clearly disagree.
            if min(probs[m] for m in checked) < self.threshold * self.min_member_share:
                continue
            if agreement >= self.threshold and (best is None or agreement > best[0]):
                best = (agreement, probs[top], cluster, top)
        if best is None:
            if bound is None:
                best_pair = max(probs[c] for c in known)
            else:
                best_pair = max(probs.get(c, bound[c]) for c in known)
            return Decision(row, self.new_cluster(row), -1, 0.0, best_pair, True)
        agreement, pair, cluster, nearest = best
        self.join(row, cluster)
        return Decision(row, cluster, nearest, agreement, pair, False)

    def _members_to_check(self, cluster: int, retrieved: list[int]) -> list[int]:
        """The retrieved members first, then the oldest ones, up to ``max_checked``."""
        members = self.members[cluster]
        chosen = list(dict.fromkeys(retrieved))[: self.max_checked]
        for m in members:
            if len(chosen) >= self.max_checked:
                break
            if m not in chosen:
                chosen.append(m)
        return chosen
