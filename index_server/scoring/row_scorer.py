"""Scoring stored rows against each other: the pair scorer fed from the row table.

Per pair (``score``, for explain, query and cluster members that were not retrieved) and
per chunk (``chunk``: level cosines, token features and score bounds of every candidate pair
of a chunk at once). A chunk's pairs that may pass are scored by the same scorer call,
from the chunk's precomputed cosines and token features, so both paths give one decision.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import numpy as np
from fitrep.domain import Anchors

from index_server.integration import LevelLayout
from index_server.rows.table import RowTable
from index_server.scoring.bounds import ChunkScores
from index_server.scoring.calibration import Calibration, create_scorer
from index_server.scoring.lexical import FEATURES, ChunkLexical, chunk_features
from index_server.scoring.scorer import PairScorer, PairScores
from index_server.scoring.token_features import TokenStats, TokenStatsAsOf
from index_server.scoring.variant_gates import has_conflict


class RowScorer:
    """``verifier``, the scorer ``calibration`` names, judges the pairs, with the idf of the
    row table's own token counts (``rows.lexical``, brought forward by ``count_tokens``)."""

    def __init__(self, rows: RowTable, calibration: Calibration, layout: LevelLayout) -> None:
        self.rows = rows
        self.verifier: PairScorer = create_scorer(calibration, layout, TokenStats(rows.lexical))

    def count_tokens(self, end: int | None = None) -> None:
        """Count the document frequencies of rows up to ``end`` (all when None): row i is
        judged by those of rows 0..i (``token_features.TokenStats``); counts only move
        forward."""
        lexical = self.rows.lexical
        lexical.count_until(len(lexical) if end is None else min(end, len(lexical)))

    def anchors(self, row: int) -> Anchors:
        """Row ``row``'s anchors (kept unpacked while in use: ``rows.packed_anchors``)."""
        return self.rows.anchors[row]

    def verifier_as_of(self, end: int) -> PairScorer:
        """The verifier with the idf of rows [0, end) only: what the join judged row
        ``end - 1`` by (``count_tokens``)."""
        verifier = copy.copy(self.verifier)
        verifier.stats = TokenStatsAsOf(self.rows.lexical, end)  # type: ignore[attr-defined]
        return verifier

    def pair_scores(
        self, row: int, others: Sequence[int], verifier: PairScorer | None = None
    ) -> PairScores:
        """Verify stored ``row`` against stored ``others`` in the full space (by ``verifier``,
        this scorer's own when None)."""
        rows, idx = self.rows, list(others)
        return (verifier or self.verifier).score(
            rows.full(row),
            self.anchors(row),
            rows.full(idx),
            [self.anchors(o) for o in idx],
            rows.images[row],
            [rows.images[o] for o in idx],
        )

    def score(self, row: int, others: Sequence[int]) -> np.ndarray:
        """Same-item probabilities of stored ``row`` against ``others``."""
        return self.pair_scores(row, others).probability

    def both(self, row: int, others: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(same-item, family) probabilities of stored ``row`` against ``others``."""
        s = self.pair_scores(row, others)
        return s.probability, s.family

    def conflicts(self, row: int, others: Sequence[int]) -> np.ndarray:
        """(m,) bool: ``others`` with a variant conflict with ``row`` (a hard gate fires),
        from the anchors alone: the join rule asks it of every member of a cluster."""
        mine = self.anchors(row)
        return np.array([has_conflict(mine, self.anchors(o)) for o in others], bool)

    def chunk(self, chunk_rows: np.ndarray, cands: np.ndarray) -> tuple[ChunkScores, ChunkLexical]:
        """Every (row, candidate) pair of a chunk: cosines, token features, score bounds."""
        rows = self.rows
        lexical = chunk_features(rows.lexical, chunk_rows, cands)
        scores = ChunkScores(
            self.verifier,
            rows.vectors,
            rows.present,
            rows.codes,
            rows.images,
            chunk_rows,
            cands,
            lexical,
        )
        return scores, lexical

    def chunk_score(
        self,
        scores: ChunkScores,
        lexical: Mapping[str, np.ndarray],
        i: int,
        row: int,
        others: Sequence[int],
        ahead: Mapping[int, Mapping[str, float]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``both`` for item ``i`` of a chunk: its candidates from the chunk's cosines and
        token features, other rows (members that were not retrieved) through ``both``. Each
        pair's scores are the same whichever pairs are asked with it (``test_chunk_pairs``).
        ``ahead``: record pair features computed ahead, by other row (``pair_prefetch``)."""
        positions = [scores.position(i, o) for o in others]
        near = [k for k, p in enumerate(positions) if p is not None]
        far = [k for k, p in enumerate(positions) if p is None]
        probability = np.zeros(len(positions), np.float32)
        family = np.zeros(len(positions), np.float32)
        if far:
            probability[far], family[far] = self.both(row, [others[k] for k in far])
        if not near:
            return probability, family
        pos = np.asarray([positions[k] for k in near], np.int64)
        known = [{name: float(lexical[name][i, p]) for name in FEATURES} for p in pos.tolist()]
        if ahead:
            for k, got in zip(near, known, strict=True):
                got.update(ahead.get(others[k], {}))
        images = self.rows.images
        s = self.verifier.score_levels(
            scores.cos[i, pos],
            scores.present[i, pos],
            self.anchors(row),
            [self.anchors(others[k]) for k in near],
            images[row],
            [images[others[k]] for k in near],
            known,
            scores.levels(i, pos),
        )
        probability[near], family[near] = s.probability, s.family
        return probability, family
