"""Start both FITRep servers as child processes and wait until they are healthy.

Used by ``fitrep serve`` and by the integration tests, so both exercise the same start-up path
as a deployment (``python -m mllm_server`` / ``python -m index_server``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fitrep.client import Client
from fitrep.domain import FitrepError


class LaunchError(FitrepError):
    """A server did not come up (exited, or not healthy in time)."""


def free_port(host: str = "127.0.0.1") -> int:
    """An ephemeral port that was free a moment ago (good enough on loopback in tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class LocalServers:
    """Both tiers on ``host``; ``stop`` sends SIGTERM and waits for the graceful shutdown."""

    host: str
    concept_port: int
    index_port: int
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def concept(self) -> str:
        return f"{self.host}:{self.concept_port}"

    @property
    def index(self) -> str:
        return f"{self.host}:{self.index_port}"

    def start(
        self,
        data_dir: Path | None,
        backend: str = "rules",
        backend_options: Sequence[str] = (),
        extra_args: Sequence[str] = (),
        log_dir: Path | None = None,
        token: str | None = None,
        concept_args: Sequence[str] = (),
        index_args: Sequence[str] = (),
    ) -> LocalServers:
        """``extra_args`` go to both servers (e.g. ``--log-level``), ``concept_args`` and
        ``index_args`` to one. ``token`` reaches them as ``$FITREP_TOKEN``: a command line
        is visible to every user in ``ps``."""
        common = ["--host", self.host, *extra_args]
        concept_cmd = [sys.executable, "-m", "mllm_server", *common]
        concept_cmd += ["--port", str(self.concept_port), "--backend", backend, *concept_args]
        for opt in backend_options:
            concept_cmd += ["--backend-option", opt]
        index_cmd = [sys.executable, "-m", "index_server", *common]
        index_cmd += ["--port", str(self.index_port), *index_args]
        if data_dir is not None:
            index_cmd += ["--data-dir", str(data_dir)]
        env = os.environ.copy()
        if token:
            env["FITREP_TOKEN"] = token
        for name, cmd in (("mllm_server", concept_cmd), ("index_server", index_cmd)):
            stderr = None
            if log_dir is not None:
                log_dir.mkdir(parents=True, exist_ok=True)
                stderr = (log_dir / f"{name}.log").open("wb")
            # Own process group: a terminal's Ctrl-C reaches the parent, which stops children
            # in order instead of all processes racing.
            self.processes[name] = subprocess.Popen(
                cmd, stderr=stderr, env=env, start_new_session=True
            )
        return self

    def wait_healthy(
        self, timeout: float = 120.0, token: str | None = None, **client_kwargs: Any
    ) -> None:
        """``client_kwargs`` go to ``Client`` (e.g. ``root_certificates`` for TLS)."""
        deadline = time.monotonic() + timeout
        with Client(self.concept, self.index, token=token, **client_kwargs) as client:
            while time.monotonic() < deadline:
                for name, proc in self.processes.items():
                    if proc.poll() is not None:
                        raise LaunchError(f"{name} exited with code {proc.returncode}")
                if client.healthy(timeout=1.0):
                    return
                time.sleep(0.2)
        raise LaunchError(f"servers not healthy after {timeout:.0f} s")

    def stop(self, timeout: float = 15.0) -> dict[str, int | None]:
        """SIGTERM both, wait up to ``timeout`` s, then SIGKILL what is left. Exit codes."""
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.processes.values():
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return {name: proc.returncode for name, proc in self.processes.items()}
