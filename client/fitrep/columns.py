"""Column roles: which columns of a catalogue describe the product and which the listing.

Two listings of one item differ in price, rating, stock, seller, URL and dates as a matter of
course; comparing those columns made true pairs look like strangers (a ``rating`` column gave
``field_against`` 1.0 between two listings of one phone). So every column gets a role
(``ColumnRole``): ``identity`` and ``text`` columns reach concept extraction, ``listing`` and
``ignore`` columns never do (``ColumnRoles.identity_view``), so they are never evidence for or
against identity. They stay in the item for what is not identity: ``--representative
column:NAME`` reads the whole item.

A role comes from, first to last: the user (``--columns NAME=ROLE,...``), the column's name
(``column_names``, several languages), the data (a column whose values disagree among records
that agree on title and codes describes the listing), else ``identity`` as before roles
existed. Every decision keeps its reason for summary.json, the report and ``explain``.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from fitrep.column_names import ColumnRole, is_price_name, role_by_name
from fitrep.domain import InvalidInput, Item

__all__ = [
    "ColumnDecision",
    "ColumnRole",
    "ColumnRoles",
    "column_lines",
    "infer_roles",
    "parse_columns",
]

# A column is read as the listing's when its values differ in at least this share of the
# groups of records that agree on title and codes, seen in at least ``_MIN_GROUPS`` groups.
_DIFFER_SHARE = 0.5
_MIN_GROUPS = 2
# Prose, not a value: read as text (the rules backend compares only short column values).
_PROSE_WORDS = 24
_CURRENCY = re.compile(r"[$€£¥₹₽¤]|\b(?:usd|eur|gbp|czk|kč|kc|chf|jpy|cny|rmb|pln|zł)\b", re.I)
_NUMBER = re.compile(r"^[+-]?\d[\d.,'\s\u00a0]*(?:/\s*\d+)?%?$")
_CODE = re.compile(r"^(?=.*\d)[0-9a-z]{5,}$")
_FOLD = re.compile(r"[\W_]+")
_LEFT_OUT = (ColumnRole.LISTING, ColumnRole.IGNORE)


@dataclass(frozen=True)
class ColumnDecision:
    """A column's role and why it got it (one short phrase)."""

    role: ColumnRole
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"role": self.role.value, "reason": self.reason}


@dataclass(frozen=True)
class ColumnRoles:
    """The role of every column: ``decided`` for the columns of one catalogue (``infer_roles``),
    ``overrides`` from the user; a column neither names is decided by its name alone (a
    server sees items one at a time, without a catalogue to read the data of)."""

    decided: Mapping[str, ColumnDecision] = field(default_factory=dict)
    overrides: Mapping[str, ColumnRole] = field(default_factory=dict)

    def decision(self, name: str) -> ColumnDecision:
        key = name.strip().lower()
        if key in self.decided:
            return self.decided[key]
        if key in self.overrides:
            return ColumnDecision(self.overrides[key], "set by --columns")
        return _by_name(key)

    def role(self, name: str) -> ColumnRole:
        return self.decision(name).role

    def identity_view(self, item: Item) -> Item:
        """``item`` as concept extraction sees it: listing and ignored columns left out; a
        text column stands in for an empty ``text``. The item itself is unchanged."""
        kept: dict[str, str] = {}
        text = item.text
        for key, value in item.attributes.items():
            role = self.role(key)
            if role is ColumnRole.TEXT and not text.strip():
                text = value
            elif role not in _LEFT_OUT:
                kept[key] = value
        if text == item.text and len(kept) == len(item.attributes):
            return item
        return replace(item, text=text, attributes=kept)

    def price_columns(self, item: Item) -> dict[str, str]:
        """``{"price": value}`` of the item's first listing column whose name says price (in
        any language the names table knows), else ``{}``: what the calibrated price gap
        reads (``ConceptEngine``)."""
        for key, value in item.attributes.items():
            if self.role(key) is ColumnRole.LISTING and is_price_name(key):
                if any(c.isdigit() for c in value):
                    return {"price": value}
        return {}

    def wire_view(self, item: Item) -> Item:
        """``item`` as sent to a concept server, which knows roles by name (and its own
        ``--columns``) but not this catalogue's data: a column these roles leave out and its
        name would not is left out here. (It is then not there for ``column:NAME`` either.)"""
        by_name = ColumnRoles()
        kept = {
            k: v
            for k, v in item.attributes.items()
            if self.role(k) not in _LEFT_OUT or by_name.role(k) in _LEFT_OUT
        }
        return item if len(kept) == len(item.attributes) else replace(item, attributes=kept)

    def columns_of(self, role: ColumnRole) -> list[str]:
        return sorted(k for k, d in self.decided.items() if d.role is role)

    def to_json(self) -> dict[str, dict[str, str]]:
        """``{column: {"role": ..., "reason": ...}}`` by column name, for summary.json."""
        return {k: d.to_json() for k, d in sorted(self.decided.items())}

    def lines(self) -> list[str]:
        """One ``column: role (reason)`` line per column, for ``explain`` and the report."""
        return [f"{k}: {d.role.value} ({d.reason})" for k, d in sorted(self.decided.items())]


@functools.lru_cache(maxsize=4096)
def _by_name(key: str) -> ColumnDecision:
    named = role_by_name(key)
    if named is None:
        return ColumnDecision(ColumnRole.IDENTITY, "unknown name, no data: compared as before")
    role, word = named
    return ColumnDecision(role, f"name says {word!r}")


