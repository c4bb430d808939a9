"""Discrete comparison levels of a pair: the evidence the self-calibration fits.

One level per comparison (``self_calibration.LEVEL_NAMES``): 0 agree, 1 nothing to compare,
2 one side only (addition), 3 both sides with different values (substitution). The levels
must not repeat one another (the Fellegi–Sunter model assumes them independent given the
class): a fuzzy title similarity that also moves with brand and colour would count those
twice, which is how plain EM learned a brand weight near zero on a template catalogue. So
the ``word`` comparison looks only at the words that no other comparison types.

``verifier_levels`` derives them from what the verifier computes today (its gates, codes,
brands and variant values). ``LEVEL_SOURCE`` is the one place to switch to another source
of typed differences, e.g. a token alignment's ``comparison_levels``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import numpy.typing as npt
from fitrep.domain import Anchors

AGREE, ABSENT, ADDITION, SUBSTITUTION = 0, 1, 2, 3

# (comparison, the verifier's gates that mark a substitution, the variant kinds it reads)
_VARIANT_COMPARISONS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("colour", ("colour_conflict",), ("colour",)),
    ("flavour", ("flavour_conflict",), ("flavour",)),
    ("size", ("size_conflict",), ("size",)),
    ("generation", ("generation_conflict", "tier_conflict"), ("gen", "tier")),
)
COMPARISONS = ("brand", "code", "quantity", *(c for c, _, _ in _VARIANT_COMPARISONS), "word")


def _level(conflict: bool, a_has: bool, b_has: bool) -> int:
    if conflict:
        return SUBSTITUTION
    if a_has and b_has:
        return AGREE
    return ADDITION if a_has or b_has else ABSENT


def _own_words(a: Anchors) -> set[str]:
    """Title words no other comparison types: not a brand, code, number or variant value."""
    typed = set(a.brand) | set(a.code) | set(a.number) | set(a.variant_words)
    return {t for t in a.tokens if t not in typed and not any(c.isdigit() for c in t)}


def _word_level(a: Anchors, b: Anchors) -> int:
    wa, wb = _own_words(a), _own_words(b)
    if not wa or not wb:
        return ABSENT
    said_a, said_b = set(a.tokens) | set(a.words_any), set(b.tokens) | set(b.words_any)
    extra_a, extra_b = bool(wa - said_b), bool(wb - said_a)
    if extra_a and extra_b:
        return SUBSTITUTION
    return ADDITION if extra_a or extra_b else AGREE


# The verifier's gates that mark each typed comparison's substitution (the "word" comparison
# has none: its substitution is read off the anchors). One table for the levels and for the
# self-calibration's per-pair correction (``catalogue_fit.SelfCalibration.pair_adjust``).
SUBSTITUTION_GATES: dict[str, tuple[str, ...]] = {
    "brand": ("brand_conflict",),
    "code": ("code_conflict", "model_conflict"),
    "quantity": ("quantity_conflict",),
    **{name: gates for name, gates, _ in _VARIANT_COMPARISONS},
}


def substituted(name: str, features: Mapping[str, float]) -> bool:
    """Whether a pair with the verifier's ``features`` shows comparison ``name`` (one of
    ``SUBSTITUTION_GATES``) at its substitution level: one of its gates fired (for codes:
    and no code of one side matches the other's)."""
    if name == "code" and features.get("code_match"):
        return False
    return any(features.get(g) for g in SUBSTITUTION_GATES[name])


def verifier_levels(a: Anchors, b: Anchors, features: Mapping[str, float]) -> dict[str, int]:
    """Levels of a pair from its anchors and the verifier's features (``anchor_features``)."""
    out = {
        "brand": _level(substituted("brand", features), bool(a.brand), bool(b.brand)),
        "code": (
            AGREE
            if features.get("code_match")
            else _level(substituted("code", features), bool(a.code), bool(b.code))
        ),
        "quantity": _level(substituted("quantity", features), bool(a.quantity), bool(b.quantity)),
    }
    for name, _, kinds in _VARIANT_COMPARISONS:
        a_has = any(a.variants(kind) for kind in kinds)
        b_has = any(b.variants(kind) for kind in kinds)
        out[name] = _level(substituted(name, features), a_has, b_has)
    out["word"] = _word_level(a, b)
    return out


LevelSource = Callable[[Anchors, Anchors, Mapping[str, float]], Mapping[str, int]]
# Where the levels come from: switch here to a typed alignment's levels.
LEVEL_SOURCE: LevelSource = verifier_levels


def level_matrix(
    anchor_pairs: Sequence[tuple[Anchors, Anchors]],
    features: Sequence[Mapping[str, float]],
    names: Sequence[str] = COMPARISONS,
    source: LevelSource | None = None,
) -> npt.NDArray[np.int64]:
    """(n, len(names)) levels of n pairs; a comparison the source does not give is ABSENT."""
    source = source or LEVEL_SOURCE
    out = np.full((len(anchor_pairs), len(names)), ABSENT, np.int64)
    for i, ((a, b), f) in enumerate(zip(anchor_pairs, features, strict=True)):
        got = source(a, b, f)
        out[i] = [got.get(n, ABSENT) for n in names]
    return out
