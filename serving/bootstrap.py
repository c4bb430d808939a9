"""Server bootstrap shared by ``mllm_server`` and ``index_server``.

Both tiers must behave the same from outside (health, reflection, limits, shutdown, auth,
logs), so the plumbing lives here once and each server only registers its servicer.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from serving.gc_policy import settle_heap, tune_for_batches
from serving.interceptors import ErrorInterceptor, TokenAuthInterceptor
from serving.metrics import Metrics, Source

log = logging.getLogger("fitrep.serving")

MiB = 1024 * 1024


@dataclass
class ServingConfig:
    """Transport settings common to both servers. TLS and auth are off unless given; a
    non-loopback address needs both, or ``insecure``."""

    host: str = "127.0.0.1"
    port: int = 0
    max_message_mb: int = 64
    workers: int = 8
    grace_s: float = 5.0
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None  # require client certificates signed by this CA (mTLS)
    token: str | None = None
    insecure: bool = False
    drain_s: float = 2.0  # NOT_SERVING this long before the server stops taking calls
    metrics_port: int = 0  # Prometheus /metrics on host:metrics_port; 0: off
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
        "--tls-client-ca", type=Path, default=None, help="PEM CA: require client certificates"
    )
    g.add_argument(
        "--token",
        default=os.environ.get("FITREP_TOKEN") or None,
        help="require 'authorization: Bearer TOKEN' (default: $FITREP_TOKEN, else no auth); "
        "prefer $FITREP_TOKEN or --token-file: a command line is visible in ps",
    )
    g.add_argument("--token-file", type=Path, default=None, help="file holding the token")
    g.add_argument(
        "--insecure",
        action="store_true",
        help="allow a non-loopback address without TLS and a token (e.g. behind a mesh)",
    )
    g.add_argument(
        "--drain-s",
        type=float,
        default=2.0,
        help="on SIGTERM, answer health NOT_SERVING this long before stopping, seconds",
    )
    g.add_argument("--metrics-port", type=int, default=0, help="Prometheus /metrics port (0: off)")
    g.add_argument("--log-level", default="INFO")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(cfg: ServingConfig) -> None:
    """Off loopback, calls cross a network: TLS and a token, or an explicit ``--insecure``."""
    if is_loopback(cfg.host) or cfg.insecure:
        return
    tls = cfg.tls_cert is not None
    if cfg.token and not tls:
        raise SystemExit(
            f"error: a token over plaintext on {cfg.host} can be read off the network; "
            "add --tls-cert/--tls-key (or --insecure)"
        )
    if not (tls and cfg.token):
        raise SystemExit(
            f"error: {cfg.host} is not a loopback address: serving it needs TLS "
            "(--tls-cert/--tls-key) and a token ($FITREP_TOKEN or --token-file), or --insecure"
        )


def _read_token(path: Path) -> str:
    try:
        token = path.read_text().strip()
    except OSError as exc:
        raise SystemExit(f"error: --token-file {path}: {exc.strerror}") from None
    if not token:
        raise SystemExit(f"error: --token-file {path} is empty")
    return token


def serving_config_from_args(ns: argparse.Namespace) -> ServingConfig:
    cfg = ServingConfig(
        host=ns.host,
        port=ns.port,
        max_message_mb=ns.max_message_mb,
        workers=ns.workers,
        grace_s=ns.grace_s,
        tls_cert=ns.tls_cert,
        tls_key=ns.tls_key,
        tls_client_ca=ns.tls_client_ca,
        token=_read_token(ns.token_file) if ns.token_file else ns.token,
        insecure=ns.insecure,
        drain_s=ns.drain_s,
        metrics_port=ns.metrics_port,
        log_level=ns.log_level,
    )
    if (cfg.tls_cert is None) != (cfg.tls_key is None):
        raise SystemExit("error: --tls-cert and --tls-key go together")
    if cfg.tls_client_ca is not None and cfg.tls_cert is None:
        raise SystemExit("error: --tls-client-ca needs --tls-cert and --tls-key")
    check_exposure(cfg)
    return cfg


@dataclass
class RunningServer:
    server: grpc.Server
    health: health.HealthServicer
    port: int
    service_names: tuple[str, ...]
    metrics: Metrics | None = None

    def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", *self.service_names):
            self.health.set(name, status)

    def stop(self, grace_s: float, drain_s: float = 0.0) -> None:
        """Answer health NOT_SERVING for ``drain_s`` seconds (load balancers move away while
        calls are still taken), then stop taking calls and let running ones finish for
        ``grace_s`` seconds."""
        self.set_serving(False)
        if drain_s > 0:
            log.info("event=draining drain_s=%s", drain_s)
            time.sleep(drain_s)
        self.server.stop(grace_s).wait()
        if self.metrics is not None:
            self.metrics.close()


def _bind_error(host: str, port: int) -> str:
    """Why ``host:port`` cannot be bound, as one line (grpc itself only says it failed)."""
    address = f"{host}:{port}"
    try:
        family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((host.strip("[]"), port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return f"error: {address} is already in use"
        return f"error: cannot bind {address}: {exc.strerror or exc}"
    return f"error: cannot bind {address}"


def start_server(
    cfg: ServingConfig,
    register: Callable[[grpc.Server], None],
    service_names: Sequence[str],
    sources: dict[str, Source] | None = None,
) -> RunningServer:
    """Build, bind and start a server; ``register`` adds the tier's servicer(s); ``sources``
    are tier readings for the metrics (``serving.metrics.SOURCE_HELP``)."""
    metrics = Metrics(sources) if cfg.metrics_port else None
    interceptors: list[grpc.ServerInterceptor] = [ErrorInterceptor(metrics)]
    if cfg.token:
        interceptors.append(TokenAuthInterceptor(cfg.token))
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=cfg.workers, thread_name_prefix="rpc"),
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", cfg.max_message_bytes),
            ("grpc.max_send_message_length", cfg.max_message_bytes),
            # On by default in grpc: a second server on a served port would start silently
            # and take half the connections.
            ("grpc.so_reuseport", 0),
        ],
    )
    register(server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = (*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME)
    reflection.enable_server_reflection(names, server)
    address = f"{cfg.host}:{cfg.port}"
    try:
        if cfg.tls_cert and cfg.tls_key:
            pair = [(cfg.tls_key.read_bytes(), cfg.tls_cert.read_bytes())]
            client_ca = cfg.tls_client_ca.read_bytes() if cfg.tls_client_ca else None
            creds = grpc.ssl_server_credentials(
                pair, root_certificates=client_ca, require_client_auth=client_ca is not None
            )
            port = server.add_secure_port(address, creds)
        else:
            port = server.add_insecure_port(address)
    except RuntimeError:  # newer grpc raises where older ones returned 0
        port = 0
    if port == 0:
        raise SystemExit(_bind_error(cfg.host, cfg.port))
    if metrics is not None:
        try:
            metrics.serve(cfg.host, cfg.metrics_port)
        except OSError as exc:
            server.stop(0)
            raise SystemExit(
                f"error: metrics port {cfg.host}:{cfg.metrics_port}: {exc.strerror or exc}"
            ) from None
    server.start()
    running = RunningServer(server, health_servicer, port, tuple(service_names), metrics)
    running.set_serving(True)
    return running


def serve_forever(
    name: str,
    cfg: ServingConfig,
    register: Callable[[grpc.Server], None],
    service_names: Sequence[str],
    on_stop: Callable[[], None] | None = None,
    sources: dict[str, Source] | None = None,
) -> None:
    """Run until SIGTERM/SIGINT; then NOT_SERVING for ``cfg.drain_s``, let calls finish for
    ``cfg.grace_s`` and call ``on_stop``."""
    tune_for_batches()  # every call is a batch of items (``gc_policy``)
    frozen = settle_heap()  # what is loaded now is never walked by a collection again
    log.debug("event=heap_settled frozen_objects=%d", frozen)
    running = start_server(cfg, register, service_names, sources)
    log.info(
        "event=serving server=%s address=%s:%d tls=%s auth=%s metrics_port=%s",
        name,
        cfg.host,
        running.port,
        cfg.tls_cert is not None,
        cfg.token is not None,
        cfg.metrics_port or "off",
    )
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("event=shutdown signal=%s grace_s=%s", signal.Signals(signum).name, cfg.grace_s)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stop.wait()
    running.stop(cfg.grace_s, cfg.drain_s)
    if on_stop is not None:
        on_stop()
    log.info("event=stopped server=%s", name)