def parse_columns(
    spec: str | Iterable[str] | None, flag: str = "--columns"
) -> dict[str, ColumnRole]:
    """``"price=listing,EAN=identity"`` (or several such strings) -> ``{name: role}``; a bad
    entry raises ``InvalidInput`` naming it and the roles there are."""
    if spec is None:
        return {}
    parts = [spec] if isinstance(spec, str) else list(spec)
    out: dict[str, ColumnRole] = {}
    choices = ", ".join(r.value for r in ColumnRole)
    for entry in (e.strip() for part in parts for e in part.split(",")):
        if not entry:
            continue
        name, sep, role = entry.partition("=")
        name, role = name.strip().lower(), role.strip().lower()
        if not sep or not name:
            raise InvalidInput(flag, f"entry {entry!r} is not NAME=ROLE (roles: {choices})")
        try:
            out[name] = ColumnRole(role)
        except ValueError:
            raise InvalidInput(
                flag, f"entry {entry!r}: role {role!r} is not one of {choices}"
            ) from None
    return out


def infer_roles(
    items: Sequence[Item], overrides: Mapping[str, ColumnRole] | None = None
) -> ColumnRoles:
    """The role of every attribute column of ``items``, each with its reason."""
    overrides = {k.strip().lower(): v for k, v in (overrides or {}).items()}
    values: dict[str, list[str]] = defaultdict(list)
    for item in items:
        for key, value in item.attributes.items():
            if value.strip():
                values[key.strip().lower()].append(value)
    decided: dict[str, ColumnDecision] = {}
    unknown: list[str] = []
    for column in values:
        if column in overrides:
            decided[column] = ColumnDecision(overrides[column], "set by --columns")
        elif role_by_name(column) is not None:
            decided[column] = _by_name(column)
        else:
            unknown.append(column)
    if unknown:
        groups = _agreeing_groups(items, [c for c, d in decided.items() if _binds(d)])
        for column in unknown:
            decided[column] = _by_data(column, values[column], groups)
    return ColumnRoles(decided, overrides)


def _binds(decision: ColumnDecision) -> bool:
    return decision.role is ColumnRole.IDENTITY


def _fold(text: str) -> str:
    return _FOLD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def _attributes(item: Item) -> dict[str, str]:
    return {k.strip().lower(): _fold(v) for k, v in item.attributes.items() if v.strip()}


def _agreeing_groups(
    items: Sequence[Item], identity_columns: list[str]
) -> list[list[dict[str, str]]]:
    """Groups (2+ records, each as its folded attributes) that agree on the title and on
    every identity column both fill, plus records that share a code-valued identity column
    (an EAN, an MPN): those are one item, so what differs among them is the listing."""
    by_key: dict[tuple[str, ...], list[dict[str, str]]] = defaultdict(list)
    for item in items:
        attrs = _attributes(item)
        title = _fold(item.title)
        if title:
            key = (title, *(attrs.get(c, "") for c in identity_columns))
            by_key[("title", *key)].append(attrs)
        for column in identity_columns:
            code = attrs.get(column, "").replace(" ", "")
            if _CODE.match(code):
                by_key[("code", column, code)].append(attrs)
    return [g for g in by_key.values() if len(g) > 1]


def _numeric(value: str) -> bool:
    return bool(_NUMBER.match(_CURRENCY.sub("", value).strip()))


def _by_data(column: str, values: list[str], groups: list[list[dict[str, str]]]) -> ColumnDecision:
    """A column no name decides: prose is text; values that differ among records agreeing on
    title and codes, and that are numbers or nearly all distinct (prices, counts, links,
    dates), are the listing's; the rest stay identity."""
    words = sum(len(v.split()) for v in values) / len(values)
    if words > _PROSE_WORDS:
        return ColumnDecision(ColumnRole.TEXT, f"values are prose ({words:.0f} words on average)")
    compared = differ = 0
    for group in groups:
        seen = {attrs[column] for attrs in group if column in attrs}
        if sum(column in attrs for attrs in group) > 1:
            compared += 1
            differ += len(seen) > 1
    if compared < _MIN_GROUPS:
        return ColumnDecision(
            ColumnRole.IDENTITY,
            f"unknown name; {compared} group(s) of records with one title to compare: "
            "compared as before",
        )
    among = f"of {compared} groups of records with one title and code"
    share = f"values differ in {differ} {among}"
    if differ / compared < _DIFFER_SHARE:
        return ColumnDecision(ColumnRole.IDENTITY, f"values agree in {compared - differ} {among}")
    numeric = sum(map(_numeric, values)) / len(values)
    distinct = len(set(map(_fold, values))) / len(values)
    if numeric >= 0.8 or distinct >= 0.8:
        return ColumnDecision(ColumnRole.LISTING, share)
    return ColumnDecision(
        ColumnRole.IDENTITY, f"{share}, but its values repeat like a variant attribute's"
    )


def column_lines(summary_json: Path) -> list[str]:
    """``explain``'s lines on the column roles a run used (from its summary.json): which
    columns were compared and which were left out as the listing's, each with its reason."""
    try:
        decided = json.loads(summary_json.read_text()).get("columns") or {}
    except (OSError, ValueError):
        return []
    return [
        f"column {name}: {d.get('role')} ({d.get('reason')}){_use(name, d)}"
        for name, d in decided.items()
    ]


def _use(name: str, decision: Mapping[str, str]) -> str:
    if decision.get("role") == ColumnRole.LISTING.value and is_price_name(name):
        return "; counts only as a price gap of 1.5x or more"
    if decision.get("role") in (ColumnRole.LISTING.value, ColumnRole.IGNORE.value):
        return "; never evidence of identity"
    return ""
