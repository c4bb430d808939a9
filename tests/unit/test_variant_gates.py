"""Variant attributes in any language, and hard gates that decide (issue 17, items 1-3)."""

from __future__ import annotations

import numpy as np
import pytest
from fitrep.domain import Anchors, Item, Level

from index_server.integration import LevelLayout
from index_server.scoring.calibration import Calibration, create_scorer
from index_server.scoring.logistic import LogisticModel
from index_server.scoring.variant_gates import HARD_GATES, variant_conflicts
from mllm_server.chie.rules import RulesExtractor


def _anchors(title: str, **attributes: str) -> Anchors:
    return RulesExtractor().extract_one(Item("x", title, attributes=attributes)).anchors


def _fired(a: str, b: str) -> dict[str, str]:
    return {g: d for g, d in variant_conflicts(_anchors(a), _anchors(b)).items() if d}


@pytest.mark.parametrize(
    ("a", "b", "gate"),
    [
        ("Coca-Cola 500 ml", "Coca-Cola 1.5 l", "quantity_conflict"),
        ("Coca-Cola 1 l", "Coca-Cola 500 ml", "quantity_conflict"),
        ("Apple iPhone 13 128GB", "Apple iPhone 13 256 GB", "quantity_conflict"),
        ("MacBook 4GB RAM 500GB", "MacBook 4GB RAM 128GB", "quantity_conflict"),
        ("Lysol wipes 80 ct (pack of 6)", "Lysol wipes 80 ct (pack of 2)", "quantity_conflict"),
        ("农夫山泉 550ml*24瓶", "农夫山泉 550ml*12瓶", "quantity_conflict"),
        ("Nike Dri-FIT tričko černá", "Nike Dri-FIT tričko bílá", "colour_conflict"),
        ("Levi's 501 jeans schwarz", "Levi's 501 jeans blau", "colour_conflict"),
        ("iPhone 13 黑色", "iPhone 13 白色", "colour_conflict"),
        ("Yoggi strawberry yoghurt 1 kg", "Yoggi vanilla yoghurt 1 kg", "flavour_conflict"),
        ("Milka Erdbeer Schokolade 100g", "Milka Haselnuss Schokolade 100g", "flavour_conflict"),
        ("Alpro Soya Original 1 l", "Alpro Soya Chocolate 1 l", "flavour_conflict"),
        ("安慕希 酸奶 香草味", "安慕希 酸奶 蓝莓味", "flavour_conflict"),
        (
            "Premier Protein Shake, Chocolate, 11 fl oz",
            "Premier Protein Shake, Chocolate Peanut Butter, 11 fl oz",
            "flavour_conflict",
        ),
        ("Tide Pods Spring Meadow Scent", "Tide Pods Lavender Scent", "flavour_conflict"),
        ("Levi's 501 W32 L32", "Levi's 501 W34 L32", "size_conflict"),
        ("Nike T-shirt size M", "Nike T-shirt size XL", "size_conflict"),
        ("Galaxy S21 Ultra 128GB", "Galaxy S21 Plus 128GB", "tier_conflict"),
        ("Apple iPhone 13 Pro 128GB", "Apple iPhone 13 128GB", "tier_conflict"),
        ("Samsung Galaxy S10+ 128GB", "Samsung Galaxy S10 128GB", "tier_conflict"),
        ("Echo Dot (3rd Gen)", "Echo Dot (4th Gen)", "generation_conflict"),
        ("Sony WH-1000XM4 headphones", "Sony WH-1000XM5 headphones", "model_conflict"),
        ("Samsung Galaxy S20 FE", "Samsung Galaxy S21 FE", "model_conflict"),
        ("Apple iPhone 8 Plus case", "Apple iPhone 7 Plus case", "model_conflict"),
        # Spanish, Italian, Polish, Dutch, Portuguese: word lists, markers, sizes, units
        ("Camiseta Nike negra talla M", "Camiseta Nike roja talla M", "colour_conflict"),
        ("Camiseta Nike negra talla M", "Camiseta Nike negra talla L", "size_conflict"),
        (
            "Yogur Danone sabor fresa 4x125 g",
            "Yogur Danone sabor vainilla 4x125 g",
            "flavour_conflict",
        ),
        ("Yogur Danone fresa 4x125 g", "Yogur Danone fresa 6x125 g", "quantity_conflict"),
        ("Maglietta Adidas nera taglia XL", "Maglietta Adidas bianca taglia XL", "colour_conflict"),
        ("Gelato Algida gusto cioccolato", "Gelato Algida gusto nocciola", "flavour_conflict"),
        ("Koszulka Nike czarna rozmiar M", "Koszulka Nike biała rozmiar M", "colour_conflict"),
        ("Jogurt Zott truskawkowy 150 g", "Jogurt Zott waniliowy 150 g", "flavour_conflict"),
        ("Jogurt o smaku wiśniowym", "Jogurt o smaku brzoskwiniowym", "flavour_conflict"),
        ("T-shirt Nike zwart maat M", "T-shirt Nike groen maat M", "colour_conflict"),
        ("iPhone 15 Pro 256 Go noir", "iPhone 15 Pro 512 Go noir", "quantity_conflict"),
    ],
)
def test_a_variant_conflict_fires_its_gate(a, b, gate):
    assert gate in _fired(a, b), _fired(a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Coca-Cola 0,5 l", "Coca Cola 500ml"),
        ("Kraft BBQ sauce 455g/16 oz", "Kraft BBQ sauce 16 oz"),
        ("Nikon Coolpix 13.5 megapixel", "Nikon Coolpix 13 megapixels"),
        ("Coca-Cola 500 ml", "Coca-Cola classic"),  # absent is no evidence
        ("Yoggi strawberry yoghurt", "Yoggi yoghurt"),
        ("Tropicana Original orange juice", "Tropicana orange juice"),
        ("Black+Decker toaster, black", "BLACK+DECKER toaster black"),
        ("Speck case for Apple MacBook Pro, orange", "Speck orange case for MacBook Pro"),
        ("Nike Dri-FIT tričko černá", "NIKE Dri-FIT tričko, černé"),
        ("Milka Ganze Haselnüsse 100g", "MILKA Schokolade mit ganzen Haselnüssen, 100 g"),
        ("Sharp air purifier 194 cfm max", "Sharp air purifier"),
        ("Windows XP professional", "Windows XP pro"),
        # French names a flavour after its marker ("saveur vanille"), English before it
        (
            "Nespresso Vanilla Éclair capsules café arôme vanille x10",
            "Capsules Nespresso Vanilla Eclair, café saveur vanille, boîte de 10",
        ),
        ("Jogurt s příchutí jahody 150 g", "Jogurt jahoda 150g"),
        ("Ariel Pods x 30", "Ariel Pods 30 pack"),
        ("Yogur griego Oikos sabor fresa 4x110 g", "Oikos yogur griego fresa, pack 4 x 110g"),
        ("Jogobella truskawkowy 150 g", "Jogobella jogurt o smaku truskawkowym 150g"),
        ("Koszulka Nike złota", "Koszulka Nike zlota"),  # ł folds like an accent
        ("iPhone 15 256 Go", "iPhone 15 256GB"),
        ("Samsung Galaxy S10 Plus 128GB", "Samsung Galaxy S10+ 128GB"),
        ("LEGO City fire truck, ages 5+", "LEGO City fire truck"),
    ],
)
def test_the_same_item_written_two_ways_fires_no_gate(a, b):
    assert _fired(a, b) == {}


