"""Items that change (#20): assign is an upsert per item id. The same content answers the stored
assignment and writes nothing; changed content is judged again (stay, move or open a cluster,
ids never reused), crash-safe like every batch; ``if_absent`` keeps the strict behaviour."""

from __future__ import annotations

import dataclasses
import sqlite3

import numpy as np
import pytest
from fitrep.domain import (
    AlreadyExists,
    EmbeddedItem,
    Item,
    ItemChange,
    Level,
    LevelEmbeddings,
    NotFound,
)

from index_server.engine import IndexEngine
from index_server.storage.check import check_data_dir
from tests.conftest import hash_embed


@pytest.fixture(scope="module")
def concepts():
    """The rules backend with the hash stand-in encoder, as ``fast_items`` is made."""
    from mllm_server.chie.encoder import LevelEncoder
    from mllm_server.chie.engine import ConceptEngine
    from mllm_server.chie.rules import RulesExtractor

    return ConceptEngine(RulesExtractor(), LevelEncoder(embed=hash_embed))


def _as(item: EmbeddedItem, item_id: str) -> EmbeddedItem:
    """``item``'s content under another id (a relisting of it)."""
    return EmbeddedItem(
        dataclasses.replace(item.concepts, item_id=item_id),
        LevelEmbeddings(item_id, item.embeddings.vectors, item.embeddings.encoder),
    )


def _by_id(items):
    return {it.item_id: it for it in items}


def test_the_same_content_answers_the_stored_assignment_and_writes_nothing(fast_items):
    engine = IndexEngine()
    first = engine.assign(fast_items)
    assert {a.change for a in first} == {ItemChange.ADDED}
    again = engine.assign(fast_items[:5])
    assert {a.change for a in again} == {ItemChange.UNCHANGED}
    assert [a.cluster_id for a in again] == [a.cluster_id for a in first[:5]]
    assert engine.n == len(fast_items)  # no row was added


def test_a_changed_item_is_judged_again_and_moves(fast_items):
    engine = IndexEngine()
    before = {a.item_id: a for a in engine.assign(fast_items)}
    e1_cluster, c1_cluster = before["e1"].cluster_id, before["c1"].cluster_id
    # e1's listing now describes c1's printer: it is judged again and joins c1's cluster
    (moved,) = engine.assign([_as(_by_id(fast_items)["c1"], "e1")])
    assert moved.change == ItemChange.UPDATED
    assert (moved.cluster_id, moved.previous_cluster_id) == (c1_cluster, e1_cluster)
    assert moved.moved and moved.nearest_item_id == "c1"
    assert engine.info().items == len(fast_items)  # the old version no longer counts
    assert sorted(engine.get_cluster(c1_cluster).member_ids) == ["c1", "e1"]
    with pytest.raises(NotFound):  # e1 was alone: its old cluster is empty now
        engine.get_cluster(e1_cluster)
    assert engine.counts["moved"] == 1 and engine.counts["updated"] == 1
    # sending the new version again changes nothing
    (same,) = engine.assign([_as(_by_id(fast_items)["c1"], "e1")])
    assert same.change == ItemChange.UNCHANGED and same.cluster_id == c1_cluster


def test_an_item_alone_in_its_cluster_keeps_its_id_when_it_stays_alone(fast_items):
    engine = IndexEngine()
    before = {a.item_id: a for a in engine.assign(fast_items)}
    e2 = _by_id(fast_items)["e2"]
    levels = {**e2.concepts.levels, Level.PRIMARY: [*e2.concepts.levels[Level.PRIMARY], "xl"]}
    edited = EmbeddedItem(dataclasses.replace(e2.concepts, levels=levels), e2.embeddings)
    (a,) = engine.assign([edited])
    assert a.change == ItemChange.UPDATED and not a.moved
    assert a.cluster_id == a.previous_cluster_id == before["e2"].cluster_id
    assert engine.rule.next_id == 1 + len({x.cluster_id for x in before.values()})


def test_an_item_that_leaves_a_shared_cluster_opens_a_new_id(fast_items, concepts):
    engine = IndexEngine()
    before = {a.item_id: a for a in engine.assign(fast_items)}
    assert before["s2"].cluster_id == before["s1"].cluster_id
    (tea,) = concepts.process([Item("s2", "Twinings English Breakfast tea 50 bags")])
    (a,) = engine.assign([tea])
    assert a.change == ItemChange.UPDATED and a.is_new_cluster and a.moved
    assert a.previous_cluster_id == before["s1"].cluster_id
    assert a.cluster_id not in {x.cluster_id for x in before.values()}  # never reused
    assert engine.get_cluster(before["s1"].cluster_id).member_ids == ["s1"]


def test_updates_survive_a_restart(tmp_path, fast_items):
    engine = IndexEngine(tmp_path)
    engine.assign(fast_items)
    (moved,) = engine.assign([_as(_by_id(fast_items)["c1"], "e1")])
    engine.close()
    reopened = IndexEngine(tmp_path)
    assert reopened.info().items == len(fast_items)
    (again,) = reopened.assign([_as(_by_id(fast_items)["c1"], "e1")])
    assert again.change == ItemChange.UNCHANGED
    assert (again.cluster_id, again.previous_cluster_id, again.family_id) == (
        moved.cluster_id,
        moved.previous_cluster_id,
        moved.family_id,
    )
    # the original e1 is now a change back: judged again, away from the printers
    (back,) = reopened.assign([_by_id(fast_items)["e1"]])
    assert back.change == ItemChange.UPDATED and back.previous_cluster_id == moved.cluster_id
    assert back.cluster_id != moved.cluster_id
    ids = reopened.store.db.execute("SELECT item_id FROM items WHERE item_id = 'e1'").fetchall()
    assert len(ids) == 3  # append-only: every version is a row
    reopened.close()


