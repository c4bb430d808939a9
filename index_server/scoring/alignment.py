"""Evidence from aligning two records: what they disagree on, typed.

Two listings of one item say the same things in another order, casing or spelling, and
add words that sell ("new", "free shipping"); two sibling items say the same things except
one, which each names its own way (navy for beige, a 6-pack for a single can, "8" for
"8a"). So the two records' title values are aligned first, every value that the other
record names anywhere (exactly: words match whole; quantities in canonical units within
tolerance; codes with their separators removed; CJK as bigrams, Latin accents folded, as the
parser gives them) is agreement, and what is left on each side is typed:

- a **substitution**: both sides have a value of one kind that the other never names (a
  brand for a brand, a colour for a colour, a pack of 6 for a single unit of one size, a
  model number for the same number with a suffix);
- an **addition**: one side only (a marketing word, a category word, a colour one listing
  leaves out).

A substitution of an identity kind (``CONFLICT_KINDS``) is a conflict however alike the rest
of the two records reads: a shared template cannot outvote it. Additions are weak evidence.
Nothing here needs a word list: types come from the parse (quantities, codes, numbers) and
from the variant attributes the extractor read (colour, size, generation, ...).

``comparison_levels(alignment)`` is the stable summary that per-catalogue calibration fits
weights on (one comparison vector per pair, Fellegi-Sunter style): for every kind of
``KINDS`` an integer level

    0 = agree (both sides name a value of the kind and agree on all of it),
    1 = nothing to compare (neither side names one),
    2 = addition (one side names a value the other does not),
    3 = substitution (each side names one the other never does).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from fitrep.domain import Anchors
from fitrep.transliterate import latin_forms
from fitrep.units import read_quantity, same_size

from index_server.rows.codes import codes_compatible

KINDS = (
    "brand",
    "code",
    "quantity",
    "pack",
    "size",
    "colour",
    "generation",
    "flavour",
    "tier",
    "number",
    "word",
)
# Kinds whose substitution is a hard conflict (the others have gates of their own or are
# too weak alone: another word is often a synonym).
CONFLICT_KINDS = ("brand", "pack", "size", "colour", "generation")
AGREE, ABSENT, ADDITION, SUBSTITUTION = 0, 1, 2, 3
# the extractor's variant kinds (``Anchors.variants``) -> kinds here
_VARIANT_KINDS = {"colour": "colour", "size": "size", "gen": "generation", "flavour": "flavour"}
_VARIANT_KINDS |= {"tier": "tier"}
_SUFFIXED = re.compile(r"^(\d{1,4})([a-z])$")  # "8a", "6s": a model number and a suffix
_SIZE = re.compile(r"^([a-z]*)(\d+(?:\.\d+)?)$")  # "eu42" -> ("eu", "42")


@dataclass(frozen=True)
class Difference:
    """One thing the two records disagree on: ``left``/``right`` are the values of the kind
    that only that side names ("" when it names none: an addition)."""

    kind: str
    left: str
    right: str

    @property
    def substitution(self) -> bool:
        return bool(self.left and self.right)

    def __str__(self) -> str:
        return f"{self.kind} {self.left or 'none'} vs {self.right or 'none'}"


@dataclass(frozen=True)
class Alignment:
    """The kinds both records agree on, and the typed differences."""

    agreed: frozenset[str]
    differences: tuple[Difference, ...]
    matched: frozenset[str] = frozenset()  # kinds of which some value is on both sides
    # one brand stated by a brand column, the other read off a title: a distributor in the
    # column against the publisher first in the title, or a title that starts with no brand
    # at all ("bobby walters academy award winners")
    brand_guessed_once: bool = False
    # a brand read off a picture (OCR's first word): a misreading or a slogan as often as a
    # brand, on one photo of a package and not on the next
    brand_read: bool = False

    @property
    def substitutions(self) -> tuple[Difference, ...]:
        return tuple(d for d in self.differences if d.substitution)

    @property
    def additions(self) -> tuple[Difference, ...]:
        return tuple(d for d in self.differences if not d.substitution)

    def conflicts(self) -> tuple[Difference, ...]:
        """Substitutions of an identity kind: the two records name two items. Two brand
        names on records that share a model code are one item sold under two names (a
        maker and its label: "Terk" and "Audiovox" CNP2000H); nor is a brand a column
        states against one read off the other's title (``brand_guessed_once``), nor one read
        off a picture (``brand_read``): that stays soft evidence (the verifier's
        ``brand_conflict``)."""
        weak_brand = "code" in self.matched or self.brand_guessed_once or self.brand_read
        return tuple(
            d
            for d in self.substitutions
            if d.kind in CONFLICT_KINDS and not (d.kind == "brand" and weak_brand)
        )


@dataclass(frozen=True)
class RecordReading:
    """One record's title values by kind, and everything it names anywhere."""

    values: dict[str, frozenset[str]]
    model_numbers: frozenset[str]  # numbers that follow a model name ("pixel 8")
    quantities: dict[str, tuple[float, ...]]  # title quantities by canonical unit
    quantities_any: dict[str, tuple[float, ...]]
    said: frozenset[str]  # words, numbers, brand anywhere
    codes_any: tuple[str, ...]
    variants_any: dict[str, frozenset[str]]
    # ``said``'s words of 3 letters or more by their first 3: the only ones a brand can be
    # written short of (``_written_short``), so a brand is not compared with every word
    said_by_prefix: dict[str, tuple[str, ...]]
    # the numbers of the title's suffixed codes ("8" of "8a"): what a generation read off a
    # suffix needs the other side to name as a model number
    suffix_numbers: frozenset[str] = frozenset()


