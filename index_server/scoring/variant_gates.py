"""Hard gates: two items that name different values of one variant attribute are different
items (SKUs), whatever every other score says.

A gate is a veto, not a logistic feature: a calibrated score can outvote any single feature,
and a 500 ml bottle is not a 1.5 l bottle however alike the two listings read (issue 17). So
the verifier multiplies the same-item probability by "no gate fired", and the calibration is
fitted on the pairs no gate vetoes (``calibration_fit``). Families (same product up to its
variants) are judged by the same score without these gates.

What counts as a conflict is conservative, because a false conflict splits a true duplicate:
an attribute only one side names is no evidence; a title value that the other item names
anywhere (its description, its attributes) is no conflict; quantities are compared in
canonical units with a tolerance (``units.same_size``). ``benchmarks/variants.py`` measures
the gates on labelled pairs: how often each fires on true duplicates.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from fitrep.anchors import VARIANTS, Anchors
from fitrep.units import same_size

from index_server.rows.codes import compatible_with
from index_server.scoring.alignment import (
    identity_conflict,
    identity_conflict_read,
    same_size_label,
)
from index_server.scoring.record_profile import RecordProfile, profile_of

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
# Flavours that tell siblings apart only weakly ("original" beside a named flavour) or that
# are often the product itself ("Schokolade mit Haselnüssen" is the hazelnut bar, "BBQ
# sauce", "coffee capsules"): they conflict with another flavour, never by being one side's
# extra word.
WEAK_FLAVOURS = frozenset({"original", "oat", "soy", "chocolate", "coffee", "bbq"})
# Quantities are variants too, but not a variant kind: they have anchors of their own
# (``Anchors.quantity``, canonical units), so their gate stands beside the table's.
QUANTITY_GATE = "quantity_conflict"
# Two records that substitute one identity value for another of the same type (a brand for a
# brand, navy for beige, a 6-pack for one: ``scoring.alignment``); not a kind of the table
# either: it reads every kind at once, after the aligned values are taken away.
SUBSTITUTION_GATE = "substitution_conflict"


def _fmt(values: Sequence[float], unit: str) -> str:
    return "/".join(f"{v:g} {unit}" for v in sorted(set(values)))


def quantity_conflict(pa: RecordProfile, pb: RecordProfile) -> str:
    """ "500 ml vs 1500 ml" when both titles give quantities of one dimension and each title
    has one that the other item never gives (within tolerance): "4 GB RAM, 500 GB" vs "4 GB
    RAM, 128 GB" conflicts although 4 GB agrees; a size only one title adds does not."""
    qa, qb = pa.reading.quantities, pb.reading.quantities
    if not (qa and qb):
        return ""
    qa_any, qb_any = pa.units_any, pb.units_any
    for unit in sorted(qa.keys() & qb.keys()):
        if qa[unit] == qb[unit]:  # each value is the other's (a size is its own size)
            continue
        other_b, other_a = qb_any.get(unit, ()) + qb[unit], qa_any.get(unit, ()) + qa[unit]
        a_extra = [x for x in qa[unit] if not any(same_size(x, y) for y in other_b)]
        b_extra = [x for x in qb[unit] if not any(same_size(x, y) for y in other_a)]
        if a_extra and b_extra:
            return f"{_fmt(a_extra, unit)} vs {_fmt(b_extra, unit)}"
    return ""


def _disjoint(kind: str, pa: RecordProfile, pb: RecordProfile) -> str:
    """Both titles name this kind, and no value of one is named anywhere in the other."""
    va, vb = pa.title.get(kind), pb.title.get(kind)
    if not va or not vb:
        return ""
    if va & pb.values_anywhere(kind) or vb & pa.values_anywhere(kind):
        return ""
    return f"{'/'.join(sorted(va))} vs {'/'.join(sorted(vb))}"


