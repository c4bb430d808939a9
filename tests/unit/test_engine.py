"""IndexEngine behaviour: stable ids across restarts, idempotent assign, build == assign."""

from __future__ import annotations

import pytest
from fitrep.domain import FailedPrecondition, InvalidInput, Item, NotFound

from index_server.engine import IndexEngine


def _partition(assignments):
    groups: dict[str, set[str]] = {}
    for a in assignments:
        groups.setdefault(a.cluster_id, set()).add(a.item_id)
    return sorted(sorted(g) for g in groups.values())


def test_build_equals_incremental_assign_in_the_same_order(fast_items):
    built = IndexEngine().build(fast_items)
    inc = IndexEngine()
    one_by_one = [inc.assign([item])[0] for item in fast_items]
    assert _partition(built) == _partition(one_by_one)
    assert [a.cluster_id for a in built] == [a.cluster_id for a in one_by_one]


def test_a_build_that_releases_the_vectors_decides_the_same(tmp_path, fast_items):
    """``release_vectors`` drops each item's vectors once stored; nothing after reads them:
    the same clusters, the same explanations, the same store after a restart."""
    import copy

    plain = IndexEngine()
    kept = plain.build(fast_items)
    handed = copy.deepcopy(fast_items)
    engine = IndexEngine(tmp_path)
    released = engine.build(handed, release_vectors=True)
    assert all(not item.embeddings.vectors for item in handed)
    assert [(a.cluster_id, a.similarity) for a in released] == [
        (a.cluster_id, a.similarity) for a in kept
    ]
    a, b = fast_items[0].item_id, fast_items[1].item_id
    assert engine.explain(a, b).score == plain.explain(a, b).score
    engine.close()
    again = IndexEngine(tmp_path)
    assert again.assign(fast_items[:3])[0].cluster_id == kept[0].cluster_id


def test_a_batch_stored_block_by_block_is_stored_as_one(tmp_path, fast_items, monkeypatch):
    from index_server import engine as engine_module

    whole = IndexEngine(tmp_path / "whole")
    kept = whole.build(fast_items)
    monkeypatch.setattr(engine_module, "STORE_BLOCK", 3)
    blocks = IndexEngine(tmp_path / "blocks")
    assert [(a.cluster_id, a.similarity) for a in blocks.build(fast_items)] == [
        (a.cluster_id, a.similarity) for a in kept
    ]
    assert blocks.rows.ids == whole.rows.ids
    assert (blocks.rows.records.view() == whole.rows.records.view()).all()
    dim = whole.rows.layout.total
    stored = [(s.digest, s.anchors, s.cluster) for s in whole.store.iter_items(dim)]
    assert [(s.digest, s.anchors, s.cluster) for s in blocks.store.iter_items(dim)] == stored


def test_assign_is_idempotent_per_item_id(fast_items):
    engine = IndexEngine()
    first = engine.assign(fast_items)
    again = engine.assign(fast_items[:3])
    assert [a.cluster_id for a in again] == [a.cluster_id for a in first[:3]]
    assert engine.info().items == len(fast_items)


def test_ids_stable_across_restart_and_never_reused(tmp_path, fast_items):
    engine = IndexEngine(tmp_path)
    first = engine.assign(fast_items[:8])
    engine.close()
    reopened = IndexEngine(tmp_path)
    assert reopened.info().items == 8
    again = reopened.assign(fast_items[:8])
    assert [a.cluster_id for a in again] == [a.cluster_id for a in first]
    later = reopened.assign(fast_items[8:])
    old_ids = {a.cluster_id for a in first}
    new_ids = {a.cluster_id for a in later if a.is_new_cluster}
    assert not (old_ids & new_ids)
    # deleting every member of a cluster must not free its id
    victim = first[0].cluster_id
    members = reopened.get_cluster(victim).member_ids
    assert reopened.delete(members) == len(members)
    with pytest.raises(NotFound):
        reopened.get_cluster(victim)
    reopened.close()
    third = IndexEngine(tmp_path)
    # a deleted id is refused, not answered with its old assignment (docs/grpc.md)
    with pytest.raises(FailedPrecondition, match="was deleted"):
        third.assign([fast_items[0]])
    third.close()


def test_a_crash_after_commit_loses_nothing(tmp_path, fast_items):
    engine = IndexEngine(tmp_path)
    committed = engine.assign(fast_items[:5])
    # No close(): the process "dies" here (the kernel drops its lock). SQLite WAL keeps the
    # committed batch.
    engine.store.db.close()
    engine.dir_lock.release()
    recovered = IndexEngine(tmp_path)
    assert recovered.info().items == 5
    assert [a.cluster_id for a in recovered.assign(fast_items[:5])] == [
        a.cluster_id for a in committed
    ]
    recovered.close()


