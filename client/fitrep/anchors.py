"""Anchors: the normalised facts of one item that the verifier gates on, and the table of
variant kinds they name.

Both CHIE backends write anchors and the index tier reads them; stores, caches and the wire
hold them as JSON. A variant anchor is ``"<kind>:<value>"``, so the kind names are part of the
contract: ``VARIANTS`` defines each kind once, with the hard gate that compares it. Each tier
implements its own column of the table by kind name (CHIE the extractors in
``mllm_server.chie.variants``, the index the gates in ``index_server.scoring.variant_gates``);
``tests/unit/test_variant_table.py`` holds both against it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from fitrep.transliterate import to_latin


@dataclass(frozen=True)
class VariantKind:
    """One kind of variant attribute: a different value of it is a different item (SKU).
    ``gate`` names the hard gate that compares it ("" when no gate of its own does)."""

    name: str
    gate: str = ""


VARIANTS: tuple[VariantKind, ...] = (
    VariantKind("colour", "colour_conflict"),
    VariantKind("flavour", "flavour_conflict"),
    VariantKind("size", "size_conflict"),
    VariantKind("tier", "tier_conflict"),
    VariantKind("mtier"),  # a tier bound to a model number ("13 Pro"): read by tier_conflict
    VariantKind("gen", "generation_conflict"),
    VariantKind("model", "model_conflict"),  # a number naming a model ("iphone=13")
    VariantKind("edition"),  # upgrade, academic, mac...: soft gates of the verifier
    VariantKind("other"),  # a variant a model named that no word list knows: never gated on
)
VARIANT_KINDS = tuple(kind.name for kind in VARIANTS)
# ``Anchors.brand_from`` of a brand read off the title, not stated by a column
BRAND_GUESSED = "title"
# ... and of one read off the item's picture (OCR: the first word the reader found, often a
# slogan or a misreading on another photo of the same package)
BRAND_READ = "picture"


def variant_kind(value: str) -> tuple[str, str]:
    """``(kind, value)`` of a variant anchor; a bare word is a colour (earlier versions)."""
    kind, sep, rest = value.partition(":")
    return (kind, rest) if sep and kind in VARIANT_KINDS else ("colour", value)


@functools.lru_cache(maxsize=1 << 16)
def _variants_by_kind(source: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """``source``'s values grouped by kind, in order: the verifier asks for each kind of
    both items of every pair it scores, and one row takes part in many pairs."""
    out: dict[str, list[str]] = {}
    for kind, value in map(variant_kind, source):
        out.setdefault(kind, []).append(value)
    return {kind: tuple(values) for kind, values in out.items()}


@dataclass(frozen=True)
class Anchors:
    """Normalised facts of one item that the verifier gates on; both CHIE backends produce
    them and the index tier reads them. Serialised (store, cache, wire) with these field
    names as JSON keys, empty fields left out.

    ``code_any`` / ``number_any`` are ``None`` when a backend did not say (then the title's
    own ``code`` / ``number`` stand in, see ``codes_any``), which is not the same as saying
    "none anywhere" (an empty tuple).
    """

    brand: tuple[str, ...] = ()
    # ``(BRAND_GUESSED,)`` when the brand is read off the title (its first word, "... by Brand"),
    # ``(BRAND_READ,)`` off the picture; empty when a brand column states it (or the backend
    # did not say)
    brand_from: tuple[str, ...] = ()
    code: tuple[str, ...] = ()  # model/part codes of the title, canonical form
    code_any: tuple[str, ...] | None = None  # codes anywhere in the item
    quantity: tuple[str, ...] = ()  # "<number> <unit>" of the title
    quantity_any: tuple[str, ...] = ()
    number: tuple[str, ...] = ()  # bare numbers of the title
    number_any: tuple[str, ...] | None = None
    # "<kind>:<value>" of the title (see ``VARIANT_KINDS``); a bare word is a colour (the
    # form of earlier versions, still read from stores and caches)
    variant: tuple[str, ...] = ()
    variant_any: tuple[str, ...] | None = None  # the same anywhere in the item
    tokens: tuple[str, ...] = ()  # the title's core words and codes
    variant_words: tuple[str, ...] = ()  # tokens that name a variant value ("vanilla")
    words_any: tuple[str, ...] = ()  # every content word of the item (bounded)
    fields: tuple[str, ...] = ()  # "<column>=<its words>" of each descriptive attribute
    price: tuple[str, ...] = ()  # the listed price, a plain number (shops differ, 4x do not)
    # variant values read off the item's picture only (OCR): a partial, noisy reading
    variant_read: tuple[str, ...] = ()

    @property
    def codes_any(self) -> tuple[str, ...]:
        return self.code if self.code_any is None else self.code_any

    @property
    def numbers_any(self) -> tuple[str, ...]:
        return self.number if self.number_any is None else self.number_any

    @property
    def colours(self) -> tuple[str, ...]:
        return self.variants("colour")

    @property
    def brand_read(self) -> bool:
        """The brand is OCR's first word off the picture (``BRAND_READ``): as often a slogan
        or a misreading as a brand, so never evidence that two items differ."""
        return BRAND_READ in self.brand_from

    def variants(self, kind: str, anywhere: bool = False) -> tuple[str, ...]:
        """Values of one variant kind, of the title (or ``anywhere`` in the item)."""
        source = self.variant_any if anywhere and self.variant_any is not None else self.variant
        return _variants_by_kind(source).get(kind, ())

    @classmethod
    def from_json(cls, data: Mapping[str, Iterable[str]] | None) -> Anchors:
        """From the JSON form (unknown keys ignored: no reader uses them)."""
        if not data:
            return cls()
        values: dict[str, Any] = {
            name: tuple(map(str, value)) for name, value in data.items() if name in _FIELD_SET
        }
        return cls(**values)

    def to_json(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name in _FIELD_NAMES:
            value = getattr(self, name)
            if value or (value is not None and name in _SAID_NONE):
                out[name] = list(value)
        return out

    def merged(self, override: Anchors) -> Anchors:
        """These anchors with every field ``override`` has replaced (a model's answer over the
        text rules). A brand the model names is stated, not the rules' guess, and kept in
        Latin letters as the rules keep theirs (``fitrep.transliterate``: "Самсунг" from a
        model that copies the title is "samsung")."""
        mine = self.to_json()
        theirs = override.to_json()
        if override.brand:
            mine.pop("brand_from", None)
            theirs["brand"] = [to_latin(b) for b in override.brand]
        return Anchors.from_json({**mine, **theirs})


_SAID_NONE = ("code_any", "number_any", "variant_any")  # () = "none anywhere", not "not said"
# in declaration order (the JSON key order), named once: readers unpack anchors by the thousand
_FIELD_NAMES = tuple(f.name for f in fields(Anchors))
_FIELD_SET = frozenset(_FIELD_NAMES)
