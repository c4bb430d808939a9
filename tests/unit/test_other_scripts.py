"""Listings in Cyrillic and Greek script: a brand written in either script is one brand, a size
in Cyrillic units is a size, a Cyrillic colour is a colour (issue 25, part 2: "transliterated").

Metamorphic, over records drawn by hypothesis: writing the brand in Cyrillic letters or the unit
in Cyrillic, reordering or upper-casing must not change a decision; another colour or another
size must split.
"""

from __future__ import annotations

import functools
import random

from fitrep.column_names import (
    ColumnRole,
    brand_columns,
    is_brand_name,
    is_price_name,
    role_by_name,
)
from fitrep.domain import Anchors, Item
from fitrep.synthetic import cyrillic
from fitrep.transliterate import has_other_script, to_latin
from fitrep.units import read_quantity
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index_server.scoring.alignment import align, comparison_levels
from index_server.scoring.variant_gates import has_conflict
from mllm_server.chie.rules import RulesExtractor
from mllm_server.chie.text_parse import parse

_SETTINGS = settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
_SYLLABLES = "ka lo ri ve na to mi sa de ro lu pe ti va no ma".split()
# Latin letters of the syllables -> Cyrillic ones: how a Russian shop writes a made-up brand
_TO_CYRILLIC = str.maketrans("kaloriventmsdup", "калоривентмсдуп")
_PRODUCTS = ("шампунь", "кофе в зернах", "смартфон", "наушники", "чайник", "рюкзак")
_COLOURS = ("черный", "белый", "красный", "синий", "зеленый", "серый", "розовый", "золотой")
# (value, unit as written in Latin letters, in Cyrillic ones): one dimension each
_SIZES = {
    "ml": (("250", "ml", "мл"), ("500", "ml", "мл")),
    "gb": (("128", "GB", "ГБ"), ("256", "GB", "ГБ")),
    "g": (("250", "g", "г"), ("1", "kg", "кг")),
}


@functools.lru_cache(maxsize=4096)
def _anchors(title: str) -> Anchors:
    return RulesExtractor(use_images=False).extract_one(Item("x", title)).anchors


def _title(brand: str, product: str, size: tuple[str, str], colour: str, order: int) -> str:
    value, unit = size
    parts = [brand, product, f"{value} {unit}", colour]
    if order == 1:
        parts = [product, brand, f"{value}{unit}", colour]
    elif order == 2:
        parts = [brand, product, colour, f"{value} {unit}"]
    return " ".join(parts)


@st.composite
def listing(draw: st.DrawFn) -> tuple[str, str, str, tuple[str, str, str], str]:
    brand = "".join(draw(st.lists(st.sampled_from(_SYLLABLES), min_size=2, max_size=3)))
    product = draw(st.sampled_from(_PRODUCTS))
    dimension = draw(st.sampled_from(sorted(_SIZES)))
    size = draw(st.sampled_from(_SIZES[dimension]))
    colour = draw(st.sampled_from(_COLOURS))
    return brand.capitalize(), product, dimension, size, colour


@_SETTINGS
@given(listing(), st.integers(0, 2), st.booleans(), st.booleans(), st.booleans())
def test_a_relisting_in_cyrillic_letters_is_the_same_item(case, order, cyr_brand, cyr_unit, upper):
    brand, product, _, (value, latin_unit, cyrillic_unit), colour = case
    title = _title(brand, product, (value, latin_unit), colour, 0)
    other_brand = brand.lower().translate(_TO_CYRILLIC).capitalize() if cyr_brand else brand
    unit = cyrillic_unit if cyr_unit else latin_unit
    relisted = _title(other_brand, product, (value, unit), colour, order)
    relisted = relisted.upper() if upper else relisted
    a, b = _anchors(title), _anchors(relisted)
    assert not has_conflict(a, b) and not has_conflict(b, a), (title, relisted)
    alignment = align(a, b)
    assert not alignment.conflicts(), (title, relisted, alignment.differences)
    assert comparison_levels(alignment)["brand"] == 0, (title, relisted, a.brand, b.brand)


@_SETTINGS
@given(listing(), st.integers(0, 2), st.booleans(), st.data())
def test_another_colour_or_size_in_cyrillic_splits(case, order, colour_changes, data):
    brand, product, dimension, size, colour = case
    value, latin_unit, cyrillic_unit = size
    title = _title(brand, product, (value, latin_unit), colour, 0)
    if colour_changes:
        other = data.draw(st.sampled_from([c for c in _COLOURS if c != colour]))
        changed = _title(brand, product, (value, cyrillic_unit), other, order)
    else:
        other_size = next(s for s in _SIZES[dimension] if s != size)
        changed = _title(brand, product, (other_size[0], other_size[2]), colour, order)
    a, b = _anchors(title), _anchors(changed)
    assert has_conflict(a, b) and has_conflict(b, a), (title, changed)


