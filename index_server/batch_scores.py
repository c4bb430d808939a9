"""Vectorised verification of a chunk of new items against their retrieved candidates.

``PairVerifier.score`` scores one item against m candidates; calling it once per item costs
more Python time than the arithmetic. Here the level cosines and the vector part of the
logistic score are computed for a whole chunk (n items x k candidates) with numpy, and the
anchor/image part — which only ever adds at most the sum of its positive coefficients,
every such feature lying in [0, 1] — is computed per pair only when FBC asks for it. The
vector part plus that maximum is an upper bound of each pair's probability, which lets FBC
skip pairs that cannot reach the threshold (``FBC.decide(upper=...)``); the pairs it does
need are scored by ``PairVerifier.score`` itself, so the verifier stays the one judge.
``tests/unit/test_batch_scores.py`` checks the bound against the verifier.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from fitrep.domain import F32

from index_server.integration import LevelLayout
from index_server.verify import Anchors, PairVerifier

_MARGIN = 1e-6  # float rounding between the vectorised bound and the per-pair score


def level_presence(vectors: np.ndarray, layout: LevelLayout) -> np.ndarray:
    """(n, L) bool: which levels of each (unweighted, concatenated) row are non-zero."""
    out = np.zeros((len(vectors), len(layout.dims)), bool)
    for j, where in enumerate(layout.slices().values()):
        out[:, j] = (vectors[:, where] != 0).any(axis=1)
    return out


class ChunkScores:
    """Scores of items ``rows`` against their candidates ``cands`` (n, k; -1 = none).

    ``vectors`` (N, D) and ``present`` (N, L) are the engine's stored unweighted vectors and
    level masks; ``anchors`` and ``images`` its per-row anchors and image features.
    """

    def __init__(
        self,
        verifier: PairVerifier,
        vectors: np.ndarray,
        present: np.ndarray,
        anchors: Sequence[Anchors],
        images: Sequence[Mapping[str, np.ndarray]],
        rows: np.ndarray,
        cands: np.ndarray,
    ) -> None:
        self.verifier = verifier
        verifier.stats.extend_to(anchors)  # idf of title tokens over every item stored so far
        self.anchors = anchors
        self.images = images
        self.rows = rows
        self.cands = cands
        valid = cands >= 0
        safe = np.where(valid, cands, 0)
        n, k = cands.shape
        layout = verifier.layout
        n_levels = len(layout.dims)
        cos = np.zeros((n, k, n_levels), np.float32)
        queries = vectors[rows]
        gathered = vectors[safe.ravel()].reshape(n, k, -1)
        for j, where in enumerate(layout.slices().values()):
            qa = queries[:, where].astype(np.float32)
            vb = gathered[:, :, where].astype(np.float32)
            cos[:, :, j] = np.einsum("nd,nkd->nk", qa, vb)
        both = present[rows][:, None, :] & present[safe] & valid[:, :, None]
        cos[~both] = 0.0
        self.cos = cos
        self.present = both
        w = verifier._w[None, None, :] * both
        wsum = w.sum(axis=2)
        weighted = np.where(wsum > 0, (w * cos).sum(axis=2) / np.maximum(wsum, 1e-9), 0.0)
        coef = verifier.calibration.coef
        z = np.full((n, k), verifier.calibration.bias, np.float64)
        z += coef.get("weighted_cos", 0.0) * weighted
        level_names = set(verifier._level_names)
        for j, name in enumerate(verifier._level_names):
            c = coef.get(name)
            if c:
                z += c * cos[:, :, j]
        self.z_vector = z
        extra = sum(
            max(c, 0.0)
            for name, c in coef.items()
            if name not in level_names and name != "weighted_cos"
        )
        self.upper = 1.0 / (1.0 + np.exp(-(z + extra))) + _MARGIN
        self._position = [
            {int(c): p for p, c in enumerate(row_cands) if c >= 0} for row_cands in cands.tolist()
        ]

    def candidates(self, i: int) -> list[int]:
        return [c for c in self.cands[i].tolist() if c >= 0]

    def upper_bounds(self, i: int) -> list[float]:
        return self.upper[i][self.cands[i] >= 0].tolist()

    def position(self, i: int, cand: int) -> int | None:
        return self._position[i].get(cand)

    def per_level(self, i: int, cand: int) -> F32:
        pos = self._position[i][cand]
        return self.cos[i, pos]
