"""The index tier's read side: explain a pair, neighbours, a cluster's members, index info.

Nothing here writes, the idf counts included: the engine brings them up to date with every
stored row before it asks for a score (``IndexEngine._count_tokens``). ``IndexEngine`` builds
an ``IndexReader`` over its current ``IndexState`` for each read call, under its one lock: a
failed batch replaces that state (``IndexEngine._load``), so a reader kept across calls could
answer from state that was rolled back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

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
from index_server.clustering.cluster_ids import (
    format_cluster_id,
    format_family_id,
    parse_cluster_id,
    resolve,
)
from index_server.clustering.clusterer import Clusterer
from index_server.integration import concatenate
from index_server.rows.table import RowTable
from index_server.scoring.row_scorer import RowScorer
from index_server.scoring.scorer import PairScorer
from index_server.scoring.variant_gates import variant_conflicts
from index_server.state import IndexState
from index_server.validation import check_batch

# (item id, full vector, anchors, image features, its row or -1 when not stored)
Query = tuple[str, np.ndarray, Anchors, dict[str, np.ndarray], int]


@dataclass(frozen=True)
class IndexReader:
    """Read-only answers over the engine's parts at one moment (see module docstring)."""

    state: IndexState

    @property
    def rows(self) -> RowTable:
        return self.state.rows

    @property
    def clusterer(self) -> Clusterer:
        return self.state.clusterer

    @property
    def scorer(self) -> RowScorer:
        assert self.state.scorer is not None, "no layout yet: nothing stored"
        return self.state.scorer

    @property
    def verifier(self) -> PairScorer:
        return self.scorer.verifier

    def explain(self, item_a: str, item_b: str) -> Explanation:
        """Why two stored items are (not) duplicates: the pair's evidence level by level and
        gate by gate, and what the clustering decided with the rule that decided it
        (``duplicate`` is the clustering's answer: the same cluster id)."""
        a, b = self.rows.row(item_a), self.rows.row(item_b)
        # scored as the join scored it: with the token counts of the rows up to the later one
        verifier = self.scorer.verifier_as_of(max(a, b) + 1)
        s = self.scorer.pair_scores(a, [b], verifier)
        p, family = float(s.probability[0]), float(s.family[0])
        details = variant_conflicts(self.rows.anchors[a], self.rows.anchors[b])
        rule, clusterer = self.clusterer.rule, self.clusterer
        stored = a in rule.cluster_of and b in rule.cluster_of
        same = stored and clusterer.cluster_id(a) == clusterer.cluster_id(b)
        return Explanation(
            item_a=item_a,
            item_b=item_b,
            score=p,
            threshold=verifier.threshold,
            duplicate=same,
            # float16 vectors can give a cosine a hair past 1: report what a cosine can be
            per_level=[
                replace(ls, similarity=min(max(ls.similarity, -1.0), 1.0))
                for ls in verifier.level_scores(s, 0)
            ],
            gates=verifier.gates(s, 0, details),
            cluster_a=clusterer.cluster_id(a) if a in rule.cluster_of else "",
            cluster_b=clusterer.cluster_id(b) if b in rule.cluster_of else "",
            features=verifier.feature_row(s, 0),
            verdict=self._verdict(a, b, p, details) if stored else "an item was deleted",
            pair_duplicate=p >= verifier.threshold,
            family_score=family,
            family_a=clusterer.family_id(a) if a in rule.cluster_of else "",
            family_b=clusterer.family_id(b) if b in rule.cluster_of else "",
        )

    def _verdict(self, a: int, b: int, p: float, details: dict[str, str]) -> str:
        """The clustering's decision for rows ``a`` and ``b`` and the rule behind it, in words;
        the later row was decided against the earlier one's cluster as it was then."""
        clusterer, rule, t = self.clusterer, self.clusterer.rule, self.verifier.threshold
        ids = self.rows.ids
        early, late = min(a, b), max(a, b)
        cluster = rule.cluster_of[early]
        fired = [f"{g} ({d})" for g, d in details.items() if d]
        if clusterer.cluster_id(a) == clusterer.cluster_id(b):
            if p >= t:
                return f"duplicates: the same cluster {clusterer.cluster_id(a)}"
            rep = rule.first_member(cluster)
            return (
                f"duplicates: the same cluster {clusterer.cluster_id(a)}, joined through its "
                f"members (its first member {ids[rep]}), although the pair alone scores "
                f"{p:.2f} < {t:.2f}"
            )
        if fired:
            return "not duplicates: a hard gate vetoes the pair: " + "; ".join(fired)
        if p < t:
            return f"not duplicates: the pair scores {p:.2f} < threshold {t:.2f}"
        check = rule.check(
            late, cluster, [early], self.scorer.both, self.scorer.conflicts, before=late
        )
        where = clusterer.cluster_id(early)
        if not check.ok:
            blame = f" ({ids[check.conflict_row]})" if check.conflict_row >= 0 else ""
            return (
                f"kept apart by the join rule: the pair scores {p:.2f} >= {t:.2f}, but joining "
                f"{where} needs agreement with the cluster: {check.reason}{blame}"
            )
        decided = clusterer.decisions[late]
        if decided.is_new_cluster:
            return (
                f"kept apart by retrieval: {ids[late]} opened {decided.cluster_id}; "
                f"{ids[early]} was not among its retrieved candidates"
            )
        return (
            f"kept apart: {ids[late]} joined {decided.cluster_id}, which it agrees with more "
            f"({decided.confidence:.2f} vs {check.agreement:.2f} for {where})"
        )

    def query(
        self, item_ids: Sequence[str], items: Sequence[EmbeddedItem], k: int
    ) -> list[tuple[str, list[Neighbor]]]:
        """Verified neighbours of stored items (by id) or of new items (not stored)."""
        rows, layout = self.rows, self.rows.layout
        if self.state.candidates.cindex is None or layout is None:
            return [(q, []) for q in [*item_ids, *(it.item_id for it in items)]]
        queries: list[Query] = []
        for item_id in item_ids:
            row = rows.row(item_id)
            queries.append((item_id, rows.full(row), rows.anchors[row], rows.images[row], row))
        if items:
            check_batch(items, layout, self.state.encoder)
            full = concatenate([it.embeddings for it in items], layout)
            for it, vec in zip(items, full, strict=True):
                c = it.concepts
                queries.append((it.item_id, vec, c.anchors, c.image_features, -1))
        if not queries:
            return []
        weighted = self.state.candidates.weighted_queries(np.stack([q[1] for q in queries]))
        found = self.state.candidates.search(weighted, k + 1)
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
        members = self.clusterer.rule.members.get(canonical)
        if not members:
            raise NotFound("cluster", cluster_id)
        names = [
            format_cluster_id(a) for a, t in aliases.items() if resolve(aliases, t) == canonical
        ]
        ids = self.rows.ids
        return Cluster(
            format_cluster_id(canonical),
            [ids[r] for r in members],
            names,
            family_id=format_family_id(self.clusterer.rule.family_of.get(canonical, canonical)),
            representative_id=ids[self.state.representatives.choose(members)],
        )

    def info(self) -> IndexInfo:
        reducer, index = self.state.candidates.describe()
        return IndexInfo(
            items=self.rows.live,
            clusters=len(self.clusterer.rule.members),
            reducer=reducer,
            faiss_index=index,
            index_version=self.state.candidates.index_version,
            level_weights={lv.name: w for lv, w in self.state.calibration.weights.items()},
            threshold=self.state.calibration.threshold,
            server_version=__version__,
        )

    def reducer_report(self) -> dict[str, object]:
        # ``report_`` is learned state (set by a fit); no reducer, or none fitted yet, has none
        return dict(getattr(self.state.candidates.reducer, "report_", {}))
