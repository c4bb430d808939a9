"""Both servers with TLS, a bearer token, metrics and an image root; the CLI and SDK over
TLS; the token never on a command line; port clashes, SIGTERM draining."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from fitrep.cli import app
from fitrep.client import Client
from fitrep.domain import InvalidInput, Item
from fitrep.launch import LaunchError, LocalServers, free_port
from grpc_health.v1 import health_pb2, health_pb2_grpc
from PIL import Image
from typer.testing import CliRunner

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI"),
]
TOKEN = "tls-test-token-0123456789"


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_ca(root: Path, name: str) -> tuple[Path, Path]:
    key, cert = root / f"{name}-ca.key", root / f"{name}-ca.pem"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", str(key),
             "-out", str(cert), "-subj", f"/CN={name} test CA")  # fmt: skip
    return key, cert


def make_server_cert(root: Path, ca_key: Path, ca_cert: Path) -> tuple[Path, Path]:
    key, csr, cert = root / "server.key", root / "server.csr", root / "server.pem"
    ext = root / "san.ext"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
             "-subj", "/CN=localhost")  # fmt: skip
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
             "-CAcreateserial", "-days", "1", "-out", str(cert), "-extfile", str(ext))  # fmt: skip
    return cert, key


class Secure:
    def __init__(self, root: Path) -> None:
        ca_key, self.ca = make_ca(root, "good")
        _, self.wrong_ca = make_ca(root, "other")
        self.cert, self.key = make_server_cert(root, ca_key, self.ca)
        self.images = root / "images"
        self.images.mkdir()
        self.metrics = {"mllm_server": free_port(), "index_server": free_port()}
        self.servers = LocalServers("127.0.0.1", free_port(), free_port())
        self.logs = root / "logs"


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secure]:
    root = tmp_path_factory.mktemp("secure")
    s = Secure(root)
    tls = ["--tls-cert", str(s.cert), "--tls-key", str(s.key)]
    s.servers.start(
        root / "index",
        extra_args=tls,
        log_dir=s.logs,
        token=TOKEN,
        concept_args=["--metrics-port", str(s.metrics["mllm_server"]), "--image-root",
                      str(s.images)],
        index_args=["--metrics-port", str(s.metrics["index_server"])],
    )  # fmt: skip
    try:
        s.servers.wait_healthy(120, token=TOKEN, root_certificates=s.ca.read_bytes())
    except LaunchError:
        s.servers.stop()
        for log in sorted(s.logs.glob("*.log")):
            print(f"--- {log.name}\n{log.read_text()[-4000:]}")
        raise
    yield s
    assert s.servers.stop() == {"mllm_server": 0, "index_server": 0}


def _png(colour: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(buf, "PNG")
    return buf.getvalue()


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        return str(resp.read().decode())


def test_token_reaches_the_servers_in_their_environment_not_argv(secure: Secure) -> None:
    for proc in secure.servers.processes.values():
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        assert TOKEN.encode() not in cmdline and b"--token" not in cmdline


def test_cli_assign_over_tls_with_token_from_env(secure: Secure, tmp_path: Path) -> None:
    (tmp_path / "red.png").write_bytes(_png("red"))
    catalogue = tmp_path / "new.jsonl"
    rows = [
        {"id": "t1", "title": "SanDisk Cruzer Blade 32GB USB flash drive", "image": "red.png"},
        {"id": "t2", "title": "Yoga mat 6 mm purple"},
    ]
    catalogue.write_text("".join(json.dumps(r) + "\n" for r in rows))
    s = secure.servers
    args = ["assign", str(catalogue), "--concept", s.concept, "--index", s.index,
            "--no-progress", "--out", str(tmp_path / "out")]  # fmt: skip
    runner = CliRunner()
    ok = runner.invoke(app, [*args, "--tls-ca", str(secure.ca)], env={"FITREP_TOKEN": TOKEN})
    assert ok.exit_code == 0, ok.output
    assert len((tmp_path / "out" / "clusters.jsonl").read_text().splitlines()) == 2

    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    wrong = runner.invoke(
        app, [*args, "--tls-ca", str(secure.wrong_ca), "--token-file", str(token_file)],
        env={"FITREP_TOKEN": ""},
    )  # fmt: skip
    assert wrong.exit_code == 2
    assert "over TLS; is --tls-ca the CA that signed" in " ".join(wrong.output.split())
    assert "Traceback" not in wrong.output


def test_sdk_over_tls_and_image_uri_under_the_root(secure: Secure) -> None:
    (secure.images / "blue.png").write_bytes(_png("blue"))
    s = secure.servers
    with Client(s.concept, s.index, token=TOKEN, root_certificates=secure.ca.read_bytes(),
                timeout=30, retries=1) as c:  # fmt: skip
        [one] = c.extract([Item("u1", "blue mug", image=secure.images / "blue.png")])
        assert "VISUAL" in {lv.name for lv in one.concepts.levels}
        with pytest.raises(InvalidInput, match=r"items\[0\]\.image_uri: .* outside the image"):
            c.extract([Item("u2", "passwd", image=Path("/etc/passwd"))])


def test_metrics_of_both_servers_move(secure: Secure) -> None:
    s = secure.servers
    with Client(s.concept, s.index, token=TOKEN, root_certificates=secure.ca.read_bytes(),
                timeout=30, retries=1) as c:  # fmt: skip
        c.assign([Item("m1", "Logitech K120 wired keyboard"), Item("m2", "Bose QC45")])
    concept = _scrape(secure.metrics["mllm_server"])
    index = _scrape(secure.metrics["index_server"])
    extract = "/fitrep.v1.ConceptService/ExtractConcepts"
    assign = "/fitrep.v1.IndexService/AssignItems"
    assert f'fitrep_requests_total{{code="OK",method="{extract}"}}' in concept
    assert f'fitrep_request_seconds_bucket{{le="+Inf",method="{extract}"}}' in concept
    assert "fitrep_cache_hits_total" in concept and "fitrep_fallbacks_total" in concept
    assert f'fitrep_requests_total{{code="OK",method="{assign}"}}' in index
    assert f'fitrep_batch_items_count{{method="{assign}"}}' in index
    assert 'fitrep_queue_depth{unit="requests"}' in index
    items_line = next(x for x in index.splitlines() if x.startswith("fitrep_index_items "))
    assert float(items_line.split()[1]) >= 2


def test_second_server_on_a_served_port_exits_with_one_clear_line(secure: Secure) -> None:
    port = secure.servers.index_port
    proc = subprocess.run(
        [sys.executable, "-m", "index_server", "--port", str(port), "--data-dir",
         str(secure.logs / "second")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1] == f"error: 127.0.0.1:{port} is already in use"


def test_sigterm_answers_not_serving_while_draining(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "index_server", "--port", str(port), "--data-dir",
         str(tmp_path / "d"), "--drain-s", "3"],
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            stub = health_pb2_grpc.HealthStub(ch)
            request = health_pb2.HealthCheckRequest()
            deadline = time.monotonic() + 90
            while True:
                try:
                    if stub.Check(request, timeout=1).status == 1:
                        break
                except grpc.RpcError:
                    pass
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            resp = stub.Check(request, timeout=2)
            assert resp.status == health_pb2.HealthCheckResponse.NOT_SERVING
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
