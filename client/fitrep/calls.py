"""What ``Client`` and ``AsyncClient`` share: settings, channels and the table of calls.

Each unary RPC is one ``Call``: which server, which stub method, how to build its request and
how to decode its response, and whether a retry is safe. The two clients differ only in how
they send (blocking or awaited), so a public method is one line over this table.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tenacity import retry_if_exception, stop_after_attempt, wait_random_exponential

from fitrep import wire
from fitrep.defaults import BATCH_SIZE, CONCEPT_ADDRESS, INDEX_ADDRESS
from fitrep.domain import Assignment, EmbeddedItem, Item
from fitrep.rpc_errors import REQUEST_ID_KEY
from fitrep.v1 import concept_service_pb2 as spb
from fitrep.v1 import concept_service_pb2_grpc as spb_grpc
from fitrep.v1 import index_service_pb2 as ipb
from fitrep.v1 import index_service_pb2_grpc as ipb_grpc

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[str, int, int], None]
QueryInput: TypeAlias = Item | EmbeddedItem

MiB = 1024 * 1024
_RETRY_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
_STUBS: dict[str, Callable[[Any], Any]] = {
    "concept": spb_grpc.ConceptServiceStub,
    "index": ipb_grpc.IndexServiceStub,
}


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, grpc.RpcError) and exc.code() in _RETRY_CODES  # type: ignore[attr-defined]


def new_request_id() -> str:
    return uuid.uuid4().hex[:16]


def batches(seq: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(seq), size):
        yield seq[start : start + size]


class Settings:
    """Addresses, limits, credentials, the retry policy."""

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
        private_key: bytes | None = None,
        certificate_chain: bytes | None = None,
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
        # mTLS: this client's key and certificate, sent when the server asks for one.
        self.private_key = private_key
        self.certificate_chain = certificate_chain
        if (private_key is None) != (certificate_chain is None):
            raise ValueError("private_key and certificate_chain go together")
        self.retries = retries
        self.options = [
            ("grpc.max_send_message_length", max_message_mb * MiB),
            ("grpc.max_receive_message_length", max_message_mb * MiB),
        ]

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

    def build_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the BuildIndex stream: its own timeout, a fresh request id."""
        return {"timeout": self.build_timeout, "metadata": self.metadata(new_request_id())}

    def addresses(self) -> list[str]:
        """The configured servers, concept first."""
        return [a for a in (self.concept, self.index) if a]


class Transport:
    """The constructor and channels of both clients: one channel per address.

    ``_grpc`` is the module that opens them: ``grpc`` (blocking) or ``grpc.aio``.
    """

    _grpc: Any = grpc

    def __init__(
        self,
        concept: str | None = CONCEPT_ADDRESS,
        index: str | None = INDEX_ADDRESS,
        batch_size: int = BATCH_SIZE,
        timeout: float | None = 60.0,
        token: str | None = None,
        *,
        build_timeout: float | None = None,
        root_certificates: bytes | None = None,
        retries: int = 5,
        max_message_mb: int = 64,
        private_key: bytes | None = None,
        certificate_chain: bytes | None = None,
    ) -> None:
        """``concept`` / ``index`` are ``host:port``; either may be None. TLS is on when
        ``root_certificates`` (PEM CA) is given; ``private_key`` + ``certificate_chain`` add a
        client certificate (mTLS)."""
        self.settings = Settings(
            concept, index, batch_size, timeout, build_timeout, token,
            root_certificates, retries, max_message_mb, private_key, certificate_chain,
        )  # fmt: skip
        self._channels: dict[str, Any] = {}

    def _channel(self, address: str) -> Any:
        if address not in self._channels:
            s = self.settings
            if s.root_certificates is not None or s.certificate_chain is not None:
                creds = grpc.ssl_channel_credentials(
                    root_certificates=s.root_certificates,
                    private_key=s.private_key,
                    certificate_chain=s.certificate_chain,
                )
                channel = self._grpc.secure_channel(address, creds, s.options)
            else:
                channel = self._grpc.insecure_channel(address, s.options)
            self._channels[address] = channel
        return self._channels[address]

    def _stub(self, tier: str) -> Any:
        """The stub of the ``tier`` ("concept" or "index") server."""
        address = getattr(self.settings, tier)
        if not address:
            raise ValueError(f"this client has no {tier} server address")
        return _STUBS[tier](self._channel(address))

    def _check(self, address: str, timeout: float) -> Any:
        """The health check of one server (its response, or an awaitable of it)."""
        stub = health_pb2_grpc.HealthStub(self._channel(address))
        return stub.Check(health_pb2.HealthCheckRequest(), timeout=timeout)


