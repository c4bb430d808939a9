"""Tokenising product text into the roles CHIE needs: codes, quantities, numbers, words.

Pure functions over strings, shared by the rules backend and by the vLLM backend's
anchor normalisation, so that both tiers agree on what a model code or quantity is.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from mllm_server.chie.lexicon import ABBREVIATIONS, UNITS

_TAG = re.compile(r"<[^>]+>")
_TOKEN = re.compile(r"[a-z0-9]+(?:[.\-/][a-z0-9]+)*|''|[\"'%]")
_NUM_UNIT = re.compile(r"^(\d+(?:\.\d+)?)([a-z%]+)$")
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
_HAS_DIGIT = re.compile(r"\d")
_HAS_ALPHA = re.compile(r"[a-z]")
_VERSION = re.compile(r"^v(\d+(?:\.\d+)?)$")  # "v22", "v2.0": a version number, not a code


def normalise(text: str) -> str:
    """Lower-case, unescape HTML and drop tags: catalogue text often carries markup."""
    return _TAG.sub(" ", html.unescape(text or "")).lower()


def code_key(token: str) -> str:
    """Canonical form of a model/part code: separators removed ("DSC-W120" -> "dscw120")."""
    return re.sub(r"[.\-/]", "", token)


def _number_key(value: str) -> str:
    """ "2.0" and "2" are the same quantity; keep a stable string form."""
    number = float(value)
    return f"{number:g}"


@dataclass
class ParsedText:
    """Roles of the tokens of one text, in order of appearance."""

    words: list[str] = field(default_factory=list)  # plain alphabetic words
    codes: list[str] = field(default_factory=list)  # code_key() of alphanumeric codes
    code_surface: list[str] = field(default_factory=list)  # as written, for display
    quantities: list[tuple[str, str]] = field(default_factory=list)  # (number, unit)
    numbers: list[str] = field(default_factory=list)  # bare numbers: versions, years, sizes
    tokens: list[str] = field(default_factory=list)  # every token, normalised
    # Codes written across adjacent tokens ("010-10823 01"): only ever matched against, never
    # a conflict, since most adjacent tokens are not one code.
    joined_codes: list[str] = field(default_factory=list)


def parse(text: str, max_tokens: int = 400) -> ParsedText:
    """Split ``text`` into words, codes, quantities and bare numbers.

    A number followed by a unit (attached or not) is a quantity; a token with both letters
    and digits is a code; a long digit string (>= 5) is a part number, i.e. a code.
    """
    raw = _TOKEN.findall(normalise(text))[:max_tokens]
    out = ParsedText()
    i = 0
    while i < len(raw):
        tok = raw[i]
        nxt = raw[i + 1] if i + 1 < len(raw) else ""
        attached = _NUM_UNIT.match(tok)
        if attached and attached.group(2) in UNITS:
            out.quantities.append((_number_key(attached.group(1)), UNITS[attached.group(2)]))
            out.tokens.append(tok)
        elif _VERSION.match(tok):
            out.numbers.append(_number_key(_VERSION.match(tok).group(1)))  # type: ignore[union-attr]
            out.tokens.append(tok)
        elif _NUMBER.match(tok):
            unit = UNITS.get(nxt.strip("."))
            # "2.0 cu . ft" style: a unit after a stray separator token is common in scraped text.
            if unit is not None:
                out.quantities.append((_number_key(tok), unit))
                out.tokens.extend([tok, nxt])
                i += 1
            elif "." not in tok and len(tok) >= 5:
                out.codes.append(tok)
                out.code_surface.append(tok)
                out.tokens.append(tok)
            else:
                out.numbers.append(_number_key(tok))
                out.tokens.append(tok)
        elif _HAS_DIGIT.search(tok) and not _HAS_ALPHA.search(tok) and len(code_key(tok)) >= 5:
            # "010-10613-00": a part number written with separators is still a code.
            out.codes.append(code_key(tok))
            out.code_surface.append(tok)
            out.tokens.append(tok)
        elif _HAS_DIGIT.search(tok) and _HAS_ALPHA.search(tok):
            key = code_key(tok)
            if len(key) >= 2:
                out.codes.append(key)
                out.code_surface.append(tok)
            out.tokens.append(tok)
        elif _HAS_ALPHA.search(tok):
            for part in re.split(r"[.\-/]", tok):
                if part:
                    out.words.append(ABBREVIATIONS.get(part, part))
            out.tokens.append(tok)
        i += 1
    for n in (2, 3):
        for j in range(len(raw) - n + 1):
            key = code_key("".join(raw[j : j + n]))
            if len(key) >= 5 and _HAS_DIGIT.search(key) and key.isalnum():
                out.joined_codes.append(key)
    return out


_MONTHS = re.compile(r"jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec")
_PLAIN_NUMBER = re.compile(r"^[$€£]?\s*\d+(?:[.,]\d+)?\s*%?$")


def identifier_key(value: str) -> str:
    """The canonical identifier a whole field value is, or "" when it is not one.

    A column's role is read from its values, never from its name (``modelno``, ``phone``,
    ``isbn``, ``sku`` differ in every catalogue): a value whose every token carries a digit,
    with at least 5 letters-or-digits of which 3 are digits, is an identifier, written any way
    ("212/759 -5941" = "212-759-5941", "NST-D100S2" = "nstd100s2"). Plain numbers (prices,
    years, percentages; an integer of 5+ digits is an identifier), times and dates are not.
    """
    text = normalise(value).strip()
    tokens = text.split()
    long_integer = text.isdigit() and len(text) >= 5  # "07627": a part number, not an amount
    if not tokens or ":" in text or _MONTHS.search(text):
        return ""
    if _PLAIN_NUMBER.match(text) and not long_integer:
        return ""
    if not all(_HAS_DIGIT.search(t) for t in tokens):
        return ""
    key = re.sub(r"[^a-z0-9]", "", text)
    return key if len(key) >= 5 and sum(c.isdigit() for c in key) >= 3 else ""


_LANGUAGE_TAG = re.compile(r"\"?@[a-z]{2}(?:-[a-z]{2,4})?\b", re.IGNORECASE)  # RDF '"..."@en'
_SEGMENTS = re.compile(r"\s+[\u2022\u00bb]\s+|\s+::\s+|\s*\|\s*")


def split_offer_title(title: str) -> tuple[str, str]:
    """(the product part of a web-offer title, its boilerplate).

    Scraped titles carry language tags (``"..."@en``) and a shop or site name after a bar
    ("Air Max 90 366731-100 | Foot Locker"). The segment that names the product is the one
    with the most tokens (a code counts double: it names a model); the others are boilerplate
    (AUXILIARY), so a shop name shared by all its offers cannot make them alike.
    """
    text = _LANGUAGE_TAG.sub(" ", title or "")
    segments = [seg.strip(" \"'") for seg in _SEGMENTS.split(text) if seg.strip(" \"'")]
    if len(segments) <= 1:
        return (segments[0] if segments else text.strip()), ""

    def weight(seg: str) -> int:
        tokens = seg.split()
        return len(tokens) + sum(bool(_HAS_DIGIT.search(t)) for t in tokens)

    core = max(range(len(segments)), key=lambda i: (weight(segments[i]), -i))
    return segments[core], " ".join(seg for i, seg in enumerate(segments) if i != core)


def format_quantity(quantity: tuple[str, str]) -> str:
    number, unit = quantity
    return f"{number} {unit}"
