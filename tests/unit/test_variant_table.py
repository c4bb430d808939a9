"""The variant kinds are defined once (``fitrep.anchors.VARIANTS``); each tier implements its
column of that table by kind name, and these tests hold both columns against it."""

from fitrep.anchors import VARIANT_KINDS, VARIANTS, Anchors, variant_kind

from index_server.scoring import variant_gates
from mllm_server.chie import variants
from mllm_server.chie.text_parse import parse


def test_every_gated_kind_has_its_gate_and_only_those():
    gated = {kind.name for kind in VARIANTS if kind.gate}
    assert set(variant_gates.KIND_GATES) == gated
    expected = (
        variant_gates.QUANTITY_GATE,
        *(kind.gate for kind in VARIANTS if kind.gate),
        variant_gates.SUBSTITUTION_GATE,
    )
    assert variant_gates.HARD_GATES == expected


def test_extractors_read_kinds_of_the_table():
    assert set(variants.KIND_EXTRACTORS) <= set(VARIANT_KINDS)
    assert variants.TITLE_ONLY <= set(variants.KIND_EXTRACTORS)


def test_a_gated_kind_is_compared_by_its_gate():
    for kind in VARIANTS:
        if not kind.gate:
            continue
        a = Anchors(variant=(f"{kind.name}:x1",), variant_any=(f"{kind.name}:x1",))
        b = Anchors(variant=(f"{kind.name}:y2",), variant_any=(f"{kind.name}:y2",))
        if kind.name == "model":
            a = Anchors(variant=("model:iphone=7",), number_any=("7",))
            b = Anchors(variant=("model:iphone=8",), number_any=("8",))
        fired = {g for g, detail in variant_gates.variant_conflicts(a, b).items() if detail}
        # the typed substitution gate reads every kind at once, so it may fire beside it
        assert fired - {variant_gates.SUBSTITUTION_GATE} == {kind.gate}, kind.name


def test_attributes_come_in_table_order_and_parse_back():
    got = variants.variant_attributes(parse("Apple iPhone 13 Pro black 2nd generation size M"))
    kinds = [variant_kind(v)[0] for v in got]
    assert kinds == sorted(kinds, key=VARIANT_KINDS.index)
    assert {"colour", "tier", "mtier", "gen", "size", "model"} <= set(kinds)
    untitled = variants.variant_attributes(parse("Apple iPhone 13 Pro black"), with_tiers=False)
    assert not {variant_kind(v)[0] for v in untitled} & variants.TITLE_ONLY
