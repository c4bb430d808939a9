"""Cyrillic and Greek words written in Latin letters, so a name compares across scripts.

Part of the contract: both tiers compare words this way.

A Russian or Bulgarian shop writes a name in its own letters ("Самсунг", "Кавипо") where
another writes it in Latin ones ("Samsung", "Kavipo"), and letter by letter they are one
name. So the rules backend keeps a record's brand, title tokens and words in Latin letters
(``to_latin``), and the index reads the other record's Cyrillic and Greek words the same way
(``has_other_script`` tells it where there is anything to do). Two records in one script
compare as before, both sides being transliterated alike; a Latin text passes through
unchanged, so a catalogue in Latin letters reads exactly as before. Words are not
translated: "шампунь" is not "shampoo".

The tables follow the common romanisations (BGN/PCGN for Russian, Ukrainian and Bulgarian,
ELOT 743 for Greek), with the choices that give back how brands are spelled in Latin: ``х``
is "h" (Хонда = Honda), ``й`` and ``ы`` are "y", soft and hard signs are dropped. A name a
shop wrote by sound rather than by letter (Филипс for Philips) stays apart; that needs a
phonetic key and is not attempted.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection

_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
    "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "sch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu",
    "я": "ya",
    # Ukrainian, Belarusian, Serbian, Macedonian
    "є": "ye", "і": "i", "ї": "yi", "ґ": "g", "ў": "u", "ђ": "dj", "ј": "j", "љ": "lj",
    "њ": "nj", "ћ": "c", "џ": "dz", "ѓ": "gj", "ќ": "kj", "ѕ": "dz",
}  # fmt: skip
_GREEK = {
    "α": "a", "β": "v", "γ": "g", "δ": "d", "ε": "e", "ζ": "z", "η": "i", "θ": "th",
    "ι": "i", "κ": "k", "λ": "l", "μ": "m", "ν": "n", "ξ": "x", "ο": "o", "π": "p",
    "ρ": "r", "σ": "s", "ς": "s", "τ": "t", "υ": "y", "φ": "f", "χ": "ch", "ψ": "ps",
    "ω": "o", "ϊ": "i", "ϋ": "y",
}  # fmt: skip
# Greek pairs read as one sound, longest first (ELOT 743): "μπ" at a word's start is "b".
_GREEK_PAIRS = {"ου": "ou", "αι": "ai", "ει": "ei", "οι": "oi", "γγ": "ng", "γκ": "gk"}
_GREEK_INITIAL = {"μπ": "b", "ντ": "d", "γκ": "g"}
_LETTERS = _CYRILLIC | _GREEK
# the marks that make another letter (й, ў; ё, ї, ϊ); Greek accents (tonos) are dropped
_KEPT_MARKS = {"\u0306", "\u0308"}


# the Greek, Cyrillic (with its supplement) and extended Greek blocks
_OTHER_SCRIPT = re.compile("[\u0370-\u052f\u1f00-\u1fff]")


def has_other_script(text: str) -> bool:
    """Whether ``text`` holds a Cyrillic or Greek letter (one regular-expression scan: most
    text is Latin and is asked on every record)."""
    return _OTHER_SCRIPT.search(text) is not None


def _greek_word(word: str) -> str:
    out, i = [], 0
    while i < len(word):
        pair = word[i : i + 2]
        if i == 0 and pair in _GREEK_INITIAL:
            out.append(_GREEK_INITIAL[pair])
            i += 2
        elif pair in _GREEK_PAIRS:
            out.append(_GREEK_PAIRS[pair])
            i += 2
        else:
            out.append(_LETTERS.get(word[i], word[i]))
            i += 1
    return "".join(out)


def to_latin(text: str) -> str:
    """``text`` with its Cyrillic and Greek letters in Latin ones (case-folded, Greek accents
    dropped); a text without such letters is returned as it is."""
    if not has_other_script(text):
        return text
    folded = "".join(
        ch
        for ch in unicodedata.normalize("NFD", text.casefold())
        if not unicodedata.combining(ch) or ch in _KEPT_MARKS
    )
    folded = unicodedata.normalize("NFC", folded)
    return " ".join(_greek_word(word) for word in folded.split(" "))


def latin_forms(words: Collection[str]) -> frozenset[str]:
    """The Cyrillic and Greek ones of ``words`` in Latin letters (none for a Latin record:
    one scan), so a set of a record's words also holds them as a brand kept in Latin letters
    would name them (anchors of a store written before the rules backend kept its words in
    Latin letters, or of another backend)."""
    if not has_other_script(" ".join(words)):
        return frozenset()
    return frozenset(to_latin(w) for w in words if has_other_script(w))
