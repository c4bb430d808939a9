"""One process per data directory: an exclusive ``flock`` on ``DIR/LOCK`` for its lifetime.

Two engines on one store would both append rows and both hand out cluster ids; SQLite only
notices at the second insert (``UNIQUE constraint failed``), after memory has diverged. The
lock is taken before the store is opened and is released by the kernel when the process
dies, so a SIGKILLed server never leaves a stale lock behind. The file holds the owner's pid
(for the error message only).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from fitrep.domain import FitrepError


class DataDirInUse(FitrepError):
    """Another process holds the data directory."""


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "LOCK"
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DataDirInUse(
                f"{data_dir} is in use by another index server (pid {owner})"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None
