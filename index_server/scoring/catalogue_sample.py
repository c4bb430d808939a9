"""The pairs a catalogue's self-calibration is fitted on, drawn from the index's rows.

Candidate pairs: a seeded sample of rows and the earlier rows the candidate search proposes
for each (the pairs the join will judge); random pairs: rows drawn independently. Their
comparison levels come from the anchors alone, so the fit touches neither the index's
vectors nor its running idf statistics.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from index_server.rows.table import RowTable
from index_server.scoring.calibration import Calibration, create_scorer
from index_server.scoring.catalogue_fit import IDENTITY, SelfCalibration, fit_self_calibration
from index_server.scoring.comparisons import COMPARISONS, level_matrix
from index_server.scoring.features import anchor_features
from index_server.scoring.scorer import PairScorer
from index_server.scoring.sibling_bound import sibling_masks
from index_server.scoring.token_features import TokenStatsAsOf

SAMPLE_ROWS = 1000  # rows whose candidates are fitted on (~16 each: ~16k pairs)
RANDOM_PAIRS = 2000


def fit_on_rows(
    rows: RowTable,
    candidates: Callable[[list[int]], np.ndarray],
    sample_rows: int = SAMPLE_ROWS,
    random_pairs: int = RANDOM_PAIRS,
    seed: int = 0,
    scope: str = "substitutions",
    calibration: Calibration | None = None,
) -> SelfCalibration:
    """Fit the self-calibration on the live rows of ``rows`` (``candidates`` as the
    candidate generator's: rows -> (n, k) earlier rows, -1 padded)."""
    live = np.array([r for r in range(rows.n) if r not in rows.deleted], np.int64)
    if len(live) < 2 or rows.layout is None:
        return SelfCalibration(reason=f"{len(live)} items")
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(live, min(sample_rows, len(live)), replace=False))
    cands = candidates(chosen.tolist())
    pairs = [
        (int(a), int(b))
        for a, row_cands in zip(chosen.tolist(), cands.tolist(), strict=True)
        for b in dict.fromkeys(row_cands)
        if b >= 0 and b != a
    ]
    left, right = rng.choice(live, random_pairs), rng.choice(live, random_pairs)
    shuffled = [(int(a), int(b)) for a, b in zip(left, right, strict=True) if a != b]
    levels = _levels(rows, pairs)
    logits = np.full(len(pairs), np.nan)
    if calibration is not None:  # the sibling bound reads the pairs that substitute one slot
        masks = sibling_masks(levels, COMPARISONS, IDENTITY).values()
        wanted: list[int] = (
            np.flatnonzero(np.any([sub for sub, _ in masks], axis=0)).tolist() if masks else []
        )
        # the idf over every stored row, from the table's own token ids (no row decoded again)
        stats = TokenStatsAsOf(rows.lexical, rows.n)
        verifier = create_scorer(calibration, rows.layout, stats)
        logits[wanted] = logit([pairs[i] for i in wanted], rows, verifier)
    return fit_self_calibration(
        levels, _levels(rows, shuffled), scope=scope, logits=None if calibration is None else logits
    )


def logit(pairs: list[tuple[int, int]], rows: RowTable, verifier: PairScorer) -> np.ndarray:
    """(n,) the shipped same-item logit of ``pairs`` (a hard gate's veto: very low)."""
    out = np.empty(len(pairs))
    for i, (a, b) in enumerate(pairs):
        s = verifier.score(
            rows.full(a), rows.anchors[a], rows.full([b]), [rows.anchors[b]],
            rows.images[a], [rows.images[b]],
        )  # fmt: skip
        p = min(max(float(s.probability[0]), 1e-6), 1 - 1e-6)
        out[i] = np.log(p / (1 - p))
    return out


def _levels(rows: RowTable, pairs: list[tuple[int, int]]) -> np.ndarray:
    """(n, K) comparison levels of ``pairs`` (from the anchors alone: no vectors needed)."""
    sides = [(rows.anchors[a], rows.anchors[b]) for a, b in pairs]
    return level_matrix(sides, [anchor_features(a, b) for a, b in sides])
