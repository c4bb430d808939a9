"""Text in every script: letters kept, accents matched folded and unfolded, CJK segmented,
mojibake repaired, quantities read in any unit (issue 17, items 2 and 3)."""

from __future__ import annotations

import pytest
from fitrep.domain import Anchors, Item
from fitrep.units import read_quantity, same_size

from index_server.scoring.features import anchor_features
from mllm_server.chie.rules import RulesExtractor
from mllm_server.chie.text_parse import normalise, parse


def test_letters_of_every_script_are_words():
    assert parse("Milka Haselnüssen").words == ["milka", "haselnussen"]
    assert parse("Crème fraîche").words == parse("Creme fraiche").words
    assert parse("Mléko polotučné").words == ["mleko", "polotucne"]
    assert parse("Straße").words == ["strasse"]
    assert "бутылка" in parse("Вода бутылка").words  # Cyrillic kept as it is


def test_cjk_runs_become_bigrams_and_keep_their_units():
    p = parse("农夫山泉 饮用天然水 550ml*24瓶")
    assert {"农夫", "夫山", "山泉", "饮用", "天然"} <= set(p.words)
    assert ("550", "ml") in p.quantities and ("24", "pack") in p.quantities
    assert ("550", "ml") in parse("农夫山泉550毫升").quantities


def test_mojibake_and_full_width_text_are_repaired():
    assert normalise("Oster\u00c3\u201a\u00c2\u00ae Large") == normalise("Oster® Large")
    assert "–" in normalise("competitor \u00c3\u00a2\u00e2\u201a\u00ac\u00e2\u20ac\u0153 based")
    assert parse("５００ｍｌ").quantities == [("500", "ml")]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("0,5 l", "500 ml"),
        ("33cl", "330 ml"),
        ("12 fl oz", "354.9 ml"),
        ("16 oz", "453.6 g"),
        ("1,5 kg", "1500 g"),
        ("2 TB", "2000 GB"),
        ("55 inch", "139.7 cm"),
    ],
)
def test_one_size_written_in_two_units_is_one_quantity(a, b):
    qa, qb = parse(a).quantities, parse(b).quantities
    (va, ua), (vb, ub) = (read_quantity(f"{n} {u}") for n, u in (qa[0], qb[0]))  # type: ignore[misc]
    assert ua == ub and same_size(va, vb)


@pytest.mark.parametrize(
    ("text", "pack", "each"),
    [
        ("2 x 500 g", "2", ("500", "g")),
        ("6x330ml", "6", ("330", "ml")),
        ("330 ml x 24", "24", ("330", "ml")),
        ("Coke 33cl x24", "24", ("330", "ml")),
        ("Lysol 80 ct (Pack of 6)", "6", ("80", "count")),
        ("24瓶 550ml", "24", ("550", "ml")),
        ("6er-Pack 0,33 l", "6", ("330", "ml")),
        ("boîte de 10 capsules 5,6 g", "10", ("5.6", "g")),
    ],
)
def test_pack_counts_are_their_own_dimension(text, pack, each):
    q = parse(text).quantities
    assert (pack, "pack") in q and each in q


def test_a_number_a_shop_joined_to_a_word_is_not_a_quantity():
    assert parse("Galaxy S20 FE 5G").quantities == []  # 5G is a network, not five grams
    assert parse("Tide Pods 3 in 1").quantities == []  # not three inches
    assert ("4", "x") in parse("4x zoom").quantities  # a factor, not a pack


def _anchors(title: str) -> Anchors:
    return RulesExtractor().extract_one(Item("x", title)).anchors


def test_two_titles_with_nothing_readable_in_common_are_no_evidence():
    # two brands of water with Chinese titles: they share only the product words
    f = anchor_features(_anchors("农夫山泉 饮用天然水 550ml"), _anchors("怡宝 纯净水 555ml"))
    assert f["idf_cosine"] < 0.5 and f["token_jaccard"] < 0.5
    # and empty token sets are never agreement, in any lexical feature
    empty = anchor_features(Anchors(), Anchors())
    for name in ("idf_cosine", "idf_containment", "token_jaccard", "char_jaccard"):
        assert empty[name] == 0.0, name


@pytest.mark.parametrize(
    ("text", "sides"),
    [
        ("Product Dimensions 5.5 x 4 x 11 inches", ("139.7", "101.6", "279.4")),
        ("Dimensions (L x W x H) 7.00 x 7.00 x 5.00 Inches", ("177.8", "177.8", "127")),
        ("Box 10 x 20 x 30cm", ("100", "200", "300")),
    ],
)
def test_three_sides_are_three_lengths_not_a_pack(text, sides):
    """ "L x W x H unit": the first side is a length like the others, not a count of packs."""
    quantities = parse(text).quantities
    assert [v for v, unit in quantities if unit == "mm"] == list(sides)
    assert not [v for v, unit in quantities if unit == "pack"]
