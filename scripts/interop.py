"""Run several callers against the real servers and check they print the same cluster ids.

Usage: ``python scripts/interop.py ITEMS NAME=COMMAND ...``. Each COMMAND is run with
``--concept ADDR --index ADDR --items ITEMS`` appended and must print ``<item_id> <cluster_id>``
per item, then ``explain A B duplicate=... score=... clusters=CA,CB`` per pair.

Cluster ids are handed out in order by the index (``c00000001``, ...), so they depend on what
the index already holds. Every caller therefore gets a fresh index server with an empty data
directory; with the same items in the same order, equal ids then mean equal decisions. The
concept server is shared: extraction keeps no state between calls (rules backend, no cache).
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
from fitrep.launch import free_port
from grpc_health.v1 import health_pb2, health_pb2_grpc

HOST = "127.0.0.1"
START_TIMEOUT_S = 120.0
CALLER_TIMEOUT_S = 120.0
SCORE_TOLERANCE = 1e-5  # float32 scores printed with 6 decimals by three formatters


class InteropError(Exception):
    """A server did not start or stop cleanly, or a caller failed."""


class Disagreement(InteropError):
    """The callers printed different results (the server logs would not help)."""


@dataclass
class Server:
    name: str
    address: str
    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, module: str, args: list[str], log: Path) -> Server:
        port = free_port(HOST)
        cmd = [sys.executable, "-m", module, "--host", HOST, "--port", str(port), *args]
        with log.open("wb") as err:
            process = subprocess.Popen(cmd, stdout=err, stderr=err, start_new_session=True)
        server = cls(module, f"{HOST}:{port}", process, log)
        try:
            server.wait_serving()
        except InteropError as exc:
            server.kill()
            raise InteropError(f"{exc}\n{server.tail()}") from None
        return server

    def wait_serving(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        with grpc.insecure_channel(self.address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise InteropError(f"{self.name} exited with {self.process.returncode}")
                try:
                    reply = health.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.2)
        raise InteropError(f"{self.name} not SERVING after {START_TIMEOUT_S:.0f} s")

    def stop(self) -> None:
        """SIGTERM (graceful shutdown), SIGKILL after 15 s; a non-zero exit is an error."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.returncode != 0:
            raise InteropError(f"{self.name} exited with {self.process.returncode}")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def tail(self, n: int = 20) -> str:
        lines = self.log.read_text(errors="replace").splitlines()[-n:]
        return "\n".join(f"  {self.name}| {line}" for line in lines)


@dataclass
class Result:
    """What one caller printed: cluster id per item (in order) and explanations per pair."""

    clusters: list[tuple[str, str]]
    explain: dict[tuple[str, str], tuple[bool, float, str, str]]

    @classmethod
    def parse(cls, out: str) -> Result:
        clusters: list[tuple[str, str]] = []
        explain: dict[tuple[str, str], tuple[bool, float, str, str]] = {}
        for line in out.splitlines():
            parts = line.split()
            if parts[:1] == ["explain"] and len(parts) == 6:
                fields = dict(p.split("=", 1) for p in parts[3:])
                cluster_a, cluster_b = fields["clusters"].split(",")
                duplicate = fields["duplicate"] == "true"
                explain[(parts[1], parts[2])] = (
                    duplicate,
                    float(fields["score"]),
                    cluster_a,
                    cluster_b,
                )
            elif len(parts) == 2:
                clusters.append((parts[0], parts[1]))
            elif parts:
                raise InteropError(f"unexpected output line {line!r}")
        return cls(clusters, explain)


def run_caller(name: str, command: str, concept: str, index: str, items: Path) -> Result:
    cmd = [*shlex.split(command), "--concept", concept, "--index", index, "--items", str(items)]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=CALLER_TIMEOUT_S)
    if proc.returncode != 0:
        raise InteropError(f"{name} caller exited with {proc.returncode}:\n{proc.stderr[-4000:]}")
    result = Result.parse(proc.stdout)
    print(f"interop: {name}: {len(result.clusters)} items in {time.monotonic() - t0:.1f} s")
    return result


def compare(
    results: dict[str, Result], expected_ids: list[str], pairs: list[tuple[str, str]]
) -> None:
    """Raise InteropError naming every disagreement with the first caller."""
    problems: list[str] = []
    (ref_name, ref), *others = results.items()
    for name, result in results.items():
        ids = [item_id for item_id, _ in result.clusters]
        if ids != expected_ids:
            problems.append(f"{name}: items {ids}, expected {expected_ids}")
        if sorted(result.explain) != sorted(pairs):
            problems.append(f"{name}: explained {sorted(result.explain)}, expected {pairs}")
    for name, result in others:
        for (item_id, want), (_, got) in zip(ref.clusters, result.clusters, strict=False):
            if want != got:
                problems.append(f"{item_id}: {ref_name} {want}, {name} {got}")
        for pair, (dup, score, ca, cb) in ref.explain.items():
            if pair not in result.explain:
                continue
            dup2, score2, ca2, cb2 = result.explain[pair]
            if (dup, ca, cb) != (dup2, ca2, cb2) or abs(score - score2) > SCORE_TOLERANCE:
                problems.append(
                    f"explain {pair}: {ref_name} {(dup, score, ca, cb)}, {name} "
                    f"{(dup2, score2, ca2, cb2)}"
                )
    if problems:
        raise Disagreement("callers disagree:\n  " + "\n  ".join(problems))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("items", type=Path)
    parser.add_argument("callers", nargs="+", metavar="NAME=COMMAND")
    args = parser.parse_args()
    data = json.loads(args.items.read_text(encoding="utf-8"))
    expected_ids = [it["id"] for it in data["items"]]
    pairs = [(a, b) for a, b in data["explain"]]
    callers = dict(c.split("=", 1) for c in args.callers)

    with tempfile.TemporaryDirectory(prefix="fitrep-interop-") as tmp:
        root = Path(tmp)
        servers: list[Server] = []
        results: dict[str, Result] = {}
        try:
            concept = Server.start("mllm_server", ["--backend", "rules"], root / "mllm_server.log")
            servers.append(concept)
            for name, command in callers.items():
                data_dir = root / f"index-{name}"  # fresh, empty: ids start at c00000001
                log = root / f"index_server-{name}.log"
                index = Server.start("index_server", ["--data-dir", str(data_dir)], log)
                servers.append(index)
                results[name] = run_caller(
                    name, command, concept.address, index.address, args.items
                )
                index.stop()
            concept.stop()
            compare(results, expected_ids, pairs)
        except (InteropError, subprocess.TimeoutExpired) as exc:
            print(f"interop: FAILED: {exc}", file=sys.stderr)
            if not isinstance(exc, Disagreement):
                for server in servers:
                    print(server.tail(), file=sys.stderr)
            return 1
        finally:
            for server in servers:
                server.kill()

    names = list(callers)
    who = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]
    n_clusters = len({cid for _, cid in next(iter(results.values())).clusters})
    print(
        f"interop: {who} agree on {len(expected_ids)} cluster ids "
        f"({n_clusters} clusters) and {len(pairs)} explanations"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
