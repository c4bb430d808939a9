"""Pair verification in the full space: level-by-level cosines, anchor agreement and gates.

Retrieval (SPDR + FAISS) only proposes candidates; this module decides. Every input of the
decision is a named feature, so ``explain`` can show all of them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from fitrep.domain import F32, Anchors, GateResult, Level, LevelScore

from index_server.integration import LevelLayout, level_cosines
from index_server.rows.codes import any_compatible
from index_server.rows.tokens import char_grams
from index_server.scoring.calibration import Calibration
from index_server.scoring.idf import idf
from index_server.scoring.image import ImageFeatures, image_pair_features
from index_server.scoring.variant_gates import HARD_GATES, siblings, variant_conflicts

# Soft gates: evidence that two items differ that is too often wrong to veto (codes of two
# numbering systems, a brand written two ways). They enter the logistic score with negative
# coefficients. The hard gates (``variant_gates.HARD_GATES``) veto the same-item decision.
SOFT_GATES = (
    "code_conflict",
    "number_conflict",
    "edition_conflict",
    "edition_mismatch",
    "brand_conflict",
)
GATE_FEATURES = (*HARD_GATES, *SOFT_GATES)
_HARD = frozenset(HARD_GATES)
LEXICAL_FEATURES = (
    "idf_cosine",
    "idf_containment",
    "char_jaccard",
    "unique_min",
    "unique_max",
    "unique_both",
)
# Evidence from the whole record, not only the title: codes anywhere, and the descriptive
# columns both records fill (a paper's authors, a song's artist, a restaurant's city). It is
# what travels between domains whose columns differ: measured leave-one-domain-out in
# ``benchmarks/transfer.py``.
RECORD_FEATURES = ("record_code_overlap", "field_against", "price_gap")
ANCHOR_FEATURES = (
    "code_match",
    "token_jaccard",
    *LEXICAL_FEATURES,
    *RECORD_FEATURES,
    *GATE_FEATURES,
)


class IdfStats(Protocol):
    """Where the verifier reads the idf of title tokens: ``TokenStats`` for pair files,
    ``lexical.LexicalStats`` (the index's interned arrays) in the engine."""

    def idf(self, token: str) -> float: ...

    def extend_to(self, anchors: Sequence[Anchors], end: int | None = None) -> None: ...


@dataclass
class TokenStats:
    """Document frequency of title tokens over the items seen so far (label-free).

    Learned from each input itself (the catalogue being deduplicated, the items of a pair
    file), so "rare" means rare *here*: a brand that names every item of a one-brand
    catalogue carries no evidence, a model code shared by two items carries a lot.
    """

    df: Counter[str] = field(default_factory=Counter)
    docs: int = 0

    def add(self, anchors: Anchors) -> None:
        self.df.update(set(anchors.tokens) | set(anchors.number))
        self.docs += 1

    def add_all(self, anchors: Iterable[Anchors]) -> None:
        for a in anchors:
            self.add(a)

    def extend_to(self, anchors: Sequence[Anchors], end: int | None = None) -> None:
        """Count ``anchors[docs:end]``: rows of an append-only store not seen yet.

        The index decides row i with the statistics of rows 0..i, so the idf an item is
        judged by never depends on items that arrived after it (batch == incremental)."""
        stop = len(anchors) if end is None else min(end, len(anchors))
        for i in range(self.docs, stop):
            self.add(anchors[i])

    def idf(self, token: str) -> float:
        return idf(self.docs, self.df.get(token, 0))


def _idf_overlap(tok_a: set[str], tok_b: set[str], stats: IdfStats | None) -> tuple[float, float]:
    """(cosine, containment) of binary token vectors weighted by idf (uniform without stats).

    Containment divides the shared mass by the smaller side's: a short offer title that is
    wholly inside a long one scores 1 there while its cosine stays low.
    """
    if not tok_a or not tok_b:
        return 0.0, 0.0
    weight = (lambda t: stats.idf(t) ** 2) if stats is not None else (lambda t: 1.0)
    shared = sum(weight(t) for t in tok_a & tok_b)
    mass_a, mass_b = sum(weight(t) for t in tok_a), sum(weight(t) for t in tok_b)
    return shared / math.sqrt(mass_a * mass_b), shared / min(mass_a, mass_b)


def _covered(token: str, other: set[str]) -> bool:
    """Exact, or one spelling extends the other ("landscap" ~ "landscaping", "spy" ~ "spysweeper"
    is not: the shorter must have 4+ letters)."""
    if token in other:
        return True
    return any(
        (len(token) >= 4 and u.startswith(token)) or (len(u) >= 4 and token.startswith(u))
        for u in other
    )


def _uncovered(tokens: set[str], other: set[str], stats: IdfStats | None) -> float:
    """Share of ``tokens``' idf mass that the other item never mentions."""
    if not tokens:
        return 0.0
    weight = {t: stats.idf(t) ** 2 if stats is not None else 1.0 for t in tokens}
    total = sum(weight.values())
    missing = sum(weight[t] for t in tokens if not _covered(t, other))
    return missing / total if total else 0.0


def _jaccard(a: set[str], b: set[str]) -> float:
    union = a | b
    return len(a & b) / len(union) if union else 0.0


def _fields(values: Sequence[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for v in values:
        key, _, words = v.partition("=")
        out[key] = set(words.split())
    return out


def _price_gap(prices: list[float]) -> float:
    """0 within a factor of 1.5 (or when a price is missing), rising to 1 at a factor of 10."""
    if len(prices) != 2 or min(prices) <= 0:
        return 0.0
    return min(max(abs(math.log(prices[0] / prices[1])) - _PRICE_SLACK, 0.0) / _PRICE_SPAN, 1.0)


def record_features(a: Anchors, b: Anchors) -> dict[str, float]:
    """Disagreement of the shared descriptive columns and overlap of the codes anywhere in
    the two records, each in [0, 1] (the chunk bound relies on that range)."""
    codes_a, codes_b = set(a.codes_any), set(b.codes_any)
    fields_a, fields_b = _fields(a.fields), _fields(b.fields)
    common = fields_a.keys() & fields_b.keys()
    agreement = [_jaccard(fields_a[k], fields_b[k]) for k in common]
    prices = [float(x) for x in (*a.price[:1], *b.price[:1])]
    return {
        # Two shops price one item alike; an upgrade, an academic licence or a six-pack is
        # priced apart: the log price ratio beyond a factor of 1.5, 1 at a factor of 10 (0
        # when a price is missing).
        "price_gap": _price_gap(prices),
        # How far the columns both records fill disagree (word overlap below one half); 0
        # without such columns, so a catalogue with no descriptive columns is judged as
        # before. Its mirror, agreement as support, was measured and dropped: it did not
        # transfer (leave-one-domain-out mean 0.818 with it, 0.838 without).
        "field_against": sum(max(1 - 2 * j, 0.0) for j in agreement) / max(len(agreement), 1),
        "record_code_overlap": (
            len(codes_a & codes_b) / min(len(codes_a), len(codes_b)) if codes_a and codes_b else 0.0
        ),
    }


_PRICE_SLACK = math.log(1.5)  # shops' prices of one item differ this much without meaning
_PRICE_SPAN = math.log(10) - _PRICE_SLACK


def level_feature(level: Level) -> str:
    return f"cos_{level.name.lower()}"


def anchor_features(
    a: Anchors,
    b: Anchors,
    stats: IdfStats | None = None,
    known: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Agreement and conflict of two items' anchors (see ``rules._anchors``); ``stats`` gives
    the idf of title tokens for ``idf_cosine``. ``known`` holds the token-overlap features
    (``lexical.FEATURES``) when they were already computed for a whole chunk of pairs."""
    code_a, code_b = a.code, b.code
    code_match = any_compatible(code_a, b.codes_any) or any_compatible(code_b, a.codes_any)
    code_conflict = bool(code_a and code_b and not code_match)

    num_a, num_b = set(a.number), set(b.number)
    number_conflict = bool(
        num_a and num_b and not (num_a & set(b.numbers_any)) and not (num_b & set(a.numbers_any))
    )

    # An edition (upgrade, academic, mac, ...) conflicts when each side names one that the
    # other never mentions; one side naming an edition the other is silent on is weaker.
    words_a, words_b = set(a.words_any), set(b.words_any)
    ed_a = set(a.variants("edition")) - words_b
    ed_b = set(b.variants("edition")) - words_a
    edition_conflict = bool(ed_a and ed_b)
    edition_mismatch = bool(ed_a or ed_b) and not edition_conflict

    brand_a, brand_b = set(a.brand), set(b.brand)
    tok_a, tok_b = set(a.tokens), set(b.tokens)
    brand_conflict = bool(
        brand_a and brand_b and not (brand_a & (brand_b | tok_b)) and not (brand_b & tok_a)
    )
    if known is None:
        idf_cos, idf_contained = _idf_overlap(tok_a | num_a, tok_b | num_b, stats)
        token_jac = _jaccard(tok_a, tok_b)
        char_jac = _jaccard(char_grams(tok_a), char_grams(tok_b))
    else:
        idf_cos, idf_contained = known["idf_cosine"], known["idf_containment"]
        token_jac, char_jac = known["token_jaccard"], known["char_jaccard"]
    # Different products of one series ("professor teaches windows xp" vs "... excel & word")
    # each name something the other never mentions; a short title inside a long one does not.
    uniq_a = _uncovered(tok_a, tok_b | words_b, stats)
    uniq_b = _uncovered(tok_b, tok_a | words_a, stats)
    return {
        "code_match": float(code_match),
        "token_jaccard": token_jac,
        "idf_cosine": idf_cos,
        "idf_containment": idf_contained,
        "char_jaccard": char_jac,
        "unique_min": min(uniq_a, uniq_b),
        # a word swapped for another ("laser checks" vs "continuous checks"), not added
        "unique_both": float(min(uniq_a, uniq_b) > 0),
        "unique_max": max(uniq_a, uniq_b),
        "code_conflict": float(code_conflict),
        "number_conflict": float(number_conflict),
        **{gate: float(bool(detail)) for gate, detail in variant_conflicts(a, b).items()},
        "edition_conflict": float(edition_conflict),
        "edition_mismatch": float(edition_mismatch),
        "brand_conflict": float(brand_conflict),
        **record_features(a, b),
    }


def family_features(a: Anchors, b: Anchors, stats: IdfStats | None) -> dict[str, float]:
    """The token features of ``a`` and ``b`` with the words that name variant values set
    aside (only the pairs a variant gate vetoes need them: elsewhere they are the same)."""
    relaxed: dict[str, float] = {}
    if any(siblings(x, y) for x in a.code for y in b.code):
        relaxed["code_conflict"] = 0.0  # two generations of one model code: the variant itself
    if not (a.variant_words or b.variant_words):
        return relaxed
    skip = set(a.variant_words) | set(b.variant_words)
    tok_a, tok_b = set(a.tokens) - skip, set(b.tokens) - skip
    num_a, num_b = set(a.number), set(b.number)
    idf_cos, idf_contained = _idf_overlap(tok_a | num_a, tok_b | num_b, stats)
    uniq_a = _uncovered(tok_a, tok_b | (set(b.words_any) - skip), stats)
    uniq_b = _uncovered(tok_b, tok_a | (set(a.words_any) - skip), stats)
    return {
        **relaxed,
        "token_jaccard": _jaccard(tok_a, tok_b),
        "idf_cosine": idf_cos,
        "idf_containment": idf_contained,
        "char_jaccard": _jaccard(char_grams(tok_a), char_grams(tok_b)),
        "unique_min": min(uniq_a, uniq_b),
        "unique_max": max(uniq_a, uniq_b),
        "unique_both": float(min(uniq_a, uniq_b) > 0),
    }


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


# A catalogue's correction of a pair's logit from its anchors and features (the
# self-calibration, ``catalogue_fit.SelfCalibration.adjust``); it applies to the same-item score.
PairAdjust = Callable[[Anchors, Anchors, Mapping[str, float]], float]


class PairVerifier:
    """Scores item pairs with the calibrated logistic model."""

    def __init__(
        self, calibration: Calibration, layout: LevelLayout, stats: IdfStats | None = None
    ) -> None:
        self.calibration = calibration
        self.layout = layout
        self.stats: IdfStats = stats if stats is not None else TokenStats()
        self._w = np.array([calibration.weights.get(lv, 0.0) for lv in layout.levels], np.float32)
        self._level_names = [level_feature(lv) for lv in layout.levels]
        self._text = np.array([lv != Level.VISUAL for lv in layout.levels], bool)
        self._visual = np.array([lv == Level.VISUAL for lv in layout.levels], bool)
        self.image_only_shift = float(calibration.modality_shift.get("image_only", 0.0))
        self.adjust: PairAdjust | None = None
        self.max_adjustment = 0.0  # the most ``adjust`` adds to a logit (score bounds)

    def image_only(self, present: np.ndarray) -> np.ndarray:
        """Pairs whose only shared level is VISUAL (``present`` (..., L) -> (...) bool)."""
        return ~(present & self._text).any(axis=-1) & (present & self._visual).any(axis=-1)

    @property
    def threshold(self) -> float:
        return self.calibration.threshold

    def level_logit(self, cos: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(logit part of the level cosines, weighted cosine), for ``cos``/``present`` of any
        leading shape (..., L): one pair list here, a whole chunk in ``ChunkScores``."""
        w = self._w * present
        wsum = w.sum(axis=-1)
        weighted = np.where(wsum > 0, (w * cos).sum(axis=-1) / np.maximum(wsum, 1e-9), 0.0)
        coef = self.calibration.coef
        z = self.calibration.bias + coef.get("weighted_cos", 0.0) * weighted
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
        """``a_vec`` (d,) unweighted full vector; ``b_vecs`` (m, d); images optional."""
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
    ) -> PairScores:
        """``score`` from level cosines already computed ((m, L), as ``level_cosines``), and
        optionally each pair's token-overlap features (see ``anchor_features``)."""
        z, weighted = self.level_logit(cos, present)
        coef = self.calibration.coef
        features = []
        for i, anchors in enumerate(b_anchors):
            f = anchor_features(
                a_anchors, anchors, self.stats, known[i] if known is not None else None
            )
            if a_image or (b_images is not None and b_images[i]):
                f.update(
                    image_pair_features(a_image, b_images[i] if b_images is not None else None)
                )
            z[i] += sum(coef.get(k, 0.0) * v for k, v in f.items() if k not in _HARD)
            features.append(f)
        vetoed = np.array([any(f[g] for g in HARD_GATES) for f in features], bool)
        z_family = z.copy()
        for i in np.flatnonzero(vetoed).tolist():
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
            np.where(vetoed, np.float32(0.0), same).astype(np.float32),
            weighted.astype(np.float32),
            cos,
            present,
            features,
            family,
        )

    def feature_row(self, scores: PairScores, i: int) -> dict[str, float]:
        """Every named input of decision ``i`` (for calibration and explanations)."""
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

    @staticmethod
    def gates(
        scores: PairScores, i: int, details: Mapping[str, str] | None = None
    ) -> list[GateResult]:
        """Every gate of decision ``i``; ``details`` (``variant_conflicts``) say what conflicts."""
        return [
            GateResult(
                name=g,
                fired=bool(scores.features[i][g]),
                detail=(details or {}).get(g, ""),
                hard=g in _HARD,
            )
            for g in GATE_FEATURES
        ]
