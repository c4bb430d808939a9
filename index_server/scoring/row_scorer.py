"""Scoring stored rows against each other: the verifier fed from the row table.

Per pair (``score``, for explain, query and cluster members that were not retrieved) and
per chunk (``chunk``: level cosines, token features and score bounds of every candidate pair
of a chunk at once). A chunk's pairs that may pass are scored by the same verifier call,
from the chunk's precomputed cosines and token features, so both paths give one decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from index_server.rows.table import RowTable
from index_server.scoring.bounds import ChunkScores
from index_server.scoring.lexical import FEATURES, ChunkLexical, chunk_features
from index_server.scoring.variant_gates import has_conflict
from index_server.scoring.verifier import PairScores, PairVerifier


class RowScorer:
    def __init__(self, rows: RowTable, verifier: PairVerifier) -> None:
        self.rows = rows
        self.verifier = verifier

    def pair_scores(self, row: int, others: Sequence[int]) -> PairScores:
        """Verify stored ``row`` against stored ``others`` in the full space."""
        rows, idx = self.rows, list(others)
        return self.verifier.score(
            rows.full(row),
            rows.anchors[row],
            rows.full(idx),
            [rows.anchors[o] for o in idx],
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
        anchors = self.rows.anchors
        mine = anchors[row]
        return np.array([has_conflict(mine, anchors[o]) for o in others], bool)

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
    ) -> tuple[np.ndarray, np.ndarray]:
        """``score`` for item ``i`` of a chunk from its precomputed cosines and token
        features; rows that were not its candidates go through ``score``."""
        positions = [scores.position(i, o) for o in others]
        if any(p is None for p in positions):
            return self.both(row, others)
        pos = np.asarray(positions, np.int64)
        known = [{name: float(lexical[name][i, p]) for name in FEATURES} for p in pos.tolist()]
        anchors, images = self.rows.anchors, self.rows.images
        s = self.verifier.score_levels(
            scores.cos[i, pos],
            scores.present[i, pos],
            anchors[row],
            [anchors[o] for o in others],
            images[row],
            [images[o] for o in others],
            known,
        )
        return s.probability, s.family
