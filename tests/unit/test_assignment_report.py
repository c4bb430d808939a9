"""What an assignment reports beside its cluster (the clustering loop and its decision log):
the confidence of a join and of a new cluster, the per-level similarities behind a join,
progress, and that a row is judged with the statistics of the rows up to itself, so that a
batch is decided as its items one by one, and the newest item's similarity is what explain
scores for the same pair now."""

from __future__ import annotations

import pytest
from fitrep.domain import Level

from index_server.engine import IndexEngine


@pytest.fixture(scope="module")
def assigned(fast_items):
    engine = IndexEngine()
    out = engine.assign(fast_items)
    yield engine, out
    engine.close()


def test_a_join_is_as_confident_as_its_agreement_and_a_new_cluster_as_its_best_miss(assigned):
    engine, out = assigned
    t = engine.info().threshold
    joined = [a for a in out if not a.is_new_cluster]
    opened = [a for a in out if a.is_new_cluster]
    assert joined and opened
    for a in joined:
        assert a.nearest_item_id and t <= a.confidence <= 1.0, a
    for a in opened:
        assert a.confidence == pytest.approx(1.0 - a.similarity), a
        assert a.similarity < t and a.nearest_item_id == "", a
    assert any(a.similarity > 0 for a in opened)  # a miss with a score: 1 - it, not 1


def test_a_join_reports_the_levels_it_shares_with_its_nearest_member(assigned):
    _, out = assigned
    for a in out:
        if a.is_new_cluster:
            assert a.per_level == {}, a
        else:
            assert a.per_level and Level.PRIMARY in a.per_level, a
            assert all(-1.0 <= v <= 1.0 for v in a.per_level.values()), a


def test_progress_ends_at_every_row(fast_items):
    seen: list[tuple[str, int, int]] = []
    engine = IndexEngine()
    engine.assign(fast_items, progress=lambda stage, done, total: seen.append((stage, done, total)))
    cluster = [s for s in seen if s[0] == "cluster"]
    assert cluster and cluster[-1] == ("cluster", len(fast_items), len(fast_items))
    engine.close()


def test_a_batch_is_decided_as_its_items_one_by_one(fast_items):
    def run(batches):
        engine = IndexEngine()
        out = [a for batch in batches for a in engine.assign(batch)]
        engine.close()
        return [(a.cluster_id, a.nearest_item_id, round(a.similarity, 5)) for a in out]

    n = len(fast_items)
    whole = run([fast_items])
    assert run([fast_items[: n // 2], fast_items[n // 2 :]]) == whole
    assert run([[item] for item in fast_items]) == whole


def test_the_newest_items_similarity_is_what_explain_scores_now(fast_items):
    """m2 (a relisting of m1) comes last: it was judged with every row, as explain is now."""
    ids = [it.item_id for it in fast_items]
    engine = IndexEngine()
    out = engine.assign(fast_items[: ids.index("m2") + 1])
    last = out[-1]
    assert (last.item_id, last.nearest_item_id, last.is_new_cluster) == ("m2", "m1", False)
    assert engine.explain("m2", "m1").score == pytest.approx(last.similarity, abs=1e-6)
    engine.close()
