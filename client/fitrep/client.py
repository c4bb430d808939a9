"""The SDK: ``Client`` (blocking) and ``AsyncClient`` (grpc.aio) for the two FITRep servers.

Both take and return domain objects, like the in-process ``Pipeline``, and raise the same
domain exceptions (``InvalidInput`` naming the field, ``NotFound``, ``Overloaded``, ...).
Items travel many per message; idempotent calls are retried on UNAVAILABLE and
DEADLINE_EXCEEDED with jittered exponential backoff. BuildIndex is not retried: it is not
idempotent, so a failure there is reported, never silently repeated.

    with Client(concept="127.0.0.1:50051", index="127.0.0.1:50052") as fr:
        assignments = fr.dedup(items)
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

import grpc
import grpc.aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tenacity import (
    AsyncRetrying,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from fitrep import wire
from fitrep.domain import (
    Assignment,
    Cluster,
    EmbeddedItem,
    Explanation,
    IndexInfo,
    Item,
    Neighbor,
)
from fitrep.rpc_errors import REQUEST_ID_KEY, from_rpc_error
from fitrep.v1 import concept_service_pb2 as spb
from fitrep.v1 import concept_service_pb2_grpc as spb_grpc
from fitrep.v1 import index_service_pb2 as ipb
from fitrep.v1 import index_service_pb2_grpc as ipb_grpc

T = TypeVar("T")
Progress = Callable[[str, int, int], None]
QueryInput: TypeAlias = Item | EmbeddedItem

MiB = 1024 * 1024
_RETRY_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, grpc.RpcError) and exc.code() in _RETRY_CODES  # type: ignore[attr-defined]


def _new_request_id() -> str:
    return uuid.uuid4().hex[:16]


def _batches(seq: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(seq), size):
        yield seq[start : start + size]


def _channel_options(max_message_mb: int) -> list[tuple[str, Any]]:
    return [
        ("grpc.max_send_message_length", max_message_mb * MiB),
        ("grpc.max_receive_message_length", max_message_mb * MiB),
    ]


class _Settings:
    """What both clients share: addresses, limits, credentials, the retry policy."""

    def __init__(
        self,
        concept: str | None,
        index: str | None,
        batch_size: int,
        timeout: float | None,
        build_timeout: float | None,
        token: str | None,
        root_certificates: bytes | None,
        retries: int,
        max_message_mb: int,
    ) -> None:
        if batch_size <= 0:
            raise ValueError("batch_size must be positive")
        self.concept = concept
        self.index = index
        self.batch_size = batch_size
        self.timeout = timeout
        self.build_timeout = build_timeout
        self.token = token
        self.root_certificates = root_certificates
        self.retries = retries
        self.options = _channel_options(max_message_mb)

    def metadata(self, request_id: str) -> tuple[tuple[str, str], ...]:
        md: tuple[tuple[str, str], ...] = ((REQUEST_ID_KEY, request_id),)
        if self.token:
            md += (("authorization", f"Bearer {self.token}"),)
        return md

    def retry_kwargs(self) -> dict[str, Any]:
        return {
            "retry": retry_if_exception(_retryable),
            "wait": wait_random_exponential(multiplier=0.1, max=5.0),
            "stop": stop_after_attempt(max(1, self.retries)),
            "reraise": True,
        }

    def require(self, address: str | None, what: str) -> str:
        if not address:
            raise ValueError(f"this client has no {what} server address")
        return address


def _validate(items: Sequence[Item]) -> None:
    """Check here, so a bad item is named by its index in the caller's list, not in a batch."""
    for i, item in enumerate(items):
        item.validate(f"items[{i}]")
    wire.check_unique_ids(it.id for it in items)


def _extract_request(items: Sequence[Item], embed: bool, rid: str) -> spb.ExtractConceptsRequest:
    return spb.ExtractConceptsRequest(
        items=[wire.item_to_pb(it) for it in items], skip_embeddings=not embed, request_id=rid
    )


def _decode_extract(resp: spb.ExtractConceptsResponse) -> list[EmbeddedItem]:
    return [wire.embedded_from_pb(m, f"items[{i}]", False) for i, m in enumerate(resp.items)]


def _split_query(inputs: Sequence[QueryInput]) -> tuple[list[Item], list[EmbeddedItem]]:
    raw = [q for q in inputs if isinstance(q, Item)]
    return raw, [q for q in inputs if isinstance(q, EmbeddedItem)]


def _build_requests(embedded: Sequence[EmbeddedItem], size: int) -> Iterator[ipb.BuildIndexRequest]:
    for batch in _batches(embedded, size):
        yield ipb.BuildIndexRequest(items=[wire.embedded_to_pb(e) for e in batch])


