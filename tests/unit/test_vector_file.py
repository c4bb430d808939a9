"""The compact exact space: int8 records (``rows.compact``) in ``vectors.bin`` beside the store
(``storage.vector_file``) — reopen, a kill mid-batch, short, damaged and missing files."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from index_server.config import IndexConfig
from index_server.engine import IndexEngine
from index_server.integration import LevelLayout
from index_server.rows.compact import VectorCodec
from index_server.storage.check import check_data_dir
from index_server.storage.faults import CorruptStore
from index_server.storage.vector_file import HEADER_BYTES, VectorFile
from tests.unit.test_bounds import LEVELS, synthetic_items

ROOT = Path(__file__).resolve().parents[2]
LAYOUT = LevelLayout.from_dims({lv: 16 for lv in LEVELS})


def _unit_rows(n: int, seed: int = 0) -> np.ndarray:
    """(n, 48) rows of three unit levels, the second level absent in every third row."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=2, keepdims=True)
    x[::3, 1] = 0
    return x.reshape(n, -1)


@pytest.mark.parametrize("name", ["int8", "float16"])
def test_codec_round_trip_presence_and_dot(name):
    codec = VectorCodec(LAYOUT, name)
    full = _unit_rows(50)
    records = codec.encode(full)
    decoded = codec.decode(records)
    assert decoded.dtype == np.float32 and decoded.shape == full.shape
    assert np.abs(decoded - full).max() < (0.02 if name == "int8" else 1e-3)
    present = codec.present(records)
    assert present.shape == (50, 3) and not present[::3, 1].any() and present[1::3].all()
    norms = np.linalg.norm(decoded.reshape(50, 3, 16), axis=2)[present]
    assert np.allclose(norms, 1.0, atol=1e-3 if name == "float16" else 1e-5)
    queries = _unit_rows(4, seed=1)
    pick = np.array([[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]])
    want = np.einsum("mpd,md->mp", decoded[pick], queries)
    assert np.allclose(codec.dot(records[pick], queries), want, atol=1e-5)
    assert np.allclose(codec.dot(records, queries, pick), want, atol=1e-5)
    assert codec.record_bytes == (48 + 3 * 4 if name == "int8" else 96)


@pytest.mark.parametrize("name", ["int8", "float16"])
@pytest.mark.parametrize("dims", [(16, 8, 24), (16, 16, 16)])
def test_decode_is_bit_identical_to_scaling_the_whole_row_and_decodes_one_level(name, dims):
    layout = LevelLayout.from_dims(dict(zip(LEVELS, dims, strict=True)))
    codec = VectorCodec(layout, name)
    rng = np.random.default_rng(3)
    full = rng.normal(size=(40, 48)).astype(np.float32)
    full[::4, 16:24] = 0  # an absent level: scale 0
    records = codec.encode(full)
    if name == "int8":  # the formula decode had: every row converted, times its level scales
        dims = [d for _, d in layout.dims]
        old = records["codes"].astype(np.float32) * np.repeat(records["scale"], dims, axis=1)
    else:
        old = records["codes"].astype(np.float32)
    assert codec.decode(records).tobytes() == old.tobytes()
    pick = np.array([[0, 5, 9], [4, 4, 1]])  # (n, k) records, as a chunk's candidates
    assert codec.decode(records[pick]).tobytes() == old[pick].tobytes()
    for j, where in enumerate(layout.slices().values()):
        block = codec.decode_level(records[pick], j)
        assert block.flags.c_contiguous and block.dtype == np.float32
        assert block.tobytes() == np.ascontiguousarray(old[pick][..., where]).tobytes()


def _file(path: Path, state: dict[str, int] | None = None) -> VectorFile:
    codec = VectorCodec(LAYOUT)
    state = state or {"rows": 0, "crc32": 0}
    return VectorFile(path, codec.dtype, codec.name, state["rows"], state["crc32"])


def test_reopen_gives_the_committed_records_and_cuts_an_uncommitted_tail(tmp_path, caplog):
    codec, path = VectorCodec(LAYOUT), tmp_path / "vectors.bin"
    first, second = codec.encode(_unit_rows(10)), codec.encode(_unit_rows(7, seed=2))
    vf = _file(path)
    vf.append(first)
    vf.sync()
    committed = vf.state()
    vf.append(second)  # a batch whose store transaction never commits
    os.pwrite(vf.fd, b"\x01" * 5, os.fstat(vf.fd).st_size)  # and a torn record after it
    vf.close()
    again = _file(path, committed)
    assert len(again) == 10 and np.array_equal(again.view(), first)
    assert path.stat().st_size == HEADER_BYTES + 10 * codec.record_bytes
    assert "event=vectors_rolled_back" in caplog.text
    again.append(second)
    assert np.array_equal(again.view()[10:], second)
    again.close()


