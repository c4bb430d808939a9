"""JoinRule: which cluster an item joins, and the stable cluster ids it hands out.

(The paper's FBC, "FAISS-based clustering"; the rule itself never touches FAISS.) Retrieval
proposes earlier items as candidates; the rule decides, item by item in arrival order, which
cluster an item joins. An item joins a cluster only when it agrees
with the *cluster*, not with one member (``check``):

- its best retrieved member scores at least the threshold;
- its *core* (the cluster's first ``core`` members, from the one that opened it: stable,
  what the cluster was first judged by; not the shown representative, which a policy picks)
  agrees on average at least ``core_share`` of the threshold, so a chain of pairwise-similar
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

Production decides a chunk of rows at a time in compiled code (``decide_batch``:
``batch_join`` over ``join_kernel``); ``tests/join_reference.py`` spells the same rule out in
Python, one row at a time, and the tests hold the two equal. ``check`` (one cluster, in
Python) is what ``explain`` reports. Batch clustering is the same rule applied over all
items in input order, so a batch build and incremental assignment of the same items in the
same order give the same clusters.
Cluster ids are integers from a counter that only grows (persisted by the store), never
reused; ``cluster_ids`` gives their external form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from index_server.clustering.batch_join import BatchDecisions, KnownPairs, decide_batch
from index_server.clustering.decision import ConflictFn, ScoreFn
from index_server.config import IndexConfig

_DEFAULTS = IndexConfig()
MAX_CONFLICT_SCAN = 256  # members scanned for a variant conflict
FAMILY_PROBE = 2  # candidates the bound skipped, scored for the family of a new cluster


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


class PairTable:
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


class JoinRule:
    """Cluster state (row -> cluster, cluster -> members, cluster -> family) and the rule.

    The parameters default to ``IndexConfig``'s (``from_config`` takes them all from one)."""

    def __init__(
        self,
        threshold: float = 0.5,
        max_checked: int = _DEFAULTS.max_checked,
        min_member_share: float = _DEFAULTS.min_member_share,
        core_share: float = _DEFAULTS.core_share,
        max_conflict_scan: int = MAX_CONFLICT_SCAN,
        family_probe: int = FAMILY_PROBE,
        core: int = _DEFAULTS.core,
    ) -> None:
        self.threshold = threshold
        self.max_checked = max_checked
        self.min_member_share = min_member_share
        self.core_share = core_share
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

    @classmethod
    def from_config(cls, threshold: float, config: IndexConfig) -> JoinRule:
        """The rule at the calibrated ``threshold`` with ``config``'s parameters."""
        return cls(
            threshold,
            config.max_checked,
            config.min_member_share,
            config.core_share,
            core=config.core,
        )

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

    def decide_batch(
        self,
        rows: Sequence[int] | np.ndarray,
        candidates: np.ndarray,
        score: ScoreFn,
        upper: np.ndarray | None = None,
        conflicts: ConflictFn | None = None,
        known: KnownPairs | None = None,
    ) -> BatchDecisions:
        """Decide each of ``rows`` in order, in compiled code (``batch_join``), as the
        reference ``decide`` would one after the other: the same decisions, cluster ids and
        state, returned as arrays.

        ``candidates`` (n, k) int, -1 padded; ``upper`` (n, k): an upper bound of each
        candidate's probability (a cluster none of whose candidates can reach the threshold
        is not scored); ``known`` holds probabilities computed ahead; ``score`` and
        ``conflicts`` answer whatever the rule asks beyond them (counted in the result)."""
        return decide_batch(self, rows, candidates, score, upper, conflicts, known)

    def check(
        self,
        row: int,
        cluster: int,
        retrieved: Sequence[int],
        probs: PairTable | ScoreFn,
        conflicts: ConflictFn | None = None,
        before: int | None = None,
    ) -> JoinCheck:
        """Would ``row`` join ``cluster``, given its ``retrieved`` members? (module doc).

        ``before``: judge the cluster as it was when row ``before`` was decided (its members
        of lower rows), as ``explain`` does for a decision made earlier."""
        if not isinstance(probs, PairTable):
            probs = PairTable(row, probs)
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
        if out.core_mean < t * self.core_share:
            out.reason = (
                f"its first {len(core)} member(s) score {out.core_mean:.2f} on average < "
                f"{self.core_share:g} x threshold {t * self.core_share:.2f}"
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

    def _members_to_check(self, members: Sequence[int], retrieved: Sequence[int]) -> list[int]:
        """The first member, the retrieved members, then the oldest, up to ``max_checked``."""
        chosen = list(dict.fromkeys([members[0], *retrieved]))[: self.max_checked]
        for m in members:
            if len(chosen) >= self.max_checked:
                break
            if m not in chosen:
                chosen.append(m)
        return chosen