def test_explain_and_query(fast_items):
    engine = IndexEngine()
    engine.build(fast_items)
    ex = engine.explain("e1", "e2")
    assert {g.name for g in ex.gates if g.fired} >= {"code_conflict"}
    assert not ex.duplicate
    assert len(ex.per_level) >= 6
    ((qid, neighbours),) = engine.query(["c1"], k=3)
    assert qid == "c1" and neighbours and all(n.item_id != "c1" for n in neighbours)
    with pytest.raises(NotFound):
        engine.explain("e1", "nope")


def test_mismatched_dimensions_name_the_field(fast_items):
    engine = IndexEngine()
    engine.assign(fast_items[:2])
    bad = fast_items[2]
    from fitrep.domain import EmbeddedItem, LevelEmbeddings

    vectors = {lv: v[:10] for lv, v in bad.embeddings.vectors.items()}
    bad_item = EmbeddedItem(bad.concepts, LevelEmbeddings(bad.item_id, vectors))
    with pytest.raises(FailedPrecondition) as err:
        engine.assign([bad_item])
    assert err.value.field == "items[0].embeddings.PRIMARY"
    assert "10-d PRIMARY vector" in str(err.value) and "PRIMARY=384" in str(err.value)


def test_item_without_content_is_rejected(concept_engine):
    with pytest.raises(InvalidInput) as err:
        concept_engine.process([Item("x", "", "")])
    assert err.value.field == "items[0]"


def test_build_equals_assign_when_later_items_crowd_the_search(fast_items):
    """Later near-copies of an item must not push its earlier duplicate out of its candidates:
    in a build they are indexed when the item is decided, in incremental assign they are not."""
    from fitrep.domain import ConceptSet, EmbeddedItem, LevelEmbeddings

    from index_server.config import IndexConfig

    by_id = {it.item_id: it for it in fast_items}
    first = by_id["c1"]
    # A relisting of the first item (same concepts, another id): a duplicate under any
    # calibration, so the test is about the candidate rule, not where the threshold lies.
    second = EmbeddedItem(
        ConceptSet("c1-relisted", first.concepts.levels, first.concepts.anchors),
        LevelEmbeddings("c1-relisted", first.embeddings.vectors),
    )
    copies = [
        EmbeddedItem(
            ConceptSet(f"copy{i}", second.concepts.levels, second.concepts.anchors),
            LevelEmbeddings(f"copy{i}", second.embeddings.vectors),
        )
        for i in range(20)
    ]
    items = [first, second, *copies]
    cfg = IndexConfig(k=3)
    built = IndexEngine(config=cfg).build(items)
    inc = IndexEngine(config=cfg)
    one_by_one = [inc.assign([item])[0] for item in items]
    assert one_by_one[1].cluster_id == one_by_one[0].cluster_id
    assert [a.cluster_id for a in built] == [a.cluster_id for a in one_by_one]
    assert [a.nearest_item_id for a in built] == [a.nearest_item_id for a in one_by_one]


def test_items_sharing_a_model_code_are_candidates_whatever_their_embedding(fast_items):
    from index_server.config import IndexConfig

    engine = IndexEngine(config=IndexConfig(k=1, code_candidates=4))
    engine.build(fast_items)
    s1, s2, c1 = (engine.rows.row_of[i] for i in ("s1", "s2", "c1"))
    cands = engine.candidates.candidates([s2])[0].tolist()
    assert s1 in cands  # DSC-W120 == dscw120, via the code channel or the nearest neighbour
    assert cands.count(s1) == 1
    assert c1 not in engine.candidates.code_candidates(
        s2, engine.candidates.weighted([s2])[0], set()
    )


def test_a_build_reports_every_step_as_a_stage(fast_items) -> None:
    """The stage table of a run covers the whole build: storing the rows, SPDR, the
    self-calibration fit, the join and the commit (issue 26 asks for a whole-job profile)."""
    events: list[tuple[str, int, int]] = []
    IndexEngine().build(fast_items, progress=lambda *e: events.append(e))
    order = list(dict.fromkeys(stage for stage, _, _ in events))
    assert order == ["received", "store", "reduce", "self-calibration", "cluster", "persist"]
    assert events[-1] == ("persist", len(fast_items), len(fast_items))
