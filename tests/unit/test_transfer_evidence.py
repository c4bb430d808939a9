"""Evidence that transfers across schemas (#11): column roles read from values, per-column
disagreement, offer-title boilerplate, domain-balanced calibration."""

import numpy as np
import pytest
from fitrep.domain import Item, Level

from index_server.scoring.calibration_fit import domain_weights, fit_calibration
from index_server.scoring.features import anchor_features
from mllm_server.chie.rules import RulesExtractor
from mllm_server.chie.text_parse import identifier_key, split_offer_title


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("212/759 -5941", "2127595941"),  # a phone, written two ways
        ("212-759-5941", "2127595941"),
        ("07627", "07627"),  # a model number of digits only
        ("NST-D100S2", "nstd100s2"),
        ("B000EHNJWQ", "b000ehnjwq"),
        ("29.99", ""),  # a price
        ("$ 1.29", ""),
        ("1997", ""),  # a year
        ("8.10 %", ""),
        ("3:45", ""),  # a duration
        ("17-Sep-12", ""),  # a date
        ("55 e. 54th st.", ""),  # an address: words
    ],
)
def test_identifier_values_are_recognised_whatever_the_column(value, key):
    assert identifier_key(value) == key


def test_an_identifier_column_binds_like_a_title_code():
    rules = RulesExtractor(use_images=False)
    a = rules.extract_one(Item("a", "Cooler Master fan", attributes={"part_no": "07627"}))
    b = rules.extract_one(Item("b", "Cooler Master fan", attributes={"part_no": "07311"}))
    c = rules.extract_one(Item("c", "Cooler Master fan", attributes={"whatever": "07627"}))
    assert anchor_features(a.anchors, b.anchors)["code_conflict"] == 1.0
    same = anchor_features(a.anchors, c.anchors)
    assert same["code_conflict"] == 0.0 and same["code_match"] == 1.0


def test_a_column_given_entirely_differently_is_evidence_against():
    rules = RulesExtractor(use_images=False)
    paper = "Guest editorial"
    a = rules.extract_one(Item("a", paper, attributes={"authors": "kyu-young whang, amr abbadi"}))
    b = rules.extract_one(Item("b", paper, attributes={"authors": "philip bernstein"}))
    c = rules.extract_one(Item("c", paper, attributes={"authors": "amr el abbadi, k. whang"}))
    assert anchor_features(a.anchors, b.anchors)["field_against"] == 1.0
    assert anchor_features(a.anchors, c.anchors)["field_against"] < 0.2  # 3 of 7 words shared
    # No shared descriptive column: no evidence either way.
    d = rules.extract_one(Item("d", paper))
    assert anchor_features(a.anchors, d.anchors)["field_against"] == 0.0


def test_offer_title_boilerplate_is_auxiliary():
    assert split_offer_title('"Nike Air Max 90 366731-100"@en | Foot Locker') == (
        "Nike Air Max 90 366731-100",
        "Foot Locker",
    )
    assert split_offer_title("Shop24 | Canon EOS 5D body") == ("Canon EOS 5D body", "Shop24")
    assert split_offer_title("Sony DSC-W120 black") == ("Sony DSC-W120 black", "")
    # a marketplace title's bars part the product's own parts: every long segment is product
    assert split_offer_title(
        "WELMATE Allergy Relief | Fexofenadine HCl 180 mg | Non-Drowsy | 100 Count Tablets"
    ) == ("WELMATE Allergy Relief, Fexofenadine HCl 180 mg, Non-Drowsy, 100 Count Tablets", "")
    assert split_offer_title("Allergy Relief 100 Count | Fexofenadine HCl 180 mg | Tablets") == (
        "Allergy Relief 100 Count, Fexofenadine HCl 180 mg",
        "Tablets",
    )
    # a breadcrumb names one product among its segments: the heaviest
    assert split_offer_title("Home » TV » Samsung 55 QLED | Shop24") == (
        "Samsung 55 QLED",
        "Home TV Shop24",
    )
    # a closing quote after a number is inches, not the end of a quoted title
    pool = 'Intex Lounge Pool, 88" x 85" x 30"'
    assert split_offer_title(pool) == (pool, "")
    assert split_offer_title('"Samsung 55" TV"@en | Shop') == ('Samsung 55" TV', "Shop")
    assert RulesExtractor(use_images=False).extract_one(Item("p", pool)).anchors.quantity == (
        "2235 mm",
        "2159 mm",
        "762 mm",
    )
    cs = RulesExtractor(use_images=False).extract_one(
        Item("x", '"Nike Air Max 90 366731-100"@en | Foot Locker')
    )
    primary = " ".join(cs.levels[Level.PRIMARY])
    assert "locker" not in primary and "en" not in primary.split()
    assert "locker" in cs.levels[Level.AUXILIARY]
    assert "366731100" in cs.anchors.code


def test_domains_weigh_the_same_in_the_fit():
    w = domain_weights(["big"] * 90 + ["small"] * 10)
    assert w[:90].sum() == pytest.approx(w[90:].sum())
    assert w.mean() == pytest.approx(1.0)
    # A small domain whose evidence points the other way is not drowned by a large one.
    rng = np.random.default_rng(0)
    rows, labels, domains = [], [], []
    for name, n, sign in (("big", 900, 1.0), ("small", 100, -1.0)):
        for _ in range(n):
            dup = int(rng.random() < 0.4)
            x = float(rng.normal(0.6 if dup else 0.4, 0.1))
            rows.append({"cos_primary": x, "field_against": 0.5 + sign * (0.3 - 0.6 * dup)})
            labels.append(dup)
            domains.append(name)
    plain = fit_calibration(rows, labels, folds=3)
    balanced = fit_calibration(rows, labels, folds=3, domains=domains)
    assert abs(balanced.model.coef["field_against"]) < abs(plain.model.coef["field_against"])
    assert balanced.notes["domains_balanced"] == ["big", "small"]