def test_short_damaged_foreign_or_missing_files_are_named(tmp_path):
    codec, path = VectorCodec(LAYOUT), tmp_path / "vectors.bin"
    vf = _file(path)
    vf.append(codec.encode(_unit_rows(10)))
    vf.sync()
    state = vf.state()
    vf.close()
    whole = path.read_bytes()
    path.write_bytes(whole[: -codec.record_bytes // 2])
    with pytest.raises(CorruptStore, match=f"^{path} cannot be read: short file: 9 whole records"):
        _file(path, state)
    damaged = bytearray(whole)
    damaged[HEADER_BYTES + 3] ^= 0xFF
    path.write_bytes(bytes(damaged))
    with pytest.raises(CorruptStore, match=f"^{path} cannot be read: .* do not match their CRC"):
        _file(path, state)
    path.write_bytes(b"SQLite format 3\x00" + whole[16:])
    with pytest.raises(CorruptStore, match=f"^{path} cannot be read: not a FITRep vector file"):
        _file(path, state)
    path.write_bytes(whole)
    other = VectorCodec(LAYOUT, "float16")
    with pytest.raises(CorruptStore, match=f"^{path} cannot be read: records .*the store expects"):
        VectorFile(path, other.dtype, other.name, state["rows"], state["crc32"]).close()
    path.unlink()
    with pytest.raises(CorruptStore, match=f"^{path} cannot be read: missing, the store committed"):
        _file(path, state)


def _clusters(engine: IndexEngine) -> list[str]:
    return [engine.clusterer.decisions[r].cluster_id for r in range(engine.n)]


def test_the_engine_keeps_vectors_beside_the_store_and_reopens_them(tmp_path):
    items = synthetic_items(120)
    engine = IndexEngine(tmp_path / "d")
    first = engine.assign(items[:80])
    vectors = engine.rows.vectors[:]
    engine.close()
    assert (tmp_path / "d" / "vectors.bin").is_file()
    with sqlite3.connect(tmp_path / "d" / "store.sqlite") as db:
        assert db.execute("SELECT MAX(LENGTH(vector)) FROM items").fetchone() == (0,)
    again = IndexEngine(tmp_path / "d")
    assert np.array_equal(again.rows.vectors[:], vectors)
    same = again.assign(items[:80])
    assert [a.cluster_id for a in same] == [a.cluster_id for a in first]
    again.assign(items[80:])
    again.close()
    memory = IndexEngine(None)
    memory.assign(items[:80])
    memory.assign(items[80:])
    reopened = IndexEngine(tmp_path / "d")
    assert _clusters(reopened) == _clusters(memory)
    reopened.close()
    memory.close()


def test_float16_is_kept_by_a_store_created_with_it(tmp_path):
    engine = IndexEngine(tmp_path / "d", IndexConfig(vector_codec="float16"))
    engine.assign(synthetic_items(30))
    engine.close()
    again = IndexEngine(tmp_path / "d")  # configured int8: the store's codec wins
    assert again.rows.codec is not None and again.rows.codec.name == "float16"
    again.close()


KILLED_MID_BATCH = """
import os, sys
from pathlib import Path
from index_server.engine import IndexEngine
from tests.unit.test_bounds import synthetic_items

items = synthetic_items(150)
engine = IndexEngine(Path(sys.argv[1]))
engine.assign(items[:100])
def killed(*args, **kwargs):  # the vectors are appended and fsynced: the kill comes before
    os._exit(9)               # the store commits their count
engine.store.commit = killed
engine.assign(items[100:])
"""


def test_a_kill_between_the_vector_write_and_the_commit_rolls_the_batch_back(tmp_path):
    script = textwrap.dedent(KILLED_MID_BATCH)
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "d")], cwd=ROOT, timeout=120)
    assert out.returncode == 9
    written = (tmp_path / "d" / "vectors.bin").stat().st_size
    assert check_data_dir(tmp_path / "d").startswith("ok: ")  # the tail is not committed
    items = synthetic_items(150)
    engine = IndexEngine(tmp_path / "d")
    assert engine.n == 100 and len(engine.rows.records or []) == 100
    assert engine.rows.codec is not None
    record = engine.rows.codec.record_bytes
    assert written == HEADER_BYTES + 150 * record
    assert (tmp_path / "d" / "vectors.bin").stat().st_size == HEADER_BYTES + 100 * record
    engine.assign(items[100:])
    fresh = IndexEngine(None)
    fresh.assign(items[:100])
    fresh.assign(items[100:])
    assert _clusters(engine) == _clusters(fresh)
    engine.close()
    fresh.close()


def test_a_damaged_vector_file_stops_the_engine_and_check_names_it(tmp_path):
    engine = IndexEngine(tmp_path / "d")
    engine.assign(synthetic_items(60))
    snapshot, _ = engine.snapshot(tmp_path / "snap")
    engine.close()
    assert (snapshot / "vectors.bin").is_file()
    path = tmp_path / "d" / "vectors.bin"
    with path.open("r+b") as fh:
        fh.truncate(path.stat().st_size - 10)
    with pytest.raises(CorruptStore, match=f"^{path} cannot be read: short file.*restore"):
        IndexEngine(tmp_path / "d")
    with pytest.raises(CorruptStore, match=f"^{path} cannot be read: short file"):
        check_data_dir(tmp_path / "d")
    restored = IndexEngine(snapshot)  # the snapshot carries its own copy
    assert restored.n == 60
    restored.close()
