"""Variant attributes of an item: what tells one SKU of a product from its siblings.

Colour, flavour or scent, size, model tier and generation, each as ``"<kind>:<value>"`` with
a language-independent value ("colour:black" from "schwarz", "černá" or "黑色"). Quantities
(volume, mass, pack count, capacity) are variants too; they stay in the quantity anchors,
already in canonical units. The kinds are the contract's table (``fitrep.anchors.VARIANTS``);
this module reads the values of each (``KIND_EXTRACTORS``), the index compares them
(``index_server.scoring.variant_gates``): two items that name different values of one kind
are different items, however alike the rest; an attribute only one of them names is no
evidence.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

import regex
from fitrep.anchors import VARIANT_KINDS
from fitrep.units import UNITS

from mllm_server.chie.lexicon import STOPWORDS
from mllm_server.chie.text_parse import BOUNDARY, ParsedText, normalise
from mllm_server.chie.variant_lexicon import (
    CJK_ORDINALS,
    COLOUR_CJK,
    COLOUR_CJK_ALONE,
    COLOUR_WORDS,
    FITS_MARKERS,
    FLAVOUR_CJK,
    FLAVOUR_MARKERS_AFTER,
    FLAVOUR_MARKERS_BEFORE,
    FLAVOUR_PHRASES,
    FLAVOUR_STEMS,
    GENERATION_WORDS,
    SHOE_SYSTEMS,
    SIZE_LETTERS,
    SIZE_MARKERS,
    SIZE_WORDS,
    TIER_WORDS,
)

_UNIT_WORDS = frozenset(UNITS) | {"cfm", "psi", "mph", "lumens"}
_MODEL_WORDS_SKIP = (
    frozenset(
        {
            "pack",
            "set",
            "of",
            "for",
            "and",
            "with",
            "the",
            "to",
            "x",
            "no",
            "nr",
            "by",
            "age",
            "ages",
        }
    )
    | GENERATION_WORDS
    | SIZE_MARKERS
    | SHOE_SYSTEMS
)
_SHORT_STEM = 4  # stems this short are words of their own
_INFLECTION = 2  # letters an inflection adds to one ("ducks", "enten")
_STEM_LENGTHS = sorted({len(s) for s in FLAVOUR_STEMS}, reverse=True)
_ORDINAL = regex.compile(r"^(\d{1,2})(?:st|nd|rd|th|e|er|eme|\.)?$")
_CJK_GENERATION = regex.compile(r"第([一二三四五六七八九十\d]+)代")
_WAIST = regex.compile(r"^w(\d{2})(l\d{2})?$")  # jeans: "w32", "w32l34"
_LENGTH = regex.compile(r"^l\d{2}$")
_MAX_MARKED_WORDS = 2  # words a flavour marker names ("spring meadow scent", "saveur vanille")
_FITS_SPAN = 4  # words after "for" that name the product the item fits


def flavour_of(word: str) -> str:
    """The flavour key a word names (by stem), or "". A short stem (a whole word: "lamb",
    "pear") names the flavour only with an inflection after it ("lambs"), not at the start
    of another word ("Lamborghini"); longer stems start compounds ("erdbeerjoghurt")."""
    for n in _STEM_LENGTHS:
        if len(word) >= n and (key := FLAVOUR_STEMS.get(word[:n])):
            if n <= _SHORT_STEM and len(word) - n > _INFLECTION:
                continue
            return key
    return ""


def is_variant_word(word: str) -> bool:
    """A word whose meaning here is a variant value: a flavour, a colour, a model tier."""
    return bool(flavour_of(word)) or word in COLOUR_WORDS or word in TIER_WORDS


def _phrases(words: list[str], table: dict[str, str]) -> tuple[set[str], set[int]]:
    """Keys of multi-word ``table`` entries found in ``words``, and the word positions used."""
    found: set[str] = set()
    used: set[int] = set()
    joined = " ".join(words)
    for phrase, key in table.items():
        start = joined.find(phrase)
        end = start + len(phrase)
        if (
            start < 0
            or (start and joined[start - 1] != " ")
            or joined[end : end + 1] not in ("", " ")
        ):
            continue  # whole words only: not "peanut butterfly"
        first = joined[:start].count(" ")
        found.add(key)
        used.update(range(first, first + phrase.count(" ") + 1))
    return found, used


def _marked(words: list[str], i: int, before: bool, exclude: set[str]) -> list[str]:
    """Up to ``_MAX_MARKED_WORDS`` words next to the marker at ``i`` on its side, stopping
    at a stopword, an excluded word (the brand) or another marker."""
    if before:
        side = list(reversed(words[max(0, i - _MAX_MARKED_WORDS) : i]))
    else:
        side = words[i + 1 : i + 1 + _MAX_MARKED_WORDS]
    named: list[str] = []
    for x in side:
        if x in exclude or x in STOPWORDS or x in FLAVOUR_MARKERS_AFTER:
            break
        named.append(x)
    return list(reversed(named)) if before else named


def _flavours(words: list[str], cjk: list[str], exclude: set[str]) -> set[str]:
    found, used = _phrases(words, FLAVOUR_PHRASES)
    for i, w in enumerate(words):
        if i in used or w in exclude:
            continue
        if key := flavour_of(w):
            found.add(key)
        elif w in FLAVOUR_MARKERS_BEFORE or w in FLAVOUR_MARKERS_AFTER:
            # the words a marker points at name a flavour, known or not: "spring meadow
            # scent" (before), "saveur vanille" (after)
            named = _marked(words, i, w in FLAVOUR_MARKERS_BEFORE, exclude)
            if named and not any(flavour_of(x) for x in named):
                found.add(" ".join(named))
    for run in cjk:
        found.update(key for term, key in FLAVOUR_CJK.items() if term in run)
    return found


def _sizes(sequence: list[str]) -> set[str]:
    found: set[str] = set()
    for i, tok in enumerate(sequence):
        nxt = sequence[i + 1] if i + 1 < len(sequence) else ""
        after = sequence[i + 2] if i + 2 < len(sequence) else ""
        if tok in SIZE_WORDS:
            found.add(tok)
        elif tok in SIZE_MARKERS and (nxt in SIZE_LETTERS or nxt.replace(".", "").isdigit()):
            found.add(nxt)
        elif tok in SHOE_SYSTEMS and nxt.replace(".", "").isdigit():
            found.add(f"{tok}{nxt}".replace("eur", "eu"))
        elif tok.replace(".", "").isdigit() and nxt in SHOE_SYSTEMS and not after.isdigit():
            found.add(f"{nxt}{tok}".replace("eur", "eu"))
        elif (waist := _WAIST.match(tok)) and not waist.group(2):
            length = _LENGTH.match(nxt)
            found.add(f"{tok}{nxt}" if length else tok)
        elif _WAIST.match(tok):
            found.add(tok)
    return found


def _generations(sequence: list[str], cjk: list[str]) -> set[str]:
    found: set[str] = set()
    for i, tok in enumerate(sequence):
        if tok not in GENERATION_WORDS:
            continue
        before = sequence[i - 1] if i else ""
        after = sequence[i + 1] if i + 1 < len(sequence) else ""
        for cand in (before, after):
            if m := _ORDINAL.match(cand):
                found.add(str(int(m.group(1))))
                break
    for run in cjk:
        for m in _CJK_GENERATION.finditer(run):
            n = m.group(1)
            found.add(CJK_ORDINALS.get(n, n))
    return found


def _own_sequence(parsed: ParsedText) -> list[str]:
    """``parsed.sequence`` without the few tokens after "for" ("case for Apple MacBook Pro"
    names another product: not this item's colour, flavour or tier), up to the other
    product's model number ("case for iPhone 12 blue": blue is the case's)."""
    out: list[str] = []
    skip = 0
    for tok in parsed.sequence:
        if tok in FITS_MARKERS:
            skip = _FITS_SPAN
        elif tok == BOUNDARY:
            skip = 0
            out.append(tok)
        elif skip:
            skip = 0 if any(c.isdigit() for c in tok) else skip - 1
        else:
            out.append(tok)
    return out


def _tiers(sequence: list[str], whole: set[str], exclude: set[str]) -> tuple[set[str], set[str]]:
    """Tier words written as words of their own ("Pro", not "Pro-Grade"; ``whole`` holds the
    tokens as written), not after a unit ("194 cfm max" is a maximum); and those of them
    bound to a model: right after its number or code ("iPhone 13 Pro", "Galaxy S21 Ultra")."""
    found: set[str] = set()
    bound: set[str] = set()
    for i, w in enumerate(sequence):
        if w in exclude or w not in whole or w not in TIER_WORDS:
            continue
        before = sequence[i - 1] if i else ""
        if before in _UNIT_WORDS or " " in before:
            continue
        if w == "pro" and i + 1 < len(sequence) and sequence[i + 1] == "max":
            tier = "promax"
        elif w == "max" and before == "pro":
            continue
        else:
            tier = TIER_WORDS[w]
        found.add(tier)
        if any(c.isdigit() for c in before):
            bound.add(tier)
    return found, bound


class _Text:
    """One parsed text as the extractors read it (``exclude``: words that are not attributes
    here, such as the brand)."""

    def __init__(self, parsed: ParsedText, exclude: Iterable[str]) -> None:
        self.parsed = parsed
        self.skip = set(exclude)
        vocabulary = set(parsed.words)
        self.words = [t for t in _own_sequence(parsed) if t in vocabulary]

    @functools.cached_property
    def tiers(self) -> tuple[set[str], set[str]]:
        # a compatible product's tier is this accessory's tier too: read from all of it
        return _tiers(self.parsed.sequence, set(self.parsed.tokens), self.skip)


def _colours(text: _Text) -> set[str]:
    colours = {COLOUR_WORDS[w] for w in text.words if w in COLOUR_WORDS and w not in text.skip}
    colours |= {COLOUR_CJK_ALONE[run] for run in text.parsed.cjk if run in COLOUR_CJK_ALONE}
    return colours | {
        key for run in text.parsed.cjk for term, key in COLOUR_CJK.items() if term in run
    }


def _models(text: _Text) -> set[str]:
    """ "iphone=8", "rider=1200": a number naming the model after its name."""
    return {f"{w}={n}" for w, n in text.parsed.models if len(w) >= 2 and w not in _MODEL_WORDS_SKIP}


# The extractor of each kind of ``fitrep.anchors.VARIANTS`` that this module reads, by kind
# name (editions are read by ``rules``; "other" holds what a model names that no list knows).
KIND_EXTRACTORS: dict[str, Callable[[_Text], set[str]]] = {
    "colour": _colours,
    "flavour": lambda text: _flavours(text.words, text.parsed.cjk, text.skip),
    "size": lambda text: _sizes(text.parsed.sequence),
    "tier": lambda text: text.tiers[0],
    "mtier": lambda text: text.tiers[1],
    "gen": lambda text: _generations(text.parsed.sequence, text.parsed.cjk),
    "model": _models,
}
# Kinds read from titles only: in a description a tier word or a model number is prose.
TITLE_ONLY = frozenset({"tier", "mtier", "model"})


def variant_attributes(
    parsed: ParsedText, exclude: Iterable[str] = (), with_tiers: bool = True
) -> list[str]:
    """``"<kind>:<value>"`` of one parsed text (a title, package text, a description), in the
    order of ``VARIANTS``. ``exclude``: words that are not attributes here (the brand:
    "Black+Decker", "Orange"). ``with_tiers=False`` leaves out the ``TITLE_ONLY`` kinds."""
    text = _Text(parsed, exclude)
    out: list[str] = []
    for kind in VARIANT_KINDS:
        extract = KIND_EXTRACTORS.get(kind)
        if extract is not None and (with_tiers or kind not in TITLE_ONLY):
            out += [f"{kind}:{value}" for value in sorted(extract(text))]
    return out


def attribute_variants(attributes: dict[str, str]) -> list[str]:
    """Variants a catalogue states in columns of their own (colour, flavour, size), whatever
    the column is called in which language: the value is read with the same lists."""
    out: list[str] = []
    for key, value in attributes.items():
        k = normalise(key)
        v = normalise(value).strip()
        if not v:
            continue
        if k in ("color", "colour", "farbe", "couleur", "barva", "颜色", "顏色", "farg"):
            colours = [COLOUR_WORDS.get(w, "") for w in v.replace("/", " ").split()]
            out += [f"colour:{c}" for c in colours if c] or [f"colour:{v}"]
        elif k in ("flavor", "flavour", "geschmack", "saveur", "prichut", "口味", "scent", "duft"):
            out.append(f"flavour:{flavour_of(v.split()[0]) or v}")
        elif k in ("size", "grosse", "taille", "velikost", "尺码"):
            out.append(f"size:{v.replace(' ', '')}")
    return out
