"""The level cosines of a chunk of new items against their retrieved candidates, and each
pair's upper bound.

``PairScorer.score`` scores one item against m candidates; calling it once per item costs
more Python time than the arithmetic. Here the level cosines are computed for a whole chunk
(n items x k candidates) with numpy, and with the chunk's other cheap evidence
(``ChunkEvidence``: token overlaps, photos, code keys) a scorer that can (``upper_bound``, an
optional method of the scorer) bounds each pair's probability, which lets FBC skip pairs
that cannot reach the threshold (``JoinRule.decide_batch(upper=...)``); the pairs it does need are
scored by the scorer itself, so it stays the one judge.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from fitrep.domain import F32

from index_server.integration import LevelLayout
from index_server.rows.compact import CompactVectors
from index_server.scoring.lexical import ChunkLexical
from index_server.scoring.scorer import PairScorer


def _level_blocks(
    vectors: np.ndarray | CompactVectors, layout: LevelLayout, rows: np.ndarray, cands: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per level of ``layout``: the float32 blocks (n, d) of ``rows`` and (n, k, d) of
    ``cands``, C-contiguous. Compact rows decode one level at a time (no (n, k, D) copy)."""
    if isinstance(vectors, CompactVectors) and vectors.codec.layout == layout:
        mine, theirs = vectors.records[rows], vectors.records[cands]
        for j in range(len(layout.dims)):
            yield vectors.codec.decode_level(mine, j), vectors.codec.decode_level(theirs, j)
        return
    n, k = cands.shape
    queries = vectors[rows]
    gathered = vectors[cands.ravel()].reshape(n, k, -1)
    for where in layout.slices().values():
        yield queries[:, where].astype(np.float32), gathered[:, :, where].astype(np.float32)


@dataclass
class ChunkEvidence:
    """What a chunk's bound may read, each (n, k, ...) over items x candidates: the level
    cosines and presence (0 / False where either side lacks the level or the candidate is
    none), the token evidence, whether both rows have photos, and the rows' code keys
    (``rows.codes.code_keys``: ``codes_a`` (n, CODE_SLOTS + 1), ``codes_b`` (n, k, ...))."""

    cos: np.ndarray
    present: np.ndarray
    lexical: ChunkLexical | None
    both_photos: np.ndarray
    codes_a: np.ndarray
    codes_b: np.ndarray


class ChunkScores:
    """Level cosines and bounds of items ``rows`` against their candidates ``cands`` (n, k;
    -1 = none).

    ``vectors`` (N, D), ``present`` (N, L) and ``codes`` (N, CODE_SLOTS + 1) are the
    engine's stored unweighted vectors, level masks and ``code_keys``; ``images`` its
    per-row image features; ``lexical`` the chunk's token evidence (tightens the bound).
    Without a scorer's bound every pair's bound is 1 (all may pass).
    """

    def __init__(
        self,
        scorer: PairScorer,
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
        layout = scorer.layout
        n_levels = len(layout.dims)
        cos = np.zeros((n, k, n_levels), np.float32)
        for j, (qa, vb) in enumerate(_level_blocks(vectors, layout, rows, safe)):
            cos[:, :, j] = np.einsum("nd,nkd->nk", qa, vb)
        both = present[rows][:, None, :] & present[safe] & valid[:, :, None]
        cos[~both] = 0.0
        self.cos = cos
        self.present = both
        photo_a = np.array(["phash" in images[r] for r in rows.tolist()], bool)
        photo_b = np.array(["phash" in images[c] for c in safe.ravel().tolist()], bool)
        both_photos = photo_a[:, None] & photo_b.reshape(n, k) & valid
        evidence = ChunkEvidence(cos, both, lexical, both_photos, codes[rows], codes[safe])
        bound = getattr(scorer, "upper_bound", None)
        self.upper: np.ndarray = bound(evidence) if bound is not None else np.ones((n, k))
        # each row's candidate -> its position, made when a pair of the row is first asked
        # for (most rows of a chunk have none: their bounds rule every pair out)
        self._position: dict[int, dict[int, int]] = {}
        self._logit = getattr(scorer, "level_logit", None)
        self._levels: tuple[np.ndarray, np.ndarray] | None = None

    def levels(self, i: int, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The scorer's ``level_logit`` of row ``i``'s pairs at ``positions``, from one call
        over the whole chunk (made on the first ask); None for a scorer without one."""
        if self._logit is None:
            return None
        if self._levels is None:
            self._levels = self._logit(self.cos, self.present)
        z, weighted = self._levels
        return z[i, positions], weighted[i, positions]

    def candidates(self, i: int) -> list[int]:
        return [c for c in self.cands[i].tolist() if c >= 0]

    def pruned_share(self, threshold: float) -> float:
        """Share of the chunk's candidate pairs whose bound rules them out."""
        valid = self.cands >= 0
        return float((self.upper[valid] < threshold).mean()) if valid.any() else 1.0

    def upper_bounds(self, i: int) -> list[float]:
        return self.upper[i][self.cands[i] >= 0].tolist()

    def _positions(self, i: int) -> dict[int, int]:
        got = self._position.get(i)
        if got is None:
            got = {c: p for p, c in enumerate(self.cands[i].tolist()) if c >= 0}
            self._position[i] = got
        return got

    def position(self, i: int, cand: int) -> int | None:
        return self._positions(i).get(cand)

    def per_level(self, i: int, cand: int) -> F32:
        return self.cos[i, self._positions(i)[cand]]
