"""Vectorised verification of a chunk of new items against their retrieved candidates.

``PairVerifier.score`` scores one item against m candidates; calling it once per item costs
more Python time than the arithmetic. Here the level cosines and the vector part of the
logistic score are computed for a whole chunk (n items x k candidates) with numpy, and the
anchor/image part — which only ever adds at most the sum of its positive coefficients,
every such feature lying in [0, 1] — is computed per pair only when FBC asks for it. The
vector part plus that maximum is an upper bound of each pair's probability, which lets FBC
skip pairs that cannot reach the threshold (``FBC.decide(upper=...)``); the pairs it does
need are scored by ``PairVerifier.score`` itself, so the verifier stays the one judge.
``tests/unit/test_bounds.py`` checks the bound against the verifier.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from fitrep.domain import F32

from index_server.rows.codes import CODE_SLOTS, NO_CODE
from index_server.rows.compact import CompactVectors
from index_server.scoring.image import IMAGE_FEATURES
from index_server.scoring.lexical import ChunkLexical
from index_server.scoring.verifier import PairVerifier

_MARGIN = 1e-6  # float rounding between the vectorised bound and the per-pair score


class ChunkScores:
    """Scores of items ``rows`` against their candidates ``cands`` (n, k; -1 = none).

    ``vectors`` (N, D), ``present`` (N, L) and ``codes`` (N, CODE_SLOTS + 1) are the
    engine's stored unweighted vectors, level masks and ``code_keys``; ``images`` its
    per-row image features; ``lexical`` the chunk's token evidence (tightens the bound).
    """

    def __init__(
        self,
        verifier: PairVerifier,
        vectors: np.ndarray | CompactVectors,
        present: np.ndarray,
        codes: np.ndarray,
        images: Sequence[Mapping[str, np.ndarray]],
        rows: np.ndarray,
        cands: np.ndarray,
        lexical: ChunkLexical | None = None,
    ) -> None:
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
        z, _ = verifier.level_logit(cos, both)
        coef = verifier.calibration.coef
        level_names = set(verifier._level_names)
        code_terms = ("code_match", "code_conflict")
        # Token features computed for the whole chunk (``lexical.chunk_features``) enter the bound
        # exactly, or through their lower bounds where the coefficient is negative; image
        # features only where both rows have photos (else the verifier adds nothing for
        # them); every other feature lies in [0, 1] and may add its positive coefficient.
        exact, lower = (lexical.exact, lexical.lower) if lexical else ({}, {})
        for name, values in exact.items():
            z += coef.get(name, 0.0) * values
        for name, values in lower.items():
            c = coef.get(name, 0.0)
            z += c * values if c < 0 else c
        image_bound = sum(max(coef.get(name, 0.0), 0.0) for name in IMAGE_FEATURES)
        photo_a = np.array(["phash" in images[r] for r in rows.tolist()], bool)
        photo_b = np.array(["phash" in images[c] for c in safe.ravel().tolist()], bool)
        both_photos = photo_a[:, None] & photo_b.reshape(n, k) & valid
        z += image_bound * both_photos
        skip = {"weighted_cos", *level_names, *code_terms, *exact, *lower, *IMAGE_FEATURES}
        extra = sum(max(c, 0.0) for name, c in coef.items() if name not in skip)
        extra += verifier.max_adjustment  # a catalogue's self-calibration may raise a score
        match_c, conflict_c = (coef.get(name, 0.0) for name in code_terms)
        qa, cb = codes[rows], codes[safe]
        if lexical is not None:
            may_match = lexical.code_may_match
        else:
            slots_a, slots_b = qa[:, None, :CODE_SLOTS, None], cb[:, :, None, :CODE_SLOTS]
            shared = ((slots_a == slots_b) & (slots_a != NO_CODE)).any(axis=(2, 3))
            may_match = shared | (qa[:, None, 0] == -1) | (cb[:, :, 0] == -1)
        both_coded = (qa[:, None, CODE_SLOTS] == 1) & (cb[:, :, CODE_SLOTS] == 1)
        code_bound = np.where(
            may_match,
            max(match_c, 0.0) + max(conflict_c, 0.0),
            np.where(both_coded, conflict_c, max(conflict_c, 0.0)),
        )
        self.upper = 1.0 / (1.0 + np.exp(-(z + extra + code_bound))) + _MARGIN
        self._position = [
            {int(c): p for p, c in enumerate(row_cands) if c >= 0} for row_cands in cands.tolist()
        ]

    def candidates(self, i: int) -> list[int]:
        return [c for c in self.cands[i].tolist() if c >= 0]

    def pruned_share(self, threshold: float) -> float:
        """Share of the chunk's candidate pairs whose bound rules them out."""
        valid = self.cands >= 0
        return float((self.upper[valid] < threshold).mean()) if valid.any() else 1.0

    def upper_bounds(self, i: int) -> list[float]:
        return self.upper[i][self.cands[i] >= 0].tolist()

    def position(self, i: int, cand: int) -> int | None:
        return self._position[i].get(cand)

    def per_level(self, i: int, cand: int) -> F32:
        pos = self._position[i][cand]
        return self.cos[i, pos]
