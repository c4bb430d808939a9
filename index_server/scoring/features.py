"""What a pair is judged by: its named features, whatever model turns them into a score.

Every input of a decision is a named feature, so ``explain`` can show all of them: anchor
agreement and conflict (codes, numbers, editions, brands), the title tokens
(``token_features``), the hard variant gates (``variant_gates``), the whole record, the photos
(``image``) and any further source registered in ``SOURCES``. A scorer (``scorer.PairScorer``)
reads them; the level cosines come from the vectors.
"""

from __future__ import annotations

import functools
import importlib
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from fitrep.domain import Anchors, GateResult, Level

from index_server.rows.codes import compatible_with
from index_server.scoring.image import ImageFeatures, image_pair_features
from index_server.scoring.record_profile import RecordProfile, profile_of
from index_server.scoring.token_features import TokenStats, jaccard, token_features
from index_server.scoring.variant_gates import HARD_GATES, fired_between, siblings

# Soft gates: evidence that two items differ that is too often wrong to veto (codes of two
# numbering systems, a brand written two ways). They enter the score like any feature. The
# hard gates (``variant_gates.HARD_GATES``) veto the same-item decision.
SOFT_GATES = (
    "code_conflict",
    "number_conflict",
    "edition_conflict",
    "edition_mismatch",
    "brand_conflict",
)
GATE_FEATURES = (*HARD_GATES, *SOFT_GATES)
HARD = frozenset(HARD_GATES)

FeatureSource = Callable[[Anchors, Anchors, "TokenStats | None"], Mapping[str, float]]
# Further evidence of a pair, by name: "module:function" with ``FeatureSource``'s signature,
# each feature in [0, 1] (the chunk bound in ``logistic`` relies on that range), imported on
# first use. A new source is its module and one entry here; ``fitrep calibrate`` fits its
# coefficients and every scorer reads it like the built-in features.
SOURCES: dict[str, str] = {}


@functools.cache
def _source(target: str) -> FeatureSource:
    module, name = target.split(":")
    source: FeatureSource = getattr(importlib.import_module(module), name)
    return source


def level_feature(level: Level) -> str:
    return f"cos_{level.name.lower()}"


_PRICE_SLACK = math.log(1.5)  # shops' prices of one item differ this much without meaning
_PRICE_SPAN = math.log(10) - _PRICE_SLACK


def _price_gap(prices: list[float]) -> float:
    """0 within a factor of 1.5 (or when a price is missing), rising to 1 at a factor of 10."""
    if len(prices) != 2 or min(prices) <= 0:
        return 0.0
    return min(max(abs(math.log(prices[0] / prices[1])) - _PRICE_SLACK, 0.0) / _PRICE_SPAN, 1.0)


def record_features(a: Anchors, b: Anchors) -> dict[str, float]:
    """Disagreement of the shared descriptive columns and overlap of the codes anywhere in
    the two records, each in [0, 1] (the chunk bound relies on that range).

    Evidence from the whole record, not only the title (a paper's authors, a song's artist, a
    restaurant's city): it is what travels between domains whose columns differ, measured
    leave-one-domain-out in ``benchmarks/transfer.py``."""
    return _record_features(profile_of(a), profile_of(b))


def _record_features(pa: RecordProfile, pb: RecordProfile) -> dict[str, float]:
    codes_a, codes_b = pa.codes_any, pb.codes_any
    fields_a, fields_b = pa.fields, pb.fields
    # in a fixed order: a set of strings iterates in an order that changes with the process's
    # hash seed, and the sum below would move in its last bit between processes (the
    # pair-feature worker and the join, or two runs)
    common = sorted(fields_a.keys() & fields_b.keys())
    agreement = [jaccard(fields_a[k], fields_b[k]) for k in common]
    prices = [float(x) for x in (*pa.anchors.price[:1], *pb.anchors.price[:1])]
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


# The features ``record_pair_features`` gives, in the order ``anchor_features`` lists them
# (``code_match`` first, the title tokens' after it: the logistic sum runs in that order).
RECORD_PAIR_FEATURES = (
    "code_match",
    "code_conflict",
    "number_conflict",
    *HARD_GATES,
    "edition_conflict",
    "edition_mismatch",
    "brand_conflict",
    "price_gap",
    "field_against",
    "record_code_overlap",
)


