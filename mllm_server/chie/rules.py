"""The ``rules`` CHIE backend: deterministic, CPU-only, the honest default.

It reads title, text and attributes and places every concept in a level:
PRIMARY (brand, product-type phrase, model codes, key quantities of the title), AUXILIARY
(colours, promotion, shop and price words), CONTENT (what the item is about, from the
description), FORM (packaging, medium, platform, licence form), OBJECTIVE (quantities with
units, numeric attributes), SUBJECTIVE (marketing adjectives), and VISUAL from pixels.
The title decides what is primary for *this* item: a colour or pack size named in the title
is a variant of the product, so it becomes a "variant" anchor that the verifier gates on.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

from fitrep.anchors import BRAND_GUESSED, BRAND_READ
from fitrep.column_names import brand_columns
from fitrep.domain import Anchors, ConceptSet, Item, Level
from fitrep.transliterate import has_other_script, to_latin

from mllm_server.chie import image_features
from mllm_server.chie.concept_cache import ConceptCache, code_fingerprint, rules_cache_path
from mllm_server.chie.lexicon import (
    COLOURS,
    FORM_WORDS,
    PACKAGING_WORDS,
    PROMO_WORDS,
    STOPWORDS,
    SUBJECTIVE_WORDS,
)
from mllm_server.chie.ocr import DET_SIDE, PackageReader, ProgressFn, wants_ocr
from mllm_server.chie.package_text import PackageText, package_text
from mllm_server.chie.text_parse import (
    BOUNDARY,
    ParsedText,
    format_quantity,
    identifier_key,
    parse,
    split_offer_title,
)
from mllm_server.chie.variant_lexicon import COLOUR_WORDS
from mllm_server.chie.variants import attribute_variants, is_variant_word, variant_attributes

log = logging.getLogger(__name__)

VERSION = "rules-15"  # bump whenever the concepts an item yields change

_PRICE_KEYS = ("price", "cost", "shop", "seller", "store", "url")
_DESCRIPTION_KEYS = ("description", "desc", "text", "body")
# Editions and platforms name a different product even when everything else matches.
_EDITION_WORDS = frozenset(
    """upgrade student teacher mac windows deluxe pro premium premier
    standard professional basic enterprise lite plus ultimate express business
    family trial""".split()
)
_MAX_CONTENT_WORDS = 16
_MAX_DESCRIPTION_TOKENS = 120
_MAX_WORDS_ANY = 96
_MAX_FIELD_WORDS = 24
_CACHE_MEMORY = 4096  # answers kept in memory too (re-listings repeat an item's exact text)


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


_PRICE = re.compile(r"\d[\d.,' \u00a0]*")


def _number(text: str) -> float | None:
    """A price written in any locale: "1,299.00", "1.299,00", "129,90", "1 299" ->
    a float. The last separator followed by one or two digits is the decimal mark."""
    m = _PRICE.search(text)
    if not m:
        return None
    digits = m.group(0).rstrip(".,' \u00a0")
    decimal = re.search(r"[.,](\d{1,2})$", digits)
    whole = digits[: decimal.start()] if decimal else digits
    whole = re.sub(r"[^\d]", "", whole)
    return float(f"{whole}.{decimal.group(1)}" if decimal else whole) if whole else None


def listed_price(attributes: dict[str, str]) -> str:
    """The item's price as a plain number ("$1,299.00" -> "1299"), "" when none or zero."""
    for key in ("price", "cost"):
        value = _number(attributes.get(key, ""))
        if value:
            return f"{value:g}"
    return ""


def _latin_name(title: ParsedText) -> str:
    """The first word of ``title`` in Latin letters that stands as a token of its own (not a
    piece of "USB-C"), of two letters or more, and names no form or role; "" when none."""
    tokens = set(title.tokens)
    for word in title.words:
        if (
            not has_other_script(word)
            and word in tokens
            and word.isalpha()
            and len(word) >= 2
            and word not in FORM_WORDS
            and _role_free(word)
        ):
            return word
    return ""


def _capitalised_name(text: str) -> str:
    """The first word after the first one written as a name (a capital, then lower-case
    letters: "Пони", not "ГБ" or "USB-C"), in a text in sentence case (not every word so
    written); "" when none."""
    words = [w for w in re.split(r"[^\w-]+", text) if w and w[0].isalpha()]
    named = [len(w) >= 2 and w[0].isupper() and w[1:].islower() for w in words]
    if len(words) < 2 or all(named):
        return ""
    for word, is_name in zip(words[1:], named[1:], strict=True):
        folded = parse(word).words
        if is_name and len(folded) == 1 and _role_free(folded[0]) and folded[0] not in FORM_WORDS:
            return folded[0]
    return ""


