"""The SDK: ``Client`` (blocking) and ``AsyncClient`` (grpc.aio) for the two FITRep servers.

Both take and return domain objects, like the in-process ``Pipeline``, and raise the same
domain exceptions (``InvalidInput`` naming the field, ``NotFound``, ``Overloaded``, ...).
Items travel many per message; idempotent calls are retried on UNAVAILABLE and
DEADLINE_EXCEEDED with jittered exponential backoff. BuildIndex is not retried: it is not
idempotent, so a failure there is reported, never silently repeated. Requests, responses and
the retry policy are shared (``fitrep.calls``); the two classes differ only in how they send.

    with Client(concept="127.0.0.1:50051", index="127.0.0.1:50052") as fr:
        assignments = fr.dedup(items)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import grpc
import grpc.aio
from tenacity import AsyncRetrying, Retrying

from fitrep import calls
from fitrep.calls import Call, Progress, QueryInput, Transport
from fitrep.domain import Assignment, Cluster, EmbeddedItem, Explanation, IndexInfo, Item, Neighbor
from fitrep.rpc_errors import from_rpc_error

R = TypeVar("R")

__all__ = ["AsyncClient", "Client", "Progress", "QueryInput"]


class Client(Transport):
    """Blocking client. ``concept`` / ``index`` are ``host:port``; either may be None."""

    _grpc = grpc

    # -- plumbing ------------------------------------------------------------------------
    def _send(self, stub: Any, call: Call[R], request: Any, rid: str = "") -> R:
        """One unary call; a retry re-sends the same request id so the server can tell."""
        method = getattr(stub, call.method)
        md = self.settings.metadata(rid or calls.new_request_id())

        def once() -> Any:
            return method(request, timeout=self.settings.timeout, metadata=md)

        try:
            if call.idempotent:  # a fresh Retrying per call: its state is per call, not thread-safe
                return call.decode(Retrying(**self.settings.retry_kwargs())(once))
            return call.decode(once())
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None

    def _run(self, call: Call[R], *args: Any) -> R:
        request = call.request(*args)
        return self._send(self._stub(call.tier), call, request)

    def _batched(
        self, call: Call[list[R]], seq: Sequence[Any], stage: str, progress: Progress | None,
        *args: Any,
    ) -> list[R]:  # fmt: skip
        """``call`` once per ``batch_size`` items, each with its own request id, in order."""
        stub, out = self._stub(call.tier), list[R]()
        for batch in calls.batches(seq, self.settings.batch_size):
            rid = calls.new_request_id()
            answers = self._send(stub, call, call.request(batch, rid, *args), rid)
            out.extend(answers)
            if progress:
                progress(stage, len(out), len(seq))
        return out

    # -- concept tier --------------------------------------------------------------------
    def extract(
        self, items: Sequence[Item], embed: bool = True, progress: Progress | None = None
    ) -> list[EmbeddedItem]:
        """Concepts (and level embeddings) for ``items``, in order, ``batch_size`` per call."""
        calls.validate(items)
        return self._batched(calls.EXTRACT, items, "concepts", progress, embed)

    def concept_info(self) -> dict[str, Any]:
        return self._run(calls.CONCEPT_INFO)

    # -- index tier ----------------------------------------------------------------------
    def assign(
        self, items: Sequence[Item], progress: Progress | None = None, if_absent: bool = False
    ) -> list[Assignment]:
        """Incremental upsert: new items join existing clusters, changed ones are judged again
        (``if_absent``: AlreadyExists instead). Retried safely: the same content gets the
        stored answer."""
        return self.assign_embedded(self.extract(items, progress=progress), progress, if_absent)

    def assign_embedded(
        self,
        embedded: Sequence[EmbeddedItem],
        progress: Progress | None = None,
        if_absent: bool = False,
    ) -> list[Assignment]:
        return self._batched(calls.ASSIGN, embedded, "assign", progress, if_absent)

    def dedup(self, items: Sequence[Item], progress: Progress | None = None) -> list[Assignment]:
        """Batch: extract everything, then one BuildIndex stream (progress is forwarded)."""
        return self.build(self.extract(items, progress=progress), progress)

    def build(
        self, embedded: Sequence[EmbeddedItem], progress: Progress | None = None
    ) -> list[Assignment]:
        """Stream ``embedded`` to BuildIndex; never retried (a build is not idempotent)."""
        out: list[Assignment] = []
        requests = calls.build_requests(embedded, self.settings.batch_size)
        stream = self._stub("index").BuildIndex(requests, **self.settings.build_kwargs())
        try:
            for msg in stream:
                calls.on_build_message(msg, out, progress)
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None
        return out

    def query(
        self, item_ids: Sequence[str] = (), items: Sequence[QueryInput] = (), k: int = 10
    ) -> list[tuple[str, list[Neighbor]]]:
        """Verified neighbours of stored ids, then of ``items`` (raw items are embedded first)."""
        raw, embedded = calls.split_query(items)
        return self._run(calls.QUERY, item_ids, embedded + (self.extract(raw) if raw else []), k)

    def get_cluster(self, cluster_id: str) -> Cluster:
        return self._run(calls.GET_CLUSTER, cluster_id)

    def explain(self, item_a: str, item_b: str) -> Explanation:
        return self._run(calls.EXPLAIN, item_a, item_b)

    def delete(self, item_ids: Sequence[str]) -> int:
        """Number of items removed; deleting again removes nothing, so retrying is safe."""
        return self._run(calls.DELETE, item_ids)

    def snapshot(self, path: str | Path = "") -> tuple[str, int]:
        """A snapshot directory on the index server (under its snapshot root) and its size."""
        return self._run(calls.SNAPSHOT, path)

    def index_info(self) -> IndexInfo:
        return self._run(calls.INDEX_INFO)

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
        try:
            return all(
                calls.is_serving(self._check(address, timeout))
                for address in self.settings.addresses()
            )
        except grpc.RpcError:
            return False

    # -- lifetime ------------------------------------------------------------------------
    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient(Transport):
    """The same methods as ``Client``, as coroutines on grpc.aio channels."""

    _grpc = grpc.aio

    async def _send(self, stub: Any, call: Call[R], request: Any, rid: str = "") -> R:
        method = getattr(stub, call.method)
        md = self.settings.metadata(rid or calls.new_request_id())

        async def once() -> Any:
            return await method(request, timeout=self.settings.timeout, metadata=md)

        try:
            if call.idempotent:
                return call.decode(await AsyncRetrying(**self.settings.retry_kwargs())(once))
            return call.decode(await once())
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None

    async def _run(self, call: Call[R], *args: Any) -> R:
        request = call.request(*args)
        return await self._send(self._stub(call.tier), call, request)

    async def _batched(
        self, call: Call[list[R]], seq: Sequence[Any], stage: str, progress: Progress | None,
        *args: Any,
    ) -> list[R]:  # fmt: skip
        stub, out = self._stub(call.tier), list[R]()
        for batch in calls.batches(seq, self.settings.batch_size):
            rid = calls.new_request_id()
            answers = await self._send(stub, call, call.request(batch, rid, *args), rid)
            out.extend(answers)
            if progress:
                progress(stage, len(out), len(seq))
        return out

    async def extract(
        self, items: Sequence[Item], embed: bool = True, progress: Progress | None = None
    ) -> list[EmbeddedItem]:
        calls.validate(items)
        return await self._batched(calls.EXTRACT, items, "concepts", progress, embed)

    async def concept_info(self) -> dict[str, Any]:
        return await self._run(calls.CONCEPT_INFO)

    async def assign(
        self, items: Sequence[Item], progress: Progress | None = None, if_absent: bool = False
    ) -> list[Assignment]:
        embedded = await self.extract(items, progress=progress)
        return await self.assign_embedded(embedded, progress, if_absent)

    async def assign_embedded(
        self,
        embedded: Sequence[EmbeddedItem],
        progress: Progress | None = None,
        if_absent: bool = False,
    ) -> list[Assignment]:
        return await self._batched(calls.ASSIGN, embedded, "assign", progress, if_absent)

    async def dedup(
        self, items: Sequence[Item], progress: Progress | None = None
    ) -> list[Assignment]:
        return await self.build(await self.extract(items, progress=progress), progress)

    async def build(
        self, embedded: Sequence[EmbeddedItem], progress: Progress | None = None
    ) -> list[Assignment]:
        async def requests() -> AsyncIterator[Any]:
            for req in calls.build_requests(embedded, self.settings.batch_size):
                yield req

        out: list[Assignment] = []
        stream = self._stub("index").BuildIndex(requests(), **self.settings.build_kwargs())
        try:
            async for msg in stream:
                calls.on_build_message(msg, out, progress)
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None
        return out

    async def query(
        self, item_ids: Sequence[str] = (), items: Sequence[QueryInput] = (), k: int = 10
    ) -> list[tuple[str, list[Neighbor]]]:
        raw, embedded = calls.split_query(items)
        embedded = embedded + (await self.extract(raw) if raw else [])
        return await self._run(calls.QUERY, item_ids, embedded, k)

    async def get_cluster(self, cluster_id: str) -> Cluster:
        return await self._run(calls.GET_CLUSTER, cluster_id)

    async def explain(self, item_a: str, item_b: str) -> Explanation:
        return await self._run(calls.EXPLAIN, item_a, item_b)

    async def delete(self, item_ids: Sequence[str]) -> int:
        return await self._run(calls.DELETE, item_ids)

    async def snapshot(self, path: str | Path = "") -> tuple[str, int]:
        return await self._run(calls.SNAPSHOT, path)

    async def index_info(self) -> IndexInfo:
        return await self._run(calls.INDEX_INFO)

    async def info(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.settings.concept:
            out["concept"] = await self.concept_info()
        if self.settings.index:
            out["index"] = await self.index_info()
        return out

    async def healthy(self, timeout: float = 1.0) -> bool:
        try:
            for address in self.settings.addresses():
                if not calls.is_serving(await self._check(address, timeout)):
                    return False
        except grpc.RpcError:
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
