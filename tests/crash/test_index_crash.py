"""Crash suite (``make test-crash``): SIGKILL the index server at random points, restart it,
and check that nothing acknowledged was lost or changed.

Each cycle starts ``python -m index_server`` on one data directory, checks the state the
earlier cycles acknowledged, then drives one kind of work (assign, build, delete, snapshot,
assigns that trigger SPDR refits, or updates: known ids sent with changed content) back to
back until a SIGKILL at a random moment. Checks after every restart: every acknowledged
assignment comes back with the same cluster id (for an updated item, its acknowledged
version's), no cluster id was opened for two items, acknowledged deletions stay deleted
(FAILED_PRECONDITION on re-assign); at the end every snapshot directory is either whole
(loads with the acknowledged item count) or refused on load (``BadSnapshot``). An update cut
by the kill is sent again after the restart, as a client would, and its answer is the one
acknowledged.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from fitrep import wire
from fitrep.launch import free_port
from fitrep.v1 import common_pb2 as cpb
from fitrep.v1 import index_service_pb2 as ipb
from fitrep.v1 import index_service_pb2_grpc as ipb_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.unit.test_bounds import synthetic_items

KILLS = int(os.environ.get("FITREP_CRASH_KILLS", "20"))
KINDS = ("assign", "build", "delete", "snapshot", "refit", "update")
# SPDR refits early and often (PCA from 100 items, every 30 % growth): refits are kill points.
INDEX_ARGS = ["--spdr-method", "pca", "--spdr-min-items", "100", "--refit-growth", "1.3"]


def _start(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "index_server", "--data-dir", str(data_dir)]
    cmd += ["--port", str(port), "--log-level", "WARNING", *INDEX_ARGS]
    return subprocess.Popen(cmd, stderr=subprocess.PIPE, start_new_session=True)


def _wait_serving(proc: subprocess.Popen[bytes], channel: grpc.Channel) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited {proc.returncode}: {proc.stderr.read()!r}")
        try:
            if stub.Check(health_pb2.HealthCheckRequest(), timeout=0.5).status == 1:
                return
        except grpc.RpcError:
            time.sleep(0.05)
    raise AssertionError("server not serving after 60 s")


class Ledger:
    """What the server acknowledged, and what may or may not have happened (in flight)."""

    def __init__(self) -> None:
        self.cluster_of: dict[str, str] = {}  # acknowledged assignments
        self.opened_by: dict[str, str] = {}  # new cluster id -> the item that opened it
        self.deleted: set[str] = set()  # acknowledged deletions
        self.maybe_deleted: set[str] = set()  # a DeleteItems in flight at the kill
        self.snapshots: dict[str, int] = {}  # acknowledged snapshot path -> live items
        self.unsent_updates: list[str] = []  # updates cut by a kill: sent again after restart
        self.updates = 0
        self.checks = 0
        self.kills = 0
        self.snapshot_dirs = 0

    def record(self, assignments) -> None:
        for a in assignments:
            old = self.cluster_of.setdefault(a.item_id, a.cluster_id)
            assert old == a.cluster_id, f"{a.item_id}: {old} then {a.cluster_id}"
            if a.is_new_cluster and a.cluster_id != a.previous_cluster_id:
                owner = self.opened_by.setdefault(a.cluster_id, a.item_id)
                assert owner == a.item_id, f"{a.cluster_id} opened by {owner} and {a.item_id}"
            self.checks += 1

    def record_update(self, assignments) -> None:
        """A changed version was acknowledged: its cluster is the one to check from now on.
        An item alone in its cluster keeps the id when it stays alone (not a reuse)."""
        for a in assignments:
            self.cluster_of[a.item_id] = a.cluster_id
            if a.is_new_cluster and a.cluster_id != a.previous_cluster_id:
                owner = self.opened_by.setdefault(a.cluster_id, a.item_id)
                assert owner == a.item_id, f"{a.cluster_id} opened by {owner} and {a.item_id}"
            self.updates += 1
            self.checks += 1

    def live(self) -> list[str]:
        gone = self.deleted | self.maybe_deleted
        return [i for i in self.cluster_of if i not in gone]


def _changed(pb_of, item_id: str, rng: random.Random) -> cpb.EmbeddedItem:
    """``item_id`` with another item's content: a new version, judged again."""
    other = pb_of[rng.choice(sorted(pb_of))]
    msg = cpb.EmbeddedItem()
    msg.CopyFrom(other)
    msg.concepts.item_id = msg.embeddings.item_id = item_id
    msg.concepts.levels[0].concepts.append(f"v{rng.randrange(10**6)}")  # never the same twice
    return msg