def is_serving(resp: health_pb2.HealthCheckResponse) -> bool:
    return bool(resp.status == health_pb2.HealthCheckResponse.SERVING)


@dataclass(frozen=True)
class Call(Generic[R]):
    """One unary RPC. A batched call's ``request`` takes ``(batch, request_id, *args)``."""

    tier: str  # "concept" or "index": which server answers it
    method: str  # the stub method
    request: Callable[..., Any]
    decode: Callable[[Any], R]
    idempotent: bool = True  # safe to retry on UNAVAILABLE / DEADLINE_EXCEEDED


def validate(items: Sequence[Item]) -> None:
    """Check here, so a bad item is named by its index in the caller's list, not in a batch."""
    for i, item in enumerate(items):
        item.validate(f"items[{i}]")
    wire.check_unique_ids(it.id for it in items)


def split_query(inputs: Sequence[QueryInput]) -> tuple[list[Item], list[EmbeddedItem]]:
    raw = [q for q in inputs if isinstance(q, Item)]
    return raw, [q for q in inputs if isinstance(q, EmbeddedItem)]


def build_requests(embedded: Sequence[EmbeddedItem], size: int) -> Iterator[ipb.BuildIndexRequest]:
    for batch in batches(embedded, size):
        yield ipb.BuildIndexRequest(items=[wire.embedded_to_pb(e) for e in batch])


def on_build_message(
    msg: ipb.BuildIndexResponse, out: list[Assignment], progress: Progress | None
) -> None:
    if msg.HasField("progress"):
        if progress:
            progress(msg.progress.stage, msg.progress.done, msg.progress.total)
    else:
        out.extend(wire.assignment_from_pb(a) for a in msg.assignments.assignments)


def _embedded_pb(embedded: Sequence[EmbeddedItem]) -> list[Any]:
    return [wire.embedded_to_pb(e) for e in embedded]


EXTRACT = Call(
    "concept",
    "ExtractConcepts",
    lambda batch, rid, embed: spb.ExtractConceptsRequest(
        items=[wire.item_to_pb(it) for it in batch], skip_embeddings=not embed, request_id=rid
    ),
    lambda resp: [wire.embedded_from_pb(m, f"items[{i}]", False) for i, m in enumerate(resp.items)],
)
CONCEPT_INFO = Call("concept", "GetInfo", spb.GetConceptInfoRequest, wire.concept_info_from_pb)
# An upsert: a retry re-sends the same content, which is answered with what is stored.
ASSIGN = Call(
    "index",
    "AssignItems",
    lambda batch, rid, if_absent: ipb.AssignItemsRequest(
        items=_embedded_pb(batch),
        request_id=rid,
        mode=ipb.ASSIGN_MODE_IF_ABSENT if if_absent else ipb.ASSIGN_MODE_UPSERT,
    ),
    lambda resp: [wire.assignment_from_pb(a) for a in resp.assignments],
)
QUERY = Call(
    "index",
    "QueryNeighbors",
    lambda ids, embedded, k: ipb.QueryNeighborsRequest(
        item_ids=list(ids), items=_embedded_pb(embedded), k=k
    ),
    wire.neighbor_lists_from_pb,
)
GET_CLUSTER = Call(
    "index", "GetCluster", lambda cid: ipb.GetClusterRequest(cluster_id=cid), wire.cluster_from_pb
)
EXPLAIN = Call(
    "index",
    "Explain",
    lambda a, b: ipb.ExplainRequest(item_a=a, item_b=b),
    wire.explanation_from_pb,
)
# Deleting again removes nothing, so retrying is safe.
DELETE = Call(
    "index",
    "DeleteItems",
    lambda ids: ipb.DeleteItemsRequest(item_ids=list(ids)),
    lambda resp: int(resp.deleted),
)
SNAPSHOT = Call(
    "index",
    "Snapshot",
    lambda path: ipb.SnapshotRequest(path=str(path)),
    lambda resp: (resp.path, int(resp.items)),
    idempotent=False,
)
INDEX_INFO = Call("index", "GetInfo", ipb.GetIndexInfoRequest, wire.index_info_from_pb)
