"""Process entry point of the index tier: config -> engine -> gRPC server."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import grpc
from fitrep.domain import FitrepError
from fitrep.v1 import index_service_pb2 as ipb
from fitrep.v1 import index_service_pb2_grpc as ipb_grpc

from index_server.engine import IndexEngine
from index_server.storage.check import check_data_dir
from index_server.storage.dir_lock import DataDirInUse
from index_server.storage.faults import CorruptStore, restore_advice
from index_server.storage.snapshot import BadSnapshot
from index_server.transport.config import IndexServerConfig, config_from_args
from index_server.transport.servicer import IndexServicer
from serving.bootstrap import serve_forever
from serving.logs import configure_logging, log_config
from serving.metrics import Source

SERVICE_NAME = ipb.DESCRIPTOR.services_by_name["IndexService"].full_name


def run(cfg: IndexServerConfig) -> None:
    log_config("index_server", cfg)
    try:
        engine = IndexEngine(cfg.index.data_dir, cfg.index)
    except (DataDirInUse, BadSnapshot, CorruptStore) as exc:  # one line, exit status 1
        raise SystemExit(f"error: {exc}") from None
    servicer = IndexServicer(
        engine,
        cfg.max_batch,
        cfg.resolved_snapshot_root(),
        batch_wait_s=cfg.batch_wait_ms / 1000,
        batch_calls=cfg.batch_calls,
    )

    def stop() -> None:
        servicer.close()
        engine.close()

    def register(server: grpc.Server) -> None:
        ipb_grpc.add_IndexServiceServicer_to_server(servicer, server)

    sources = metric_sources(engine, servicer)
    serve_forever("index_server", cfg.serving, register, [SERVICE_NAME], stop, sources)


def metric_sources(engine: IndexEngine, servicer: IndexServicer | None = None) -> dict[str, Source]:
    """What only the index tier knows, read at scrape time (``serving.metrics.SOURCE_HELP``)."""
    counts = engine.counts
    sources: dict[str, Source] = {"fitrep_index_items": lambda: float(engine.info().items)}
    if servicer is not None:
        batcher = servicer.assigns
        sources["fitrep_assign_batches_total"] = lambda: float(batcher.batches)
        sources["fitrep_assign_calls_total"] = lambda: float(batcher.calls)
    names = {
        "updated": "fitrep_items_updated_total",
        "moved": "fitrep_items_moved_total",
        "representative_changes": "fitrep_representative_changes_total",
        "disk_full": "fitrep_disk_full_total",
    }
    for key, name in names.items():
        sources[name] = lambda key=key: float(counts[key])  # type: ignore[misc]
    return sources


def check(data_dir: Path) -> None:
    """``--check DIR``: print one line and exit 0 for a whole store, 1 otherwise."""
    try:
        print(check_data_dir(data_dir))
    except CorruptStore as exc:
        raise SystemExit(f"error: {exc}; {restore_advice(data_dir)}") from None
    except FitrepError as exc:
        raise SystemExit(f"error: {exc}") from None


def main(argv: Sequence[str] | None = None) -> None:
    cfg = config_from_args(argv)
    if cfg.check is not None:
        check(cfg.check)
        return
    configure_logging(cfg.serving.log_level)
    run(cfg)
