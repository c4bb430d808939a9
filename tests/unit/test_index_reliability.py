"""Reliability of the index tier (#14): batches checked whole, all or nothing, one process per
data directory, deleted ids, layout and encoder, atomic snapshots."""

from __future__ import annotations

import dataclasses
import os

import grpc
import numpy as np
import pytest
from fitrep.domain import (
    EmbeddedItem,
    FailedPrecondition,
    InvalidInput,
    Level,
    LevelEmbeddings,
)
from fitrep.rpc_errors import from_rpc_error, status_for

from index_server.engine import IndexEngine
from index_server.storage.dir_lock import DataDirInUse
from index_server.storage.snapshot import MARKER, PARTIAL, BadSnapshot


def _with_vectors(item: EmbeddedItem, vectors, encoder: str = "") -> EmbeddedItem:
    return EmbeddedItem(item.concepts, LevelEmbeddings(item.item_id, vectors, encoder))


def _with_image(item: EmbeddedItem, features) -> EmbeddedItem:
    return EmbeddedItem(
        dataclasses.replace(item.concepts, image_features=features), item.embeddings
    )


def _image(n: int = 10) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    hist = rng.random(128).astype(np.float32)
    return {
        "phash": rng.integers(0, 256, 8).astype(np.uint8),
        "hsv_hist": hist / hist.sum(),
        "global": rng.random(384).astype(np.float32),
        "sift_xy": rng.random((n, 2)).astype(np.float32) * 100,
        "sift_desc": rng.integers(0, 256, (n, 128)).astype(np.uint8),
    }


def _clusters(assignments):
    return [a.cluster_id for a in assignments]


@pytest.mark.parametrize(
    ("features", "field", "message"),
    [
        ({"phash": np.zeros(8, np.uint8)}, "image_features[hsv_hist]", "missing"),
        ({k: v for k, v in _image().items() if k != "sift_desc"}, "[sift_desc]", "missing"),
        ({**_image(), "phash": np.zeros(4, np.uint8)}, "[phash]", "shape [4]"),
        ({**_image(), "hsv_hist": np.ones(128)}, "[hsv_hist]", "dtype float64"),
        ({**_image(), "sift_xy": np.ones((9, 2), np.float32)}, "[sift_xy]", "9 keypoints"),
        ({**_image(), "sift_desc": np.ones((10, 32), np.uint8)}, "[sift_desc]", "expected nx128"),
        ({**_image(), "hsv_hist": np.full(128, np.nan, np.float32)}, "[hsv_hist]", "not finite"),
        ({**_image(), "thumbnail": np.zeros(3, np.uint8)}, "[thumbnail]", "unknown"),
    ],
)
def test_malformed_image_features_are_refused_and_the_index_keeps_working(
    fast_items, features, field, message
):
    engine = IndexEngine()
    engine.assign(fast_items[:4])
    bad = _with_image(fast_items[1], features)  # s2: a near-copy of s1, compared with it
    bad = EmbeddedItem(dataclasses.replace(bad.concepts, item_id="bad"), bad.embeddings)
    with pytest.raises(InvalidInput) as err:
        engine.assign([fast_items[4], bad])
    assert err.value.field.startswith("items[1].concepts.image_features")
    assert field in err.value.field and message in err.value.message
    assert engine.n == 4  # nothing of the batch was stored, not even the valid item
    # the next similar items, with well-formed images, are decided as usual
    good = [_with_image(it, _image()) for it in fast_items[4:]]
    assert len(engine.assign(good)) == len(good)
    assert engine.explain("s1", "s2").item_a == "s1"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (np.zeros(384, np.float32), "all zeros"),
        (np.full(384, np.nan, np.float32), "not finite"),
        (np.full(384, np.inf, np.float32), "not finite"),
        (np.full(384, 1e30, np.float32), "cannot be normalised"),
    ],
)
def test_degenerate_vectors_are_refused_naming_the_field(fast_items, values, message):
    engine = IndexEngine()
    vectors = {**fast_items[3].embeddings.vectors, Level.PRIMARY: values}
    batch = [*fast_items[:3], _with_vectors(fast_items[3], vectors)]
    with pytest.raises(InvalidInput) as err:
        engine.assign(batch)
    assert err.value.field == "items[3].embeddings.PRIMARY"
    assert message in err.value.message
    assert engine.n == 0 and engine.layout is None