def _verify(stub, ledger: Ledger, pb_of) -> None:
    """After a restart: updates cut by the kill are sent again; then every acknowledged live
    item answers its acknowledged cluster id."""
    if ledger.unsent_updates:
        gone = ledger.deleted | ledger.maybe_deleted
        batch = [pb_of[i] for i in ledger.unsent_updates if i not in gone]
        resp = stub.AssignItems(ipb.AssignItemsRequest(items=batch), timeout=60)
        ledger.record_update(wire.assignment_from_pb(a) for a in resp.assignments)
        ledger.unsent_updates = []
    live = ledger.live()
    for start in range(0, len(live), 500):
        batch = [pb_of[i] for i in live[start : start + 500]]
        resp = stub.AssignItems(ipb.AssignItemsRequest(items=batch), timeout=60)
        ledger.record(wire.assignment_from_pb(a) for a in resp.assignments)
    for item_id in sorted(ledger.deleted)[:20]:
        with pytest.raises(grpc.RpcError) as err:
            stub.AssignItems(ipb.AssignItemsRequest(items=[pb_of[item_id]]), timeout=30)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        ledger.checks += 1
    info = stub.GetInfo(ipb.GetIndexInfoRequest(), timeout=30)
    assert info.items >= len(live)
    ledger.checks += 1


def _drive(kind: str, stub, ledger: Ledger, pending: list[str], pb_of, stop: threading.Event):
    """Work of one kind, back to back, until the server dies; ``pending``: ids to send."""
    rng = random.Random(kind)
    n = 0
    while not stop.is_set():
        n += 1
        try:
            # a delete cycle deletes first: a slow first assign after the restart must not
            # leave the kill before any deletion was acknowledged
            assign_turn = n % 2 if kind != "delete" else not n % 2
            if kind in ("assign", "refit") or (kind != "build" and assign_turn):
                size = 120 if kind == "refit" else 25
                batch, pending[:size] = pending[:size], []
                req = ipb.AssignItemsRequest(items=[pb_of[i] for i in batch])
                try:
                    resp = stub.AssignItems(req, timeout=30)
                except grpc.RpcError:
                    pending[:0] = batch  # unacknowledged: a client would send them again
                    raise
                ledger.record(wire.assignment_from_pb(a) for a in resp.assignments)
            elif kind == "build":
                batch, pending[:60] = pending[:60], []
                chunk = ipb.BuildIndexRequest(items=[pb_of[i] for i in batch])
                try:
                    for msg in stub.BuildIndex(iter([chunk]), timeout=60):
                        if msg.HasField("assignments"):
                            ledger.record(
                                wire.assignment_from_pb(a) for a in msg.assignments.assignments
                            )
                except grpc.RpcError:
                    pending[:0] = batch
                    raise
            elif kind == "update":
                live = [i for i in ledger.live() if i not in ledger.unsent_updates]
                ids = rng.sample(live, min(10, len(live)))
                for item_id in ids:  # the client's current version of each item
                    pb_of[item_id] = _changed(pb_of, item_id, rng)
                ledger.unsent_updates.extend(ids)
                req = ipb.AssignItemsRequest(items=[pb_of[i] for i in ids])
                resp = stub.AssignItems(req, timeout=30)
                ledger.record_update(wire.assignment_from_pb(a) for a in resp.assignments)
                ledger.unsent_updates = [i for i in ledger.unsent_updates if i not in ids]
            elif kind == "delete":
                live = ledger.live()
                victims = rng.sample(live, min(5, len(live)))
                ledger.maybe_deleted.update(victims)
                stub.DeleteItems(ipb.DeleteItemsRequest(item_ids=victims), timeout=30)
                ledger.maybe_deleted.difference_update(victims)
                ledger.deleted.update(victims)
            else:
                name = f"snap-{len(ledger.snapshots)}-{n}"
                resp = stub.Snapshot(ipb.SnapshotRequest(path=name), timeout=60)
                ledger.snapshots[resp.path] = resp.items
        except grpc.RpcError:
            return  # killed mid-call