def _in_latin(words: Iterable[str]) -> list[str]:
    """Cyrillic and Greek words in Latin letters (``fitrep.transliterate``), the others as
    they are: what the record's words are compared as, so a name spelled in either script
    ("Кавипо", "Kavipo") is one word."""
    return _unique(to_latin(w) for w in words)


def _role_free(word: str) -> bool:
    return not (
        word in STOPWORDS
        or word in COLOURS
        or word in COLOUR_WORDS
        or word in PROMO_WORDS
        or word in SUBJECTIVE_WORDS
        or len(word) < 2
    )


class RulesExtractor:
    """Deterministic concept extraction from text and pixels (see module docstring)."""

    name = "rules"
    version = VERSION
    concurrent = False  # CPU-bound: threads would only contend for the GIL

    def __init__(
        self,
        use_images: bool = True,
        ocr: str | bool = "auto",
        ocr_det_side: int = DET_SIDE,
        ocr_threads: int | None = None,
        cache_path: str | Path | None = None,
    ) -> None:
        """``ocr``: read the words on item pictures (auto, on, off: see ``ocr.wants_ocr``).
        ``cache_path``: the concept cache's file (None: ``$FITREP_CONCEPT_CACHE`` or the user
        cache dir; "": none)."""
        self.use_images = use_images
        wanted = wants_ocr(ocr)  # an unknown mode or a missing extra fails here, not later
        self.reader = PackageReader(ocr_det_side, ocr_threads) if use_images and wanted else None
        path = (
            rules_cache_path() if cache_path is None else (Path(cache_path) if cache_path else None)
        )
        self.cache: ConceptCache | None = None
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self.cache = ConceptCache(_CACHE_MEMORY, path, best_effort=True)
            except (OSError, sqlite3.Error) as exc:  # a cache only saves time: run without
                log.warning("concept cache %s not used: %s", path, exc)
        self.cache_hits = 0

    def extract(self, items: Sequence[Item], timeout: float | None = None) -> list[ConceptSet]:
        """Concepts item by item; a text-only item extracted before by this very code comes
        from the concept cache (a re-run of a catalogue: the rules are ~95 % of its concept
        stage). Pictures are not cached here: their words come from the OCR cache and their
        pixel features are recomputed."""
        self.read_packages(items)  # one batched pass; extract_one then finds each in the cache
        if self.cache is None:
            return [self.extract_one(item) for item in items]
        text_only = [item for item in items if item.image is None]
        version = code_fingerprint()
        cached = iter(self.cache.get_many(text_only, self.name, version))
        out: list[ConceptSet] = []
        new: list[tuple[Item, ConceptSet]] = []
        for item in items:
            concepts = next(cached) if item.image is None else None
            if concepts is None:
                concepts = self.extract_one(item)
                if item.image is None:
                    new.append((item, concepts))
            else:
                self.cache_hits += 1
            out.append(concepts)
        if new:
            self.cache.put_many(new, self.name, version)
        return out

    def read_packages(self, items: Sequence[Item], progress: ProgressFn | None = None) -> None:
        """OCR the pictures of ``items`` into the reader's cache (a no-op without a reader)."""
        if self.reader is not None:
            self.reader.read_many([it.image for it in items if it.image is not None], progress)

    def package_text(self, item: Item) -> PackageText:
        """The words on the item's picture, by role ("" without a picture or a reader)."""
        if self.reader is None or item.image is None:
            return PackageText()
        return package_text(self.reader.read(item.image))

    def stats(self) -> dict[str, float]:
        # ``is not None``: a ConceptCache has a length, and an empty one is falsy
        concepts = {"concept_cache_hits": float(self.cache_hits)} if self.cache is not None else {}
        if self.reader is None:
            return concepts
        return {
            **concepts,
            "ocr_images_read": float(self.reader.images_read),
            "ocr_cache_hits": float(self.reader.cache_hits),
        }

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
        if self.cache is not None:
            self.cache.close()

    def extract_one(self, item: Item) -> ConceptSet:
        attributes = {k.lower(): str(v) for k, v in item.attributes.items() if str(v).strip()}
        description = item.text or next(
            (attributes.pop(k) for k in _DESCRIPTION_KEYS if k in attributes), ""
        )
        title_text, boilerplate = split_offer_title(item.title)
        # Words printed on the package read like a title: they reach the same levels, anchors
        # and variant gates as title words; the shelf around it is context (AUXILIARY).
        package = self.package_text(item)
        title = parse(f"{title_text} {package.primary}" if package.primary else title_text)
        body = parse(description, max_tokens=_MAX_DESCRIPTION_TOKENS)
        spec_attrs = {k: v for k, v in attributes.items() if k not in _PRICE_KEYS}
        brand_keys = brand_columns(attributes)
        attr_text = " ".join(f"{k} {v}" for k, v in spec_attrs.items() if k not in brand_keys)
        attrs = parse(attr_text)

        written, brand_guessed = self._brand(attributes, brand_keys, title, title_text)
        # A brand in Cyrillic or Greek letters is kept in Latin ones ("Самсунг" = "samsung"),
        # so it compares with the same brand written in Latin; the title's own word is still
        # the brand's, not a product word.
        brand = to_latin(written)
        brand_words = [*brand.split(), *written.split()]
        title_core = [w for w in title.words if _role_free(w) and w not in FORM_WORDS]
        if brand:
            title_core = [w for w in title_core if w not in brand_words]
        # An image-only item or one with an empty title still has a primary level when the
        # description names the product: its first words stand in for the title.
        if not title.tokens and body.tokens:
            title_core = [w for w in body.words if _role_free(w)][:8]
            title_codes, title_quantities = body.codes[:3], body.quantities[:2]
        else:
            title_codes, title_quantities = title.codes, title.quantities

        # Concepts are embedded in Latin letters too, so a title that spells its words in
        # Cyrillic and one that spells them in Latin letters are near (retrieval finds them).
        core_text = " ".join(to_latin(w) for w in title_core[:12])
        primary = _unique(
            [
                brand,
                core_text,
                *title_codes,
                *(format_quantity(q) for q in title_quantities),
                *title.numbers,
            ]
        )
        content_words = _unique(
            w for w in body.words if _role_free(w) and w not in FORM_WORDS and w not in title_core
        )[:_MAX_CONTENT_WORDS]
        content = _unique([core_text, " ".join(content_words)])
        all_words = title.words + body.words + attrs.words
        form = _unique(w for w in all_words if w in FORM_WORDS)
        form += _unique(f"{k} {v}" for k, v in spec_attrs.items() if k in ("format", "platform"))
        anchors = self._anchors(brand, brand_words, title, body, attrs, title_core, attributes)
        own = parse(title_text) if package.primary else title  # the title without the package
        if brand_guessed:
            read = bool(package.primary) and written not in own.words
            anchors["brand_from"] = [BRAND_READ if read else BRAND_GUESSED]
        if package.primary:
            # A picture is read in part and with misreadings: the gates treat values only the
            # package gave as weaker evidence than a title's (``variant_gates``).
            said = set(variant_attributes(own, brand_words))
            anchors["variant_read"] = [v for v in anchors["variant"] if v not in said]
        # Variant attributes are concepts of their own (what tells this SKU from its siblings),
        # objective facts like the quantities beside them.
        objective = _unique(
            [
                *(v.replace(":", " ") for v in anchors["variant"] if not v.startswith("edition")),
                *(
                    format_quantity(q)
                    for q in title.quantities + body.quantities + attrs.quantities
                ),
            ]
        )
        objective += _unique(
            f"{k} {v}" for k, v in spec_attrs.items() if any(c.isdigit() for c in v)
        )
        subjective = _unique(w for w in all_words if w in SUBJECTIVE_WORDS)
        auxiliary = _unique(w for w in all_words if w in COLOURS or w in PROMO_WORDS)
        auxiliary += _unique(f"{k} {v}" for k, v in attributes.items() if k in _PRICE_KEYS)
        auxiliary += _unique(parse(boilerplate).words)
        auxiliary += _unique(parse(package.auxiliary).words)

        levels: dict[Level, list[str]] = {
            Level.PRIMARY: primary,
            Level.AUXILIARY: auxiliary,
            Level.CONTENT: content,
            Level.FORM: form,
            Level.OBJECTIVE: objective[:16],
            Level.SUBJECTIVE: subjective[:8],
        }
        if not any(any(v) for v in levels.values()) and (
            fallback := (title.words + body.words)[:12]
        ):
            # Only stopwords ("The One") and nothing else: still the item's words, its primary
            # concept; an item without any level would have no vector to be found by. (Items
            # with other levels keep them alone: stopwords as PRIMARY would outweigh them.)
            levels[Level.PRIMARY] = [" ".join(fallback)]
        # Identifier-valued fields (model number, phone, ISBN: recognised by their values) are
        # as binding as a code in the title: two different ones are two different things.
        # The other fields, by column, so the verifier can see a field that two records give
        # entirely differently (a paper's authors, a song's artist) whatever the column is called.
        identifiers: list[str] = []
        fields: list[str] = []
        for k, v in spec_attrs.items():
            if key := identifier_key(v):
                identifiers.append(key)
            elif words := set((parsed := parse(v)).words + parsed.numbers):
                # A column value is a name, a place, a list of authors: a few words. A long
                # text (a specification, a second description) is prose whose words two shops
                # write differently, not a value to compare column by column.
                if len(words) <= _MAX_FIELD_WORDS:
                    fields.append(f"{k}={' '.join(sorted(words))}")
        price = listed_price(attributes)
        anchors["price"] = [price] if price else []
        anchors["code"] = _unique(anchors["code"] + identifiers)
        anchors["code_any"] = _unique(anchors["code_any"] + identifiers)
        anchors["fields"] = _unique(fields)
        features = {}
        if self.use_images and item.image is not None:
            features = image_features.compute(item.image)
            if features:
                levels[Level.VISUAL] = image_features.describe(features)
                features.update(package.image_features())
        return ConceptSet(
            item_id=item.id,
            levels={level: values for level, values in levels.items() if values},
            anchors=Anchors.from_json({k: v for k, v in anchors.items() if v}),
            image_features=features,
            backend=self.name,
            version=self.version,
        )

    @staticmethod
    def _brand(
        attributes: dict[str, str], brand_keys: list[str], title: ParsedText, text: str
    ) -> tuple[str, bool]:
        """The maker and whether it is read off the title (not stated by a brand column:
        ``brand_keys``, ``column_names.brand_columns`` of the attributes)."""
        for key in brand_keys:
            words = [w for w in parse(attributes[key]).words if w not in STOPWORDS]
            if words:
                return words[0], False
        # "... by Brandon" ending a title (or its first part) names the maker.
        seq = [*title.sequence, BOUNDARY]
        for i in range(len(seq) - 3, -1, -1):
            if seq[i] == "by" and seq[i + 2] == BOUNDARY and seq[i + 1] in title.words:
                if _role_free(seq[i + 1]):
                    return seq[i + 1], True
        # Catalogue titles usually start with the brand, after any packaging word ("Capsules
        # Nespresso ..."); a weak guess, used as a soft anchor.
        k = next(
            (i for i, w in enumerate(title.words) if w not in PACKAGING_WORDS), len(title.words)
        )
        first = title.words[k] if k < len(title.words) and k < len(title.tokens) else ""
        if first and has_other_script(first):
            # A Cyrillic or Greek title starts with the product ("Смартфон Samsung Galaxy
            # ...", "Оливковое масло Nilaru 1 л"): the name written in Latin letters is the
            # maker, as shops in those scripts write brands; else a name capitalised inside
            # a title in sentence case ("Смартфон Пони 256 ГБ": those scripts capitalise no
            # common noun there). (Without either, the first word stays the guess: no guess
            # at all measured worse, F1 0.70 against 0.86 on the Cyrillic template
            # catalogues' dev seeds.)
            if name := _latin_name(title) or _capitalised_name(text):
                return name, True
        if not first or title.tokens[k] != first or first in FORM_WORDS:
            return "", False
        return (first, True) if _role_free(first) else ("", False)

    @staticmethod
    def _anchors(
        brand: str,
        not_variants: list[str],
        title: ParsedText,
        body: ParsedText,
        attrs: ParsedText,
        title_core: list[str],
        attributes: dict[str, str],
    ) -> dict[str, list[str]]:
        """``not_variants``: the brand's words, as written and in Latin letters."""
        variants = _unique(
            variant_attributes(title, not_variants)
            + attribute_variants(attributes)
            + [f"edition:{w}" for w in title.words if w in _EDITION_WORDS and w not in brand]
        )
        variants_any = _unique(
            variants
            + variant_attributes(body, not_variants, with_tiers=False)
            + variant_attributes(attrs, not_variants, with_tiers=False)
        )
        return {
            "brand": [brand] if brand else [],
            "code": _unique(title.codes),
            "code_any": _unique(
                title.codes + body.codes + attrs.codes + title.joined_codes + body.joined_codes
            ),
            "quantity": _unique(format_quantity(q) for q in title.quantities),
            "quantity_any": _unique(
                format_quantity(q) for q in title.quantities + body.quantities + attrs.quantities
            ),
            "number": _unique(title.numbers),
            "number_any": _unique(title.numbers + body.numbers + attrs.numbers),
            "variant": variants,
            "variant_any": variants_any,
            "tokens": _in_latin(title_core + title.codes),
            # Title words that name a variant value (a flavour, a tier): the family score sets
            # them aside ("Yoggi strawberry yoghurt" and "Yoggi vanilla yoghurt" are one
            # product line, two items).
            "variant_words": _in_latin(w for w in title_core if is_variant_word(w)),
            # Every content word of the item, so the verifier can tell whether a title word
            # of the other item appears anywhere here (bounded: descriptions can be long).
            "words_any": _in_latin(
                w for w in title.words + body.words + attrs.words + title.codes if _role_free(w)
            )[:_MAX_WORDS_ANY],
        }
