"""Process entry point of the index tier: config -> engine -> gRPC server."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from fitrep.v1 import index_service_pb2 as ipb
from fitrep.v1 import index_service_pb2_grpc as ipb_grpc

from index_server.engine import IndexEngine
from index_server.storage.dir_lock import DataDirInUse
from index_server.storage.snapshot import BadSnapshot
from index_server.transport.config import IndexServerConfig, config_from_args
from index_server.transport.servicer import IndexServicer
from serving.bootstrap import serve_forever
from serving.logs import configure_logging, log_config

SERVICE_NAME = ipb.DESCRIPTOR.services_by_name["IndexService"].full_name


def run(cfg: IndexServerConfig) -> None:
    log_config("index_server", cfg)
    try:
        engine = IndexEngine(cfg.index.data_dir, cfg.index)
    except (DataDirInUse, BadSnapshot) as exc:  # one line, exit status 1
        raise SystemExit(f"error: {exc}") from None
    servicer = IndexServicer(engine, cfg.max_batch, cfg.resolved_snapshot_root())

    def register(server: grpc.Server) -> None:
        ipb_grpc.add_IndexServiceServicer_to_server(servicer, server)

    sources = {"fitrep_index_items": lambda: float(engine.info().items)}  # for /metrics
    serve_forever("index_server", cfg.serving, register, [SERVICE_NAME], engine.close, sources)


def main(argv: Sequence[str] | None = None) -> None:
    cfg = config_from_args(argv)
    configure_logging(cfg.serving.log_level)
    run(cfg)
