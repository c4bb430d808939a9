"""Scoring given item pairs with the pair scorer, outside any index.

``fitrep match`` (decide listed pairs) and ``fitrep calibrate`` (fit a model on labelled
pairs) both need the scorer's features for pairs named by the input, not for candidates
found by retrieval. This module holds the embedded items once and computes those features
with the same scorer the index uses (``scorer.create_scorer``), so a calibration fitted here
is the one dedup applies.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from fitrep.domain import EmbeddedItem

from index_server.integration import concatenate, infer_layout
from index_server.scoring.calibration import Calibration, create_scorer
from index_server.scoring.scorer import PairScorer, PairScores
from index_server.scoring.token_features import TokenStats


class PairTable:
    """Embedded items (rows) and the verifier's features for pairs of rows."""

    def __init__(self, items: Sequence[EmbeddedItem]) -> None:
        self.layout = infer_layout([it.embeddings for it in items])
        self.vectors = concatenate([it.embeddings for it in items], self.layout)  # (n, d) float32
        self.anchors = [it.concepts.anchors for it in items]
        self.images = [it.concepts.image_features or None for it in items]
        self.stats = TokenStats.of(self.anchors)

    def features(self, pairs: Sequence[tuple[int, int]]) -> list[dict[str, float]]:
        """One dict of named features per pair (the scorer's ``feature_row``)."""
        verifier = create_scorer(Calibration(), self.layout, self.stats)
        return [verifier.feature_row(self._score(verifier, a, b), 0) for a, b in pairs]

    def _score(self, verifier: PairScorer, a: int, b: int) -> PairScores:
        return verifier.score(
            self.vectors[a],
            self.anchors[a],
            self.vectors[b : b + 1],
            [self.anchors[b]],
            self.images[a],
            [self.images[b]],
        )

    def probabilities(
        self, pairs: Sequence[tuple[int, int]], calibration: Calibration
    ) -> np.ndarray:
        """Calibrated duplicate probability of each pair, shape (len(pairs),) float32."""
        verifier = create_scorer(calibration, self.layout, self.stats)
        out = np.zeros(len(pairs), np.float32)
        for i, (a, b) in enumerate(pairs):
            out[i] = self._score(verifier, a, b).probability[0]
        return out


def mutual_best(pairs: Sequence[tuple[int, int]], scores: np.ndarray) -> np.ndarray:
    """(len(pairs),) bool: the pair is the best-scoring listed pair of both its left item
    (among that item's pairs as a left side) and its right item (as a right side)."""
    best_left: dict[int, float] = {}
    best_right: dict[int, float] = {}
    for (a, b), p in zip(pairs, scores.tolist(), strict=True):
        best_left[a] = max(best_left.get(a, 0.0), p)
        best_right[b] = max(best_right.get(b, 0.0), p)
    return np.array(
        [
            p >= best_left[a] and p >= best_right[b]
            for (a, b), p in zip(pairs, scores.tolist(), strict=True)
        ],
        bool,
    )


def decide_pairs(
    pairs: Sequence[tuple[int, int]], scores: np.ndarray, threshold: float, adaptive: bool = True
) -> np.ndarray:
    """Label-free decision that adapts to the input: a pair is a duplicate when it is a mutual
    best match of its two items and scores at least half the calibrated threshold. A fixed
    threshold does not travel between product domains (scores shift with vocabulary and text
    length); which candidate is each item's best match does. Measured calibrating on one set
    and testing on the other (``benchmarks/transfer.py``). ``adaptive=False``: plain threshold.
    """
    if not adaptive:
        return scores >= threshold
    return mutual_best(pairs, scores) & (scores >= threshold / 2)