def _lane(data: Path, kills: int, seed: int) -> Ledger:
    """``kills`` cycles of start, check, drive, SIGKILL on one data directory."""
    items = synthetic_items(6000, seed=seed)
    pb_of = {it.item_id: wire.embedded_to_pb(it) for it in items}
    pending = [it.item_id for it in items]
    ledger, rng = Ledger(), random.Random(seed)
    for cycle in range(kills):
        port = free_port()
        proc = _start(data, port)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            _wait_serving(proc, channel)
            stub = ipb_grpc.IndexServiceStub(channel)
            _verify(stub, ledger, pb_of)
            kind = KINDS[(cycle + seed) % len(KINDS)]
            stop = threading.Event()
            worker = threading.Thread(
                target=_drive, args=(kind, stub, ledger, pending, pb_of, stop), daemon=True
            )
            worker.start()
            time.sleep(rng.uniform(0.4, 1.6))
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            ledger.kills += 1
            stop.set()
            worker.join(timeout=60)
    # one more restart: the last kill is checked too
    port = free_port()
    proc = _start(data, port)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        _wait_serving(proc, channel)
        _verify(ipb_grpc.IndexServiceStub(channel), ledger, pb_of)
        second = _start(data, free_port())  # a second server on the same store is refused
        _, err = second.communicate(timeout=60)
        assert second.returncode != 0
        assert err.decode().strip().splitlines()[-1] == (
            f"error: {data} is in use by another index server (pid {proc.pid})"
        )
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    _check_snapshots(data / "snapshots", ledger)
    return ledger


def test_sigkill_at_random_points_loses_nothing_acknowledged(tmp_path):
    """Two data directories side by side (a server start is mostly waiting, not CPU)."""
    started = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        lanes = [
            pool.submit(_lane, tmp_path / f"index{i}", (KILLS + 1 - i) // 2, 3 + i)
            for i in range(2)
        ]
        ledgers = [lane.result() for lane in lanes]
    kills = sum(led.kills for led in ledgers)
    print(
        f"crash suite: {kills} kills,"
        f" {sum(led.checks for led in ledgers)} checks,"
        f" {sum(len(led.cluster_of) for led in ledgers)} items,"
        f" {sum(len(led.deleted) for led in ledgers)} deleted,"
        f" {sum(led.updates for led in ledgers)} updates,"
        f" {sum(led.snapshot_dirs for led in ledgers)} snapshot dirs,"
        f" {time.monotonic() - started:.0f} s"
    )
    assert kills == KILLS
    assert sum(len(led.cluster_of) for led in ledgers) > 300
    assert all(led.deleted for led in ledgers) and any(led.snapshot_dirs for led in ledgers)
    assert sum(led.updates for led in ledgers) > 0


def _check_snapshots(root: Path, ledger: Ledger) -> None:
    """Whole snapshots load with their acknowledged item count; partial ones are refused."""
    from index_server.engine import IndexEngine
    from index_server.storage.snapshot import BadSnapshot

    dirs = sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []
    for path in dirs:
        if ".tmp-" in path.name:
            with pytest.raises(BadSnapshot):
                IndexEngine(path)
        else:
            engine = IndexEngine(path)
            if str(path) in ledger.snapshots:
                assert engine.info().items == ledger.snapshots[str(path)]
            engine.close()
        ledger.checks += 1
    ledger.snapshot_dirs = len(dirs)
