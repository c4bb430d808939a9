"""Every row's assignment, kept in columns: what ``assign`` returns for an item it has seen.

One ``Assignment`` object per row (strings, a per-level dict) costs ~1 KB of Python objects;
these columns cost ~60 bytes a row (per-level cosines in float32, as reported before) and
build the ``Assignment`` when it is asked for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from fitrep.domain import Assignment, Level

from index_server.clustering.cluster_ids import format_cluster_id, format_family_id

_LEVELS = tuple(Level)


class DecisionLog:
    """Appended in row order; ``ids`` is the engine's row -> item id list."""

    def __init__(self, ids: Sequence[str]) -> None:
        self._ids = ids
        self._n = 0
        self._cluster = np.zeros(0, np.int64)
        self._nearest = np.zeros(0, np.int64)  # -1: opened a new cluster
        self._family = np.zeros(0, np.int64)  # the family's number (0: as the cluster)
        self._similarity = np.zeros(0, np.float32)
        self._confidence = np.zeros(0, np.float32)
        self._is_new = np.zeros(0, bool)
        self._per_level = np.zeros((0, len(_LEVELS)), np.float32)  # NaN: level not shared
        self._previous = np.zeros(0, np.int64)  # cluster before a changed item's new row; 0: none

    def __len__(self) -> int:
        return self._n

    def record(
        self,
        cluster: int,
        nearest: int,
        similarity: float,
        confidence: float,
        is_new: bool,
        per_level: Mapping[Level, float] | None = None,
        family: int = 0,
    ) -> None:
        if self._n == len(self._cluster):
            self._grow(max(1024, 2 * self._n))
        i = self._n
        self._cluster[i], self._nearest[i], self._is_new[i] = cluster, nearest, is_new
        self._similarity[i], self._confidence[i] = similarity, confidence
        self._family[i] = family or cluster
        self._per_level[i] = np.nan
        self._previous[i] = 0
        for level, value in (per_level or {}).items():
            # float16 vectors can give a cosine a hair past 1: report what a cosine can be
            self._per_level[i, _LEVELS.index(level)] = min(max(value, -1.0), 1.0)
        self._n += 1

    def set_previous(self, row: int, cluster: int) -> None:
        """``row`` is a new version of a changed item that was in ``cluster`` before."""
        self._previous[row] = cluster

    def _grow(self, capacity: int) -> None:
        names = ("_cluster", "_nearest", "_family", "_similarity", "_confidence", "_is_new")
        for name in (*names, "_previous"):
            old = getattr(self, name)
            grown = np.zeros(capacity, old.dtype)
            grown[: self._n] = old[: self._n]
            setattr(self, name, grown)
        per_level = np.full((capacity, len(_LEVELS)), np.nan, np.float32)
        per_level[: self._n] = self._per_level[: self._n]
        self._per_level = per_level

    def __getitem__(self, row: int) -> Assignment:
        return self.many([row])[0]

    def many(self, rows: Sequence[int]) -> list[Assignment]:
        """The assignments of ``rows``, their columns read in one go (a commit of 100k rows
        asked for them one numpy scalar at a time: ~25 us a row)."""
        at = np.asarray(rows, np.int64)
        outside = at[(at < 0) | (at >= self._n)]
        if len(outside):
            raise IndexError(int(outside[0]))
        columns = zip(
            rows,  # row, cluster, family, nearest, similarity, levels, new, confidence, previous
            self._cluster[at].tolist(),
            self._family[at].tolist(),
            self._nearest[at].tolist(),
            self._similarity[at].tolist(),
            self._per_level[at].tolist(),
            self._is_new[at].tolist(),
            self._confidence[at].tolist(),
            self._previous[at].tolist(),
            strict=True,
        )
        ids = self._ids
        return [
            Assignment(
                item_id=ids[row],
                cluster_id=format_cluster_id(cluster),
                family_id=format_family_id(family),
                nearest_item_id=ids[nearest] if nearest >= 0 else "",
                similarity=sim,
                per_level={lv: v for lv, v in zip(_LEVELS, levels, strict=True) if v == v},
                is_new_cluster=new,
                confidence=conf,
                previous_cluster_id=format_cluster_id(previous) if previous else "",
            )
            for row, cluster, family, nearest, sim, levels, new, conf, previous in columns
        ]
