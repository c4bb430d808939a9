"""One record's values as the pair features read them, built once per record.

A row takes part in many pairs (its own candidates, and it is a candidate of later rows).
The features that read two records alone (``features.record_pair_features``: codes, numbers,
editions, brands, the record's columns and the eight hard gates of ``variant_gates``) used to
rebuild the same sets from the anchors' tuples on every pair: the words said anywhere, the
variant values of each kind, the quantities by unit, the codes by stem: 35-76 us a pair
before, 22-50 after. Here they are read once per distinct ``Anchors`` (cached like
``alignment``'s reading of a record), and a pair costs its set operations only.

The profile is a pure function of the anchors. ``tests/unit/test_record_profile.py`` holds
its reading to the anchors' own (``Anchors.variants``) and its codes-by-stem lookup to
comparing every code; when it was written, every feature and gate detail of 283k pairs of
17 sources was compared with the per-pair reading it replaced, and all were equal.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from fitrep.anchors import Anchors, _variants_by_kind
from fitrep.transliterate import latin_forms

from index_server.rows.codes import codes_by_stem
from index_server.scoring.alignment import RecordReading, by_unit, reading_of

_NONE: frozenset[str] = frozenset()
EMPTY: Mapping = MappingProxyType({})  # most records have no codes, variants or columns


def _fields(values: tuple[str, ...]) -> dict[str, set[str]]:
    """``"<column>=<its words>"`` -> the column's word set (a later value of a column wins)."""
    out: dict[str, set[str]] = {}
    for v in values:
        key, _, words = v.partition("=")
        out[key] = set(words.split())
    return out


@dataclass(frozen=True, eq=False)
class RecordProfile:
    """What the pair features read of one record (``profile_of``)."""

    anchors: Anchors
    reading: RecordReading  # ``alignment``'s reading (the substitution gate)
    codes_any: frozenset[str]
    codes_by_stem: Mapping[str, tuple[str, ...]]  # ``codes_any`` by ``code_stem``
    number: frozenset[str]
    numbers_any: frozenset[str]
    words_any: frozenset[str]
    tokens: frozenset[str]
    said: frozenset[str]  # ``words_any`` | ``tokens``
    brand: frozenset[str]
    # ``tokens`` and their Cyrillic and Greek ones in Latin letters: what a brand (kept in
    # Latin letters) is compared with
    brand_words: frozenset[str]
    kinds: Mapping[str, tuple[str, ...]]  # ``anchors.variants(kind)`` by kind
    title: Mapping[str, frozenset[str]]  # the same as sets
    anywhere: Mapping[str, frozenset[str]]  # ``anchors.variants(kind, anywhere=True)``
    named: Mapping[str, frozenset[str]]  # ``anywhere`` | ``title``
    read: frozenset[str]  # kinds with values read off the picture only (``variant_read``)
    models: Mapping[str, frozenset[str]]  # a model name -> its numbers ("iphone=13")
    units_any: Mapping[
        str, tuple[float, ...]
    ]  # ``quantity_any`` by unit (the title's: ``reading``)
    fields: Mapping[str, set[str]]

    def values(self, kind: str) -> frozenset[str]:
        return self.title.get(kind, _NONE)

    def values_anywhere(self, kind: str) -> frozenset[str]:
        return self.anywhere.get(kind, _NONE)

    def values_named(self, kind: str) -> frozenset[str]:
        return self.named.get(kind, _NONE)


def _models(values: tuple[str, ...]) -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for value in values:
        word, _, number = value.partition("=")
        out.setdefault(word, set()).add(number)
    return {word: frozenset(numbers) for word, numbers in out.items()}


def _sets(by_kind: Mapping[str, tuple[str, ...]]) -> dict[str, frozenset[str]]:
    return {kind: frozenset(values) for kind, values in by_kind.items()}


@functools.lru_cache(maxsize=1 << 15)
def profile_of(a: Anchors) -> RecordProfile:
    """``a``'s profile (cached: equal anchors share one)."""
    kinds = _variants_by_kind(a.variant)
    title = _sets(kinds)
    anywhere_source = a.variant_any if a.variant_any is not None else a.variant
    anywhere = _sets(_variants_by_kind(anywhere_source))
    named = {k: anywhere.get(k, _NONE) | title.get(k, _NONE) for k in title.keys() | anywhere}
    words_any, tokens = frozenset(a.words_any), frozenset(a.tokens)
    return RecordProfile(
        anchors=a,
        reading=reading_of(a),
        codes_any=frozenset(a.codes_any),
        codes_by_stem=codes_by_stem(a.codes_any) or EMPTY,
        number=frozenset(a.number),
        numbers_any=frozenset(a.numbers_any),
        words_any=words_any,
        tokens=tokens,
        said=words_any | tokens,
        brand=frozenset(a.brand),
        brand_words=tokens | latin_forms(tokens),
        kinds=kinds,
        title=title or EMPTY,
        anywhere=anywhere or EMPTY,
        named=named or EMPTY,
        read=frozenset(v.partition(":")[0] for v in a.variant_read if ":" in v),
        models=_models(kinds.get("model", ())) or EMPTY,
        units_any=by_unit(a.quantity_any) or EMPTY,
        fields=_fields(a.fields) or EMPTY,
    )