def size_conflict(pa: RecordProfile, pb: RecordProfile) -> str:
    """Both titles name a size, and no size of one is named anywhere in the other ("42" after
    a size marker is the "EU 42" of the other; "US 9" is not)."""
    va, vb = pa.values("size"), pb.values("size")
    if not va or not vb:
        return ""
    any_a, any_b = pa.values_named("size"), pb.values_named("size")
    if any(same_size_label(x, y) for x in va for y in any_b) or any(
        same_size_label(x, y) for x in vb for y in any_a
    ):
        return ""
    return f"{'/'.join(sorted(va))} vs {'/'.join(sorted(vb))}"


def flavour_conflict(pa: RecordProfile, pb: RecordProfile) -> str:
    """Both titles name a flavour or scent, and one names a (strong) flavour the other never
    mentions, or each names one the other never mentions: "chocolate" vs "chocolate/peanut
    butter" and "original" vs "chocolate" conflict; "original/orange" vs "orange" and
    "hazelnut" vs "chocolate/hazelnut" do not (``WEAK_FLAVOURS``)."""
    fa, fb = pa.values("flavour"), pb.values("flavour")
    if not fa or not fb:
        return ""
    any_a, any_b = pa.values_named("flavour"), pb.values_named("flavour")
    if "flavour" in pa.read or "flavour" in pb.read:
        # Flavours read off a picture are partial (one side of the pack) and misread: they
        # conflict only when each side has a strong flavour the other never names ("vanilla"
        # vs "blueberry"), not as a superset ("orange/grapefruit" vs "orange") nor through a
        # product-line word ("oat" vs "original"). Measured on 300 grocery train photos:
        # vetoes of same-product pairs 62 -> 4 of 1,354.
        sa, sb = fa - WEAK_FLAVOURS, fb - WEAK_FLAVOURS
        if (sa - any_b) and (sb - any_a):
            return f"{'/'.join(sorted(fa))} vs {'/'.join(sorted(fb))}"
        return ""
    extra = (fa - WEAK_FLAVOURS - any_b) | (fb - WEAK_FLAVOURS - any_a)
    if extra or ((fa - any_b) and (fb - any_a)):
        return f"{'/'.join(sorted(fa))} vs {'/'.join(sorted(fb))}"
    return ""


def tier_conflict(pa: RecordProfile, pb: RecordProfile) -> str:
    """The tiers both titles name differ ("Pro" vs "Pro Max"); or one title binds a tier to
    the model both name ("iPhone 13 Pro" vs "iPhone 13") and the other never mentions it.
    A loose tier word only one side has ("yeast pro", "ultra-compact") is no evidence."""
    ta, tb = pa.values("tier"), pb.values("tier")
    if ta == tb:
        return ""
    if ta and tb:
        return f"{'/'.join(sorted(ta))} vs {'/'.join(sorted(tb))}"
    a, b = pa.anchors, pb.anchors
    same_model = pa.values("model") & pb.values("model") or set(a.code) & set(b.code)
    one, other = (pa, pb) if ta else (pb, pa)
    said = other.said
    unsaid = [
        t for t in one.kinds.get("mtier", ()) if t not in said and _ALSO.get(t, t) not in said
    ]
    if same_model and unsaid:
        names = "/".join(sorted(unsaid))
        return f"{names} vs none" if one is pa else f"none vs {names}"
    return ""


_ALSO = {"pro": "professional"}  # a tier also written out in full


def model_conflict(pa: RecordProfile, pb: RecordProfile) -> str:
    """One model name with another number ("iphone 8" vs "iphone 7"), or sibling model codes
    ("wh1000xm4" vs "wh1000xm5", "s20" vs "s21"), and no number or code of one title named
    anywhere in the other."""
    ma, mb = pa.models, pb.models
    nums_a, nums_b = pa.numbers_any, pb.numbers_any
    for word in sorted(ma.keys() & mb.keys()):
        if not (ma[word] & (mb[word] | nums_b)) and not (mb[word] & (ma[word] | nums_a)):
            return f"{word} {'/'.join(sorted(ma[word]))} vs {word} {'/'.join(sorted(mb[word]))}"
    for x in pa.anchors.code:
        if compatible_with(x, pb.codes_by_stem):
            continue
        for y in pb.anchors.code:
            if siblings(x, y) and not compatible_with(y, pa.codes_by_stem):
                return f"{x} vs {y}"
    return ""


