"""The IndexService servicer: protobuf in, ``IndexEngine`` call, protobuf out.

Single writer: every engine call holds the engine's one lock, so a build and an assign never
interleave. Concurrent ``AssignItems`` calls are served together: a ``DynamicBatcher`` hands the
calls waiting in its queue to one engine call (``index_server.batched_assign``), so a service that
sends a few items per call gets the large-batch rate; each caller is answered once its items are
committed. Errors are domain exceptions, mapped to status codes by
``serving.interceptors.ErrorInterceptor``.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import grpc
from fitrep import wire
from fitrep.domain import Assignment, AssignResult, EmbeddedItem, InvalidInput
from fitrep.v1 import index_service_pb2 as ipb
from fitrep.v1 import index_service_pb2_grpc as ipb_grpc

from index_server.batched_assign import AssignCall, assign_together
from index_server.engine import IndexEngine
from serving.batching import DynamicBatcher
from serving.interceptors import check_batch_size

ASSIGNMENT_CHUNK = 1000  # assignments per BuildIndex response message
MAX_K = 1000


class IndexServicer(ipb_grpc.IndexServiceServicer):
    def __init__(
        self,
        engine: IndexEngine,
        max_batch: int,
        snapshot_root: Path | None = None,
        batch_wait_s: float = 0.002,
        batch_calls: int = 64,
    ) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.snapshot_root = snapshot_root
        self.assigns: DynamicBatcher[AssignCall, AssignResult] = DynamicBatcher(
            lambda calls: assign_together(engine, calls),
            size=lambda call: len(call.items),
            max_items=max_batch,
            max_wait_s=batch_wait_s,
            max_calls=batch_calls,
            name="assign-batcher",
        )

    def close(self) -> None:
        """Answer the assign calls already queued, then stop taking new ones."""
        self.assigns.close()

    def AssignItems(
        self, request: ipb.AssignItemsRequest, context: grpc.ServicerContext
    ) -> ipb.AssignItemsResponse:
        check_batch_size(len(request.items), self.max_batch)
        if request.mode not in ipb.AssignMode.values():
            raise InvalidInput("mode", f"unknown assign mode {request.mode}")
        items = wire.embedded_items_from_pb(request.items)
        result = self.assigns.submit(
            AssignCall(items, if_absent=request.mode == ipb.ASSIGN_MODE_IF_ABSENT)
        )
        return ipb.AssignItemsResponse(
            assignments=[wire.assignment_to_pb(a) for a in result.assignments],
            request_id=request.request_id,
            representative_changes=[
                wire.representative_change_to_pb(c) for c in result.representative_changes
            ],
        )

    def BuildIndex(
        self, request_iterator: Iterator[ipb.BuildIndexRequest], context: grpc.ServicerContext
    ) -> Iterator[ipb.BuildIndexResponse]:
        items: list[EmbeddedItem] = []
        for n, chunk in enumerate(request_iterator):
            check_batch_size(len(chunk.items), self.max_batch, f"chunk[{n}].items")
            items.extend(wire.embedded_items_from_pb(chunk.items, start=len(items)))
        wire.check_unique_ids(it.item_id for it in items)
        yield from self._build_streaming_progress(items)

    def _build_streaming_progress(
        self, items: list[EmbeddedItem]
    ) -> Iterator[ipb.BuildIndexResponse]:
        """Build in a worker thread; its progress callback feeds a queue this generator drains."""
        events: queue.Queue[tuple[str, int, int] | None] = queue.Queue()
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["assignments"] = self.engine.build(
                    items, progress=lambda stage, done, total: events.put((stage, done, total))
                )
            except BaseException as exc:  # re-raised below, in the RPC's thread
                outcome["error"] = exc
            finally:
                events.put(None)

        # copy_context: the worker's log lines keep the call's request id.
        ctx = contextvars.copy_context()
        threading.Thread(target=ctx.run, args=(work,), name="build", daemon=True).start()
        while (event := events.get()) is not None:
            stage, done, total = event
            yield ipb.BuildIndexResponse(
                progress=ipb.BuildProgress(stage=stage, done=done, total=total)
            )
        if "error" in outcome:
            raise outcome["error"]
        assignments: list[Assignment] = outcome["assignments"]
        for start in range(0, len(assignments), ASSIGNMENT_CHUNK):
            chunk = assignments[start : start + ASSIGNMENT_CHUNK]
            yield ipb.BuildIndexResponse(
                assignments=ipb.AssignmentChunk(
                    assignments=[wire.assignment_to_pb(a) for a in chunk]
                )
            )

    def QueryNeighbors(
        self, request: ipb.QueryNeighborsRequest, context: grpc.ServicerContext
    ) -> ipb.QueryNeighborsResponse:
        check_batch_size(len(request.item_ids) + len(request.items), self.max_batch)
        if not 0 < request.k <= MAX_K:
            raise InvalidInput("k", f"must be in 1..{MAX_K}, got {request.k}")
        items = wire.embedded_items_from_pb(request.items)
        results = self.engine.query(item_ids=list(request.item_ids), items=items, k=request.k)
        return wire.neighbor_lists_to_pb(results)

    def GetCluster(
        self, request: ipb.GetClusterRequest, context: grpc.ServicerContext
    ) -> ipb.Cluster:
        if not request.cluster_id:
            raise InvalidInput("cluster_id", "must be a non-empty string")
        return wire.cluster_to_pb(self.engine.get_cluster(request.cluster_id))

    def Explain(
        self, request: ipb.ExplainRequest, context: grpc.ServicerContext
    ) -> ipb.Explanation:
        for name in ("item_a", "item_b"):
            if not getattr(request, name):
                raise InvalidInput(name, "must be a non-empty item id")
        return wire.explanation_to_pb(self.engine.explain(request.item_a, request.item_b))

    def DeleteItems(
        self, request: ipb.DeleteItemsRequest, context: grpc.ServicerContext
    ) -> ipb.DeleteItemsResponse:
        check_batch_size(len(request.item_ids), self.max_batch, "item_ids")
        deleted, changes = self.engine.delete_items(list(request.item_ids))
        return ipb.DeleteItemsResponse(
            deleted=deleted,
            representative_changes=[wire.representative_change_to_pb(c) for c in changes],
        )

    def Snapshot(
        self, request: ipb.SnapshotRequest, context: grpc.ServicerContext
    ) -> ipb.SnapshotResponse:
        target = self._snapshot_path(request.path)
        path, n = self.engine.snapshot(target)
        return ipb.SnapshotResponse(path=str(path), items=n)

    def _snapshot_path(self, requested: str) -> Path:
        """Callers name a directory, but only inside the snapshot root: no writes elsewhere."""
        if self.snapshot_root is None:
            raise InvalidInput("path", "this server has no --data-dir or --snapshot-root")
        root = self.snapshot_root.resolve()
        name = requested or datetime.now(timezone.utc).strftime("snapshot-%Y%m%dT%H%M%SZ")
        target = (root / name).resolve()
        if target != root and root not in target.parents:
            raise InvalidInput("path", f"{requested!r} is outside the snapshot root {root}")
        return target

    def GetInfo(
        self, request: ipb.GetIndexInfoRequest, context: grpc.ServicerContext
    ) -> ipb.IndexInfo:
        return wire.index_info_to_pb(self.engine.info())
