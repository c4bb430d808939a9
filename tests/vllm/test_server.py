"""``python -m mllm_server --backend vllm`` as a subprocess, checked over gRPC."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import psutil
import pytest
from fitrep import wire
from fitrep.launch import free_port
from fitrep.v1 import concept_service_pb2 as spb
from fitrep.v1 import concept_service_pb2_grpc as spb_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mllm_server.chie.concept_schema import DEFAULT_PROMPT
from tests.vllm.conftest import MAX_QUEUE, ROOT, image_items, too_long_item
from tests.vllm.test_backend import _report

STARTUP_TIMEOUT_S = 240


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    address: str
    log: Path
    stub: spb_grpc.ConceptServiceStub

    def stats(self) -> dict[str, float]:
        return dict(self.stub.GetInfo(spb.GetConceptInfoRequest(), timeout=10).stats)

    def extract(self, items: list, timeout: float = 120) -> spb.ExtractConceptsResponse:
        request = spb.ExtractConceptsRequest(items=[wire.item_to_pb(i) for i in items])
        return self.stub.ExtractConcepts(request, timeout=timeout)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]


def _wait_serving(address: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"mllm_server exited with {process.returncode}:\n{log.read_text()}")
            try:
                reply = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.5)
    pytest.fail(f"mllm_server not SERVING after {STARTUP_TIMEOUT_S} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def server(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = free_port()
    log = tmp_path_factory.mktemp("mllm") / "mllm_server.log"
    options = {
        "model": str(tiny_model),
        "dtype": "bfloat16",
        "max_model_len": 1024,
        "gpu_memory_utilization": 0.2,
        "enforce_eager": "true",
        "max_queue": MAX_QUEUE,
        "max_items": 2,
        "max_chars": 12,
    }
    command = [sys.executable, "-m", "mllm_server", "--backend", "vllm", "--port", str(port)]
    for key, value in options.items():
        command += ["--backend-option", f"{key}={value}"]
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1")}
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    address = f"127.0.0.1:{port}"
    start = time.perf_counter()
    try:
        _wait_serving(address, process, log)
        _report(f"server: SERVING {time.perf_counter() - start:.1f} s after start")
        with grpc.insecure_channel(address) as channel:
            yield Server(process, address, log, spb_grpc.ConceptServiceStub(channel))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_images_in_vllm_concepts_out(server: Server) -> None:
    items = image_items("grpc", 4)
    server.extract(image_items("grpc-warm", 1))
    start = time.perf_counter()
    response = server.extract(items)
    _report(
        f"server: 4 image items in one ExtractConcepts call {time.perf_counter() - start:.2f} s"
    )
    assert [r.concepts.item_id for r in response.items] == [i.id for i in items]
    for r in response.items:
        assert r.concepts.backend == "vllm", server.tail()
        assert r.concepts.version.endswith(f"+{DEFAULT_PROMPT}")
        assert r.concepts.levels and r.embeddings.vectors
        assert "phash" in r.concepts.image_features


def test_repeat_is_a_cache_hit(server: Server) -> None:
    items = image_items("grpc-rep", 2)
    server.extract(items)
    before = server.stats()
    server.extract(items)
    after = server.stats()
    assert after["cache_hits"] - before["cache_hits"] == 2
    assert after["model_requests"] == before["model_requests"]


def test_fallback_is_counted(server: Server) -> None:
    before = server.stats()
    response = server.extract([too_long_item("grpc-long"), *image_items("grpc-fb", 1)])
    assert [r.concepts.backend for r in response.items] == ["rules", "vllm"]
    assert server.stats()["fallbacks"] - before["fallbacks"] == 1


def test_full_queue_is_resource_exhausted(server: Server) -> None:
    with pytest.raises(grpc.RpcError) as err:
        server.extract(image_items("grpc-big", MAX_QUEUE + 1))
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert server.stats()["rejected"] >= MAX_QUEUE + 1


def test_deadline_is_honoured_and_requests_aborted(server: Server) -> None:
    with pytest.raises(grpc.RpcError) as err:
        server.extract(image_items("grpc-late", 3), timeout=0.2)
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    deadline = time.monotonic() + 15
    while server.stats()["engine_unfinished"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.stats()["engine_unfinished"] == 0
    assert server.extract(image_items("grpc-after", 1)).items[0].concepts.backend == "vllm"


def test_clean_shutdown(server: Server) -> None:
    children = psutil.Process(server.process.pid).children(recursive=True)
    assert children, "the vLLM engine runs in child processes"
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=90) == 0, server.tail()
    _, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, f"processes left after shutdown: {alive}"
