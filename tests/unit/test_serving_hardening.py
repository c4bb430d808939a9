"""Serving hardening: port reuse, exposure rules, undecodable requests, metrics, warm-up,
images checked before the batch lock."""

from __future__ import annotations

import argparse
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any

import grpc
import numpy as np
import pytest
from fitrep.client import Client
from fitrep.domain import ConceptSet, EmbeddedItem, InvalidInput, Item, Level, LevelEmbeddings
from fitrep.launch import free_port
from fitrep.v1 import common_pb2, concept_service_pb2
from fitrep.v1 import concept_service_pb2_grpc as spb_grpc

from mllm_server.chie.encoder import LevelEncoder
from mllm_server.chie.engine import ConceptEngine
from mllm_server.chie.rules import RulesExtractor
from mllm_server.service import ConceptServicer
from serving.bootstrap import (
    RunningServer,
    ServingConfig,
    add_serving_args,
    serving_config_from_args,
    start_server,
)
from tests.unit.test_image_intake import corrupt_png, png, png_header

EXTRACT = "/fitrep.v1.ConceptService/ExtractConcepts"


class SlowConcepts:
    """Engine stand-in: ``slow`` titles hold the batch lock for a while."""

    extractor = RulesExtractor()  # not concurrent: the servicer serialises batches

    def process(self, items: Sequence[Item], embed: bool = True, timeout: float | None = None):  # type: ignore[no-untyped-def]
        if items[0].title == "slow":
            time.sleep(1.5)
        return [
            EmbeddedItem(
                ConceptSet(it.id, {Level.PRIMARY: [it.title or "image"]}),
                LevelEmbeddings(it.id, {Level.PRIMARY: np.ones(4, np.float32)}),
            )
            for it in items
        ]

    def info(self) -> dict[str, Any]:
        return {"backend": "fake", "level_dims": {"PRIMARY": 4}, "stats": {"string_cache_hits": 7}}


@pytest.fixture()
def concept_server() -> Iterator[RunningServer]:
    def register(server: grpc.Server) -> None:
        spb_grpc.add_ConceptServiceServicer_to_server(ConceptServicer(SlowConcepts(), 100), server)  # type: ignore[arg-type]

    running = start_server(
        ServingConfig(port=0, metrics_port=free_port()),
        register,
        ["fitrep.v1.ConceptService"],
        {"fitrep_cache_hits_total": lambda: 7.0},
    )
    yield running
    running.stop(0)


def _address(running: RunningServer) -> str:
    return f"127.0.0.1:{running.port}"


def test_invalid_utf8_is_invalid_argument_naming_the_request(concept_server) -> None:  # type: ignore[no-untyped-def]
    request = concept_service_pb2.ExtractConceptsRequest(items=[common_pb2.Item(id="AAAA")])
    raw = request.SerializeToString().replace(b"AAAA", b"\xff\xfe\xfd\xfc")
    with grpc.insecure_channel(_address(concept_server)) as ch:
        call = ch.unary_unary(EXTRACT, request_serializer=None, response_deserializer=None)
        with pytest.raises(grpc.RpcError) as err:
            call(raw, timeout=5)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details().startswith(f"request: {EXTRACT} message cannot be parsed")


def test_corrupt_or_huge_image_is_invalid_argument_naming_the_item(concept_server) -> None:  # type: ignore[no-untyped-def]
    with Client(_address(concept_server), None, timeout=5, retries=1) as c:
        assert len(c.extract([Item("a", image=png())])) == 1
        with pytest.raises(InvalidInput) as err:
            c.extract([Item("a", "fine"), Item("b", image=corrupt_png())])
        assert err.value.field == "items[1].image"
        with pytest.raises(InvalidInput, match="megapixels exceeds the limit of 40"):
            c.extract([Item("a", image=png_header(20000, 20000))])


def test_images_are_checked_outside_the_batch_lock(concept_server) -> None:  # type: ignore[no-untyped-def]
    address = _address(concept_server)
    slow = threading.Thread(
        target=lambda: Client(address, None, timeout=10).extract([Item("s", "slow")])
    )
    slow.start()
    time.sleep(0.3)  # the slow batch now holds the lock
    started = time.perf_counter()
    with Client(address, None, timeout=10, retries=1) as c, pytest.raises(InvalidInput):
        c.extract([Item("bad", image=b"garbage")])
    assert time.perf_counter() - started < 0.8  # refused without waiting for the lock
    slow.join()


def test_metrics_count_calls_errors_batches_and_sources(concept_server) -> None:  # type: ignore[no-untyped-def]
    with Client(_address(concept_server), None, timeout=5, retries=1) as c:
        c.extract([Item(f"i{n}", f"item {n}") for n in range(3)])
        with pytest.raises(InvalidInput):
            c.extract([Item("x", image=b"garbage")])
    metrics_port = _metrics_port(concept_server)
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    assert f'fitrep_requests_total{{code="OK",method="{EXTRACT}"}} 1.0' in text
    assert f'fitrep_errors_total{{code="INVALID_ARGUMENT",method="{EXTRACT}"}} 1.0' in text
    assert f'fitrep_batch_items_sum{{method="{EXTRACT}"}} 4.0' in text
    assert f'fitrep_request_seconds_count{{method="{EXTRACT}"}} 2.0' in text
    assert 'fitrep_queue_depth{unit="requests"} 0.0' in text
    assert "fitrep_cache_hits_total 7.0" in text


def _metrics_port(running: RunningServer) -> int:
    assert running.metrics is not None and running.metrics._http is not None
    return int(running.metrics._http.server_port)


def test_second_server_on_a_served_port_exits_with_one_clear_line() -> None:
    first = start_server(ServingConfig(port=0), lambda s: None, [])
    try:
        with pytest.raises(SystemExit) as err:
            start_server(ServingConfig(port=first.port), lambda s: None, [])
        assert str(err.value) == f"error: 127.0.0.1:{first.port} is already in use"
    finally:
        first.stop(0)


def _config(*argv: str) -> ServingConfig:
    parser = argparse.ArgumentParser()
    add_serving_args(parser, 50052)
    return serving_config_from_args(parser.parse_args(list(argv)))


def test_non_loopback_bind_needs_tls_and_a_token_or_insecure(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit, match="0.0.0.0 is not a loopback address"):
        _config("--host", "0.0.0.0", "--token", "")
    with pytest.raises(SystemExit, match="a token over plaintext on 0.0.0.0"):
        _config("--host", "0.0.0.0", "--token", "s3cret")
    assert _config("--host", "0.0.0.0", "--insecure").insecure
    assert _config("--host", "127.0.0.1").host == "127.0.0.1"
    token_file = tmp_path / "token"
    token_file.write_text("from-a-file\n")
    assert _config("--token-file", str(token_file)).token == "from-a-file"


def test_warm_up_loads_the_encoder_even_when_its_cache_holds_the_strings() -> None:
    calls: list[int] = []

    def embed(texts: Sequence[str]) -> np.ndarray:
        calls.append(len(texts))
        return np.ones((len(texts), 4), np.float32)

    engine = ConceptEngine(RulesExtractor(), LevelEncoder(embed=embed, dim=4, disk_cache=None))
    engine.process([Item(id="warmup", title="warm up item 1 kg")])  # the cache now holds them
    calls.clear()
    engine.warm_up()
    assert calls, "the encoder model was never called"
