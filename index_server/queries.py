"""The index tier's read side: explain a pair, neighbours, a cluster's members, index info.

Nothing here writes. ``IndexEngine`` builds an ``IndexReader`` over its current parts for each
read call, under its one lock: a failed batch replaces those parts (``IndexEngine._load``), so
a reader kept across calls could answer from state that was rolled back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from fitrep.domain import (
    Anchors,
    Cluster,
    EmbeddedItem,
    Explanation,
    IndexInfo,
    InvalidInput,
    Neighbor,
    NotFound,
)

from index_server import __version__
from index_server.candidates.generator import CandidateGenerator
from index_server.clustering.cluster_ids import format_cluster_id, parse_cluster_id, resolve
from index_server.clustering.clusterer import Clusterer
from index_server.integration import concatenate
from index_server.scoring.calibration import Calibration
from index_server.scoring.row_scorer import RowScorer
from index_server.scoring.verifier import PairVerifier
from index_server.storage.rows import RowTable
from index_server.validation import check_batch

# (item id, full vector, anchors, image features, its row or -1 when not stored)
Query = tuple[str, np.ndarray, Anchors, dict[str, np.ndarray], int]


@dataclass(frozen=True)
class IndexReader:
    """Read-only answers over the engine's parts at one moment (see module docstring)."""

    rows: RowTable
    candidates: CandidateGenerator
    scorer: RowScorer | None
    clusterer: Clusterer
    calibration: Calibration
    encoder: str

    @property
    def verifier(self) -> PairVerifier:
        assert self.scorer is not None, "no layout yet: nothing stored"
        return self.scorer.verifier

    def explain(self, item_a: str, item_b: str) -> Explanation:
        a, b = self.rows.row(item_a), self.rows.row(item_b)
        verifier = self.verifier
        verifier.stats.extend_to(self.rows.anchors)  # e.g. right after a restart
        assert self.scorer is not None
        s = self.scorer.pair_scores(a, [b])
        p = float(s.probability[0])
        return Explanation(
            item_a=item_a,
            item_b=item_b,
            score=p,
            threshold=verifier.threshold,
            duplicate=p >= verifier.threshold,
            per_level=verifier.level_scores(s, 0),
            gates=verifier.gates(s, 0),
            cluster_a=self.clusterer.cluster_id(a),
            cluster_b=self.clusterer.cluster_id(b),
            features=verifier.feature_row(s, 0),
        )

    def query(
        self, item_ids: Sequence[str], items: Sequence[EmbeddedItem], k: int
    ) -> list[tuple[str, list[Neighbor]]]:
        """Verified neighbours of stored items (by id) or of new items (not stored)."""
        rows, layout = self.rows, self.rows.layout
        if self.candidates.cindex is None or layout is None:
            return [(q, []) for q in [*item_ids, *(it.item_id for it in items)]]
        queries: list[Query] = []
        for item_id in item_ids:
            row = rows.row(item_id)
            queries.append((item_id, rows.full(row), rows.anchors[row], rows.images[row], row))
        if items:
            check_batch(items, layout, self.encoder)
            full = concatenate([it.embeddings for it in items], layout)
            for it, vec in zip(items, full, strict=True):
                c = it.concepts
                queries.append((it.item_id, vec, c.anchors, c.image_features, -1))
        if not queries:
            return []
        self.verifier.stats.extend_to(rows.anchors)
        weighted = self.candidates.weighted_queries(np.stack([q[1] for q in queries]))
        found = self.candidates.search(weighted, k + 1)
        return [self._neighbours(q, hits, k) for q, hits in zip(queries, found, strict=True)]

    def _neighbours(self, query: Query, hits: np.ndarray, k: int) -> tuple[str, list[Neighbor]]:
        """The verified top ``k`` of one query's search hits, most probable first."""
        qid, vec, anchors, image, self_row = query
        rows = self.rows
        near = [int(h) for h in hits if h >= 0 and h != self_row and h not in rows.deleted]
        near = near[:k]
        if not near:
            return qid, []
        probs = self.verifier.score(
            vec,
            anchors,
            rows.full(near),
            [rows.anchors[r] for r in near],
            image,
            [rows.images[r] for r in near],
        ).probability
        order = np.argsort(-probs)
        cluster_id = self.clusterer.cluster_id
        return qid, [
            Neighbor(rows.ids[near[i]], cluster_id(near[i]), float(probs[i])) for i in order
        ]

    def get_cluster(self, cluster_id: str) -> Cluster:
        try:
            number = parse_cluster_id(cluster_id)
        except ValueError:
            raise InvalidInput("cluster_id", f"{cluster_id!r} is not a cluster id") from None
        aliases = self.clusterer.aliases
        canonical = resolve(aliases, number)
        members = self.clusterer.fbc.members.get(canonical)
        if not members:
            raise NotFound("cluster", cluster_id)
        names = [
            format_cluster_id(a) for a, t in aliases.items() if resolve(aliases, t) == canonical
        ]
        return Cluster(format_cluster_id(canonical), [self.rows.ids[r] for r in members], names)

    def info(self) -> IndexInfo:
        reducer, index = self.candidates.describe()
        return IndexInfo(
            items=self.rows.live,
            clusters=len(self.clusterer.fbc.members),
            reducer=reducer,
            faiss_index=index,
            index_version=self.candidates.index_version,
            level_weights={lv.name: w for lv, w in self.calibration.weights.items()},
            threshold=self.calibration.threshold,
            server_version=__version__,
        )

    def reducer_report(self) -> dict[str, object]:
        # ``report_`` is learned state (set by a fit); no reducer, or none fitted yet, has none
        return dict(getattr(self.candidates.reducer, "report_", {}))