@pytest.mark.parametrize(
    ("title", "brand", "quantity", "code"),
    [
        ("Capsules Nespresso Vanilla Eclair, boîte de 10", ("nespresso",), ("10 pack",), ()),
        ("Kapseln Lavazza Crema, Packung mit 10", ("lavazza",), ("10 pack",), ()),
        ("Lavazza Crema Kapseln x10", ("lavazza",), ("10 pack",), ()),
        ("Nespresso capsules x10", ("nespresso",), ("10 pack",), ()),
        ("Ariel pods x 30", ("ariel",), ("30 pack",), ()),
        ("Sony Xperia X10 black", ("sony",), (), ("x10",)),  # a model, not a pack
        ("Apple Time Capsule 2TB", ("apple",), ("2000 gb",), ()),  # a product name
    ],
)
def test_packaging_words_of_any_language_are_form_not_brand(title, brand, quantity, code):
    a = _anchors(title)
    assert (a.brand, a.quantity, a.code) == (brand, quantity, code)


def test_a_marker_names_the_flavour_on_its_own_side():
    assert _anchors("Duschgel Duft Meeresbrise 250 ml").variant == ("flavour:meeresbrise",)
    assert _anchors("Lenor spring meadow scent 1 l").variant == ("flavour:spring meadow",)
    assert _anchors("Capsules café saveur vanille").variant == ("flavour:vanilla",)


