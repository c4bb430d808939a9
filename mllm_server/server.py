"""Process entry point of the concept tier: config -> engine -> gRPC server."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import grpc
from fitrep.columns import ColumnRoles
from fitrep.domain import InvalidInput
from fitrep.v1 import concept_service_pb2 as spb
from fitrep.v1 import concept_service_pb2_grpc as spb_grpc

from mllm_server.chie.engine import ConceptEngine
from mllm_server.chie.extract_pool import ExtractPool, default_workers
from mllm_server.config import ConceptServerConfig, config_from_args
from mllm_server.images import ImageIntake
from mllm_server.service import ConceptServicer
from serving.bootstrap import serve_forever
from serving.logs import configure_logging, log_config
from serving.metrics import Source

log = logging.getLogger("mllm_server")

SERVICE_NAME = spb.DESCRIPTOR.services_by_name["ConceptService"].full_name


def run(cfg: ConceptServerConfig) -> None:
    log_config("mllm_server", cfg)
    try:
        engine = ConceptEngine.create(
            cfg.backend,
            encoder_runtime=cfg.encoder_runtime,
            columns=ColumnRoles(overrides=cfg.columns),
            encoder=cfg.encoder,
            **cfg.backend_options,
        )
    except (TypeError, ValueError, InvalidInput) as exc:  # an option the backend does not take,
        # or a $FITREP_ENCODER(_RUNTIME) that names no encoder (runtime)
        raise SystemExit(f"error: backend {cfg.backend!r}: {exc}") from None
    workers = cfg.extract_workers or (default_workers() if cfg.backend == "rules" else 1)
    if workers > 1:
        engine.pool = ExtractPool(cfg.backend, cfg.backend_options, workers)
    if cfg.warmup:
        started = time.perf_counter()
        if isinstance(engine.pool, ExtractPool):
            engine.pool.warm_up()
        engine.warm_up()  # before SERVING: the first real call is not the slow one
        log.info(
            "event=warm backend=%s encoder=%s encoder_runtime=%s s=%.1f",
            cfg.backend,
            engine.encoder.name,
            getattr(engine.encoder.embed, "runtime", None),
            time.perf_counter() - started,
        )
    intake = ImageIntake(cfg.images)
    servicer = ConceptServicer(engine, cfg.max_batch, intake)

    def register(server: grpc.Server) -> None:
        spb_grpc.add_ConceptServiceServicer_to_server(servicer, server)

    def stop() -> None:
        intake.close()
        engine.close()

    serve_forever(
        "mllm_server", cfg.serving, register, [SERVICE_NAME], on_stop=stop,
        sources=metric_sources(engine),
    )  # fmt: skip


def metric_sources(engine: ConceptEngine) -> dict[str, Source]:
    """The concept tier's readings for ``/metrics``: cache hits and model fallbacks."""

    def stats() -> dict[str, float]:
        return dict(engine.info()["stats"])

    return {
        "fitrep_cache_hits_total": lambda: (
            stats().get("string_cache_hits", 0.0) + stats().get("cache_hits", 0.0)
        ),
        "fitrep_fallbacks_total": lambda: stats().get("fallbacks", 0.0),
    }


def main(argv: Sequence[str] | None = None) -> None:
    cfg = config_from_args(argv)
    configure_logging(cfg.serving.log_level)
    run(cfg)
