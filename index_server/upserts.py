"""What an assign batch does with each item: add it, answer it unchanged, or judge it again.

An item id the index holds is compared by content (``storage.digest``): the same content gets
the stored assignment back and nothing is written (a retry is harmless); changed content is a
new version, judged like a new item once its old row is out of the way (``Upsert``: its old
row leaves its cluster before the batch is decided, and its new row keeps the old one's
arrival rank, and its cluster id when it was alone and stays alone).
With ``if_absent`` a changed item is refused instead (``AlreadyExists``), and the whole batch
with it, before anything is stored. Deleted ids were refused earlier (``validation``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from fitrep.domain import AlreadyExists, EmbeddedItem, ItemChange

from index_server.clustering.cluster_ids import format_cluster_id
from index_server.integration import LevelLayout, concatenate
from index_server.rows.table import RowTable
from index_server.state import IndexState
from index_server.storage.cluster_store import ClusterStore, StoredItem
from index_server.storage.digest import content_digest, item_digest

log = logging.getLogger("fitrep.index")


@dataclass
class BatchPlan:
    """``changes``: per input item; ``fresh``: the items to store, in input order, the first
    occurrence of each id; ``replaces``: item id -> its current row, for changed items."""

    changes: list[ItemChange] = field(default_factory=list)
    fresh: list[EmbeddedItem] = field(default_factory=list)
    replaces: dict[str, int] = field(default_factory=dict)


def stored_digest(stored: StoredItem, item: EmbeddedItem, layout: LevelLayout) -> str:
    """The digest of a stored row; a row stored before digests and profiles were is
    compared without a profile (it has none), so re-sending it unchanged stays unchanged."""
    if stored.digest:
        return stored.digest
    profile = stored.profile or item.concepts.profile.to_json()
    anchors = stored.anchors.to_json()
    image = stored.image_features
    vector = stored.vector if stored.vector is not None else np.zeros(layout.total, np.float16)
    return content_digest(stored.levels, anchors, image, profile, vector, layout)


def plan_batch(
    items: Sequence[EmbeddedItem], rows: RowTable, store: ClusterStore, if_absent: bool = False
) -> BatchPlan:
    """Sort ``items`` (checked by ``validation.check_batch``) into added, unchanged, updated.

    A repeated id in one batch (gRPC refuses those; in-process callers may send them) gets
    the first occurrence's answer.
    """
    firsts: dict[str, int] = {}
    for i, item in enumerate(items):
        firsts.setdefault(item.item_id, i)
    known = [i for i in firsts.values() if items[i].item_id in rows.row_of]
    change: dict[str, ItemChange] = {}
    plan = BatchPlan()
    if known:
        layout = rows.layout
        assert layout is not None  # rows exist, so the layout is fixed
        full = concatenate([items[i].embeddings for i in known], layout)
        stored = store.rows_of([rows.row_of[items[i].item_id] for i in known], layout.total)
        for i, vector in zip(known, full, strict=True):
            item = items[i]
            row = rows.row_of[item.item_id]
            if item_digest(item, vector, layout) == stored_digest(stored[row], item, layout):
                change[item.item_id] = ItemChange.UNCHANGED
                continue
            if if_absent:
                raise AlreadyExists(
                    f"items[{i}]",
                    f"item {item.item_id} is stored with other content; mode if_absent keeps"
                    " the stored version (mode upsert judges the new one)",
                )
            change[item.item_id] = ItemChange.UPDATED
            plan.replaces[item.item_id] = row
    for item_id, i in firsts.items():
        if change.setdefault(item_id, ItemChange.ADDED) != ItemChange.UNCHANGED:
            plan.fresh.append(items[i])
    plan.changes = [change[item.item_id] for item in items]
    return plan


class Upsert:
    """The books of one batch's changed items in ``state``, from before its rows are appended
    until they are decided. Made before the append: the old rows leave their clusters."""

    def __init__(self, state: IndexState, replaces: dict[str, int]) -> None:
        self.state = state
        self.old_rows = replaces  # item id -> its current row
        rule = state.rule
        clusters = [rule.cluster_of[r] for r in replaces.values()]
        # cluster -> its representative row before the batch (-1: none), for the report
        self.before = state.representatives.of_clusters(rule.members, clusters)
        self.previous = {row: rule.cluster_of[row] for row in replaces.values()}
        self.replaced: dict[int, int] = {}  # old row -> new row
        for row in replaces.values():  # out of the way: the new version is judged afresh
            state.rows.deleted.add(row)
            rule.remove(row)

    def appended(self, rows: Sequence[int], items: Sequence[EmbeddedItem]) -> None:
        """``rows`` were appended for ``items``: their representative keys, arrival ranks,
        and the ids a changed item that was alone may keep."""
        reps, rule = self.state.representatives, self.state.rule
        for row, item in zip(rows, items, strict=True):
            old = self.old_rows.get(item.item_id)
            reps.append(item.concepts.profile, None if old is None else reps.arrival(old))
            if old is not None:
                self.replaced[old] = row
                if self.previous[old] not in rule.members:  # it was alone: it may keep its id
                    rule.keep.setdefault(row, self.previous[old])

    def decided(self, rows: Sequence[int]) -> dict[int, int]:
        """After ``rows`` were decided: every cluster they touched -> its representative
        row before the batch (-1: none), for ``Representatives.report_changes``."""
        state = self.state
        rule, decisions = state.rule, state.clusterer.decisions
        rule.keep.clear()
        for old, row in self.replaced.items():
            decisions.set_previous(row, self.previous[old])
        fresh, before = set(rows), dict(self.before)
        for cluster in {rule.cluster_of[row] for row in rows} - set(before):
            members = [m for m in rule.members[cluster] if m not in fresh]
            before[cluster] = state.representatives.choose(members)
        return before

    def log_moves(self) -> int:
        """Log the changed items whose new version landed in another cluster; how many."""
        moved = 0
        for old, row in self.replaced.items():
            was, now = self.previous[old], self.state.rule.cluster_of[row]
            if was != now:
                moved += 1
                log.info(
                    "event=item_moved item=%s from=%s to=%s",
                    self.state.rows.ids[row],
                    format_cluster_id(was),
                    format_cluster_id(now),
                )
        return moved