def siblings(x: str, y: str) -> bool:
    """Two codes of one model line: letters and digits both, the same length (after
    dropping a trailing letter suffix), differing in one or two places of which one is a
    digit ("s20"/"s21", "wh1000xm4"/"wh1000xm5"), or, in codes of 6+ characters, in one
    place of any kind ("dwt18v3s"/"dwf18v3s")."""
    x, y = x.rstrip(_LETTERS) or x, y.rstrip(_LETTERS) or y
    if x == y or len(x) != len(y) or len(x) < 2:
        return False
    if not (any(c.isdigit() for c in x) and any(c.isalpha() for c in x)):
        return False
    diff = [(p, q) for p, q in zip(x, y, strict=True) if p != q]
    if len(diff) == 1 and len(x) >= 6:
        return True
    if len(diff) > (1 if len(x) < 5 else 2):
        return False
    return any(p.isdigit() or q.isdigit() for p, q in diff)


# A gate reads the two records' profiles (``record_profile``: each record's sets built once,
# not on every pair) and says what conflicts ("" when it does not fire).
Gate = Callable[[RecordProfile, RecordProfile], str]


def _disjoint_gate(kind: str) -> Gate:
    return functools.partial(_disjoint, kind)


def _substitution(pa: RecordProfile, pb: RecordProfile) -> str:
    return identity_conflict(pa.anchors, pb.anchors)


def _substitution_fires(pa: RecordProfile, pb: RecordProfile) -> bool:
    return identity_conflict_read(pa.anchors, pb.anchors, pa.reading, pb.reading)


# The gate of each gated kind of ``fitrep.anchors.VARIANTS``, by kind name (the table says
# which kinds are gated and the gate's name; ``test_variant_table`` holds the two together).
KIND_GATES: dict[str, Gate] = {
    "colour": _disjoint_gate("colour"),
    "flavour": flavour_conflict,
    "size": size_conflict,
    "tier": tier_conflict,
    "gen": _disjoint_gate("gen"),
    "model": model_conflict,
}
_GATES: tuple[tuple[str, Gate], ...] = (
    (QUANTITY_GATE, quantity_conflict),
    *((kind.gate, KIND_GATES[kind.name]) for kind in VARIANTS if kind.gate),
    (SUBSTITUTION_GATE, _substitution),
)
HARD_GATES = tuple(name for name, _ in _GATES)
# Whether each gate fires, which is all scoring reads: the substitution gate answers that
# without building the detail (``has_identity_conflict``, held equal to it by a test).
_FIRES: tuple[tuple[str, Callable[[RecordProfile, RecordProfile], object]], ...] = tuple(
    (name, _substitution_fires if name == SUBSTITUTION_GATE else gate) for name, gate in _GATES
)
# ``has_conflict`` asks the cheapest first and stops at the first that fires
_COST = {QUANTITY_GATE: 1, SUBSTITUTION_GATE: 2}
_CHEAPEST_FIRST = sorted(_FIRES, key=lambda gate: _COST.get(gate[0], 0))


def variant_conflicts(a: Anchors, b: Anchors) -> dict[str, str]:
    """Each hard gate's detail ("" when it did not fire): what ``explain`` shows."""
    pa, pb = profile_of(a), profile_of(b)
    return {name: gate(pa, pb) for name, gate in _GATES}


def fired_gates(a: Anchors, b: Anchors) -> dict[str, bool]:
    """Whether each hard gate fires (``variant_conflicts`` without the details)."""
    return fired_between(profile_of(a), profile_of(b))


def fired_between(pa: RecordProfile, pb: RecordProfile) -> dict[str, bool]:
    """``fired_gates`` of two records' profiles."""
    return {name: bool(fires(pa, pb)) for name, fires in _FIRES}


def has_conflict(a: Anchors, b: Anchors) -> bool:
    """Whether any hard gate fires (cheapest kinds first, stopping at the first)."""
    pa, pb = profile_of(a), profile_of(b)
    return any(fires(pa, pb) for _, fires in _CHEAPEST_FIRST)
