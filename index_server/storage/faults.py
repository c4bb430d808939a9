"""Storage failures an operator can act on, told apart from bugs.

A full disk (SQLite's ``SQLITE_FULL``, ``ENOSPC`` or ``EDQUOT`` from a file write) becomes
``NoSpace`` (RESOURCE_EXHAUSTED, "no space left on DIR"): the batch was rolled back, so freeing
space and sending it again is the fix. A damaged store file becomes ``CorruptStore``, naming
the file: restore the last snapshot (``python -m index_server --check DIR`` verifies one).
"""

from __future__ import annotations

import errno
import sqlite3
import zipfile
from pathlib import Path

from fitrep.domain import FitrepError, NoSpace
from fitrep.rpc_errors import NO_SPACE

# What a damaged row can raise while it is decoded (JSON, npz, anchors, profile).
DECODE_ERRORS = (ValueError, TypeError, KeyError, AttributeError, zipfile.BadZipFile, EOFError)
_CORRUPT_NAMES = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


class CorruptStore(FitrepError):
    """The store file cannot be read: damaged, or not a FITRep store."""


def is_corruption(exc: BaseException) -> bool:
    """A SQLite error that means a damaged file (not a locked or full one)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    name = getattr(exc, "sqlite_errorname", "")
    if name:
        return name in _CORRUPT_NAMES
    return not isinstance(exc, sqlite3.OperationalError)


def is_disk_full(exc: BaseException | None) -> bool:
    """``exc`` or what caused it is a full disk or quota."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, sqlite3.OperationalError) and (
            getattr(exc, "sqlite_errorname", "") == "SQLITE_FULL"
            or "database or disk is full" in str(exc)
        ):
            return True
        if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def restore_advice(data_dir: Path | None) -> str:
    """What to do about a damaged store, appended to ``CorruptStore``'s message."""
    where = data_dir if data_dir is not None else "DIR"
    return (
        "restore the last snapshot (a directory the Snapshot RPC wrote, by default under"
        f" {where}/snapshots) into a fresh data directory, verify it with"
        " `python -m index_server --check DIR` and start the server on it"
    )


def no_space(data_dir: Path | None, exc: BaseException) -> NoSpace:
    """The error a caller gets for a batch that a full disk stopped."""
    where = data_dir if data_dir is not None else "the index's temporary directory"
    return NoSpace(
        f"{NO_SPACE}{where} ({exc}); nothing of this call was stored: free space, then send it"
        " again"
    )
