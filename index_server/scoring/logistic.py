"""The calibrated logistic scorer: ``p(dup) = sigmoid(bias + sum_f coef[f] * feature[f])``.

The features are the per-level cosines and the named features of ``features``; the hard
gates veto instead of weighing in. The family score (same product up to its variants) is the
same sum with the words naming variant values set aside. The model is linear in features
that each lie in [0, 1], so a chunk's pairs get a tight upper bound (``upper_bound``) that
lets the join skip those that cannot pass; ``tests/unit/test_bounds.py`` checks it against
the scorer itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from fitrep.domain import F32, Anchors, GateResult, InvalidInput, Level, LevelScore

from index_server.integration import LevelLayout, level_cosines
from index_server.rows.codes import CODE_SLOTS, NO_CODE
from index_server.scoring.bounds import ChunkEvidence
from index_server.scoring.calibration import Calibration
from index_server.scoring.features import (
    HARD,
    family_features,
    gate_results,
    level_feature,
    pair_features,
    vetoed,
)
from index_server.scoring.image import IMAGE_FEATURES, ImageFeatures
from index_server.scoring.scorer import PairScores
from index_server.scoring.token_features import TokenStats

_MARGIN = 1e-6  # float rounding between the vectorised bound and the per-pair score

# A catalogue's correction of a pair's logit from its anchors and features (the
# self-calibration, ``catalogue_fit.SelfCalibration.adjust``); it applies to the same-item score.
PairAdjust = Callable[[Anchors, Anchors, Mapping[str, float]], float]


@dataclass
class LogisticModel:
    """The coefficients of each named feature, the bias, and a logit added to the pairs of
    one modality (e.g. "image_only") so that their own best threshold maps onto the shared
    one. Serialised as the calibration file's ``coef``, ``bias`` and ``modality_shift``."""

    coef: dict[str, float] = field(default_factory=dict)
    bias: float = 0.0
    modality_shift: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"coef": self.coef, "bias": self.bias, "modality_shift": self.modality_shift}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LogisticModel:
        return cls(
            coef={k: float(v) for k, v in data.get("coef", {}).items()},
            bias=float(data.get("bias", 0.0)),
            modality_shift={k: float(v) for k, v in data.get("modality_shift", {}).items()},
        )


