"""Server bootstrap shared by ``mllm_server`` and ``index_server``.

Both tiers must behave the same from outside (health, reflection, limits, shutdown, auth,
logs), so the plumbing lives here once and each server only registers its servicer.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from serving.interceptors import ErrorInterceptor, TokenAuthInterceptor

log = logging.getLogger("fitrep.serving")

MiB = 1024 * 1024


@dataclass
class ServingConfig:
    """Transport settings common to both servers. TLS and auth are off unless given."""

    host: str = "127.0.0.1"
    port: int = 0
    max_message_mb: int = 64
    workers: int = 8
    grace_s: float = 5.0
    tls_cert: Path | None = None
    tls_key: Path | None = None
    token: str | None = None
    log_level: str = "INFO"

    @property
    def max_message_bytes(self) -> int:
        return self.max_message_mb * MiB


def add_serving_args(parser: argparse.ArgumentParser, default_port: int) -> None:
    g = parser.add_argument_group("serving")
    g.add_argument("--host", default="127.0.0.1", help="bind address (loopback by default)")
    g.add_argument("--port", type=int, default=default_port)
    g.add_argument("--max-message-mb", type=int, default=64, help="max gRPC message size, MiB")
    g.add_argument("--workers", type=int, default=8, help="gRPC worker threads")
    g.add_argument("--grace-s", type=float, default=5.0, help="shutdown grace period, seconds")
    g.add_argument("--tls-cert", type=Path, default=None, help="PEM certificate (enables TLS)")
    g.add_argument("--tls-key", type=Path, default=None, help="PEM private key")
    g.add_argument(
        "--token",
        default=os.environ.get("FITREP_TOKEN") or None,
        help="require 'authorization: Bearer TOKEN' (default: $FITREP_TOKEN, else no auth)",
    )
    g.add_argument("--log-level", default="INFO")


def serving_config_from_args(ns: argparse.Namespace) -> ServingConfig:
    cfg = ServingConfig(
        host=ns.host,
        port=ns.port,
        max_message_mb=ns.max_message_mb,
        workers=ns.workers,
        grace_s=ns.grace_s,
        tls_cert=ns.tls_cert,
        tls_key=ns.tls_key,
        token=ns.token,
        log_level=ns.log_level,
    )
    if (cfg.tls_cert is None) != (cfg.tls_key is None):
        raise SystemExit("error: --tls-cert and --tls-key go together")
    return cfg


@dataclass
class RunningServer:
    server: grpc.Server
    health: health.HealthServicer
    port: int
    service_names: tuple[str, ...]

    def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", *self.service_names):
            self.health.set(name, status)

    def stop(self, grace_s: float) -> None:
        """Stop taking calls, let running ones finish for ``grace_s`` seconds."""
        self.set_serving(False)
        self.server.stop(grace_s).wait()


def start_server(
    cfg: ServingConfig,
    register: Callable[[grpc.Server], None],
    service_names: Sequence[str],
) -> RunningServer:
    """Build, bind and start a server; ``register`` adds the tier's servicer(s)."""
    interceptors: list[grpc.ServerInterceptor] = [ErrorInterceptor()]
    if cfg.token:
        interceptors.append(TokenAuthInterceptor(cfg.token))
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=cfg.workers, thread_name_prefix="rpc"),
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", cfg.max_message_bytes),
            ("grpc.max_send_message_length", cfg.max_message_bytes),
        ],
    )
    register(server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = (*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME)
    reflection.enable_server_reflection(names, server)
    address = f"{cfg.host}:{cfg.port}"
    if cfg.tls_cert and cfg.tls_key:
        creds = grpc.ssl_server_credentials([(cfg.tls_key.read_bytes(), cfg.tls_cert.read_bytes())])
        port = server.add_secure_port(address, creds)
    else:
        port = server.add_insecure_port(address)
    if port == 0:
        raise SystemExit(f"error: cannot bind {address}")
    server.start()
    running = RunningServer(server, health_servicer, port, tuple(service_names))
    running.set_serving(True)
    return running


def serve_forever(
    name: str,
    cfg: ServingConfig,
    register: Callable[[grpc.Server], None],
    service_names: Sequence[str],
    on_stop: Callable[[], None] | None = None,
) -> None:
    """Run until SIGTERM/SIGINT, then drain for ``cfg.grace_s`` and call ``on_stop``."""
    running = start_server(cfg, register, service_names)
    log.info(
        "event=serving server=%s address=%s:%d tls=%s auth=%s",
        name,
        cfg.host,
        running.port,
        cfg.tls_cert is not None,
        cfg.token is not None,
    )
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("event=shutdown signal=%s grace_s=%s", signal.Signals(signum).name, cfg.grace_s)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stop.wait()
    running.stop(cfg.grace_s)
    if on_stop is not None:
        on_stop()
    log.info("event=stopped server=%s", name)
