"""What counts as changed content when an item id comes again (#20): every part the index keeps
of an item (its picture's features, its concepts, its anchors, its profile, a bare vector), and
nothing else. A change to any of them is ``updated`` and judged again; the same content is
``unchanged``, also for items stored before digests were."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
from fitrep.domain import (
    AlreadyExists,
    EmbeddedItem,
    Item,
    ItemChange,
    ItemProfile,
    Level,
    LevelEmbeddings,
)
from PIL import Image

from index_server.engine import IndexEngine
from tests.conftest import hash_embed


@pytest.fixture(scope="module")
def concepts():
    """The rules backend with the hash stand-in encoder, as ``fast_items`` is made."""
    from mllm_server.chie.encoder import LevelEncoder
    from mllm_server.chie.engine import ConceptEngine
    from mllm_server.chie.rules import RulesExtractor

    return ConceptEngine(RulesExtractor(), LevelEncoder(embed=hash_embed))


def _picture(seed: int) -> bytes:
    """A 48 x 32 photo-like picture: the same size (so the same profile) for every seed."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (32, 48, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    return buf.getvalue()


def _item(concepts, picture: bytes | None, title: str = "Oatly oat drink 1 l") -> EmbeddedItem:
    (item,) = concepts.process([Item("p1", title, "oat drink carton", picture)])
    return item


def _features(item: EmbeddedItem, **features: np.ndarray) -> EmbeddedItem:
    """``item`` with its image features replaced (nothing else changed)."""
    concepts = dataclasses.replace(item.concepts, image_features=features)
    return EmbeddedItem(concepts, item.embeddings)


def _change(engine: IndexEngine, item: EmbeddedItem) -> ItemChange:
    (a,) = engine.assign([item])
    return a.change


def test_another_picture_of_the_same_size_is_a_changed_item(concepts):
    first, second = _item(concepts, _picture(1)), _item(concepts, _picture(2))
    assert first.concepts.profile == second.concepts.profile  # only the picture differs
    engine = IndexEngine()
    assert _change(engine, first) == ItemChange.ADDED
    assert _change(engine, _item(concepts, _picture(1))) == ItemChange.UNCHANGED
    assert _change(engine, second) == ItemChange.UPDATED
    assert _change(engine, second) == ItemChange.UNCHANGED
    engine.close()


def test_a_change_in_the_image_features_alone_is_a_changed_item(concepts):
    item = _item(concepts, None)
    hist = np.linspace(0, 1, 128, dtype=np.float32)
    base = {
        "phash": np.arange(8, dtype=np.uint8),
        "hsv_hist": hist,
        "global": np.ones(6, np.float32),
    }
    engine = IndexEngine()
    assert _change(engine, _features(item, **base)) == ItemChange.ADDED
    same = {name: value.copy() for name, value in reversed(base.items())}  # another order
    assert _change(engine, _features(item, **same)) == ItemChange.UNCHANGED
    variants = [
        {**base, "hsv_hist": hist[::-1].copy()},  # other values
        {**base, "phash": np.arange(1, 9, dtype=np.uint8)},
        {**base, "global": np.ones(7, np.float32)},  # another length
        {"phash": base["phash"], "hsv_hist": hist},  # one dropped
    ]
    for features in variants:
        assert _change(engine, _features(item, **features)) == ItemChange.UPDATED, features
    engine.close()


def test_if_absent_refuses_a_changed_picture(concepts):
    engine = IndexEngine()
    engine.assign([_item(concepts, _picture(1))])
    with pytest.raises(AlreadyExists, match="items\\[0\\]"):
        engine.assign_items([_item(concepts, _picture(3))], if_absent=True)
    (same,) = engine.assign_items([_item(concepts, _picture(1))], if_absent=True).assignments
    assert same.change == ItemChange.UNCHANGED
    engine.close()


