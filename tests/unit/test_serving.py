"""The shared server plumbing with fake engines: status codes, auth, retries, deadlines."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from fitrep.client import Client
from fitrep.domain import (
    Assignment,
    ConceptSet,
    EmbeddedItem,
    IndexInfo,
    Item,
    Level,
    LevelEmbeddings,
    NotFound,
    Overloaded,
)
from fitrep.rpc_errors import RemoteError, Unauthenticated, Unavailable
from fitrep.v1 import concept_service_pb2_grpc as spb_grpc
from fitrep.v1 import index_service_pb2_grpc as ipb_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from index_server.transport.servicer import IndexServicer
from mllm_server.chie.rules import RulesExtractor
from mllm_server.service import ConceptServicer
from serving.bootstrap import RunningServer, ServingConfig, start_server
from serving.logs import masked

INFO = IndexInfo(1, 1, "identity", "Flat", 1, {"PRIMARY": 0.5}, 0.5, "test")


class FakeIndex:
    """Fails ``info`` with the queued exceptions first; records what ``build`` saw."""

    def __init__(self) -> None:
        self.info_failures: list[Exception] = []
        self.info_calls = 0
        self.build_calls = 0

    def info(self) -> IndexInfo:
        self.info_calls += 1
        if self.info_failures:
            raise self.info_failures.pop(0)
        return INFO

    def get_cluster(self, cluster_id: str) -> Any:
        raise NotFound("cluster", cluster_id)

    def explain(self, a: str, b: str) -> Any:
        raise RuntimeError("a bug, not the caller's fault")

    def build(self, items: Sequence[EmbeddedItem], progress: Any = None) -> list[Assignment]:
        self.build_calls += 1
        for stage in ("received", "reduce", "cluster"):
            progress(stage, len(items), len(items))
        return [Assignment(it.item_id, "c1") for it in items]


class FakeConcepts:
    extractor = RulesExtractor()  # ConceptServicer reads ``engine.extractor.concurrent``

    def __init__(self) -> None:
        self.timeouts: list[float | None] = []

    def process(self, items: Sequence[Item], embed: bool = True, timeout: float | None = None):  # type: ignore[no-untyped-def]
        self.timeouts.append(timeout)
        if items[0].title == "overload":
            raise Overloaded("backend queue is full")
        if items[0].title == "slow":
            raise TimeoutError("backend took too long")
        return [
            EmbeddedItem(
                ConceptSet(it.id, {Level.PRIMARY: [it.title]}),
                LevelEmbeddings(it.id, {Level.PRIMARY: np.ones(4, np.float32)}),
            )
            for it in items
        ]

    def info(self) -> dict[str, Any]:
        return {"backend": "fake", "level_dims": {"PRIMARY": 4}, "stats": {"items": 1}}


@pytest.fixture()
def fakes() -> Iterator[tuple[RunningServer, FakeIndex, FakeConcepts]]:
    index, concepts = FakeIndex(), FakeConcepts()

    def register(server: grpc.Server) -> None:
        ipb_grpc.add_IndexServiceServicer_to_server(IndexServicer(index, 100), server)  # type: ignore[arg-type]
        spb_grpc.add_ConceptServiceServicer_to_server(ConceptServicer(concepts, 100), server)  # type: ignore[arg-type]

    running = start_server(
        ServingConfig(port=0, token="s3cret"),
        register,
        ["fitrep.v1.IndexService", "fitrep.v1.ConceptService"],
    )
    yield running, index, concepts
    running.stop(0)


def _client(running: RunningServer, token: str | None = "s3cret") -> Client:
    address = f"127.0.0.1:{running.port}"
    return Client(address, address, token=token, timeout=5, retries=3)


def test_status_codes_map_back_to_domain_errors(fakes) -> None:  # type: ignore[no-untyped-def]
    running, _, _ = fakes
    with _client(running) as c:
        with pytest.raises(NotFound) as nf:
            c.get_cluster("c7")
        assert str(nf.value) == "cluster not found: c7"
        with pytest.raises(RemoteError) as internal:
            c.explain("a", "b")
        assert internal.value.code == grpc.StatusCode.INTERNAL
        assert "a bug" not in internal.value.details  # internals stay in the server log
        with pytest.raises(Overloaded):
            c.extract([Item("a", "overload")])
        with pytest.raises(TimeoutError):
            c.extract([Item("a", "slow")])


def test_token_auth_guards_everything_but_health(fakes) -> None:  # type: ignore[no-untyped-def]
    running, _, _ = fakes
    with _client(running, token=None) as c:
        assert c.healthy()
        with pytest.raises(Unauthenticated):
            c.index_info()
    with _client(running, token="wrong") as c, pytest.raises(Unauthenticated):
        c.index_info()
    with _client(running) as c:
        assert c.index_info() == INFO


def test_reflection_lists_services(fakes) -> None:  # type: ignore[no-untyped-def]
    running, _, _ = fakes
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as ch:
        stub = reflection_pb2_grpc.ServerReflectionStub(ch)
        md = (("authorization", "Bearer s3cret"),)
        req = reflection_pb2.ServerReflectionRequest(list_services="")
        [resp] = list(stub.ServerReflectionInfo(iter([req]), metadata=md, timeout=5))
        names = {s.name for s in resp.list_services_response.service}
        assert {"fitrep.v1.IndexService", "grpc.health.v1.Health"} <= names


def test_idempotent_calls_retry_on_unavailable(fakes) -> None:  # type: ignore[no-untyped-def]
    running, index, _ = fakes
    index.info_failures = [ConnectionError("backend down"), ConnectionError("still down")]
    with _client(running) as c:
        assert c.index_info() == INFO
    assert index.info_calls == 3


def test_build_streams_progress_then_assignments(fakes) -> None:  # type: ignore[no-untyped-def]
    running, index, _ = fakes
    events: list[tuple[str, int, int]] = []
    with _client(running) as c:
        embedded = c.extract([Item(f"i{n}", f"item {n}") for n in range(5)])
        c.settings.batch_size = 2
        out = c.build(embedded, progress=lambda *e: events.append(e))
    assert [a.item_id for a in out] == [f"i{n}" for n in range(5)]
    assert [e[0] for e in events] == ["received", "reduce", "cluster"]
    assert index.build_calls == 1


def test_deadline_reaches_the_engine(fakes) -> None:  # type: ignore[no-untyped-def]
    running, _, concepts = fakes
    with _client(running) as c:
        c.extract([Item("a", "fine")])
    (timeout,) = concepts.timeouts
    assert timeout is not None and 3.0 < timeout < 5.0


def test_graceful_stop_reports_not_serving(fakes) -> None:  # type: ignore[no-untyped-def]
    running, _, _ = fakes
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as ch:
        running.set_serving(False)
        resp = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert resp.status == health_pb2.HealthCheckResponse.NOT_SERVING
    started = time.monotonic()
    running.stop(0.5)
    assert time.monotonic() - started < 5


def test_masked_hides_secrets() -> None:
    shown = masked(ServingConfig(token="s3cret"))
    assert shown["token"] == "***" and shown["port"] == 0


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")
def test_tls(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    index = FakeIndex()

    def register(server: grpc.Server) -> None:
        ipb_grpc.add_IndexServiceServicer_to_server(IndexServicer(index, 100), server)  # type: ignore[arg-type]

    running = start_server(
        ServingConfig(port=0, tls_cert=cert, tls_key=key), register, ["fitrep.v1.IndexService"]
    )
    try:
        address = f"localhost:{running.port}"
        with Client(None, address, root_certificates=cert.read_bytes(), timeout=5) as c:
            assert c.index_info() == INFO
        with Client(None, address, timeout=2, retries=1) as plain, pytest.raises(Unavailable):
            plain.index_info()
    finally:
        running.stop(0)