def record_pair_features(a: Anchors, b: Anchors) -> dict[str, float]:
    """The features of a pair that read the two records alone, not the token statistics of
    the rows around them (``RECORD_PAIR_FEATURES``): codes, numbers, editions, brands, the
    hard gates and the record's columns. Being a function of the pair only, they can be
    computed anywhere, ahead of the join (``pair_prefetch``). Each record's sets are read
    once (``record_profile``), not on every pair."""
    pa, pb = profile_of(a), profile_of(b)
    code_a, code_b = a.code, b.code
    code_match = any(compatible_with(x, pb.codes_by_stem) for x in code_a) or any(
        compatible_with(y, pa.codes_by_stem) for y in code_b
    )
    code_conflict = bool(code_a and code_b and not code_match)

    num_a, num_b = pa.number, pb.number
    number_conflict = bool(
        num_a and num_b and not (num_a & pb.numbers_any) and not (num_b & pa.numbers_any)
    )

    # An edition (upgrade, academic, mac, ...) conflicts when each side names one that the
    # other never mentions; one side naming an edition the other is silent on is weaker.
    ed_a = pa.values("edition") - pb.words_any
    ed_b = pb.values("edition") - pa.words_any
    edition_conflict = bool(ed_a and ed_b)
    edition_mismatch = bool(ed_a or ed_b) and not edition_conflict

    brand_a, brand_b = pa.brand, pb.brand
    brand_conflict = bool(
        brand_a
        and brand_b
        and not (a.brand_read or b.brand_read)
        and not (brand_a & (brand_b | pb.brand_words))
        and not (brand_b & pa.brand_words)
    )
    return {
        "code_match": float(code_match),
        "code_conflict": float(code_conflict),
        "number_conflict": float(number_conflict),
        **{gate: float(fired) for gate, fired in fired_between(pa, pb).items()},
        "edition_conflict": float(edition_conflict),
        "edition_mismatch": float(edition_mismatch),
        "brand_conflict": float(brand_conflict),
        **_record_features(pa, pb),
    }


def anchor_features(
    a: Anchors,
    b: Anchors,
    stats: TokenStats | None = None,
    known: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Agreement and conflict of two items' anchors (see ``rules._anchors``); ``stats`` gives
    the idf of title tokens. ``known`` holds the token overlaps (``lexical.FEATURES``) when
    they were already computed for a whole chunk of pairs, and the ``record_pair_features``
    when those were computed ahead (``pair_prefetch``)."""
    fixed = known if known is not None and "code_match" in known else record_pair_features(a, b)
    out = {"code_match": fixed["code_match"], **token_features(a, b, stats, known=known)}
    out.update((name, fixed[name]) for name in RECORD_PAIR_FEATURES[1:])
    for target in SOURCES.values():
        out.update(_source(target)(a, b, stats))
    return out


def pair_features(
    a: Anchors,
    b: Sequence[Anchors],
    stats: TokenStats | None,
    a_image: ImageFeatures | None = None,
    b_images: Sequence[ImageFeatures | None] | None = None,
    known: Sequence[Mapping[str, float]] | None = None,
) -> list[dict[str, float]]:
    """The features of ``a`` against each of ``b``: its anchors', and the photos' where
    either side has one."""
    out = []
    for i, anchors in enumerate(b):
        f = anchor_features(a, anchors, stats, known[i] if known is not None else None)
        b_image = b_images[i] if b_images is not None else None
        if a_image or b_image:
            f.update(image_pair_features(a_image, b_image))
        out.append(f)
    return out


def family_features(a: Anchors, b: Anchors, stats: TokenStats | None) -> dict[str, float]:
    """The features of ``a`` and ``b`` that change with the words naming variant values set
    aside (only the pairs a variant gate vetoes need them: elsewhere they are the same)."""
    relaxed: dict[str, float] = {}
    if any(siblings(x, y) for x in a.code for y in b.code):
        relaxed["code_conflict"] = 0.0  # two generations of one model code: the variant itself
    if not (a.variant_words or b.variant_words):
        return relaxed
    skip = frozenset(a.variant_words) | frozenset(b.variant_words)
    return {**relaxed, **token_features(a, b, stats, skip)}


def vetoed(
    features: Sequence[Mapping[str, float]], gates: Sequence[str] = HARD_GATES
) -> np.ndarray:
    """(n,) bool: pairs one of ``gates`` (default: every hard gate) decides (different items
    whatever the score)."""
    return np.array([any(f.get(g, 0.0) for g in gates) for f in features], bool)


def gate_results(features: Mapping[str, float], details: Mapping[str, str]) -> list[GateResult]:
    """Every gate of one pair; ``details`` (``variant_conflicts``) say what conflicts."""
    return [
        GateResult(name=g, fired=bool(features[g]), detail=details.get(g, ""), hard=g in HARD)
        for g in GATE_FEATURES
    ]
