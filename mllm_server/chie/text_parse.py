"""Tokenising product text into the roles CHIE needs: codes, quantities, numbers, words.

Pure functions over strings, shared by the rules backend and by the vLLM backend's
anchor normalisation, so that both tiers agree on what a model code or quantity is.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

import ftfy
import regex
from fitrep.units import CJK_UNITS, canonical, format_number, to_float

from mllm_server.chie.lexicon import ABBREVIATIONS, COUNTED_WORDS, STOPWORDS
from mllm_server.chie.variant_lexicon import (
    GENERATION_WORDS,
    SHOE_SYSTEMS,
    SIZE_MARKERS,
    SIZE_WORDS,
)

_TAG = re.compile(r"<[^>]+>")
# Letters of every script (\p{L} with their marks), digits; "." "-" "/" join the parts of a
# code or a decimal, "," only between digits (a decimal comma: "0,5 l").
_TOKEN = regex.compile(
    r"[\p{L}\p{M}\p{N}]+(?:(?:[.\-/]|(?<=\p{N}),(?=\p{N}))[\p{L}\p{M}\p{N}]+)*|''|[\"'%″”“×*]"
    r"|[,;:()\[\]|]|(?<=\s)[-–—](?=\s)"
)
_PUNCTUATION = frozenset(",;:()[]|-–—")
BOUNDARY = ","  # where a phrase ends (punctuation): in ``ParsedText.sequence`` only
_CJK = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}ー]+")
_NUMBER = re.compile(r"^\d+(?:[.,]\d+)?$")
_NUM_UNIT = regex.compile(r"^(\d+(?:[.,]\d+)?)-?(\p{L}+|%)$")
_MULTIPACK = regex.compile(r"^(\d+)[x×*](\d+(?:[.,]\d+)?)(\p{L}+)$")
_MULTIPACK_BARE = regex.compile(r"^(\d+)[x×*](\d+(?:[.,]\d+)?)$")  # its unit is the next token
_HAS_DIGIT = re.compile(r"\d")
_HAS_ALPHA = regex.compile(r"\p{L}")
_HAS_LOWER = regex.compile(r"\p{Ll}")
_LENGTH_UNIT = "mm"  # the canonical unit of lengths (``units``)
_TIMES = re.compile(r"^[x×](\d{1,3})$")
_NETWORK = re.compile(r"^[2-6]g$")  # "5G" is a phone network, not five grams
_VERSION = re.compile(r"^v(\d+(?:\.\d+)?)$")  # "v22", "v2.0": a version number, not a code
_MOJIBAKE = re.compile("[ÃÂÅÄÐÑâ][\u0080-\u00bf\u2018-\u203a\u0152-\u0178\u02c6\u02dc€]")
# Rewrites before tokenising: count phrases to "<n> pack", "3 in 1" kept as one token,
# "fl oz" as one unit, a multiplication sign between numbers as the word "x".
_PACK_WORDS = "pack|set|lot|case|box|pk|packung|baleni|boite|paquet|sachet|etui|coffret"
_REWRITES = (
    (
        regex.compile(rf"\b(?:{_PACK_WORDS}) (?:of|de|mit|a) (\d+)\b"),
        r" \1 pack ",
    ),
    (regex.compile(r"\b(\d+) ?er[- ]?(?:pack|packung)\b"), r" \1 pack "),
    (regex.compile(r"\b(\d+) ?-? ?in ?-? ?(\d)\b"), r" \1in\2 "),
    (regex.compile(r"\bfl\.? ?oz\b"), " floz "),
    (regex.compile(r"(?<=\d) ?[×*] ?(?=\d)"), " x "),
    # a plus after a model code is the Plus tier ("Galaxy S10+" = "Galaxy S10 Plus"); not after
    # a bare number ("ages 3+", "50+ pieces") or inside a name ("black+decker", "c++")
    (regex.compile(r"(?<![\p{L}\p{N}])(\p{L}{1,6}\d{1,4}\p{L}?)\+(?![\p{L}\p{N}+])"), r"\1 plus "),
)
_LATIN_MAX = 0x024F  # accents are folded on Latin letters only: kana and Cyrillic marks matter
# Latin letters whose mark is part of the letter (no NFD decomposition), folded like accents:
# Polish "złoty", Danish "rød", Croatian "đ" meet their plain spellings.
_STROKED = {"ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ŧ": "t", "æ": "ae", "œ": "oe"}


def _fold_latin(text: str) -> str:
    if text.isascii():
        return text
    out: list[str] = []
    for ch in unicodedata.normalize("NFD", text):
        if (
            unicodedata.combining(ch)
            and out
            and (ord(out[-1]) <= _LATIN_MAX or 0x1E00 <= ord(out[-1]) <= 0x1EFF)
        ):
            continue
        out.append(_STROKED.get(ch, ch))
    return unicodedata.normalize("NFC", "".join(out))


def normalise(text: str) -> str:
    """Text as every reader of it compares it: mojibake repaired ("Ã©" -> "é"), HTML unescaped
    and tags dropped, NFKC (full-width digits, ligatures), case-folded ("ß" -> "ss"), and the
    accents of Latin letters folded ("Crème" and "Creme" meet)."""
    text = html.unescape(text or "")
    if _MOJIBAKE.search(text):
        text = ftfy.fix_text(text)
    text = unicodedata.normalize("NFKC", _TAG.sub(" ", text)).casefold()
    return _fold_latin(text)


def code_key(token: str) -> str:
    """Canonical form of a model/part code: separators removed ("DSC-W120" -> "dscw120")."""
    return re.sub(r"[.\-/]", "", token)


# "TEW 760": an upper-case letter prefix and a model number written apart, the same code as
# "TEW-760" and "TEW760". Only casing tells a code prefix from a word ("Pixel 8", "rider 1200",
# "size 10"), so the words before it must not be upper case too ("SPARKLING WATER (PACK OF 12)",
# with or without a lower-case marketing tail); a stopword, a size system or marker before the
# number ("EU 42", "GR 38") or a unit after it ("TV 55 inch", "AA 2500 mAh") is no code.
_SPACED_CODE = regex.compile(
    r"(?<![\p{L}\p{N}.,/\-])([A-Z]{2,4}) (\d{2,5})(?![\p{L}\p{N}]|[.,/\-]\p{N})\s*(\S*)"
)
_NOT_CODE_PREFIXES = STOPWORDS | SHOE_SYSTEMS | SIZE_MARKERS | SIZE_WORDS | GENERATION_WORDS


def _spaced_code(m: regex.Match[str]) -> str:
    letters, number, after = m.group(1), m.group(2), m.group(3)
    unit_after = bool(after) and (
        after[0] in "\"'″”%" or canonical(1.0, after.casefold().strip(".,")) is not None
    )
    cased = _HAS_LOWER.search(m.string, 0, m.start()) is not None
    if not cased or letters.casefold() in _NOT_CODE_PREFIXES or unit_after:
        return m.group(0)
    return m.group(0).replace(f"{letters} {number}", f"{letters}{number}", 1)


def join_spaced_codes(text: str) -> str:
    """``text`` with model codes written apart joined ("Raon TEW 760" -> "Raon TEW760"; see
    ``_SPACED_CODE``)."""
    return _SPACED_CODE.sub(_spaced_code, text)


def _number_key(value: str) -> str:
    """ "2.0" and "2" are the same number; keep a stable string form."""
    return f"{to_float(value):g}"


def _quantity(value: str, unit: str) -> tuple[str, str] | None:
    """``(number, canonical unit)`` with the number in that unit; None if ``unit`` is none."""
    found = canonical(to_float(value), unit)
    return None if found is None else (format_number(found[0]), found[1])


def _quantity_parts(token: str) -> list[str]:
    """The parts of a "/"-joined token whose first part is a quantity, else []."""
    parts = [p for p in token.split("/") if p]
    first = _NUM_UNIT.match(parts[0]) if len(parts) > 1 else None
    return parts if first and canonical(1.0, first.group(2)) else []


def cjk_bigrams(run: str) -> list[str]:
    """Words of a CJK run without a dictionary: overlapping character pairs (one character
    stays itself). Bigrams match whatever the segmentation, which a dictionary would fix."""
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


@dataclass
class ParsedText:
    """Roles of the tokens of one text, in order of appearance."""

    words: list[str] = field(default_factory=list)  # words of any script (CJK as bigrams)
    codes: list[str] = field(default_factory=list)  # code_key() of alphanumeric codes
    code_surface: list[str] = field(default_factory=list)  # as written, for display
    quantities: list[tuple[str, str]] = field(default_factory=list)  # (number, canonical unit)
    numbers: list[str] = field(default_factory=list)  # bare numbers: versions, years, sizes
    tokens: list[str] = field(default_factory=list)  # every token, normalised
    # Codes written across adjacent tokens ("010-10823 01"): only ever matched against, never
    # a conflict, since most adjacent tokens are not one code.
    joined_codes: list[str] = field(default_factory=list)
    cjk: list[str] = field(default_factory=list)  # CJK runs as written (for the lexicons)
    # (word, number) of a number that follows a word: "iphone 8", "rider 1200", "windows 10"
    models: list[tuple[str, str]] = field(default_factory=list)
    sequence: list[str] = field(default_factory=list)  # words, numbers, codes, quantities
    sequence_quantities: list[tuple[str, str]] = field(default_factory=list, repr=False)


def _split_scripts(token: str) -> list[str]:
    """A token that mixes CJK and other characters, split where the script changes
    ("550ml农夫山泉" -> "550ml", "农夫山泉"); others unchanged."""
    if token.isascii() or not _CJK.search(token):
        return [token]
    parts: list[str] = []
    pos = 0
    for m in _CJK.finditer(token):
        if m.start() > pos:
            parts.append(token[pos : m.start()].strip(".-/,"))
        parts.append(m.group())
        pos = m.end()
    if pos < len(token):
        parts.append(token[pos:].strip(".-/,"))
    return [p for p in parts if p]


def tokenize(text: str) -> list[str]:
    """Normalised tokens of ``text`` (see ``normalise``), CJK runs split from the rest."""
    text = normalise(text)
    for pattern, repl in _REWRITES:
        text = pattern.sub(repl, text)
    return [
        BOUNDARY if tok in _PUNCTUATION else part
        for tok in _TOKEN.findall(text)
        for part in _split_scripts(tok)
    ]


def parse(text: str, max_tokens: int = 400) -> ParsedText:
    """Split ``text`` into words, codes, quantities and bare numbers.

    A number followed by a unit (attached or not, in any language's spelling) is a quantity,
    converted to its dimension's canonical unit; "2 x 500 g" is a pack of 2 and 500 g; a
    token with both letters and digits is a code; a long digit string (>= 5) is a part
    number, i.e. a code. Letters of every script are words; CJK runs become bigrams.
    """
    raw = tokenize(join_spaced_codes(text))[:max_tokens]
    out = ParsedText()
    i = 0
    previous_word = ""
    while i <= len(raw):
        for q in out.quantities[len(out.sequence_quantities) :]:  # in reading order
            out.sequence_quantities.append(q)
            out.sequence.append(f"{q[0]} {q[1]}")
        if i == len(raw):
            break
        tok = raw[i]
        nxt = raw[i + 1] if i + 1 < len(raw) else ""
        word_before, previous_word = previous_word, ""
        if tok == BOUNDARY:
            out.sequence.append(tok)
            i += 1
            continue
        if ordinal := _ordinal(tok):
            out.numbers.append(ordinal)  # "1st", "3rd": a number ("1st" is no quantity of "st")
            out.tokens.append(tok)
            out.sequence.append(ordinal)
            i += 1
            continue
        attached = None if _NETWORK.match(tok) else _NUM_UNIT.match(tok)
        multipack = _MULTIPACK.match(tok)
        if attached and (single := _quantity(attached.group(1), attached.group(2))):
            out.quantities.append(single)
            out.tokens.append(tok)
        elif multipack and (each := _quantity(multipack.group(2), multipack.group(3))):
            out.quantities.extend([_count(multipack.group(1), multipack.group(3), each), each])
            out.tokens.append(tok)
        elif (split := _MULTIPACK_BARE.match(tok)) and (
            each := _quantity(split.group(2), nxt.strip("."))
        ):
            out.quantities.extend([_count(split.group(1), nxt.strip("."), each), each])  # "4x125 g"
            out.tokens.extend([tok, nxt])
            i += 1
        elif _VERSION.match(tok):
            out.numbers.append(_number_key(_VERSION.match(tok).group(1)))  # type: ignore[union-attr]
            out.tokens.append(tok)
            out.sequence.append(out.numbers[-1])
        elif _NUMBER.match(tok):
            after = raw[i + 2 : i + 6]
            i += _number(tok, nxt, after[0] if after else "", word_before, out, after[1:])
        elif (
            tok in ("x", "×")
            and (out.quantities or word_before in COUNTED_WORDS)
            and _NUMBER.match(nxt)
            and "," not in nxt
            and not (i + 2 < len(raw) and canonical(1.0, raw[i + 2].strip(".")))
        ):
            out.quantities.append((_number_key(nxt), "pack"))  # "330 ml x 24", "pods x 30"
            out.tokens.extend([tok, nxt])
            i += 1
        elif (out.quantities or word_before in COUNTED_WORDS) and (times := _TIMES.match(tok)):
            # "330ml x24", "capsules x10"; "Xperia X10" stays a model
            out.quantities.append((_number_key(times.group(1)), "pack"))
            out.tokens.append(tok)
        elif "/" in tok and (parts := _quantity_parts(tok)):
            raw[i : i + 1] = parts  # "455g/16" of "455g/16 oz": two spellings of one size
            continue
        elif _CJK.fullmatch(tok):
            out.cjk.append(tok)
            out.words.extend(cjk_bigrams(tok))
            out.tokens.append(tok)
            out.sequence.append(tok)
        elif _HAS_DIGIT.search(tok) and not _HAS_ALPHA.search(tok) and len(code_key(tok)) >= 5:
            # "010-10613-00": a part number written with separators is still a code.
            out.codes.append(code_key(tok))
            out.code_surface.append(tok)
            out.tokens.append(tok)
            out.sequence.append(out.codes[-1])
        elif _NETWORK.match(tok):
            out.words.append(tok)
            out.tokens.append(tok)
            out.sequence.append(tok)
        elif _HAS_DIGIT.search(tok) and _HAS_ALPHA.search(tok):
            key = code_key(tok)
            if len(key) >= 2:
                out.codes.append(key)
                out.code_surface.append(tok)
                out.sequence.append(key)
            out.tokens.append(tok)
        elif _HAS_ALPHA.search(tok):
            for part in re.split(r"[.\-/]", tok):
                if part:
                    out.words.append(ABBREVIATIONS.get(part, part))
                    out.sequence.append(out.words[-1])
            out.tokens.append(tok)
            previous_word = out.words[-1] if out.words else ""
        i += 1
    for j in range(len(raw) - 1):  # "130 s": the model 130s written apart
        if raw[j].isdigit() and len(raw[j + 1]) == 1 and raw[j + 1].isalpha():
            out.joined_codes.append(raw[j] + raw[j + 1])
    for n in (2, 3):
        for j in range(len(raw) - n + 1):
            key = code_key("".join(raw[j : j + n]))
            if len(key) >= 5 and _HAS_DIGIT.search(key) and key.isalnum() and key.isascii():
                out.joined_codes.append(key)
    return out


_ORDINAL = re.compile(r"^(\d{1,3})(st|nd|rd|th)$")
_ORDINAL_ENDING = {"1": "st", "2": "nd", "3": "rd"}


def _ordinal(tok: str) -> str:
    """The number an English ordinal names ("1st" -> "1", "12th" -> "12"), else ""."""
    m = _ORDINAL.match(tok)
    if not m:
        return ""
    n = m.group(1)
    ending = "th" if n[-2:-1] == "1" else _ORDINAL_ENDING.get(n[-1], "th")
    return str(int(n)) if m.group(2) == ending else ""


def _count(count: str, unit: str, each: tuple[str, str]) -> tuple[str, str]:
    """The first factor of "<n> x <quantity>": a pack count, or the first side of two
    lengths ("77x147 cm" is a rug's dimensions, not 77 rugs)."""
    if each[1] == _LENGTH_UNIT and (first := _quantity(count, unit)):
        return first
    return (_number_key(count), "pack")


def _number(
    tok: str, nxt: str, after: str, word_before: str, out: ParsedText, rest: Sequence[str] = ()
) -> int:
    """Place a number token; returns how many following tokens it consumed (``rest``: the
    tokens after ``after``)."""
    unit_tok = nxt.strip(".")
    if unit_tok in ("x", "×") and (attached := _NUM_UNIT.match(after) or _NUMBER.match(after)):
        unit = attached.group(2) if attached.groups() else (rest[0].strip(".") if rest else "")
        if unit in ("x", "×") and len(rest) > 1:
            # "5.5 x 4 x 11 inches": three sides, the unit after the third
            third = _NUM_UNIT.match(rest[1])
            unit = third.group(2) if third else (rest[2].strip(".") if len(rest) > 2 else "")
        length = _quantity("1", unit)
        if length and length[1] == _LENGTH_UNIT and (first := _quantity(tok, unit)):
            out.quantities.append(first)  # "77 x 147 cm": two lengths
        else:
            out.quantities.append((_number_key(tok), "pack"))  # "2 x 500 g": a pack of two
        out.tokens.extend([tok, nxt])
        return 1
    if q := _quantity(tok, unit_tok) or _quantity(tok, unit_tok.partition(".")[0]):
        # "2.0 cu . ft" style: a unit after a stray separator token is common in scraped text.
        out.quantities.append(q)
        out.tokens.extend([tok, nxt])
        return 1
    if _CJK.fullmatch(nxt):
        unit = next((u for u in CJK_UNITS if nxt.startswith(u)), "")
        if unit and (q := _quantity(tok, unit)):
            out.quantities.append(q)
            out.tokens.append(tok)
            return 0  # the run itself is read next (its words after the unit count too)
    if "." not in tok and "," not in tok and len(tok) >= 5:
        out.codes.append(tok)
        out.code_surface.append(tok)
        out.tokens.append(tok)
        return 0
    out.numbers.append(_number_key(tok))
    out.tokens.append(tok)
    out.sequence.append(out.numbers[-1])
    if word_before and len(tok) <= 4 and "." not in tok and "," not in tok:
        out.models.append((word_before, out.numbers[-1]))
    return 0


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
# breadcrumbs and site paths ("Home » TV » Samsung 55 QLED", "site :: product"): one segment
# is the product; bars: the product's parts, or its shop at one end
_CRUMBS = re.compile(r"\s+[\u2022\u00bb]\s+|\s+::\s+")
_BARS = re.compile(r"\s*\|\s*")


def _unquote(segment: str) -> str:
    """A segment without the quotes around it ('"Air Max 90"'), keeping a quote that is a
    unit: the inches of 'Pool, 88" x 85" x 30"'."""
    seg = segment.strip()
    opened = seg[:1] in ("'", '"')
    seg = seg[1:] if opened else seg
    if seg[-1:] in ("'", '"') and (opened or not seg[-2:-1].isdigit()):
        seg = seg[:-1]
    return seg.strip()


def _weight(seg: str) -> int:
    tokens = seg.split()
    return len(tokens) + sum(bool(_HAS_DIGIT.search(t)) for t in tokens)


def split_offer_title(title: str) -> tuple[str, str]:
    """(the product part of a web-offer title, its boilerplate).

    Scraped titles carry language tags (``"..."@en``), breadcrumbs and a shop or site name
    after a bar ("Air Max 90 366731-100 | Foot Locker"). Of a breadcrumb's segments the one
    with the most tokens (a code counts double: it names a model) is the product. Of its bar
    segments, one at either end of at most two tokens and lighter than the heaviest is the
    shop; every other is the product: marketplace titles use bars between the product's own
    parts ("Allergy Relief | Fexofenadine HCl 180 mg | 100 Count Tablets"), and two listings
    of one item order them differently (keeping only the heaviest kept different parts of
    the two listings: ProMap-EN, dev). The rest is boilerplate (AUXILIARY), so a shop name
    shared by all its offers cannot make them alike.
    """
    text = _LANGUAGE_TAG.sub(" ", title or "")
    crumbs = [seg for seg in map(_unquote, _CRUMBS.split(text)) if seg]
    if not crumbs:
        return text.strip(), ""
    core = max(range(len(crumbs)), key=lambda i: (_weight(crumbs[i]), -i))
    rest = [seg for i, seg in enumerate(crumbs) if i != core]
    bars = [seg for seg in map(_unquote, _BARS.split(crumbs[core])) if seg]
    heaviest = max(map(_weight, bars), default=0)
    ends = (0, len(bars) - 1)
    shop = [
        len(bars) > 1 and i in ends and len(seg.split()) <= 2 and _weight(seg) < heaviest
        for i, seg in enumerate(bars)
    ]
    product = ", ".join(seg for seg, s in zip(bars, shop, strict=True) if not s)
    rest += [seg for seg, s in zip(bars, shop, strict=True) if s]
    return product or crumbs[core], " ".join(rest)


def format_quantity(quantity: tuple[str, str]) -> str:
    number, unit = quantity
    return f"{number} {unit}"