def test_a_value_the_other_item_names_elsewhere_is_no_conflict():
    a = RulesExtractor().extract_one(Item("a", "Yoggi yoghurt vanilla")).anchors
    b = (
        RulesExtractor()
        .extract_one(
            Item(
                "b", "Yoggi yoghurt 1 kg", "creamy vanilla yoghurt", attributes={"type": "dessert"}
            )
        )
        .anchors
    )
    assert variant_conflicts(a, b)["flavour_conflict"] == ""


def test_a_hard_gate_vetoes_whatever_the_score():
    """Gate features carry no coefficient: a conflict is decided, not outvoted (the family
    score, the same model without the gates, stays high)."""
    layout = LevelLayout.from_dims({Level.PRIMARY: 4})
    cal = Calibration(
        weights={Level.PRIMARY: 1.0},
        model=LogisticModel(coef={"cos_primary": 20.0, "quantity_conflict": -0.1}, bias=-5.0),
        threshold=0.5,
    )
    verifier = create_scorer(cal, layout)
    v = np.array([1, 0, 0, 0], np.float32)
    a, b = _anchors("Coca-Cola 500 ml"), _anchors("Coca-Cola 1.5 l")
    s = verifier.score(v, a, v[None, :], [b])
    assert s.probability[0] == 0.0
    assert s.family[0] > 0.99
    gates = {g.name: g for g in verifier.gates(s, 0, variant_conflicts(a, b))}
    assert gates["quantity_conflict"].fired and gates["quantity_conflict"].hard
    assert gates["quantity_conflict"].detail == "500 ml vs 1500 ml"
    assert set(HARD_GATES) <= set(gates)
    same = verifier.score(v, a, v[None, :], [_anchors("Coca Cola 0,5 l")])
    assert same.probability[0] > 0.99


def test_price_gap_reads_the_listed_price_and_ignores_small_differences():
    from index_server.scoring.features import record_features

    def gap(p: str, q: str) -> float:
        return record_features(_anchors("Office 2019", price=p), _anchors("Office 2019", price=q))[
            "price_gap"
        ]

    assert _anchors("x", price="$1,299.00").price == ("1299",)
    assert _anchors("x", price="129,90 €").price == _anchors("x", price="129.9").price
    assert gap("$100", "$120") == 0.0  # two shops, one item
    assert gap("$100", "") == 0.0  # a missing price is no evidence
    assert 0.0 < gap("$100", "$400") < 1.0  # an upgrade or academic licence
    assert gap("10", "200") == 1.0


def test_flavours_read_off_a_picture_conflict_only_when_each_side_has_its_own():
    """A package is read in part: a superset or a product-line word is no conflict there,
    while the same words in titles are."""

    def read(*flavours: str) -> Anchors:
        values = tuple(f"flavour:{f}" for f in flavours)
        return Anchors(variant=values, variant_any=values, variant_read=values)

    assert not variant_conflicts(read("grapefruit", "orange"), read("orange"))["flavour_conflict"]
    assert not variant_conflicts(read("oat"), read("original"))["flavour_conflict"]
    assert variant_conflicts(read("vanilla"), read("blueberry"))["flavour_conflict"]
    titled = variant_conflicts(
        _anchors("Tropicana orange grapefruit"), _anchors("Tropicana orange")
    )
    assert titled["flavour_conflict"]