def _on_build_message(
    msg: ipb.BuildIndexResponse, out: list[Assignment], progress: Progress | None
) -> None:
    if msg.HasField("progress"):
        if progress:
            progress(msg.progress.stage, msg.progress.done, msg.progress.total)
    else:
        out.extend(wire.assignment_from_pb(a) for a in msg.assignments.assignments)


class Client:
    """Blocking client. ``concept`` / ``index`` are ``host:port``; either may be None."""

    def __init__(
        self,
        concept: str | None = "127.0.0.1:50051",
        index: str | None = "127.0.0.1:50052",
        batch_size: int = 256,
        timeout: float | None = 60.0,
        token: str | None = None,
        *,
        build_timeout: float | None = None,
        root_certificates: bytes | None = None,
        retries: int = 5,
        max_message_mb: int = 64,
    ) -> None:
        self.settings = _Settings(
            concept, index, batch_size, timeout, build_timeout, token,
            root_certificates, retries, max_message_mb,
        )  # fmt: skip
        self._channels: dict[str, grpc.Channel] = {}

    # -- plumbing ------------------------------------------------------------------------
    def _channel(self, address: str) -> grpc.Channel:
        if address not in self._channels:
            s = self.settings
            if s.root_certificates is not None:
                creds = grpc.ssl_channel_credentials(root_certificates=s.root_certificates)
                self._channels[address] = grpc.secure_channel(address, creds, s.options)
            else:
                self._channels[address] = grpc.insecure_channel(address, s.options)
        return self._channels[address]

    def _concepts(self) -> spb_grpc.ConceptServiceStub:
        return spb_grpc.ConceptServiceStub(
            self._channel(self.settings.require(self.settings.concept, "concept"))
        )

    def _index(self) -> ipb_grpc.IndexServiceStub:
        return ipb_grpc.IndexServiceStub(
            self._channel(self.settings.require(self.settings.index, "index"))
        )

    def _call(self, method: Any, request: Any, idempotent: bool = True, rid: str = "") -> Any:
        """One unary call; a retry re-sends the same request id so the server can tell."""
        md = self.settings.metadata(rid or _new_request_id())

        def once() -> Any:
            return method(request, timeout=self.settings.timeout, metadata=md)

        try:
            if idempotent:  # a fresh Retrying per call: its state is per call, not thread-safe
                return Retrying(**self.settings.retry_kwargs())(once)
            return once()
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None

    # -- concept tier --------------------------------------------------------------------
    def extract(
        self, items: Sequence[Item], embed: bool = True, progress: Progress | None = None
    ) -> list[EmbeddedItem]:
        """Concepts (and level embeddings) for ``items``, in order, ``batch_size`` per call."""
        _validate(items)
        stub, out = self._concepts(), list[EmbeddedItem]()
        for batch in _batches(items, self.settings.batch_size):
            rid = _new_request_id()
            resp = self._call(stub.ExtractConcepts, _extract_request(batch, embed, rid), rid=rid)
            out.extend(_decode_extract(resp))
            if progress:
                progress("concepts", len(out), len(items))
        return out

    def concept_info(self) -> dict[str, Any]:
        return wire.concept_info_from_pb(
            self._call(self._concepts().GetInfo, spb.GetConceptInfoRequest())
        )

    # -- index tier ----------------------------------------------------------------------
    def assign(self, items: Sequence[Item], progress: Progress | None = None) -> list[Assignment]:
        """Incremental: new items join existing clusters. Retried safely (idempotent per id)."""
        return self.assign_embedded(self.extract(items, progress=progress), progress)

    def assign_embedded(
        self, embedded: Sequence[EmbeddedItem], progress: Progress | None = None
    ) -> list[Assignment]:
        stub, out = self._index(), list[Assignment]()
        for batch in _batches(embedded, self.settings.batch_size):
            rid = _new_request_id()
            req = ipb.AssignItemsRequest(
                items=[wire.embedded_to_pb(e) for e in batch], request_id=rid
            )
            out.extend(
                wire.assignment_from_pb(a)
                for a in self._call(stub.AssignItems, req, rid=rid).assignments
            )
            if progress:
                progress("assign", len(out), len(embedded))
        return out

    def dedup(self, items: Sequence[Item], progress: Progress | None = None) -> list[Assignment]:
        """Batch: extract everything, then one BuildIndex stream (progress is forwarded)."""
        return self.build(self.extract(items, progress=progress), progress)

    def build(
        self, embedded: Sequence[EmbeddedItem], progress: Progress | None = None
    ) -> list[Assignment]:
        """Stream ``embedded`` to BuildIndex; never retried (a build is not idempotent)."""
        out: list[Assignment] = []
        call = self._index().BuildIndex(
            _build_requests(embedded, self.settings.batch_size),
            timeout=self.settings.build_timeout,
            metadata=self.settings.metadata(_new_request_id()),
        )
        try:
            for msg in call:
                _on_build_message(msg, out, progress)
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None
        return out

    def query(
        self, item_ids: Sequence[str] = (), items: Sequence[QueryInput] = (), k: int = 10
    ) -> list[tuple[str, list[Neighbor]]]:
        """Verified neighbours of stored ids, then of ``items`` (raw items are embedded first)."""
        raw, embedded = _split_query(items)
        embedded = embedded + (self.extract(raw) if raw else [])
        req = ipb.QueryNeighborsRequest(
            item_ids=list(item_ids), items=[wire.embedded_to_pb(e) for e in embedded], k=k
        )
        return wire.neighbor_lists_from_pb(self._call(self._index().QueryNeighbors, req))

    def get_cluster(self, cluster_id: str) -> Cluster:
        req = ipb.GetClusterRequest(cluster_id=cluster_id)
        return wire.cluster_from_pb(self._call(self._index().GetCluster, req))

    def explain(self, item_a: str, item_b: str) -> Explanation:
        req = ipb.ExplainRequest(item_a=item_a, item_b=item_b)
        return wire.explanation_from_pb(self._call(self._index().Explain, req))

    def delete(self, item_ids: Sequence[str]) -> int:
        """Number of items removed; deleting again removes nothing, so retrying is safe."""
        req = ipb.DeleteItemsRequest(item_ids=list(item_ids))
        return int(self._call(self._index().DeleteItems, req).deleted)

    def snapshot(self, path: str | Path = "") -> tuple[str, int]:
        """A snapshot directory on the index server (under its snapshot root) and its size."""
        resp = self._call(self._index().Snapshot, ipb.SnapshotRequest(path=str(path)), False)
        return resp.path, int(resp.items)

    def index_info(self) -> IndexInfo:
        return wire.index_info_from_pb(self._call(self._index().GetInfo, ipb.GetIndexInfoRequest()))

    def info(self) -> dict[str, Any]:
        """``{"concept": ConceptService info dict, "index": IndexInfo}`` for configured tiers."""
        out: dict[str, Any] = {}
        if self.settings.concept:
            out["concept"] = self.concept_info()
        if self.settings.index:
            out["index"] = self.index_info()
        return out

    def healthy(self, timeout: float = 1.0) -> bool:
        """True when every configured server answers SERVING."""
        for address in (self.settings.concept, self.settings.index):
            if not address:
                continue
            try:
                resp = health_pb2_grpc.HealthStub(self._channel(address)).Check(
                    health_pb2.HealthCheckRequest(), timeout=timeout
                )
            except grpc.RpcError:
                return False
            if resp.status != health_pb2.HealthCheckResponse.SERVING:
                return False
        return True

    # -- lifetime ------------------------------------------------------------------------
    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient:
    """The same methods as ``Client``, as coroutines on grpc.aio channels."""

    def __init__(
        self,
        concept: str | None = "127.0.0.1:50051",
        index: str | None = "127.0.0.1:50052",
        batch_size: int = 256,
        timeout: float | None = 60.0,
        token: str | None = None,
        *,
        build_timeout: float | None = None,
        root_certificates: bytes | None = None,
        retries: int = 5,
        max_message_mb: int = 64,
    ) -> None:
        self.settings = _Settings(
            concept, index, batch_size, timeout, build_timeout, token,
            root_certificates, retries, max_message_mb,
        )  # fmt: skip
        self._channels: dict[str, grpc.aio.Channel] = {}

    def _channel(self, address: str) -> grpc.aio.Channel:
        if address not in self._channels:
            s = self.settings
            if s.root_certificates is not None:
                creds = grpc.ssl_channel_credentials(root_certificates=s.root_certificates)
                self._channels[address] = grpc.aio.secure_channel(address, creds, s.options)
            else:
                self._channels[address] = grpc.aio.insecure_channel(address, s.options)
        return self._channels[address]

    def _concepts(self) -> spb_grpc.ConceptServiceStub:
        return spb_grpc.ConceptServiceStub(
            self._channel(self.settings.require(self.settings.concept, "concept"))
        )

    def _index(self) -> ipb_grpc.IndexServiceStub:
        return ipb_grpc.IndexServiceStub(
            self._channel(self.settings.require(self.settings.index, "index"))
        )

    async def _call(self, method: Any, request: Any, idempotent: bool = True, rid: str = "") -> Any:
        md = self.settings.metadata(rid or _new_request_id())

        async def once() -> Any:
            return await method(request, timeout=self.settings.timeout, metadata=md)

        try:
            if idempotent:
                return await AsyncRetrying(**self.settings.retry_kwargs())(once)
            return await once()
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None

    async def extract(
        self, items: Sequence[Item], embed: bool = True, progress: Progress | None = None
    ) -> list[EmbeddedItem]:
        _validate(items)
        stub, out = self._concepts(), list[EmbeddedItem]()
        for batch in _batches(items, self.settings.batch_size):
            rid = _new_request_id()
            req = _extract_request(batch, embed, rid)
            out.extend(_decode_extract(await self._call(stub.ExtractConcepts, req, rid=rid)))
            if progress:
                progress("concepts", len(out), len(items))
        return out

    async def concept_info(self) -> dict[str, Any]:
        resp = await self._call(self._concepts().GetInfo, spb.GetConceptInfoRequest())
        return wire.concept_info_from_pb(resp)

    async def assign(
        self, items: Sequence[Item], progress: Progress | None = None
    ) -> list[Assignment]:
        return await self.assign_embedded(await self.extract(items, progress=progress), progress)

    async def assign_embedded(
        self, embedded: Sequence[EmbeddedItem], progress: Progress | None = None
    ) -> list[Assignment]:
        stub, out = self._index(), list[Assignment]()
        for batch in _batches(embedded, self.settings.batch_size):
            rid = _new_request_id()
            req = ipb.AssignItemsRequest(
                items=[wire.embedded_to_pb(e) for e in batch], request_id=rid
            )
            resp = await self._call(stub.AssignItems, req, rid=rid)
            out.extend(wire.assignment_from_pb(a) for a in resp.assignments)
            if progress:
                progress("assign", len(out), len(embedded))
        return out

    async def dedup(
        self, items: Sequence[Item], progress: Progress | None = None
    ) -> list[Assignment]:
        return await self.build(await self.extract(items, progress=progress), progress)

    async def build(
        self, embedded: Sequence[EmbeddedItem], progress: Progress | None = None
    ) -> list[Assignment]:
        async def requests() -> AsyncIterator[ipb.BuildIndexRequest]:
            for req in _build_requests(embedded, self.settings.batch_size):
                yield req

        out: list[Assignment] = []
        call = self._index().BuildIndex(
            requests(),
            timeout=self.settings.build_timeout,
            metadata=self.settings.metadata(_new_request_id()),
        )
        try:
            async for msg in call:
                _on_build_message(msg, out, progress)
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None
        return out

    async def query(
        self, item_ids: Sequence[str] = (), items: Sequence[QueryInput] = (), k: int = 10
    ) -> list[tuple[str, list[Neighbor]]]:
        raw, embedded = _split_query(items)
        embedded = embedded + (await self.extract(raw) if raw else [])
        req = ipb.QueryNeighborsRequest(
            item_ids=list(item_ids), items=[wire.embedded_to_pb(e) for e in embedded], k=k
        )
        return wire.neighbor_lists_from_pb(await self._call(self._index().QueryNeighbors, req))

    async def get_cluster(self, cluster_id: str) -> Cluster:
        req = ipb.GetClusterRequest(cluster_id=cluster_id)
        return wire.cluster_from_pb(await self._call(self._index().GetCluster, req))

    async def explain(self, item_a: str, item_b: str) -> Explanation:
        req = ipb.ExplainRequest(item_a=item_a, item_b=item_b)
        return wire.explanation_from_pb(await self._call(self._index().Explain, req))

    async def delete(self, item_ids: Sequence[str]) -> int:
        req = ipb.DeleteItemsRequest(item_ids=list(item_ids))
        return int((await self._call(self._index().DeleteItems, req)).deleted)

    async def snapshot(self, path: str | Path = "") -> tuple[str, int]:
        req = ipb.SnapshotRequest(path=str(path))
        resp = await self._call(self._index().Snapshot, req, False)
        return resp.path, int(resp.items)

    async def index_info(self) -> IndexInfo:
        resp = await self._call(self._index().GetInfo, ipb.GetIndexInfoRequest())
        return wire.index_info_from_pb(resp)

    async def info(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.settings.concept:
            out["concept"] = await self.concept_info()
        if self.settings.index:
            out["index"] = await self.index_info()
        return out

    async def healthy(self, timeout: float = 1.0) -> bool:
        for address in (self.settings.concept, self.settings.index):
            if not address:
                continue
            try:
                resp = await health_pb2_grpc.HealthStub(self._channel(address)).Check(
                    health_pb2.HealthCheckRequest(), timeout=timeout
                )
            except grpc.RpcError:
                return False
            if resp.status != health_pb2.HealthCheckResponse.SERVING:
                return False
        return True

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
