"""The join rule agrees with the cluster, not one member; families; explain = clustering
(issue 17, items 3-5)."""

from __future__ import annotations

import itertools

import numpy as np
from fitrep.domain import Item

from index_server.clustering.join_rule import JoinRule
from index_server.config import IndexConfig
from index_server.engine import IndexEngine
from tests.join_reference import ReferenceJoin


def _table(pairs: dict[tuple[int, int], float], family: dict[tuple[int, int], float] | None = None):
    def score(row, rows):
        item = [pairs.get((min(row, r), max(row, r)), 0.0) for r in rows]
        fam = [
            (family or {}).get((min(row, r), max(row, r)), p)
            for r, p in zip(rows, item, strict=True)
        ]
        return np.array(item, np.float32), np.array(fam, np.float32)

    return score


def test_a_chain_of_siblings_cannot_drift_from_the_first_member():
    # 0~1~2~3, each next one close to the last, the end far from the start
    pairs = {(0, 1): 0.9, (1, 2): 0.9, (2, 3): 0.9, (0, 2): 0.45, (1, 3): 0.45, (0, 3): 0.05}
    fbc = ReferenceJoin(threshold=0.5, max_checked=2, min_member_share=0.0, core_share=0.5)
    score = _table(pairs)
    decided = [fbc.decide(i, list(range(i))[::-1], score) for i in range(4)]
    assert decided[1].cluster == decided[0].cluster
    assert decided[3].is_new  # 3 agrees with 2 but not with the first member 0


def test_a_conflict_with_any_member_blocks_the_join_even_unchecked():
    pairs = {(0, 1): 0.9, (0, 2): 0.9, (1, 2): 0.9}
    fbc = ReferenceJoin(threshold=0.5, max_checked=1)
    score = _table(pairs)

    def conflicts(row, rows):
        return np.array([{row, r} == {1, 2} for r in rows])

    fbc.decide(0, [], score, conflicts=conflicts)
    fbc.decide(1, [0], score, conflicts=conflicts)
    d = fbc.decide(2, [0], score, conflicts=conflicts)  # only 0 is checked; 1 conflicts
    assert d.is_new
    check = fbc.check(2, fbc.cluster_of[0], [0], score, conflicts)
    assert not check.ok and check.conflict_row == 1 and "variant conflict" in check.reason


def test_a_variant_opens_a_cluster_in_its_siblings_family():
    # 1 is a variant of 0 (vetoed as an item, close as a product); 2 is unrelated
    pairs = {(0, 1): 0.0, (0, 2): 0.0, (1, 2): 0.0}
    family = {(0, 1): 0.95, (0, 2): 0.1, (1, 2): 0.1}
    fbc = ReferenceJoin(threshold=0.5)
    score = _table(pairs, family)
    d0 = fbc.decide(0, [], score)
    d1 = fbc.decide(1, [0], score)
    d2 = fbc.decide(2, [0, 1], score)
    assert d1.is_new and d1.cluster != d0.cluster and d1.family == d0.family == d0.cluster
    assert d2.family == d2.cluster != d0.family


def test_the_rule_takes_its_parameters_from_index_config_once():
    """One set of defaults: ``JoinRule``'s are ``IndexConfig``'s, and the engine runs the
    values production always ran (a core of 4 at the full threshold)."""
    cfg = IndexConfig()
    rule = JoinRule(0.6)
    got = (rule.max_checked, rule.min_member_share, rule.core, rule.core_share)
    assert got == (cfg.max_checked, cfg.min_member_share, cfg.core, cfg.core_share)
    engine = IndexEngine()
    assert (engine.rule.core, engine.rule.core_share) == (4, 1.0)
    assert engine.rule.threshold == engine.calibration.threshold
    tuned = JoinRule.from_config(0.5, IndexConfig(core=2, core_share=0.75, max_checked=3))
    assert (tuned.core, tuned.core_share, tuned.max_checked) == (2, 0.75, 3)
    assert not hasattr(JoinRule, "decide")  # production decides through the compiled kernel


VARIANTS = [
    Item("a1", "Coca-Cola Original Taste 500 ml bottle"),
    Item("b1", "Coca-Cola Original Taste 1.5 l bottle"),
    Item("a2", "Coca Cola Original Taste 0,5 l bottle"),
    Item("c1", "Yoggi Strawberry Yoghurt 1 kg"),
    Item("d1", "Yoggi Vanilla Yoghurt 1 kg"),
    Item("c2", "YOGGI yoghurt strawberry 1000 g"),
    Item("e1", "Sony WH-1000XM4 Wireless Noise Cancelling Headphones, Black"),
    Item("f1", "Sony WH-1000XM5 Wireless Noise Cancelling Headphones, Black"),
    Item("e2", "SONY WH1000XM4 noise cancelling wireless headphones black"),
]


def _engine(items, concept_engine):
    engine = IndexEngine()
    return engine, engine.build(concept_engine.process(items))


def test_variants_stay_apart_and_share_a_family_while_relistings_merge(concept_engine):
    engine, assigned = _engine(VARIANTS, concept_engine)
    by_id = {a.item_id: a for a in assigned}
    for dup, original in (("a2", "a1"), ("c2", "c1"), ("e2", "e1")):
        # the true duplicate of the first member is not pushed out by the sibling before it
        assert by_id[dup].cluster_id == by_id[original].cluster_id, dup
    for variant, original in (("b1", "a1"), ("d1", "c1"), ("f1", "e1")):
        assert by_id[variant].cluster_id != by_id[original].cluster_id, variant
        assert by_id[variant].family_id == by_id[original].family_id, variant
    engine.close()


def test_explain_says_what_the_clustering_decided_for_every_pair(concept_engine):
    engine, assigned = _engine(VARIANTS, concept_engine)
    cluster = {a.item_id: a.cluster_id for a in assigned}
    for a, b in itertools.combinations(cluster, 2):
        e = engine.explain(a, b)
        assert e.duplicate == (cluster[a] == cluster[b]), (a, b, e.verdict)
        assert e.verdict.startswith("duplicates" if e.duplicate else ("not", "kept apart")), (
            a,
            b,
            e.verdict,
        )
        if e.pair_duplicate and not e.duplicate:
            assert "kept apart" in e.verdict  # names the rule that kept them apart
    e = engine.explain("a1", "b1")
    fired = {g.name: g for g in e.gates if g.fired}
    assert fired["quantity_conflict"].hard and "500 ml vs 1500 ml" in e.verdict
    assert e.family_a == e.family_b and e.cluster_a != e.cluster_b
    engine.close()
