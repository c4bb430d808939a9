"""The two faces of the hard gates agree (issue 17): ``has_conflict``, which the join's member
scan asks of every member it did not score, fires exactly when some gate of
``variant_conflicts`` (what the verifier and explain report) fires, for every pair of a
catalogue in which each gate fires at least once. And a variant stays out of a cluster of its
siblings however large the cluster has grown past the members the join scores."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from fitrep.domain import Anchors, Item

from index_server.scoring.variant_gates import (
    HARD_GATES,
    has_conflict,
    siblings,
    variant_conflicts,
)
from mllm_server.chie.rules import RulesExtractor
from tests.join_reference import ReferenceJoin

TITLES = [
    "Coca-Cola 500 ml",
    "Coca-Cola 1.5 l",
    "Coca Cola 0,5 l bottle",
    "Apple iPhone 13 128GB",
    "Apple iPhone 13 256 GB",
    "Apple iPhone 13 Pro 128GB",
    "Apple iPhone 8 Plus case",
    "Apple iPhone 7 Plus case",
    "Nike Dri-FIT tričko černá",
    "Nike Dri-FIT tričko bílá",
    "Levi's 501 jeans schwarz",
    "Levi's 501 W32 L32",
    "Levi's 501 W34 L32",
    "Nike T-shirt size M",
    "Nike T-shirt size XL",
    "Yoggi strawberry yoghurt 1 kg",
    "Yoggi vanilla yoghurt 1 kg",
    "YOGGI yoghurt strawberry 1000 g",
    "Alpro Soya Original 1 l",
    "Alpro Soya Chocolate 1 l",
    "Premier Protein Shake, Chocolate, 11 fl oz",
    "Premier Protein Shake, Chocolate Peanut Butter, 11 fl oz",
    "Galaxy S21 Ultra 128GB",
    "Galaxy S21 Plus 128GB",
    "Samsung Galaxy S20 FE",
    "Samsung Galaxy S21 FE",
    "Echo Dot (3rd Gen)",
    "Echo Dot (4th Gen)",
    "Sony WH-1000XM4 headphones",
    "Sony WH-1000XM5 headphones",
    "SONY WH1000XM4 noise cancelling headphones black",
    "Bosch DWT18V3S dishwasher",
    "Bosch DWF18V3S dishwasher",
    "Lysol wipes 80 ct (pack of 6)",
    "Lysol wipes 80 ct (pack of 2)",
]


@pytest.fixture(scope="module")
def anchors() -> list[Anchors]:
    rules = RulesExtractor()
    return [rules.extract_one(Item(f"t{i}", t)).anchors for i, t in enumerate(TITLES)]


def test_has_conflict_fires_exactly_when_a_reported_gate_fires(anchors):
    fired_gates: set[str] = set()
    for (i, a), (j, b) in itertools.combinations(enumerate(anchors), 2):
        for x, y in ((a, b), (b, a)):
            details = variant_conflicts(x, y)
            assert set(details) == set(HARD_GATES)
            fired = {g for g, d in details.items() if d}
            fired_gates |= fired
            assert has_conflict(x, y) == bool(fired), (TITLES[i], TITLES[j], fired)
    assert fired_gates == set(HARD_GATES)  # the catalogue exercises every gate


def test_no_gate_fires_between_an_item_and_itself(anchors):
    for title, a in zip(TITLES, anchors, strict=True):
        assert not has_conflict(a, a), title
        assert not any(variant_conflicts(a, a).values()), title


HEADPHONES = [
    "Sony WH-1000 wireless noise cancelling headphones black",
    "Sony WH 1000 wireless noise cancelling headphones, black",
    "SONY WH-1000 noise cancelling wireless headphones black",
    "Sony WH-1000 wireless noise-cancelling headphones (black)",
    "Sony WH-1000XM4 wireless noise cancelling headphones black",
    "Sony WH-1000XM5 wireless noise cancelling headphones black",
]


def test_a_variant_stays_out_of_a_cluster_grown_past_the_checked_members():
    """Rows 0-3 name no model, row 4 the XM4; the XM5 (row 5) retrieves rows 0 and 1 and
    scores well with every member but the XM4, which is beyond the members the join scores
    (the first, the retrieved: ``max_checked``): only the member scan, asking the gates of
    the real anchors, can keep it out."""
    rules = RulesExtractor()
    anchors = [rules.extract_one(Item(f"h{i}", t)).anchors for i, t in enumerate(HEADPHONES)]

    def score(row, rows):
        return np.array([0.0 if {row, r} == {4, 5} else 0.9 for r in rows], np.float32)

    def conflicts(row, rows):
        return np.array([has_conflict(anchors[row], anchors[r]) for r in rows], bool)

    fbc = ReferenceJoin(threshold=0.5, max_checked=2, core=1, core_share=0.5)
    decided = [fbc.decide(row, list(range(row)), score, conflicts=conflicts) for row in range(5)]
    assert {d.cluster for d in decided} == {decided[0].cluster}  # one product so far
    xm5 = fbc.decide(5, [0, 1], score, conflicts=conflicts)
    assert xm5.is_new and xm5.cluster != decided[0].cluster
    check = fbc.check(5, decided[0].cluster, [0, 1], score, conflicts)
    assert not check.ok and check.conflict_row == 4
    assert variant_conflicts(anchors[5], anchors[4])["model_conflict"]


def _read(*flavours: str) -> Anchors:
    """Flavours read off a picture only."""
    values = tuple(f"flavour:{f}" for f in flavours)
    return Anchors(variant=values, variant_any=values, variant_read=values)


MORE = [
    ("Nike T-shirt black size M", {}),
    ("Nike T-shirt size M", {}),
    ("MacBook 4GB RAM", {}),
    ("MacBook 4GB RAM 128GB", {}),
    ("Apple iPhone 12 128GB", {}),
    ("Apple iPhone 13 128GB", {"description": "the pro model"}),
    ("Tropicana orange grapefruit", {}),
    ("Tropicana orange", {}),
]


def test_every_gate_is_symmetric(anchors):
    rules = RulesExtractor()
    extra = [rules.extract_one(Item("m", t, attributes=attrs)).anchors for t, attrs in MORE] + [
        _read("orange"),
        _read("grapefruit", "orange"),
        _read("vanilla"),
        _read("oat"),
    ]
    everything = anchors + extra
    for a, b in itertools.combinations(everything, 2):
        ab, ba = variant_conflicts(a, b), variant_conflicts(b, a)
        assert {g for g, d in ab.items() if d} == {g for g, d in ba.items() if d}, (a, b)
        assert has_conflict(a, b) == has_conflict(b, a) == any(ab.values())


@pytest.mark.parametrize(
    ("a", "b", "gate"),
    [
        # a value only one side names is no evidence, whichever side it is on
        ("Nike T-shirt black size M", "Nike T-shirt size M", "colour_conflict"),
        ("MacBook 4GB RAM", "MacBook 4GB RAM 128GB", "quantity_conflict"),
        ("Apple iPhone 13 128GB", "Apple iPhone 13 Pro 128GB", ""),  # tier: fires both ways
        # a tier bound to a model the other title does not name: that is the model gate's
        ("Apple iPhone 13 Pro 128GB", "Apple iPhone 12 128GB", "tier_conflict"),
    ],
)
def test_one_sided_values_fire_no_gate_of_their_kind(a, b, gate):
    rules = RulesExtractor()
    x, y = (rules.extract_one(Item("t", t)).anchors for t in (a, b))
    if gate:
        assert variant_conflicts(x, y)[gate] == variant_conflicts(y, x)[gate] == ""
    else:
        assert variant_conflicts(x, y)["tier_conflict"] == "none vs pro"
        assert variant_conflicts(y, x)["tier_conflict"] == "pro vs none"


def test_a_tier_the_other_item_names_in_its_description_is_no_conflict():
    rules = RulesExtractor()
    pro = rules.extract_one(Item("a", "Apple iPhone 13 Pro 128GB")).anchors
    described = rules.extract_one(Item("b", "Apple iPhone 13 128GB", "the pro model")).anchors
    assert variant_conflicts(pro, described)["tier_conflict"] == ""


@pytest.mark.parametrize(
    ("x", "y", "expected"),
    [
        ("s20", "s21", True),  # one digit
        ("wh1000xm4", "wh1000xm5", True),
        ("wh1000xm4", "wh1001xm5", True),  # two places, a digit among them
        ("dwt18v3s", "dwf18v3s", True),  # 6+ characters: one place of any kind
        ("ab1c2", "ad1c2", False),  # under 6: one letter is a spelling, not a sibling
        ("dwt18v3s", "dxf18v3s", False),  # two letters
        ("wh1000xm4", "wh2000ym5", False),  # three places
        ("s20", "s200", False),  # another length
        ("s20", "s20", False),  # the same code
        ("s20x", "s20", False),  # the same after a letter suffix
        ("ab", "ac", False),  # letters only
        ("12", "13", False),  # digits only
    ],
)
def test_sibling_codes_both_ways(x, y, expected):
    assert siblings(x, y) is expected and siblings(y, x) is expected
