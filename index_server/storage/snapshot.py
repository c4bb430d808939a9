"""Snapshots written atomically, and refused on load when they are not whole.

A snapshot is written into ``PATH.tmp-<pid>`` (with ``SNAPSHOT.partial`` in it while it is
being written), then ``SNAPSHOT.json`` lists every file with its sha256, everything is
fsynced, and the directory is renamed to ``PATH``: a reader sees the whole snapshot or none.
A SIGKILL mid-way leaves only the temp directory, which ``check_snapshot`` refuses to open
(``SNAPSHOT.partial``, or the ``.tmp-<pid>`` name), as it refuses a directory whose files do
not match ``SNAPSHOT.json``.
Once a snapshot has been checked and opened it is a live data directory (SQLite will write
to it), so the marker is removed then.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from fitrep.domain import FitrepError

from index_server.storage.atomic import fsync_path

MARKER = "SNAPSHOT.json"
PARTIAL = "SNAPSHOT.partial"


class BadSnapshot(FitrepError):
    """A data directory that is an incomplete or corrupted snapshot."""


def file_sha256(path: Path) -> str:
    """SHA-256 of a file read in 1 MB blocks (snapshot markers, dedup run manifests)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_snapshot(path: Path, write: Callable[[Path], None], items: int) -> Path:
    """``write(tmp)`` fills a temp directory; then marker, fsync and rename to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    (tmp / PARTIAL).write_text("snapshot being written\n")
    write(tmp)
    files = sorted(p.name for p in tmp.iterdir() if p.name != PARTIAL)
    for name in files:
        fsync_path(tmp / name)
    marker = {"items": items, "files": {name: file_sha256(tmp / name) for name in files}}
    (tmp / MARKER).write_text(json.dumps(marker, indent=1) + "\n")
    fsync_path(tmp / MARKER)
    (tmp / PARTIAL).unlink()
    fsync_path(tmp)
    if path.exists():  # replacing an older snapshot of the same name: move it aside first
        old = path.with_name(f"{path.name}.old-{os.getpid()}")
        path.rename(old)
        tmp.rename(path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(path)
    fsync_path(path.parent)
    return path


def check_snapshot(data_dir: Path) -> None:
    """Refuse a data directory that is a partial snapshot or fails its checksums; accept and
    unmark a whole one. Directories without a marker are ordinary data directories."""
    if verify_snapshot(data_dir):
        (data_dir / MARKER).unlink()


def verify_snapshot(data_dir: Path) -> bool:
    """``check_snapshot`` without unmarking (``--check``): whether ``data_dir`` is a whole,
    unopened snapshot; BadSnapshot when it is a partial or damaged one."""
    # the temp directory's name too: a kill between its mkdir and PARTIAL leaves it empty
    if (data_dir / PARTIAL).exists() or re.search(r"\.tmp-\d+$", data_dir.name):
        raise BadSnapshot(f"{data_dir} is an incomplete snapshot (interrupted while written)")
    marker_path = data_dir / MARKER
    if not marker_path.exists():
        return False
    try:
        files = json.loads(marker_path.read_text())["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise BadSnapshot(f"{data_dir}: unreadable {MARKER} ({exc})") from None
    for name, digest in files.items():
        f = data_dir / name
        if not f.is_file():
            raise BadSnapshot(f"{data_dir} is an incomplete snapshot: {name} is missing")
        if file_sha256(f) != digest:
            raise BadSnapshot(f"{data_dir}: {name} does not match its checksum in {MARKER}")
    return True