@pytest.mark.parametrize("method", ["assign", "build"])
def test_a_batch_that_fails_to_commit_leaves_no_trace(tmp_path, fast_items, monkeypatch, method):
    reference = IndexEngine()
    expected = reference.assign(fast_items[:5]) + getattr(reference, method)(fast_items[5:])
    engine = IndexEngine(tmp_path)
    engine.assign(fast_items[:5])
    real_commit = engine.store.commit

    def failing_commit(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(engine.store, "commit", failing_commit)
    with pytest.raises(OSError):
        getattr(engine, method)(fast_items[5:9])
    assert engine.n == 5 and len(engine.clusterer.decisions) == 5
    monkeypatch.setattr(engine.store, "commit", real_commit)
    # the next batch works and decides as if the failed one had never been sent
    assert _clusters(getattr(engine, method)(fast_items[5:])) == _clusters(expected[5:])
    engine.close()
    again = IndexEngine(tmp_path)
    assert _clusters(again.assign(fast_items)) == _clusters(expected)
    again.close()


def test_a_failed_first_batch_does_not_fix_the_layout(fast_items, monkeypatch):
    engine = IndexEngine()

    def failing_commit(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(engine.store, "commit", failing_commit)
    small = [_with_vectors(it, {Level.PRIMARY: np.ones(8, np.float32)}) for it in fast_items[:2]]
    with pytest.raises(OSError):
        engine.assign(small)
    monkeypatch.undo()
    assert engine.layout is None
    assert len(engine.assign(fast_items)) == len(fast_items)


def test_one_process_per_data_directory(tmp_path, fast_items):
    engine = IndexEngine(tmp_path)
    engine.assign(fast_items[:2])
    with pytest.raises(DataDirInUse) as err:
        IndexEngine(tmp_path)
    assert str(err.value) == f"{tmp_path} is in use by another index server (pid {os.getpid()})"
    engine.close()
    reopened = IndexEngine(tmp_path)  # released on close
    assert reopened.info().items == 2
    reopened.close()


def test_a_deleted_item_assigned_again_is_refused(fast_items):
    engine = IndexEngine()
    engine.assign(fast_items[:4])
    assert engine.delete(["s2"]) == 1
    with pytest.raises(FailedPrecondition) as err:
        engine.assign([fast_items[0], fast_items[1]])
    assert err.value.field == "items[1]"
    assert "item s2 was deleted" in err.value.message
    assert engine.assign([fast_items[0]])[0].item_id == "s1"  # live ids still answer


def test_layout_mismatch_names_both(fast_items):
    engine = IndexEngine()
    small = [_with_vectors(it, {Level.PRIMARY: np.ones(8, np.float32)}) for it in fast_items[:2]]
    engine.assign(small)
    with pytest.raises(FailedPrecondition) as err:
        engine.assign([fast_items[2]])
    assert err.value.field == "items[0].embeddings.PRIMARY"
    assert "a 384-d PRIMARY vector" in err.value.message and "PRIMARY=8" in err.value.message
    assert engine.n == 2


def test_encoder_is_recorded_and_a_mismatch_names_both(tmp_path, fast_items):
    minilm = [_with_vectors(it, it.embeddings.vectors, "minilm") for it in fast_items]
    engine = IndexEngine(tmp_path)
    engine.assign(minilm[:4])
    engine.close()
    engine = IndexEngine(tmp_path)
    assert engine.encoder == "minilm"
    other = _with_vectors(fast_items[5], fast_items[5].embeddings.vectors, "e5-base")
    with pytest.raises(FailedPrecondition) as err:
        engine.assign([minilm[4], other])
    assert err.value.field == "items[1].embeddings.encoder"
    assert "'e5-base'" in err.value.message and "'minilm'" in err.value.message
    # unlabelled vectors (older callers) are taken as they are
    unlabelled = _with_vectors(fast_items[5], fast_items[5].embeddings.vectors, "")
    assert len(engine.assign([minilm[4], unlabelled])) == 2
    engine.close()


def test_failed_precondition_maps_to_its_status_and_back():
    exc = FailedPrecondition("items[0].embeddings.PRIMARY", "a 8-d vector, index holds 384")
    code, details = status_for(exc)
    assert code == grpc.StatusCode.FAILED_PRECONDITION

    class Err(grpc.RpcError):
        def code(self):
            return code

        def details(self):
            return details

    back = from_rpc_error(Err())
    assert isinstance(back, FailedPrecondition)
    assert (back.field, back.message) == (exc.field, exc.message)


def test_snapshot_is_atomic_and_checked_on_load(tmp_path, fast_items, monkeypatch):
    engine = IndexEngine(tmp_path / "live")
    engine.assign(fast_items)
    path, n = engine.snapshot(tmp_path / "snap")
    assert (path / MARKER).exists() and not (path / PARTIAL).exists()
    assert not list(tmp_path.glob("snap.tmp-*"))
    # a snapshot killed mid-way leaves no snapshot, only a temp directory refused on load
    monkeypatch.setattr(engine.store, "backup", lambda p: (p.write_bytes(b"half"), 1 / 0))
    with pytest.raises(ZeroDivisionError):
        engine.snapshot(tmp_path / "broken")
    monkeypatch.undo()
    assert not (tmp_path / "broken").exists()
    (partial,) = tmp_path.glob("broken.tmp-*")
    with pytest.raises(BadSnapshot, match="incomplete snapshot"):
        IndexEngine(partial)
    # a corrupted file is refused
    copy = tmp_path / "copy"
    engine.snapshot(copy)
    with (copy / "store.sqlite").open("r+b") as f:
        f.seek(200)
        f.write(b"\xff" * 16)
    with pytest.raises(BadSnapshot, match="does not match its checksum"):
        IndexEngine(copy)
    # a whole snapshot loads with every item, and becomes a live data directory
    engine.close()
    loaded = IndexEngine(path)
    assert loaded.info().items == n == len(fast_items)
    assert not (path / MARKER).exists()
    loaded.close()


def test_the_encoder_name_travels_from_the_concept_tier(fast_items):
    from fitrep import wire

    from mllm_server.chie.encoder import ENCODER_NAME

    assert fast_items[0].embeddings.encoder == ENCODER_NAME
    back = wire.embedded_from_pb(wire.embedded_to_pb(fast_items[0]))
    assert back.embeddings.encoder == ENCODER_NAME
