"""deploy/health_probe.py, the images' health check: SERVING -> 0, anything else -> 1."""

from __future__ import annotations

import importlib.util
import socket
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from types import ModuleType

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

PROBE = Path(__file__).resolve().parents[2] / "deploy" / "health_probe.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fitrep_health_probe", PROBE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


probe = _load()


@pytest.fixture()
def server() -> Iterator[tuple[str, health.HealthServicer]]:
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, srv)
    port = srv.add_insecure_port("127.0.0.1:0")
    srv.start()
    yield f"127.0.0.1:{port}", servicer
    srv.stop(0).wait()


def test_serving_exits_zero(server: tuple[str, health.HealthServicer]) -> None:
    address, servicer = server
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    servicer.set("fitrep.v1.IndexService", health_pb2.HealthCheckResponse.SERVING)
    assert probe.main(["grpc-health", address]) == 0
    assert probe.main(["grpc-health", address, "fitrep.v1.IndexService"]) == 0


def test_not_serving_or_unknown_service_exits_one(
    server: tuple[str, health.HealthServicer],
) -> None:
    address, servicer = server
    servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    assert probe.main(["grpc-health", address]) == 1
    assert probe.main(["grpc-health", address, "no.such.Service"]) == 1


def test_nothing_listening_exits_one() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert not probe.is_serving(f"127.0.0.1:{port}", timeout_s=1.0)