def test_a_change_in_the_profile_or_the_anchors_alone_is_a_changed_item(concepts):
    item = _item(concepts, None)
    engine = IndexEngine()
    assert _change(engine, item) == ItemChange.ADDED
    profile = dataclasses.replace(item.concepts.profile, numbers={"price": 2.5})
    priced = EmbeddedItem(dataclasses.replace(item.concepts, profile=profile), item.embeddings)
    assert _change(engine, priced) == ItemChange.UPDATED
    anchors = dataclasses.replace(item.concepts.anchors, brand=("oatly", "alpro"))
    branded = EmbeddedItem(dataclasses.replace(item.concepts, anchors=anchors), item.embeddings)
    assert _change(engine, branded) == ItemChange.UPDATED
    assert _change(engine, branded) == ItemChange.UNCHANGED
    engine.close()


def _bare(item_id: str, vector: np.ndarray) -> EmbeddedItem:
    """An item of a caller that sends vectors without concept strings."""
    from fitrep.domain import ConceptSet

    concepts = ConceptSet(item_id, {Level.PRIMARY: []}, profile=ItemProfile())
    return EmbeddedItem(concepts, LevelEmbeddings(item_id, {Level.PRIMARY: vector}, "bare"))


def test_a_bare_vector_is_the_content_of_a_level_without_words():
    v = np.zeros(384, np.float32)
    v[0] = 1.0
    w = np.zeros(384, np.float32)
    w[1] = 1.0
    engine = IndexEngine()
    assert _change(engine, _bare("v", v)) == ItemChange.ADDED
    assert _change(engine, _bare("v", v.copy())) == ItemChange.UNCHANGED
    assert _change(engine, _bare("v", w)) == ItemChange.UPDATED
    engine.close()


def test_a_repeated_id_in_one_batch_gets_the_first_occurrences_answer(concepts):
    engine = IndexEngine()
    first, second = _item(concepts, _picture(1)), _item(concepts, _picture(2))
    out = engine.assign([first, second])
    assert [a.change for a in out] == [ItemChange.ADDED, ItemChange.ADDED]
    assert engine.n == 1 and out[0].cluster_id == out[1].cluster_id
    again = engine.assign([first, second])  # the first occurrence is what is stored
    assert [a.change for a in again] == [ItemChange.UNCHANGED, ItemChange.UNCHANGED]
    engine.close()


def test_a_bare_vector_in_a_store_before_digests_compares_by_the_vector_it_kept(tmp_path):
    """A row stored before digests were has its digest made from what it kept; for a level
    without words that is its stored vector: the same vector again is unchanged."""
    import sqlite3

    from index_server.integration import concatenate
    from tests.unit.test_upsert import V1_COLUMNS, V1_SCHEMA

    v, w = np.zeros(384, np.float32), np.zeros(384, np.float32)
    v[0], w[1] = 1.0, 1.0
    items = [_bare("v", v), _bare("w", w)]
    built = IndexEngine(tmp_path / "new")
    built.assign(items)
    assert built.layout is not None
    kept = concatenate([it.embeddings for it in items], built.layout).astype(np.float16)
    built.close()
    with sqlite3.connect(tmp_path / "store.sqlite") as old:
        old.executescript(V1_SCHEMA)
        old.execute(f"ATTACH '{tmp_path / 'new' / 'store.sqlite'}' AS new")
        old.execute(f"INSERT INTO items SELECT {V1_COLUMNS} FROM new.items")
        old.executemany(
            "UPDATE items SET vector = ? WHERE row = ?",
            [(x.tobytes(), r) for r, x in enumerate(kept)],
        )
        old.execute(
            "INSERT INTO meta SELECT key, value FROM new.meta"
            " WHERE key NOT IN ('representative', 'vectors')"
        )
    old.close()
    (tmp_path / "v1").mkdir()
    (tmp_path / "store.sqlite").rename(tmp_path / "v1" / "store.sqlite")
    engine = IndexEngine(tmp_path / "v1")
    assert _change(engine, _bare("v", v.copy())) == ItemChange.UNCHANGED
    assert _change(engine, _bare("w", v.copy())) == ItemChange.UPDATED
    engine.close()
