"""Process entry point of the concept tier: config -> engine -> gRPC server."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import grpc
from fitrep.domain import InvalidInput, Item
from fitrep.v1 import concept_service_pb2 as spb
from fitrep.v1 import concept_service_pb2_grpc as spb_grpc

from mllm_server.chie.engine import ConceptEngine
from mllm_server.config import ConceptServerConfig, config_from_args
from mllm_server.service import ConceptServicer
from serving.bootstrap import serve_forever
from serving.logs import configure_logging, log_config

log = logging.getLogger("mllm_server")

SERVICE_NAME = spb.DESCRIPTOR.services_by_name["ConceptService"].full_name


def run(cfg: ConceptServerConfig) -> None:
    log_config("mllm_server", cfg)
    try:
        engine = ConceptEngine.create(cfg.backend, **cfg.backend_options)
    except (TypeError, InvalidInput) as exc:  # TypeError: an option the backend does not take
        raise SystemExit(f"error: backend {cfg.backend!r}: {exc}") from None
    if cfg.warmup:
        # Load the models before reporting SERVING, so the first real call is not the slow one.
        engine.process([Item(id="warmup", title="warm up item 1 kg")])
        log.info("event=warm backend=%s", cfg.backend)
    servicer = ConceptServicer(engine, cfg.max_batch)

    def register(server: grpc.Server) -> None:
        spb_grpc.add_ConceptServiceServicer_to_server(servicer, server)

    serve_forever("mllm_server", cfg.serving, register, [SERVICE_NAME], on_stop=engine.close)


def main(argv: Sequence[str] | None = None) -> None:
    cfg = config_from_args(argv)
    configure_logging(cfg.serving.log_level)
    run(cfg)