class LogisticScorer:
    """Scores item pairs with the calibrated logistic model (``scorer.PairScorer``)."""

    @staticmethod
    def model_from_json(data: Mapping[str, Any]) -> LogisticModel:
        """The model part of a calibration file (``Calibration.from_json`` asks the class)."""
        return LogisticModel.from_json(data)

    def __init__(
        self, calibration: Calibration, layout: LevelLayout, stats: TokenStats | None = None
    ) -> None:
        if not isinstance(calibration.model, LogisticModel):
            raise InvalidInput("calibration.scorer", "the logistic scorer needs a logistic model")
        self.calibration = calibration
        self.model: LogisticModel = calibration.model
        self.layout = layout
        self.stats = stats if stats is not None else TokenStats()
        self._w = np.array([calibration.weights.get(lv, 0.0) for lv in layout.levels], np.float32)
        self._level_names = [level_feature(lv) for lv in layout.levels]
        self._text = np.array([lv != Level.VISUAL for lv in layout.levels], bool)
        self._visual = np.array([lv == Level.VISUAL for lv in layout.levels], bool)
        self.image_only_shift = float(self.model.modality_shift.get("image_only", 0.0))
        self.adjust: PairAdjust | None = None
        self.max_adjustment = 0.0  # the most ``adjust`` adds to a logit (``upper_bound``)

    @property
    def threshold(self) -> float:
        return self.calibration.threshold

    def image_only(self, present: np.ndarray) -> np.ndarray:
        """Pairs whose only shared level is VISUAL (``present`` (..., L) -> (...) bool)."""
        return ~(present & self._text).any(axis=-1) & (present & self._visual).any(axis=-1)

    def level_logit(self, cos: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(logit part of the level cosines, weighted cosine), for ``cos``/``present`` of any
        leading shape (..., L): one pair list here, a whole chunk in ``upper_bound``."""
        w = self._w * present
        wsum = w.sum(axis=-1)
        weighted = np.where(wsum > 0, (w * cos).sum(axis=-1) / np.maximum(wsum, 1e-9), 0.0)
        coef = self.model.coef
        z = self.model.bias + coef.get("weighted_cos", 0.0) * weighted
        for j, name in enumerate(self._level_names):
            c = coef.get(name)
            if c:
                z = z + c * cos[..., j]
        # Photos alone give weaker evidence than text: their scores are moved so that the
        # threshold fitted on image-only pairs lines up with the shared one.
        z = z + self.image_only_shift * self.image_only(present)
        return np.asarray(z, np.float64), weighted

    def score(
        self,
        a_vec: F32,
        a_anchors: Anchors,
        b_vecs: F32,
        b_anchors: Sequence[Anchors],
        a_image: ImageFeatures | None = None,
        b_images: Sequence[ImageFeatures | None] | None = None,
    ) -> PairScores:
        cos, present = level_cosines(a_vec, b_vecs, self.layout)
        return self.score_levels(cos, present, a_anchors, b_anchors, a_image, b_images)

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
        # a chunk's level logits are computed once for all its pairs (``ChunkScores``): on
        # the two or three pairs a row asks about, numpy's per-call cost was most of it
        z, weighted = (
            (np.array(levels[0], np.float64), levels[1])
            if levels is not None
            else self.level_logit(cos, present)
        )
        coef = self.model.coef
        features = pair_features(a_anchors, b_anchors, self.stats, a_image, b_images, known)
        # the weighed features in the pair's order; a zero term (most gates and conflicts are
        # 0, as are features without a coefficient) adds nothing to a float sum, so leaving
        # it out gives the same logit
        weighed = {k: c for k, c in coef.items() if c and k not in HARD}
        for i, f in enumerate(features):
            z[i] += sum(c * v for k, v in f.items() if v and (c := weighed.get(k)))
        veto = vetoed(features)
        z_family = z.copy()
        for i in np.flatnonzero(veto).tolist():
            # the family relaxes the gates: the words naming the conflicting values are set
            # aside, so two flavours of one product line are not told apart by those words
            relaxed = family_features(a_anchors, b_anchors[i], self.stats)
            z_family[i] += sum(coef.get(k, 0.0) * (v - features[i][k]) for k, v in relaxed.items())
        family = (1.0 / (1.0 + np.exp(-z_family))).astype(np.float32)
        same = family
        if self.adjust is not None:
            adj = [self.adjust(a_anchors, b, f) for b, f in zip(b_anchors, features, strict=True)]
            same = (1.0 / (1.0 + np.exp(-(z_family + np.asarray(adj))))).astype(np.float32)
        return PairScores(
            np.where(veto, np.float32(0.0), same).astype(np.float32),
            weighted.astype(np.float32),
            cos,
            present,
            features,
            family,
        )

    def upper_bound(self, evidence: ChunkEvidence) -> np.ndarray:
        """(n, k) bound of the probability of each chunk pair: the level part and the token
        overlaps exactly (lower bounds where a coefficient is negative), every other feature
        at its most favourable value (each lies in [0, 1]), image features only where both
        rows have photos (else the scorer adds nothing for them), the code terms as the
        code keys allow. The pairs that may pass are then scored by ``score_levels``."""
        e = evidence
        z, _ = self.level_logit(e.cos, e.present)
        coef = self.model.coef
        code_terms = ("code_match", "code_conflict")
        exact, lower = (e.lexical.exact, e.lexical.lower) if e.lexical else ({}, {})
        for name, values in exact.items():
            z += coef.get(name, 0.0) * values
        for name, values in lower.items():
            c = coef.get(name, 0.0)
            z += c * values if c < 0 else c
        image_bound = sum(max(coef.get(name, 0.0), 0.0) for name in IMAGE_FEATURES)
        z += image_bound * e.both_photos
        skip = {"weighted_cos", *self._level_names, *code_terms, *exact, *lower, *IMAGE_FEATURES}
        extra = sum(max(c, 0.0) for name, c in coef.items() if name not in skip)
        extra += self.max_adjustment  # a catalogue's self-calibration may raise a score
        match_c, conflict_c = (coef.get(name, 0.0) for name in code_terms)
        qa, cb = e.codes_a, e.codes_b
        if e.lexical is not None:
            may_match = e.lexical.code_may_match
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
        return 1.0 / (1.0 + np.exp(-(z + extra + code_bound))) + _MARGIN

    def feature_row(self, scores: PairScores, i: int) -> dict[str, float]:
        row = {"weighted_cos": float(scores.weighted_cos[i])}
        row.update({n: float(scores.cos[i, j]) for j, n in enumerate(self._level_names)})
        row.update(scores.features[i])
        return row

    def level_scores(self, scores: PairScores, i: int) -> list[LevelScore]:
        return [
            LevelScore(
                level=level,
                similarity=float(scores.cos[i, j]),
                weight=float(self._w[j]),
                present=bool(scores.present[i, j]),
            )
            for j, level in enumerate(self.layout.levels)
        ]

    def gates(
        self, scores: PairScores, i: int, details: Mapping[str, str] | None = None
    ) -> list[GateResult]:
        return gate_results(scores.features[i], details or {})
