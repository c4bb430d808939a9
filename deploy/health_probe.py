#!/usr/bin/env python3
"""Exit 0 when a gRPC server answers SERVING on grpc.health.v1, else 1: the images' health check.

    grpc-health [HOST:PORT] [SERVICE]     (default 127.0.0.1:50051, the server as a whole)

Both tiers serve the standard health service (kubelet's ``grpc:`` probes call it directly);
Docker and docker compose have no gRPC probe, and the grpc_health_probe binary is not on PyPI,
so the images carry this file as /usr/local/bin/grpc-health. Needs only grpcio and
grpcio-health-checking, which both tiers install.
"""

from __future__ import annotations

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def is_serving(address: str, service: str = "", timeout_s: float = 3.0) -> bool:
    """True when ``address`` reports SERVING for ``service`` ("" = the whole server)."""
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout_s)
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def main(argv: list[str]) -> int:
    address = argv[1] if len(argv) > 1 else "127.0.0.1:50051"
    service = argv[2] if len(argv) > 2 else ""
    return 0 if is_serving(address, service) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