def test_cyrillic_and_greek_are_written_in_latin_letters():
    assert to_latin("Самсунг") == "samsung"
    assert to_latin("ЛЕГО") == "lego" and to_latin("Хонда") == "honda"
    assert to_latin("Νίβεα") == "nivea" and to_latin("Μπέκο") == "beko"
    assert to_latin("Crème 农夫 Samsung") == "Crème 农夫 Samsung"  # other scripts as they are
    assert has_other_script("Їжак") and not has_other_script("Weiß")


def test_cyrillic_and_greek_units_are_units():
    def quantity(text: str) -> tuple[float, str] | None:
        (value, unit), *_ = parse(text).quantities
        return read_quantity(f"{value} {unit}")

    assert quantity("2 ТБ") == (2000.0, "gb")
    assert quantity("55 дюймов") == quantity("55 inch")
    assert quantity("1,5 λίτρα") == quantity("1500 ml")
    assert quantity("10 шт") == (10.0, "count")


def test_a_japanese_colour_is_a_colour_and_one_character_only_alone():
    def colours(title: str) -> set[str]:
        return {v for v in _anchors(title).variant if v.startswith("colour:")}

    assert colours("Sony WH-1000XM4 ヘッドホン 黒") == {"colour:black"}
    assert colours("ソニー WH-1000XM4 ヘッドホン ブラック") == {"colour:black"}
    assert colours("Sony WH-1000XM4 ヘッドホン シルバー") == {"colour:silver"}
    assert colours("ミツカン 黒酢 500ml") == set()  # black vinegar: a product, not a colour
    black, silver = _anchors("Sony WH-1000XM4 ヘッドホン 黒"), _anchors("SONY WH1000XM4 シルバー")
    assert has_conflict(black, silver)


def test_a_cyrillic_title_that_starts_with_the_product_names_the_latin_brand():
    assert _anchors("Смартфон Samsung Galaxy S21 128 ГБ").brand == ("samsung",)
    assert _anchors("Оливковое масло Nilaru 1000 мл").brand == ("nilaru",)
    assert _anchors("Кабель USB-C 2 м").brand != ("usb",)  # a piece of a code is no name
    assert _anchors("Nilaru оливковое масло 1 л").brand == ("nilaru",)


def test_words_spelled_in_either_script_are_one_word_and_shop_suffixes_are_no_words():
    cyrillic = _anchors("Наушники Кавипо оранжевые")
    latin = _anchors("Наушники Kavipo оранжевые - хит продаж")
    assert cyrillic.brand == latin.brand == ("kavipo",)  # in Latin letters
    assert cyrillic.tokens == latin.tokens == ("naushniki",)
    assert {"naushniki", "kavipo"} <= set(cyrillic.words_any) & set(latin.words_any)
    lower = _anchors("наушники кавипо оранжевые")  # no case to read: the guess is the first word
    assert lower.brand == ("naushniki",) and "kavipo" in lower.tokens
    assert not {"hit", "prodazh", "хит", "продаж"} & set(latin.tokens)


@st.composite
def shop_relisting(draw: st.DrawFn) -> tuple[str, str]:
    """A SKU of a Russian shop's template catalogue and a re-listing of it (word order,
    brand and unit script, size spelling, casing, suffix)."""
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    sku = cyrillic.random_sku(rng)
    relisted = cyrillic.render(
        sku, draw(st.integers(0, 3)), draw(st.booleans()), draw(st.booleans()),
        draw(st.integers(0, 1)),
    )  # fmt: skip
    return cyrillic.render(sku), cyrillic.reword(relisted, rng)


@_SETTINGS
@given(shop_relisting())
def test_a_russian_shop_relisting_has_no_conflict(case):
    title, relisted = case
    a, b = _anchors(title), _anchors(relisted)
    assert not has_conflict(a, b) and not has_conflict(b, a), (title, relisted)


def test_column_names_in_cyrillic_and_greek_have_roles_and_a_brand_column_names_the_maker():
    assert role_by_name("Цена") == (ColumnRole.LISTING, "цена") and is_price_name("Τιμή")
    assert role_by_name("Отзывы")[0] is ColumnRole.LISTING  # type: ignore[index]
    assert role_by_name("Цвет")[0] is ColumnRole.IDENTITY  # type: ignore[index]
    assert is_brand_name("Бренд") and is_brand_name("Marke") and not is_brand_name("brand_url")
    assert brand_columns(["manufacturer", "marke", "price", "brand"]) == [
        "brand",
        "manufacturer",
        "marke",
    ]
    item = Item("x", "Смартфон Galaxy S21 128 ГБ", attributes={"бренд": "Самсунг"})
    anchors = RulesExtractor(use_images=False).extract_one(item).anchors
    assert anchors.brand == ("samsung",) and not anchors.brand_from  # stated, not guessed


def test_a_name_capitalised_inside_a_cyrillic_title_is_its_brand():
    assert _anchors("Смартфон Пони 256 ГБ зеленый").brand == ("poni",)
    assert _anchors("Смартфон Poni 256 ГБ зеленый").brand == ("poni",)
    assert _anchors("СМАРТФОН ПОНИ 256 ГБ").brand == ("smartfon",)  # no case to read: a guess
