"""Bad input against both real servers (#14): each case gets a precise status naming what is
wrong, the servers stay up, and nothing stored changes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc
import numpy as np
import pytest
from fitrep import wire
from fitrep.client import Client
from fitrep.domain import Item, Level
from fitrep.launch import LocalServers, free_port
from fitrep.v1 import common_pb2 as cpb
from fitrep.v1 import concept_service_pb2 as spb
from fitrep.v1 import concept_service_pb2_grpc as spb_grpc
from fitrep.v1 import index_service_pb2 as ipb
from fitrep.v1 import index_service_pb2_grpc as ipb_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.integration.conftest import BATCH_SIZE, MAX_BATCH

pytestmark = pytest.mark.integration

KNOWN = [Item("mx-kb1", "Cherry KC 1000 keyboard"), Item("mx-kb2", "Cherry KC1000 keyboard")]


@dataclass
class Case:
    name: str
    tier: str  # "concept" or "index"
    call: Callable[[object, cpb.EmbeddedItem], object]  # (stub, a valid embedded item) -> call
    code: grpc.StatusCode
    says: str  # a substring of the details


def _with_vector(
    msg: cpb.EmbeddedItem, values: np.ndarray | None, cut: int = 0
) -> cpb.EmbeddedItem:
    bad = cpb.EmbeddedItem()
    bad.CopyFrom(msg)
    primary = next(v for v in bad.embeddings.vectors if v.level == Level.PRIMARY)
    if values is not None:
        primary.data = np.full(len(primary.data) // 4, values, np.float32).tobytes()
    if cut:
        primary.data = primary.data[:-cut]
    return bad


def _assign(*items: cpb.EmbeddedItem) -> Callable[[object, cpb.EmbeddedItem], object]:
    return lambda stub, _: stub.AssignItems(ipb.AssignItemsRequest(items=list(items)), timeout=10)


def _assign_from(make: Callable[[cpb.EmbeddedItem], list[cpb.EmbeddedItem]]):  # type: ignore[no-untyped-def]
    return lambda stub, msg: stub.AssignItems(ipb.AssignItemsRequest(items=make(msg)), timeout=10)


def _extract(*items: cpb.Item) -> Callable[[object, cpb.EmbeddedItem], object]:
    return lambda stub, _: stub.ExtractConcepts(
        spb.ExtractConceptsRequest(items=list(items)), timeout=10
    )


def _renamed(msg: cpb.EmbeddedItem, new_id: str) -> cpb.EmbeddedItem:
    out = cpb.EmbeddedItem()
    out.CopyFrom(msg)
    out.concepts.item_id = new_id
    out.embeddings.item_id = new_id
    return out


INVALID, EXHAUSTED, NOT_FOUND = (
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.NOT_FOUND,
)
CASES = [
    Case(
        "extract: item with no content", "concept", _extract(cpb.Item(id="e1")), INVALID, "items[0]"
    ),
    Case(
        "extract: title of emoji and zero-width characters only",
        "concept",
        _extract(cpb.Item(id="ok", title="kettle"), cpb.Item(id="e2", title="\U0001f600\u200b")),
        INVALID,
        "items[1]: item 'e2' has no readable text",
    ),
    Case(
        "extract: empty id", "concept", _extract(cpb.Item(id="", title="x")), INVALID, "items[0].id"
    ),
    Case(
        "extract: duplicate ids",
        "concept",
        _extract(cpb.Item(id="d", title="a"), cpb.Item(id="d", title="b")),
        INVALID,
        "items[1].id",
    ),
    Case(
        "extract: oversize batch",
        "concept",
        _extract(*(cpb.Item(id=f"o{i}", title="t") for i in range(MAX_BATCH + 1))),
        EXHAUSTED,
        f"max_batch {MAX_BATCH}",
    ),
    Case(
        "assign: NaN vector",
        "index",
        _assign_from(lambda m: [_with_vector(_renamed(m, "n1"), np.nan)]),
        INVALID,
        "items[0].embeddings",
    ),
    Case(
        "assign: inf vector",
        "index",
        _assign_from(lambda m: [_with_vector(_renamed(m, "n2"), np.inf)]),
        INVALID,
        "items[0].embeddings",
    ),
    Case(
        "assign: all-zero vector",
        "index",
        _assign_from(lambda m: [_with_vector(_renamed(m, "n3"), 0.0)]),
        INVALID,
        "items[0].embeddings",
    ),
    Case(
        "assign: truncated vector (wrong dims)",
        "index",
        _assign_from(lambda m: [_with_vector(_renamed(m, "n4"), None, cut=4)]),
        INVALID,
        "items[0].embeddings.vectors[PRIMARY].data",
    ),
    Case(
        "assign: duplicate ids in one batch",
        "index",
        _assign_from(lambda m: [_renamed(m, "n5"), _renamed(m, "n5")]),
        INVALID,
        "items[1]",
    ),
    Case(
        "assign: one bad item among good ones",
        "index",
        _assign_from(lambda m: [_renamed(m, "n6"), _with_vector(_renamed(m, "n7"), np.nan)]),
        INVALID,
        "items[1].embeddings",
    ),
    Case(
        "assign: oversize batch",
        "index",
        _assign_from(lambda m: [_renamed(m, f"big{i}") for i in range(MAX_BATCH + 1)]),
        EXHAUSTED,
        f"max_batch {MAX_BATCH}",
    ),
    Case(
        "assign if_absent: a known id with other content",
        "index",
        lambda stub, msg: stub.AssignItems(
            ipb.AssignItemsRequest(
                items=[_renamed(msg, "n8"), _renamed(msg, "mx-kb1")],
                mode=ipb.ASSIGN_MODE_IF_ABSENT,
            ),
            timeout=10,
        ),
        grpc.StatusCode.ALREADY_EXISTS,
        "items[1]: item mx-kb1 is stored with other content",
    ),
    Case(
        "get_cluster: unknown id",
        "index",
        lambda stub, _: stub.GetCluster(ipb.GetClusterRequest(cluster_id="c99999999"), timeout=10),
        NOT_FOUND,
        "c99999999",
    ),
    Case(
        "explain: unknown item",
        "index",
        lambda stub, _: stub.Explain(
            ipb.ExplainRequest(item_a="mx-kb1", item_b="nope"), timeout=10
        ),
        NOT_FOUND,
        "nope",
    ),
]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServers]:
    """Servers of this module's own: what it stores must not leak into other modules' counts."""
    root = tmp_path_factory.mktemp("bad-input")
    local = LocalServers("127.0.0.1", free_port(), free_port()).start(
        root / "index", extra_args=["--max-batch", str(MAX_BATCH)], log_dir=root / "logs"
    )
    try:
        local.wait_healthy(timeout=120)
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="module")
def client(servers: LocalServers) -> Iterator[Client]:
    with Client(servers.concept, servers.index, batch_size=BATCH_SIZE, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def stored(client: Client) -> tuple[dict[str, str], cpb.EmbeddedItem]:
    """Two items assigned before the bad requests, and a valid embedded item to corrupt."""
    assigned = {a.item_id: a.cluster_id for a in client.assign(KNOWN)}
    (embedded,) = client.extract([Item("mx-probe", "Cherry KC 1000 keyboard black")])
    return assigned, wire.embedded_to_pb(embedded)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gets_a_precise_status_and_changes_nothing(
    case: Case, servers: LocalServers, client: Client, stored
) -> None:  # type: ignore[no-untyped-def]
    assigned, valid = stored
    items_before = client.index_info().items
    address = servers.concept if case.tier == "concept" else servers.index
    with grpc.insecure_channel(address) as ch:
        stub = (
            spb_grpc.ConceptServiceStub(ch)
            if case.tier == "concept"
            else ipb_grpc.IndexServiceStub(ch)
        )
        with pytest.raises(grpc.RpcError) as err:
            case.call(stub, valid)
        health = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert err.value.code() == case.code, err.value.details()
    assert case.says in err.value.details()
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    assert client.index_info().items == items_before  # all or nothing: no item of it stored
    again = {a.item_id: a.cluster_id for a in client.assign(KNOWN)}
    assert again == assigned  # ids already given out are unchanged