def by_unit(texts: tuple[str, ...]) -> dict[str, tuple[float, ...]]:
    """The quantities of ``texts`` by canonical unit (``units.read_quantity``)."""
    out: dict[str, list[float]] = {}
    for text in texts:
        if (q := read_quantity(text)) is not None:
            out.setdefault(q[1], []).append(q[0])
    return {unit: tuple(v) for unit, v in out.items()}


@functools.lru_cache(maxsize=1 << 15)
def reading_of(a: Anchors) -> RecordReading:
    codes = frozenset(a.code)
    typed = set(a.variant_words) | codes | set(a.brand)
    values = {
        "brand": frozenset(a.brand),
        "code": codes,
        "number": frozenset(a.number),
        "word": frozenset(t for t in a.tokens if t not in typed),
    }
    variants_any: dict[str, frozenset[str]] = {}
    for source, kind in _VARIANT_KINDS.items():
        values[kind] = frozenset(a.variants(source))
        variants_any[kind] = frozenset(a.variants(source, anywhere=True)) | values[kind]
    said = frozenset(a.words_any) | frozenset(a.tokens) | frozenset(a.numbers_any)
    models = frozenset(m.partition("=")[2] for m in a.variants("model"))
    said |= frozenset(a.brand) | latin_forms(said)
    by_prefix: dict[str, list[str]] = {}
    for word in said:
        if len(word) >= 3:
            by_prefix.setdefault(word[:3], []).append(word)
    return RecordReading(
        values,
        models,
        by_unit(a.quantity),
        by_unit(a.quantity_any + a.quantity),
        said,
        a.codes_any + a.code,
        variants_any,
        {k: tuple(v) for k, v in by_prefix.items()},
        frozenset(m.group(1) for c in codes if (m := _SUFFIXED.match(c))),
    )


def same_size_label(x: str, y: str) -> bool:
    """ "42" (after a size marker) and "eu42" name one size; "us9" and "eu42" do not."""
    if x == y:
        return True
    mx, my = _SIZE.match(x), _SIZE.match(y)
    return bool(mx and my and mx.group(2) == my.group(2) and not (mx.group(1) and my.group(1)))


def _written_short(
    mine: str, theirs: str, mine_said: frozenset[str], theirs_said: frozenset[str]
) -> bool:
    """One brand written two ways: "polkaudio" against "polk" with "audio" beside it. The
    longer name is the shorter one plus a word the record with the shorter one also says; a
    bare prefix is not enough ("Hovek" and "Hovekmar" are two brands of a template
    catalogue, and their titles agree on everything else)."""
    if len(mine) == len(theirs):
        return False
    (short, short_said), (long, _) = sorted(
        ((mine, mine_said), (theirs, theirs_said)), key=lambda side: len(side[0])
    )
    return len(short) >= 3 and long.startswith(short) and long[len(short) :] in short_said


