"""Typed alignment of two records (issue 25, part 2): substitutions split, additions do not."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from fitrep.domain import Anchors, Item
from fitrep.readers import read_items
from fitrep.synthetic import electronics, multilingual, templates

from index_server.scoring.alignment import (
    KINDS,
    align,
    comparison_levels,
    has_identity_conflict,
    identity_conflict,
)
from index_server.scoring.variant_gates import fired_gates, has_conflict, variant_conflicts
from mllm_server.chie.rules import RulesExtractor


def _anchors(title: str) -> Anchors:
    return RulesExtractor().extract_one(Item("x", title)).anchors


def _fired(a: str, b: str) -> dict[str, str]:
    return {g: d for g, d in variant_conflicts(_anchors(a), _anchors(b)).items() if d}


SUBSTITUTED = [
    ("Brandon olive oil 1000 ml navy", "Kestor olive oil 1000 ml beige", "colour"),
    ("Brandon olive oil 1000 ml navy", "Kestor olive oil 1000 ml navy", "brand"),
    ("Tekko phone case for iPhone 12 blue", "Tekko phone case for iPhone 12 pink", "colour"),
    ("Google Pixel 8 128 GB", "Google Pixel 8a 128 GB", "generation"),
    ("Fizz cola 6 x 330 ml", "Fizz cola 330 ml", "pack"),
    ("Fizz water 1.5 l", "Fizz water 6 x 1.5 l", "pack"),
    ("Vemo running shoes EU 42 navy", "Vemo running shoes EU 44 navy", "size"),
    # a brand that starts another is not that brand (template catalogues make them)
    (
        "Hovek cotton t-shirt size S lavender",
        "Hovekmar cotton t-shirt size S lavender",
        "brand",
    ),
    ("Vektis olive oil 250 ml grey", "olive oil 250 ml grey by Vektisken", "brand"),
]


@pytest.mark.parametrize(("a", "b", "kind"), SUBSTITUTED)
def test_a_substitution_of_an_identity_kind_is_a_hard_conflict(a, b, kind):
    alignment = align(_anchors(a), _anchors(b))
    assert kind in {d.kind for d in alignment.conflicts()}, alignment
    assert comparison_levels(alignment)[kind] == 3
    assert has_conflict(_anchors(a), _anchors(b))
    assert has_conflict(_anchors(b), _anchors(a))


REWORDED = [
    ("Brandon olive oil 1000 ml navy", "BRANDON OLIVE OIL 1 L NAVY - free shipping"),
    ("Brandon olive oil 1000 ml navy", "olive oil 1000 ml navy by Brandon"),
    ("Brandon olive oil 1000 ml navy", "Brandon navy olive oil 1000 ml | new"),
    ("Fizz cola 6 x 330 ml", "Fizz cola 330 ml (pack of 6)"),
    ("Vemo running shoes Gr. 42", "Vemo running shoes EU 42"),
    ("Vemo tenisky vel. 42", "Vemo tenisky EU 42"),
    ("Vemo earbuds Gen 2 black", "Vemo earbuds (2nd generation) black"),
    # one brand written short: the rest of the longer name is a word the other says
    ("polk audio csi a4 black center channel", "polkaudio csi a4 black center channel"),
]


@pytest.mark.parametrize(("a", "b"), REWORDED)
def test_the_same_item_reworded_has_no_conflict(a, b):
    assert not _fired(a, b)
    alignment = align(_anchors(a), _anchors(b))
    assert not alignment.conflicts(), alignment


def test_additions_are_typed_and_weak():
    alignment = align(
        _anchors("Brandon sunflower oil 1000 ml"),
        _anchors("Brandon sunflower oil 1000 ml new top rated"),
    )
    assert not alignment.substitutions
    assert {d.kind for d in alignment.additions} == {"word"}
    levels = comparison_levels(alignment)
    assert set(levels) == set(KINDS)
    assert levels["word"] == 2 and levels["quantity"] == 0 and levels["colour"] == 1


def test_a_brand_read_inside_another_word_is_no_flavour():
    assert "flavour:lamb" not in _anchors("Tonino Lamborghini espresso cup red").variant
    assert "flavour:lamb" in _anchors("Mix lamb dog food 1 kg").variant
    assert "flavour:peanut butter" not in _anchors("Zuzu peanut butterfly kite").variant
    assert "flavour:peanut butter" in _anchors("Zuzu peanut butter 500 g").variant


def test_a_shared_model_code_outweighs_two_brand_names():
    a = _anchors("Terk mini tuner home dock for XM black CNP2000H")
    b = _anchors("Audiovox CNP2000H XM mini-tuner home dock")
    assert not align(a, b).conflicts()


def test_dimensions_are_no_pack():
    anchors = _anchors("Rug 77x147 cm grey")
    assert not any(q.endswith("pack") for q in anchors.quantity)
    assert not _fired("Rug 77x147 cm grey", "Rug 77x147 cm grey non-slip")


def _item_anchors(title: str, **attributes: str) -> Anchors:
    return RulesExtractor().extract_one(Item("x", title, attributes=attributes)).anchors


def test_a_brand_read_off_the_title_is_marked_so():
    assert _item_anchors("Kestor olive oil 1000 ml").brand_from == ("title",)
    assert _item_anchors("Olive oil 1000 ml by Kestor").brand_from == ("title",)
    assert _item_anchors("olive oil 1000 ml", brand="Kestor").brand_from == ()


def test_a_stated_brand_against_a_guessed_one_is_soft_evidence_not_a_veto():
    # Amazon-Google's shape: the manufacturer column names the distributor, the other shop's
    # title starts with the publisher (or with no brand at all).
    stated = _item_anchors("stuffit deluxe 11", manufacturer="aladdin systems")
    guessed = _item_anchors("allume stuffit deluxe 11")
    assert align(stated, guessed).conflicts() == ()
    assert comparison_levels(align(stated, guessed))["brand"] == 3  # still a substitution
    assert not has_conflict(stated, guessed) and not has_conflict(guessed, stated)
    # both read off titles (the template shape, any word order) or both stated: a veto
    assert has_conflict(_item_anchors("aladdin stuffit deluxe 11"), guessed)
    assert has_conflict(_item_anchors("stuffit deluxe 11 by aladdin"), guessed)
    other = _item_anchors("stuffit deluxe 11", manufacturer="allume")
    assert has_conflict(stated, other)


def test_a_model_answer_over_the_rules_states_its_brand():
    rules = _item_anchors("allume stuffit deluxe 11")
    assert rules.merged(Anchors(brand=("aladdin",))).brand_from == ()
    assert rules.merged(Anchors(code=("x1",))).brand_from == ("title",)
    assert rules.merged(Anchors(brand=("самсунг",))).brand == ("samsung",)  # Latin letters


def _catalogue_anchors(root: Path) -> list[list[Anchors]]:
    """Three generated shapes as a user's files hold them (packs and sizes; model codes,
    suffixes, brand and listing columns; several scripts), seeds no other test reads."""
    extractor = RulesExtractor()
    shapes = (templates.generate(160, seed=23), electronics.generate(29), multilingual.generate(31))
    return [
        [x.anchors for x in extractor.extract(read_items(c.write_jsonl(root / f"{c.name}.jsonl")))]
        for c in shapes
    ]


def test_the_quick_substitution_check_agrees_with_the_alignment_on_every_pair(tmp_path: Path):
    """``has_identity_conflict`` settles most pairs from the identity kinds alone; it must
    answer as the whole alignment does, on pairs of every shape (and so the gate it feeds)."""
    fired = checked = 0
    for anchors in _catalogue_anchors(tmp_path):
        for a, b in itertools.permutations(anchors, 2):
            full = bool(identity_conflict(a, b))
            assert has_identity_conflict(a, b) == full, (a, b)
            fired, checked = fired + full, checked + 1
    assert min(fired, checked - fired) > 500  # both answers, many times
    hand = [(a, b) for a, b, _ in SUBSTITUTED] + REWORDED
    hand.append(("Terk mini tuner home dock for XM black CNP2000H", "Audiovox CNP2000H XM dock"))
    for a, b in itertools.chain(hand, [(b, a) for a, b in hand]):
        x, y = _anchors(a), _anchors(b)
        assert has_identity_conflict(x, y) == bool(identity_conflict(x, y)), (a, b)
        assert fired_gates(x, y) == {g: bool(d) for g, d in variant_conflicts(x, y).items()}
