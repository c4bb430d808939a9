"""Faults an operator meets (#20), through a real IndexService on loopback: a full disk is
RESOURCE_EXHAUSTED naming the directory (counted in /metrics) and keeps every acknowledged item;
a damaged store stops the server with one ``error:`` line (``--check`` finds it offline); the
upsert modes and representatives over the wire."""

from __future__ import annotations

import errno
import sqlite3
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from fitrep import wire
from fitrep.client import Client
from fitrep.domain import AlreadyExists, ItemChange, NoSpace
from fitrep.launch import free_port
from fitrep.v1 import common_pb2 as cpb
from fitrep.v1 import index_service_pb2 as ipb
from fitrep.v1 import index_service_pb2_grpc as ipb_grpc

from index_server.config import IndexConfig
from index_server.engine import IndexEngine
from index_server.transport.server import metric_sources
from index_server.transport.servicer import IndexServicer
from serving.bootstrap import RunningServer, ServingConfig, start_server
from tests.unit.test_bounds import synthetic_items
from tests.unit.test_representative import _with_profile

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Served:
    engine: IndexEngine
    running: RunningServer
    client: Client
    metrics: str  # the /metrics URL


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[Served]:
    """A real IndexService (most-complete representatives) with /metrics on loopback."""
    engine = IndexEngine(tmp_path / "index", IndexConfig(representative="most-complete"))

    def register(server: grpc.Server) -> None:
        ipb_grpc.add_IndexServiceServicer_to_server(IndexServicer(engine, 1000), server)

    cfg = ServingConfig(port=0, metrics_port=free_port())
    running = start_server(cfg, register, ["fitrep.v1.IndexService"], metric_sources(engine))
    with Client(None, f"127.0.0.1:{running.port}", timeout=30, retries=1) as client:
        yield Served(engine, running, client, f"http://127.0.0.1:{cfg.metrics_port}/metrics")
    running.stop(0)
    engine.close()


def test_a_full_disk_is_resource_exhausted_and_every_acknowledged_item_survives(served):
    engine, running, client = served.engine, served.running, served.client
    items = synthetic_items(300)
    acknowledged = client.assign_embedded(items[:60])
    pages = engine.store.db.execute("PRAGMA page_count").fetchone()[0]
    engine.store.db.execute(f"PRAGMA max_page_count = {pages + 2}")  # SQLite: disk full
    with pytest.raises(NoSpace) as err:
        client.assign_embedded(items[60:])
    assert str(err.value).startswith(
        f"no space left on {engine.data_dir} (database or disk is full)"
    )
    with urllib.request.urlopen(served.metrics) as r:
        scraped = r.read().decode()
    assert "fitrep_disk_full_total 1.0" in scraped
    assert 'code="RESOURCE_EXHAUSTED",method="/fitrep.v1.IndexService/AssignItems"' in scraped
    assert engine.n == 60
    # a restart on the same disk serves every acknowledged item with its cluster id
    data_dir = engine.data_dir
    running.stop(0)
    engine.close()
    reopened = IndexEngine(data_dir)
    again = reopened.assign(items[:60])
    assert [a.cluster_id for a in again] == [a.cluster_id for a in acknowledged]
    assert {a.change for a in again} == {ItemChange.UNCHANGED}
    assert reopened.info().items == 60
    reopened.close()


def test_a_file_write_on_a_full_disk_is_no_space_too(tmp_path, monkeypatch):
    from index_server.candidates.spdr import SPDR

    engine = IndexEngine(tmp_path)
    items = synthetic_items(80)
    engine.assign(items[:40])

    def enospc(self, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(SPDR, "save", enospc)
    with pytest.raises(NoSpace, match=f"^no space left on {tmp_path} "):
        engine.build(items[40:])  # a build refits SPDR and saves the reducer
    assert engine.n == 40 and engine.counts["disk_full"] == 1
    monkeypatch.setattr(
        engine.store,
        "backup",
        lambda path: (_ for _ in ()).throw(sqlite3.OperationalError("database or disk is full")),
    )
    with pytest.raises(NoSpace, match="no space left on"):
        engine.snapshot(tmp_path / "snapshots" / "s1")
    engine.close()


def _run_index_server(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "index_server", "--port", "0", "--log-level", "WARNING", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_a_damaged_store_stops_the_server_with_one_line_and_check_finds_it(tmp_path):
    engine = IndexEngine(tmp_path / "good")
    engine.assign(synthetic_items(300))
    engine.close()
    ok = _run_index_server("--check", str(tmp_path / "good"))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith(f"ok: {tmp_path / 'good' / 'store.sqlite'}: whole store: 300 live")
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    data = bytearray((tmp_path / "good" / "store.sqlite").read_bytes())
    middle = len(data) // 2
    data[middle : middle + 8192] = b"\xff" * 8192  # overwritten in the middle
    (damaged / "store.sqlite").write_bytes(bytes(data))
    for args in (["--data-dir", str(damaged)], ["--check", str(damaged)]):
        out = _run_index_server(*args)
        assert out.returncode == 1, out
        assert "Traceback" not in out.stderr
        (line,) = out.stderr.strip().splitlines()
        assert line.startswith(f"error: {damaged / 'store.sqlite'} cannot be read: ")
        assert "restore the last snapshot" in line and "--check DIR" in line


def test_if_absent_is_already_exists_and_representatives_travel(served):
    engine, client = served.engine, served.client
    items = synthetic_items(40, seed=5)
    first = client.assign_embedded(items)
    cluster = next(a.cluster_id for a in first if not a.is_new_cluster)
    members = [a.item_id for a in first if a.cluster_id == cluster]
    leader = engine.get_cluster(cluster).representative_id
    assert leader == members[0]  # equal profiles: the first member
    with pytest.raises(AlreadyExists, match=r"^items\[0\]: item "):
        client.assign_embedded([_with_profile(items[1], filled_fields=1)], if_absent=True)
    better = next(it for it in items if it.item_id == members[1])
    stub = ipb_grpc.IndexServiceStub(client._channel(client.settings.index))
    request = ipb.AssignItemsRequest(
        items=[wire.embedded_to_pb(_with_profile(better, filled_fields=9))]
    )
    response = stub.AssignItems(request, timeout=30)
    (a,) = response.assignments
    assert a.change == cpb.ITEM_CHANGE_UPDATED
    assert a.representative_id == members[1]
    (change,) = response.representative_changes
    assert (change.cluster_id, change.previous_id, change.representative_id) == (
        cluster,
        leader,
        members[1],
    )
    assert client.get_cluster(cluster).representative_id == members[1]
    deleted = stub.DeleteItems(ipb.DeleteItemsRequest(item_ids=[members[1]]), timeout=30)
    assert [c.representative_id for c in deleted.representative_changes] == [leader]
    with pytest.raises(grpc.RpcError) as err:
        stub.AssignItems(ipb.AssignItemsRequest(items=request.items, mode=7), timeout=30)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "mode" in err.value.details()