def _left_over(kind: str, mine: RecordReading, other: RecordReading) -> set[str]:
    """``mine``'s title values of ``kind`` that ``other`` names nowhere."""
    values = mine.values[kind]
    if not values:  # most kinds of most titles (18 calls an alignment)
        return set()
    if kind == "brand":  # "polk" is "polkaudio" written short
        return {
            v
            for v in values
            if v not in other.said
            and not any(
                _written_short(v, z, mine.said, other.said)
                for z in other.said_by_prefix.get(v[:3], ())
            )
        }
    if kind in ("word", "number"):
        return {v for v in values if v not in other.said}
    if kind == "code":
        return {v for v in values if not any(codes_compatible(v, z) for z in other.codes_any)}
    named = other.variants_any[kind]
    if kind == "size":
        return {v for v in values if not any(same_size_label(v, z) for z in named)}
    return {v for v in values if v not in named}


def _extra(mine: RecordReading, other: RecordReading, unit: str) -> list[float]:
    """``mine``'s title quantities of ``unit`` that ``other`` never gives (within tolerance)."""
    theirs = other.quantities_any.get(unit, ())
    return [x for x in mine.quantities.get(unit, ()) if not any(same_size(x, y) for y in theirs)]


def _quantities(
    a: RecordReading, b: RecordReading
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Title quantities of each side that the other never gives, by unit (units without
    any left out)."""
    out_a: dict[str, list[float]] = {}
    out_b: dict[str, list[float]] = {}
    for mine, other, out in ((a, b, out_a), (b, a, out_b)):
        for unit in mine.quantities:
            if extra := _extra(mine, other, unit):
                out[unit] = extra
    return out_a, out_b


def _fmt(values: list[float], unit: str) -> str:
    return "/".join(f"{v:g} {unit}" for v in sorted(set(values)))


def _counted_alike(a: RecordReading, b: RecordReading) -> bool:
    """Both name the unit a pack would count: one quantity (not a pack) or one size."""
    shared_quantity = any(
        unit != "pack" and unit in b.quantities_any and unit in a.quantities_any
        for unit in a.quantities
    )
    return shared_quantity or bool(a.values["size"] and b.values["size"])


def _pack_against_single(
    sa: RecordReading, sb: RecordReading, pack_a: list[float], pack_b: list[float]
) -> Difference | None:
    """A pack of several on one side, a single unit of the same size on the other (the
    packs each side gives that the other does not: ``pack_a``, ``pack_b``)."""
    if bool(pack_a) == bool(pack_b) or not _counted_alike(sa, sb):
        return None
    counts = [n for n in pack_a or pack_b if n > 1]
    other = sb if pack_a else sa
    said = [*other.quantities_any.get("count", ()), *map(float, other.values["number"])]
    single = "pack" not in other.quantities_any and not set(counts) & set(said)
    if not (counts and single):
        return None
    many = _fmt(counts, "pack")
    return Difference("pack", *((many, "1 pack") if pack_a else ("1 pack", many)))


def align(a: Anchors, b: Anchors) -> Alignment:
    """Align two records' title values (see the module docstring) and type what is left."""
    sa, sb = reading_of(a), reading_of(b)
    left = {k: _left_over(k, sa, sb) for k in sa.values}
    right = {k: _left_over(k, sb, sa) for k in sb.values}
    matched = {k for k in sa.values if sa.values[k] - left[k]}
    diffs: list[Difference] = []
    # a model number on one side, the same number with a suffix on the other ("8" vs "8a")
    for mine, theirs, flip in ((left, right, False), (right, left, True)):
        for code in sorted(theirs["code"]):
            m = _SUFFIXED.match(code)
            if (
                m
                and m.group(1) in mine["number"]
                and m.group(1) in (sb if flip else sa).model_numbers
            ):
                mine["number"].discard(m.group(1))
                theirs["code"].discard(code)
                pair = (code, m.group(1)) if flip else (m.group(1), code)
                diffs.append(Difference("generation", *pair))
    qa, qb = _quantities(sa, sb)
    for unit in sorted(qa.keys() | qb.keys()):
        kind = "pack" if unit == "pack" else "quantity"
        diffs.append(Difference(kind, _fmt(qa.get(unit, []), unit), _fmt(qb.get(unit, []), unit)))
    if single := _pack_against_single(sa, sb, qa.get("pack", []), qb.get("pack", [])):
        diffs = [d for d in diffs if d.kind != "pack"]
        diffs.append(single)
    for kind in KINDS:
        if kind in ("quantity", "pack"):
            continue
        la, lb = left.get(kind, set()), right.get(kind, set())
        if la or lb:
            diffs.append(Difference(kind, "/".join(sorted(la)), "/".join(sorted(lb))))
    differing = {d.kind for d in diffs}
    agreed = {
        kind for kind in sa.values if kind not in differing and sa.values[kind] and sb.values[kind]
    }
    if sa.quantities and sb.quantities and not differing & {"quantity", "pack"}:
        agreed |= {"pack" if u == "pack" else "quantity" for u in sa.quantities}
    matched |= agreed
    guessed_once = bool(a.brand_from) != bool(b.brand_from)
    read = a.brand_read or b.brand_read
    return Alignment(frozenset(agreed), tuple(diffs), frozenset(matched), guessed_once, read)


def comparison_levels(alignment: Alignment) -> dict[str, int]:
    """Per kind of ``KINDS``: 0 agree, 1 nothing to compare, 2 addition, 3 substitution."""
    levels = {kind: AGREE if kind in alignment.agreed else ABSENT for kind in KINDS}
    for d in alignment.differences:
        levels[d.kind] = max(levels[d.kind], SUBSTITUTION if d.substitution else ADDITION)
    return levels


def identity_conflict(a: Anchors, b: Anchors) -> str:
    """The identity substitutions of two records ("colour navy vs beige"), "" when none."""
    return "; ".join(map(str, align(a, b).conflicts()))


def has_identity_conflict(a: Anchors, b: Anchors) -> bool:
    """``bool(identity_conflict(a, b))``, without the whole alignment where the answer is
    plain from fewer kinds: scoring asks it of every candidate pair and reads only whether
    the gate fired (an alignment builds all eleven kinds and the details' strings; the
    identity kinds alone cost a fraction). It aligns in full wherever the cheap reading
    cannot settle it (a suffixed model code; a brand substituted on records with codes),
    so the two agree on every pair (``test_alignment`` holds them together)."""
    return identity_conflict_read(a, b, reading_of(a), reading_of(b))


def identity_conflict_read(a: Anchors, b: Anchors, sa: RecordReading, sb: RecordReading) -> bool:
    """``has_identity_conflict`` with the two records' readings at hand (``record_profile``
    keeps them: no cache lookup a pair)."""
    for kind in ("colour", "size", "generation"):  # substituted: a conflict, no exceptions
        if (
            sa.values[kind]
            and sb.values[kind]
            and _left_over(kind, sa, sb)
            and _left_over(kind, sb, sa)
        ):
            return True
    if "pack" in sa.quantities or "pack" in sb.quantities:
        pack_a, pack_b = _extra(sa, sb, "pack"), _extra(sb, sa, "pack")
        if (pack_a and pack_b) or _pack_against_single(sa, sb, pack_a, pack_b):
            return True
    if sb.suffix_numbers & sa.model_numbers or sa.suffix_numbers & sb.model_numbers:
        return bool(align(a, b).conflicts())  # "8" against "8a": a generation, maybe
    if not (sa.values["brand"] and sb.values["brand"]):
        return False
    if bool(a.brand_from) != bool(b.brand_from) or a.brand_read or b.brand_read:
        return False  # a brand substitution would be a weak one (``Alignment.conflicts``)
    if not (_left_over("brand", sa, sb) and _left_over("brand", sb, sa)):
        return False
    # a brand for a brand: a conflict unless a model code agrees, which needs codes
    return True if not sa.values["code"] else bool(align(a, b).conflicts())
