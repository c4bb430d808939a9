"""Explain agrees with an independent decision of every pair (issue 17, items 3-5; issue 24).

``duplicate`` is, by definition, "the same cluster id", so comparing it with the cluster ids
tests nothing. Here the clustering is decided again, apart from the index: the join rule in
plain Python, item by item in input order, each against every earlier item, asking the
verifier (explain's pair scores) and the hard gates of the items' own anchors; explain's
``duplicate``, its families and the kind of verdict must match that decision, and the verdict
must name what kept a pair apart (the gate that fired, the score, the join rule)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pytest
from fitrep.domain import Anchors, Explanation, Item

from index_server.config import IndexConfig
from index_server.engine import IndexEngine
from index_server.scoring.variant_gates import variant_conflicts
from tests.join_reference import ReferenceJoin

ITEMS = [
    Item("a1", "Coca-Cola Original Taste 500 ml bottle"),
    Item("b1", "Coca-Cola Original Taste 1.5 l bottle"),
    Item("a2", "Coca Cola Original Taste 0,5 l bottle"),
    Item("c1", "Yoggi Strawberry Yoghurt 1 kg"),
    Item("d1", "Yoggi Vanilla Yoghurt 1 kg"),
    Item("c2", "YOGGI yoghurt strawberry 1000 g"),
    Item("e1", "Sony WH-1000XM4 Wireless Noise Cancelling Headphones, Black"),
    Item("f1", "Sony WH-1000XM5 Wireless Noise Cancelling Headphones, Black"),
    Item("e2", "SONY WH1000XM4 noise cancelling wireless headphones black"),
    Item("g1", "Oatly oat drink 1 l", "oat drink carton"),
    Item("g2", "Oatly Oat Drink 1 litre carton"),
    Item("h1", "Apple iPhone 13 Pro 128GB graphite"),
    Item("h2", "Apple iPhone 13 128GB midnight"),
    # pairs that score between the gates' zero and a sure match: the join rule decides
    Item("k1", "Canon PIXMA MX700 all-in-one printer", "print scan copy fax"),
    Item("k2", "canon pixma mx700 multifunction inkjet printer", "print, scan, copy and fax"),
    Item("m1", "Microsoft Office 2007 Professional", "office suite for windows"),
    Item("m2", "microsoft office professional 2007 full version"),
    Item("m3", "Microsoft Office 2003 Professional", "office suite"),
    Item("p1", "Samsung 970 EVO Plus 1TB NVMe SSD"),
    Item("p2", "Samsung 970 EVO Plus NVMe M.2 SSD 1 TB"),
    Item("p3", "Samsung 980 PRO 1TB NVMe SSD"),
    Item("p4", "Samsung 970 EVO 1TB SSD"),
    Item("q1", "Logitech MX Master 3 wireless mouse"),
    Item("q2", "logitech mx master wireless mouse graphite"),
]


class Replay:
    """The join rule decided again over ``ids`` in order, from explain's pair scores and the
    gates of the items' own anchors, with the index's default rule settings."""

    def __init__(self, engine: IndexEngine, ids: list[str], anchors: list[Anchors]) -> None:
        self.engine, self.ids, self.anchors = engine, ids, anchors
        self.explained: dict[tuple[int, int], Explanation] = {}
        cfg = IndexConfig()
        threshold = self.explain(0, 1).threshold
        self.fbc = ReferenceJoin(
            threshold,
            cfg.max_checked,
            cfg.min_member_share,
            core_share=cfg.core_share,
            core=cfg.core,
        )
        for row in range(len(ids)):
            self.fbc.decide(row, list(range(row)), self.score, conflicts=self.conflicts)

    def explain(self, a: int, b: int) -> Explanation:
        key = (min(a, b), max(a, b))
        if key not in self.explained:
            self.explained[key] = self.engine.explain(self.ids[key[0]], self.ids[key[1]])
        return self.explained[key]

    def score(self, row: int, others: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        pairs = [self.explain(row, o) for o in others]
        item = np.array([e.score for e in pairs], np.float32)
        return item, np.array([e.family_score for e in pairs], np.float32)

    def conflicts(self, row: int, others: Sequence[int]) -> np.ndarray:
        a = self.anchors[row]
        return np.array([any(variant_conflicts(a, self.anchors[o]).values()) for o in others])

    def anchors_of(self, a: int, b: int) -> tuple[Anchors, Anchors]:
        return self.anchors[a], self.anchors[b]

    def together(self, a: int, b: int) -> bool:
        return self.fbc.cluster_of[a] == self.fbc.cluster_of[b]

    def same_family(self, a: int, b: int) -> bool:
        return self.fbc.family(a) == self.fbc.family(b)


@pytest.fixture(scope="module")
def replayed(concept_engine):
    embedded = concept_engine.process(ITEMS)
    engine = IndexEngine()
    engine.build(embedded)
    replay = Replay(engine, [i.id for i in ITEMS], [e.concepts.anchors for e in embedded])
    yield replay
    engine.close()


def test_duplicate_and_family_are_what_an_independent_decision_says(replayed):
    for a, b in itertools.combinations(range(len(ITEMS)), 2):
        e = replayed.explain(a, b)
        assert e.duplicate == replayed.together(a, b), (e.item_a, e.item_b, e.verdict)
        assert (e.family_a == e.family_b) == replayed.same_family(a, b), (e.item_a, e.item_b)


def test_the_verdict_names_what_decided_the_pair(replayed):
    kinds = set()
    for a, b in itertools.combinations(range(len(ITEMS)), 2):
        e = replayed.explain(a, b)
        fired = {g: d for g, d in variant_conflicts(*replayed.anchors_of(a, b)).items() if d}
        where = (e.item_a, e.item_b, e.verdict)
        if replayed.together(a, b):
            kind = "duplicates"
            assert e.verdict.startswith("duplicates: the same cluster " + e.cluster_a), where
        elif fired:
            kind = "gate"
            assert e.verdict.startswith("not duplicates: a hard gate vetoes the pair"), where
            for gate, detail in fired.items():
                assert f"{gate} ({detail})" in e.verdict, where
            assert not e.pair_duplicate and e.score < e.threshold
        elif e.score < e.threshold:
            kind = "score"
            assert e.verdict.startswith(f"not duplicates: the pair scores {e.score:.2f}"), where
        else:
            kind = "rule"
            assert e.verdict.startswith("kept apart"), where
        kinds.add(kind)
    assert kinds == {"duplicates", "gate", "score", "rule"}  # every kind of verdict is seen


def test_explain_scores_a_pair_with_the_token_counts_it_was_decided_by(concept_engine):
    # Row i is decided with the idf of rows 0..i; rows that arrive later make "pixma" common.
    # Explain must report the score the join saw, not one with the later counts.
    items = [
        Item("k1", "Canon PIXMA MX700 all-in-one printer", "print scan copy fax"),
        Item("k2", "canon pixma mx700 multifunction inkjet printer", "print, scan, copy and fax"),
        *(Item(f"z{i}", f"Canon PIXMA {name} photo printer") for i, name in enumerate("ABCDEFGH")),
    ]
    engine = IndexEngine()
    decided = {a.item_id: a for a in engine.build(concept_engine.process(items))}
    explained = engine.explain("k1", "k2")
    engine.close()
    k2 = decided["k2"]
    assert k2.nearest_item_id in ("k1", "")
    seen = k2.similarity if k2.nearest_item_id == "k1" else 1.0 - k2.confidence
    assert explained.score == pytest.approx(seen, abs=1e-5)
