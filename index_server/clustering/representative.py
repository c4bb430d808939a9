"""Which member stands for a cluster: its representative, under a policy the operator picks.

Policies (``IndexConfig.representative``, ``fitrep dedup --representative``):

- ``first`` (default): the member that arrived first.
- ``most-complete``: the most filled fields (title, text, image, attributes), then the
  largest image.
- ``column:NAME``: the highest number in the user column NAME (a quality score, a bid);
  members without one rank below every member with one.

Ties go to the member whose item arrived first (an item that changed keeps the rank of its
first version), so a representative changes only when a strictly better member arrives
under the policy, or when it leaves. The representative is a pure function of the members,
their profiles and arrival ranks — all persisted with the rows — so it needs no state of its
own that could drift from the clusters, and survives restarts and rolled-back batches.
The calls that change a cluster's representative report it (``report_changes``) and log it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

from fitrep.domain import ItemProfile, RepresentativeChange

from index_server.clustering.cluster_ids import format_cluster_id
from index_server.config import RepresentativePolicy

log = logging.getLogger("fitrep.index")


class Representatives:
    """Each row's key under the policy and the row its item first arrived at; ``choose``
    picks a cluster's representative from its member rows."""

    def __init__(self, policy: RepresentativePolicy) -> None:
        self.policy = policy
        self.keys: list[float] = []  # by row
        self.since: dict[int, int] = {}  # row -> its item's first row, for rows of changed items

    def append(self, profile: ItemProfile, since: int | None = None) -> int:
        """Add the next row; ``since``: the first row of its item when it replaces an older
        version. Returns the row."""
        row = len(self.keys)
        self.keys.append(self.policy.key(profile))
        if since is not None and since != row:
            self.since[row] = since
        return row

    def truncate(self, n: int) -> None:
        """Forget rows from ``n`` on (a batch that was not committed)."""
        del self.keys[n:]
        self.since = {r: s for r, s in self.since.items() if r < n}

    def arrival(self, row: int) -> int:
        return self.since.get(row, row)

    def choose(self, members: Sequence[int]) -> int:
        """The best member: highest key, then earliest arrival; -1 for no members."""
        if not members:
            return -1
        keys, arrival = self.keys, self.arrival
        return min(members, key=lambda r: (-keys[r], arrival(r)))

    def of_clusters(
        self, members: Mapping[int, Sequence[int]], clusters: Iterable[int]
    ) -> dict[int, int]:
        """Cluster -> its representative row among ``members`` (-1: no member left)."""
        return {c: self.choose(members.get(c, [])) for c in set(clusters)}

    def report_changes(
        self,
        before: Mapping[int, int],
        members: Mapping[int, Sequence[int]],
        ids: Sequence[str],
    ) -> list[RepresentativeChange]:
        """The clusters of ``before`` (cluster -> its representative row before a call)
        whose representative item differs now (``members``: the clusters now; ``ids``: row
        -> item id), logged. A cluster that is new is not a change, nor a representative
        whose item only got a new version."""
        out = []
        for cluster, old, new in changed(before, self.of_clusters(members, before)):
            if old < 0 or (new >= 0 and ids[old] == ids[new]):
                continue
            change = RepresentativeChange(
                format_cluster_id(cluster), ids[old], ids[new] if new >= 0 else ""
            )
            log.info(
                "event=representative_changed cluster=%s from=%s to=%s policy=%s",
                change.cluster_id,
                change.previous_id,
                change.representative_id or "-",
                self.policy,
            )
            out.append(change)
        return out


def changed(before: Mapping[int, int], after: Mapping[int, int]) -> list[tuple[int, int, int]]:
    """(cluster, old row, new row) for every cluster whose representative differs; -1 for
    none (a cluster that opened or emptied)."""
    out = []
    for cluster in sorted(set(before) | set(after)):
        old, new = before.get(cluster, -1), after.get(cluster, -1)
        if old != new:
            out.append((cluster, old, new))
    return out
