"""The concept-stage checkpoint gives back the items the wire would, batch by batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fitrep.domain import Anchors, ConceptSet, EmbeddedItem, ItemProfile, Level, LevelEmbeddings
from fitrep.run_dir import EmbeddingCheckpoint
from fitrep.wire import embedded_from_pb, embedded_to_pb


def _items() -> list[EmbeddedItem]:
    rng = np.random.default_rng(5)
    photo = {
        "phash": rng.integers(0, 255, 8).astype(np.uint8),
        "hsv_hist": rng.random((4, 6)).astype(np.float32),
        "package_grams": rng.random(256).astype(np.float16),
        "sift_xy": np.zeros((0, 2), np.float32),  # a photo without keypoints
        "global": rng.random(5),  # float64 stays float64
    }
    out = []
    for i in range(4):
        vectors = {
            lv: rng.normal(size=8).astype(np.float32) for lv in (Level.CONTENT, Level.PRIMARY)
        }
        anchors = Anchors.from_json({"code": [f"t{i}"], "code_any": [], "tokens": ["oat", "é"]})
        concepts = ConceptSet(
            f"item-{i}",
            {Level.PRIMARY: [f"oat drink {i}", "1 l"], Level.CONTENT: []},
            anchors,
            photo if i % 2 else {},
            backend="rules",
            version="r7",
            profile=ItemProfile(3, 640 * 480 if i % 2 else 0, {"price": 1.1 * i, "weight": 2.0}),
        )
        out.append(
            EmbeddedItem(concepts, LevelEmbeddings("" if i == 3 else f"item-{i}", vectors, "m"))
        )
    return out


def _same(a: EmbeddedItem, b: EmbeddedItem) -> None:
    ca, cb = a.concepts, b.concepts
    assert (ca.item_id, ca.anchors, ca.backend, ca.version, ca.profile) == (
        cb.item_id,
        cb.anchors,
        cb.backend,
        cb.version,
        cb.profile,
    )
    assert {lv: list(w) for lv, w in ca.levels.items()} == cb.levels
    assert all(isinstance(lv, Level) for lv in cb.levels)
    for x, y in (
        (ca.image_features, cb.image_features),
        (a.embeddings.vectors, b.embeddings.vectors),
    ):
        assert set(x) == set(y)
        for key in x:
            assert y[key].dtype == x[key].dtype and y[key].shape == x[key].shape
            assert y[key].tobytes() == x[key].tobytes() and y[key].flags.writeable
    assert (a.embeddings.item_id, a.embeddings.encoder) == (
        b.embeddings.item_id,
        b.embeddings.encoder,
    )


def test_checkpoint_gives_back_what_the_wire_would_up_to_the_first_gap(tmp_path: Path) -> None:
    items = _items()
    path = tmp_path / "checkpoint.sqlite"
    checkpoint = EmbeddingCheckpoint(path)
    checkpoint.save(0, items[:2])
    checkpoint.save(3, items[3:])  # a later batch saved, the one between lost
    checkpoint.close()
    reopened = EmbeddingCheckpoint(path)
    done = reopened.done()
    assert len(done) == 2
    reopened.save(2, items[2:3])
    done = reopened.done()
    reopened.close()
    assert [it.item_id for it in done] == [it.item_id for it in items]
    for item, got in zip(items, done, strict=True):
        _same(embedded_from_pb(embedded_to_pb(item), require_vectors=False), got)
    assert done[3].embeddings.item_id == "item-3"  # an unnamed embedding takes the item's id