def test_if_absent_refuses_changed_content_and_stores_nothing(fast_items):
    engine = IndexEngine()
    stored = engine.assign(fast_items[:4])
    with pytest.raises(AlreadyExists) as err:
        engine.assign_items([fast_items[5], _as(fast_items[3], "s1")], if_absent=True)
    assert err.value.field == "items[1]"
    assert "item s1 is stored with other content" in err.value.message
    assert engine.n == 4
    same = engine.assign_items(fast_items[:2], if_absent=True).assignments
    assert [a.cluster_id for a in same] == [a.cluster_id for a in stored[:2]]
    assert {a.change for a in same} == {ItemChange.UNCHANGED}


def test_a_failed_update_leaves_the_old_version_in_place(tmp_path, fast_items, monkeypatch):
    engine = IndexEngine(tmp_path)
    before = {a.item_id: a for a in engine.assign(fast_items)}

    def full_disk(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(engine.store, "commit", full_disk)
    with pytest.raises(Exception, match="no space left on"):
        engine.assign([_as(_by_id(fast_items)["c1"], "e1")])
    monkeypatch.undo()
    (a,) = engine.assign([_by_id(fast_items)["e1"]])
    assert a.change == ItemChange.UNCHANGED and a.cluster_id == before["e1"].cluster_id
    assert engine.n == len(fast_items)
    engine.close()


V1_SCHEMA = """
CREATE TABLE items (
    row INTEGER PRIMARY KEY, item_id TEXT UNIQUE NOT NULL, cluster INTEGER NOT NULL,
    nearest TEXT NOT NULL DEFAULT '', similarity REAL NOT NULL DEFAULT 0,
    confidence REAL NOT NULL DEFAULT 1, is_new INTEGER NOT NULL DEFAULT 1,
    deleted INTEGER NOT NULL DEFAULT 0, levels TEXT NOT NULL, anchors TEXT NOT NULL,
    vector BLOB NOT NULL, image BLOB
);
CREATE INDEX items_cluster ON items(cluster);
CREATE TABLE aliases (alias INTEGER PRIMARY KEY, target INTEGER NOT NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
V1_COLUMNS = (
    "row, item_id, cluster, nearest, similarity, confidence, is_new, deleted, levels, anchors,"
    " vector, image"
)


def test_a_store_of_the_first_schema_is_migrated_and_its_items_compare(tmp_path, fast_items):
    """A store written before upserts (``item_id UNIQUE``, no digests) opens, answers its items
    unchanged, and takes a changed version."""
    built = IndexEngine(tmp_path / "new")
    first = built.assign(fast_items)
    vectors = built.rows.vectors[:].astype(np.float16)  # such a store kept them in its rows
    built.close()
    old = sqlite3.connect(tmp_path / "v1.sqlite")
    old.executescript(V1_SCHEMA)
    old.execute(f"ATTACH '{tmp_path / 'new' / 'store.sqlite'}' AS new")
    old.execute(f"INSERT INTO items SELECT {V1_COLUMNS} FROM new.items")
    old.executemany(
        "UPDATE items SET vector = ? WHERE row = ?",
        [(v.tobytes(), r) for r, v in enumerate(vectors)],
    )
    old.execute(
        "INSERT INTO meta SELECT key, value FROM new.meta"
        " WHERE key NOT IN ('representative', 'vectors')"
    )
    old.commit()
    old.close()
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1.sqlite").rename(tmp_path / "v1" / "store.sqlite")
    # --check reads it as it is, without migrating it
    assert check_data_dir(tmp_path / "v1").startswith(f"ok: {tmp_path / 'v1' / 'store.sqlite'}")
    with sqlite3.connect(tmp_path / "v1" / "store.sqlite") as db:
        assert "replaced_by" not in {r[1] for r in db.execute("PRAGMA table_info(items)")}
    engine = IndexEngine(tmp_path / "v1")  # its vectors move to the vector file
    assert (tmp_path / "v1" / "vectors.bin").is_file()
    assert np.allclose(engine.rows.vectors[:], vectors, atol=0.02)
    again = engine.assign(fast_items)
    assert {a.change for a in again} == {ItemChange.UNCHANGED}
    assert [a.cluster_id for a in again] == [a.cluster_id for a in first]
    (moved,) = engine.assign([_as(_by_id(fast_items)["c1"], "e1")])
    assert moved.change == ItemChange.UPDATED and moved.moved
    engine.close()


def test_a_new_item_and_the_concept_tier_agree_on_content(concepts):
    """Extracting an item again (another batch) gives the same content identity."""
    engine = IndexEngine()
    items = [Item("a", "Canon PIXMA MX700 printer"), Item("b", "Epson T0441 black ink")]
    engine.assign(concepts.process(items))
    (again,) = engine.assign(concepts.process([items[1]]))
    assert again.change == ItemChange.UNCHANGED
    changed = concepts.process([Item("b", "Epson T0441 black ink", attributes={"price": "9"})])
    assert engine.assign(changed)[0].change == ItemChange.UPDATED  # a new column is a change
