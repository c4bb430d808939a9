"""The interface every pair scorer implements, and the registry that names them.

A scorer turns a pair's level cosines and named features (``features``) into the same-item
probability; retrieval only proposes candidates, the scorer decides. Which scorer a run uses
is part of its calibration (``Calibration.model``, the JSON key ``"scorer"``, "logistic" when
absent), so a fitted file carries its own kind. A new pair model is one module (its model
with ``from_json``/``to_json`` and its scorer) and one entry in ``SCORERS``; everything that
scores pairs (the index, ``fitrep match``, ``calibrate``'s features) builds it through
``calibration.create_scorer``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from fitrep.domain import F32, Anchors, GateResult, InvalidInput, LevelScore

from index_server.integration import LevelLayout
from index_server.scoring.image import ImageFeatures


@dataclass
class PairScores:
    """Scores of one item against m candidates.

    ``probability`` is the same-item probability: the calibrated score, 0 where a hard gate
    vetoes; ``family_probability`` the calibrated score alone (same product up to variants).
    """

    probability: F32  # (m,)
    weighted_cos: F32  # (m,)
    cos: F32  # (m, L) in layout order
    present: np.ndarray  # (m, L) bool
    features: list[dict[str, float]]
    family_probability: F32 | None = None  # (m,); None: as ``probability``

    @property
    def family(self) -> F32:
        return self.probability if self.family_probability is None else self.family_probability


class PairModel(Protocol):
    """A scorer's fitted parameters, the ``Calibration``'s model part."""

    def to_json(self) -> dict[str, Any]: ...


class PairScorer(Protocol):
    """Scores item pairs. ``upper_bound(evidence: bounds.ChunkEvidence) -> (n, k)`` is
    optional: a scorer that has it lets the join skip the pairs of a chunk that cannot reach
    the threshold (``bounds.ChunkScores``); one without it has every pair scored."""

    layout: LevelLayout

    @property
    def threshold(self) -> float: ...

    def score_levels(
        self,
        cos: F32,
        present: np.ndarray,
        a_anchors: Anchors,
        b_anchors: Sequence[Anchors],
        a_image: ImageFeatures | None = None,
        b_images: Sequence[ImageFeatures | None] | None = None,
        known: Sequence[Mapping[str, float]] | None = None,
        levels: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> PairScores:
        """Scores of ``a`` against each of ``b`` from their level cosines ((m, L), as
        ``integration.level_cosines``), and optionally each pair's token overlaps computed
        for a whole chunk (``lexical.FEATURES``) and what the scorer makes of the cosines
        (``levels``: its ``level_logit`` of them, computed for a whole chunk)."""
        ...

    def score(
        self,
        a_vec: F32,
        a_anchors: Anchors,
        b_vecs: F32,
        b_anchors: Sequence[Anchors],
        a_image: ImageFeatures | None = None,
        b_images: Sequence[ImageFeatures | None] | None = None,
    ) -> PairScores:
        """``score_levels`` from ``a_vec`` (d,) and ``b_vecs`` (m, d), unweighted full vectors."""
        ...

    def feature_row(self, scores: PairScores, i: int) -> dict[str, float]:
        """Every named input of decision ``i`` (for calibration and explanations)."""
        ...

    def level_scores(self, scores: PairScores, i: int) -> list[LevelScore]: ...

    def gates(
        self, scores: PairScores, i: int, details: Mapping[str, str] | None = None
    ) -> list[GateResult]: ...


# name -> "module:Scorer", imported on first use; the class reads its own model from the
# calibration file (``Scorer.model_from_json``) and is built as ``Scorer(calibration, layout,
# stats)``.
SCORERS: dict[str, str] = {
    "logistic": "index_server.scoring.logistic:LogisticScorer",
}
DEFAULT_SCORER = "logistic"


def available_scorers() -> list[str]:
    return sorted(SCORERS)


def scorer_class(name: str) -> Any:
    try:
        target = SCORERS[name]
    except KeyError:
        raise InvalidInput(
            "calibration.scorer", f"unknown scorer {name!r}; choose one of {available_scorers()}"
        ) from None
    module_name, attr = target.split(":")
    return getattr(importlib.import_module(module_name), attr)
