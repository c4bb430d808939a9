"""Dynamic batching of AssignItems: concurrent calls share engine calls, answers stay per caller."""

from __future__ import annotations

import dataclasses
import threading
import time
from concurrent import futures

import grpc
import pytest
from fitrep.client import Client
from fitrep.domain import AlreadyExists, InvalidInput
from fitrep.v1 import index_service_pb2_grpc as ipb_grpc

from index_server.batched_assign import AssignCall, assign_together, merge_groups
from index_server.engine import IndexEngine
from index_server.transport.servicer import IndexServicer
from serving.batching import BatcherClosed, DynamicBatcher
from serving.bootstrap import ServingConfig, start_server
from tests.unit.test_bounds import synthetic_items


def test_waiting_calls_are_served_by_one_run_and_each_gets_its_own_result():
    started, release = threading.Event(), threading.Event()
    runs: list[list[int]] = []

    def run(calls):
        runs.append(list(calls))
        if len(runs) == 1:  # hold the worker so the others queue up behind it
            started.set()
            release.wait(5)
        return [c * 10 for c in calls]

    batcher = DynamicBatcher(run, size=lambda c: 1, max_items=100)
    with futures.ThreadPoolExecutor(8) as pool:
        first = pool.submit(batcher.submit, 0)
        assert started.wait(5)
        rest = [pool.submit(batcher.submit, i) for i in range(1, 8)]
        deadline = time.monotonic() + 5
        while batcher._queue.qsize() < 7 and time.monotonic() < deadline:
            time.sleep(0.01)
        release.set()
        assert first.result(5) == 0
        assert [f.result(5) for f in rest] == [i * 10 for i in range(1, 8)]
    assert runs == [[0], list(range(1, 8))]
    batcher.close()


def test_a_group_never_exceeds_max_items_and_an_oversized_call_runs_alone():
    sizes: list[int] = []
    gate = threading.Event()

    def run(calls):
        gate.wait(5)
        sizes.append(sum(calls))
        return calls

    batcher = DynamicBatcher(run, size=lambda c: c, max_items=10)
    with futures.ThreadPoolExecutor(6) as pool:
        calls = [pool.submit(batcher.submit, n) for n in (4, 4, 4, 25, 3)]
        time.sleep(0.2)
        gate.set()
        assert [f.result(5) for f in calls] == [4, 4, 4, 25, 3]
    assert max(s for s in sizes if s != 25) <= 10 and 25 in sizes
    batcher.close()


def test_an_exception_reaches_its_caller_and_the_worker_goes_on():
    def run(calls):
        return [ValueError(f"bad {c}") if c < 0 else c for c in calls]

    batcher = DynamicBatcher(run, size=lambda c: 1, max_items=4)
    with pytest.raises(ValueError, match="bad -1"):
        batcher.submit(-1)
    assert batcher.submit(2) == 2
    batcher.close()
    with pytest.raises(BatcherClosed):
        batcher.submit(3)


def test_requests_sharing_an_id_or_a_mode_difference_are_not_merged(fast_items):
    a, b, c = fast_items[:2], fast_items[2:4], fast_items[1:3]
    calls = [AssignCall(a), AssignCall(b), AssignCall(c), AssignCall(b[:1], if_absent=True)]
    assert merge_groups(calls) == [[0, 1], [2], [3]]


def test_merged_calls_decide_as_the_same_calls_one_by_one(fast_items):
    chunks = [fast_items[i : i + 7] for i in range(0, len(fast_items), 7)]
    alone, together = IndexEngine(), IndexEngine()
    expected = [alone.assign_items(chunk) for chunk in chunks]
    got = assign_together(together, [AssignCall(chunk) for chunk in chunks])
    for want, have in zip(expected, got, strict=True):
        assert not isinstance(have, BaseException)
        assert [a.item_id for a in have.assignments] == [a.item_id for a in want.assignments]
        assert [a.cluster_id for a in have.assignments] == [a.cluster_id for a in want.assignments]
    assert together.n == alone.n == len(fast_items)


def test_one_callers_bad_item_fails_that_caller_only(fast_items):
    engine = IndexEngine()
    good, other = fast_items[:5], fast_items[5:10]
    bad = fast_items[10]
    wrong = dataclasses.replace(bad, embeddings=dataclasses.replace(bad.embeddings, vectors={}))
    got = assign_together(engine, [AssignCall(good), AssignCall([wrong]), AssignCall(other)])
    assert isinstance(got[1], InvalidInput)
    assert "items[0]" in str(got[1])  # the index within the caller's own request
    assert not isinstance(got[0], BaseException) and not isinstance(got[2], BaseException)
    assert engine.n == 10  # the good callers' items are all in, the bad one is not


def test_if_absent_conflict_is_that_callers_error(fast_items):
    engine = IndexEngine()
    engine.assign_items(fast_items[:3])
    other = fast_items[5]
    changed = dataclasses.replace(  # another item's content under a stored id
        other,
        concepts=dataclasses.replace(other.concepts, item_id=fast_items[0].item_id),
        embeddings=dataclasses.replace(other.embeddings, item_id=fast_items[0].item_id),
    )
    got = assign_together(
        engine, [AssignCall([changed], if_absent=True), AssignCall(fast_items[3:4], True)]
    )
    assert isinstance(got[0], AlreadyExists)
    assert not isinstance(got[1], BaseException)


def test_concurrent_grpc_calls_share_engine_calls_and_are_durable(tmp_path):
    """Through a real IndexService: 12 callers at once, fewer engine calls than callers, every
    answer its own items', and everything answered is in the store after a restart."""
    engine = IndexEngine(tmp_path / "index")
    servicer = IndexServicer(engine, 1000, batch_wait_s=0.05)

    def register(server: grpc.Server) -> None:
        ipb_grpc.add_IndexServiceServicer_to_server(servicer, server)

    running = start_server(ServingConfig(port=0, workers=16), register, ["fitrep.v1.IndexService"])
    items = synthetic_items(36)
    chunks = [items[i : i + 3] for i in range(0, 36, 3)]
    try:
        with Client(None, f"127.0.0.1:{running.port}", timeout=60, retries=1) as client:
            with futures.ThreadPoolExecutor(len(chunks)) as pool:
                answers = list(pool.map(client.assign_embedded, chunks))
    finally:
        running.stop(0)
        servicer.close()
        engine.close()
    for chunk, answer in zip(chunks, answers, strict=True):
        assert [a.item_id for a in answer] == [it.item_id for it in chunk]
    assert servicer.assigns.calls == len(chunks)
    assert servicer.assigns.batches < len(chunks)
    reopened = IndexEngine(tmp_path / "index")
    assert reopened.n == 36
    reopened.close()


def test_max_calls_one_serves_every_call_alone():
    runs: list[int] = []
    gate = threading.Event()

    def run(calls):
        gate.wait(5)
        runs.append(len(calls))
        return calls

    batcher = DynamicBatcher(run, size=lambda c: 1, max_items=100, max_calls=1)
    with futures.ThreadPoolExecutor(4) as pool:
        calls = [pool.submit(batcher.submit, n) for n in range(4)]
        time.sleep(0.1)
        gate.set()
        assert [f.result(5) for f in calls] == list(range(4))
    assert runs == [1, 1, 1, 1]
    batcher.close()
