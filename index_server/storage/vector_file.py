"""The rows' vectors in a memory-mapped file beside the store (``vectors.bin``).

Fixed-size records (``rows.compact``) appended in row order after a 256-byte header (magic,
record dtype). SQLite stays the commit point: a batch appends its records, ``sync`` fsyncs
them, and only then does the store's transaction commit the new row count and the CRC-32 of
every committed byte (``state``) with the rows. So at any kill:

- records past the committed count are a batch that was not acknowledged: opening truncates
  them (``event=vectors_rolled_back``) — the rows they belong to were rolled back by SQLite;
- fewer bytes than committed, a foreign header or a CRC mismatch is a damaged file:
  ``CorruptStore`` naming it, like a damaged store.

Reads map the committed and pending records read-only (``view``); the pages are the file's
page cache, shared and reclaimable, not heap.
"""

from __future__ import annotations

import json
import logging
import os
import zlib
from pathlib import Path

import numpy as np

from index_server.storage.atomic import fsync_path
from index_server.storage.faults import CorruptStore

log = logging.getLogger("fitrep.index")

MAGIC = b"FITRVEC1"
HEADER_BYTES = 256
VECTOR_FILE = "vectors.bin"


def _header(dtype: np.dtype, codec: str) -> bytes:
    spec = json.dumps({"codec": codec, "dtype": dtype.descr, "itemsize": dtype.itemsize})
    raw = MAGIC + spec.encode()
    if len(raw) > HEADER_BYTES:
        raise ValueError(f"vector file header of {len(raw)} bytes")
    return raw.ljust(HEADER_BYTES, b" ")


def verify(path: Path, committed: int, crc32: int) -> None:
    """``--check``: the file at ``path`` holds the ``committed`` records with ``crc32``, read
    with the record type its own header names; ``CorruptStore`` naming it otherwise."""
    if not path.is_file():
        raise CorruptStore(f"{path} cannot be read: missing, the store committed {committed} rows")
    with path.open("rb") as fh:
        raw = fh.read(HEADER_BYTES)
    try:
        if not raw.startswith(MAGIC):
            raise ValueError("bad magic")
        spec = json.loads(raw[len(MAGIC) :].decode())
        fields = [(f[0], f[1], tuple(f[2])) if len(f) > 2 else (f[0], f[1]) for f in spec["dtype"]]
        dtype, codec = np.dtype(fields), str(spec["codec"])
    except (ValueError, TypeError, KeyError, IndexError):
        raise CorruptStore(
            f"{path} cannot be read: not a FITRep vector file (bad header)"
        ) from None
    VectorFile(path, dtype, codec, committed, crc32, read_only=True).close()


class VectorFile:
    """Append-only records of ``dtype`` at ``path``; ``committed`` rows (and ``crc32`` of
    their bytes) are what the store last committed. ``read_only``: verify, never truncate."""

    def __init__(
        self,
        path: Path,
        dtype: np.dtype,
        codec: str,
        committed: int = 0,
        crc32: int = 0,
        read_only: bool = False,
    ) -> None:
        self.path = path
        self.dtype = dtype
        self._map: np.ndarray | None = None
        header = _header(dtype, codec)
        if not path.exists():
            if committed:
                raise self._corrupt(f"missing, the store committed {committed} vector rows")
            if read_only:
                raise self._corrupt("missing")
            self._create(header)
        self.fd = os.open(path, os.O_RDONLY if read_only else os.O_RDWR)
        try:
            self._open(header, committed, crc32, read_only)
        except BaseException:
            os.close(self.fd)
            raise
        self._n = committed
        self._crc = crc32

    def _create(self, header: bytes) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, header)
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_path(self.path.parent)

    def _corrupt(self, detail: str) -> CorruptStore:
        return CorruptStore(f"{self.path} cannot be read: {detail}")

    def _open(self, header: bytes, committed: int, crc32: int, read_only: bool) -> None:
        found = os.pread(self.fd, HEADER_BYTES, 0)
        if not found.startswith(MAGIC):
            raise self._corrupt("not a FITRep vector file (bad header)")
        if found != header:
            spec = found[len(MAGIC) :].decode(errors="replace").strip()
            raise self._corrupt(f"records {spec}, the store expects {header[len(MAGIC) :]!r}")
        size = os.fstat(self.fd).st_size - HEADER_BYTES
        want = committed * self.dtype.itemsize
        if size < want:
            raise self._corrupt(
                f"short file: {size // self.dtype.itemsize} whole records,"
                f" the store committed {committed}"
            )
        if size > want and not read_only:
            os.ftruncate(self.fd, HEADER_BYTES + want)
            os.fsync(self.fd)
            log.warning(
                "event=vectors_rolled_back path=%s dropped_bytes=%d rows=%d",
                self.path,
                size - want,
                committed,
            )
        if self._checksum(committed) != crc32:
            raise self._corrupt(f"its {committed} committed records do not match their CRC-32")

    def _checksum(self, rows: int) -> int:
        crc, pos, end = 0, HEADER_BYTES, HEADER_BYTES + rows * self.dtype.itemsize
        while pos < end:
            block = os.pread(self.fd, min(1 << 24, end - pos), pos)
            if not block:
                break
            crc = zlib.crc32(block, crc)
            pos += len(block)
        return crc

    def __len__(self) -> int:
        return self._n

    def append(self, records: np.ndarray) -> None:
        """Write records after the last row (not committed until the store says so)."""
        data = np.ascontiguousarray(records, self.dtype).tobytes()
        pos = HEADER_BYTES + self._n * self.dtype.itemsize
        view = memoryview(data)
        while view:
            written = os.pwrite(self.fd, view, pos)
            view, pos = view[written:], pos + written
        self._crc = zlib.crc32(data, self._crc)
        self._n += len(records)

    def sync(self) -> None:
        """Make every appended record durable: before the store commits their count."""
        os.fsync(self.fd)

    def state(self) -> dict[str, int]:
        """What the store commits with the batch: row count and CRC-32 of the records."""
        return {"rows": self._n, "crc32": self._crc}

    def view(self) -> np.ndarray:
        """The records, (len,) of ``dtype``, memory-mapped read-only."""
        if self._map is None or len(self._map) != self._n:
            if self._n == 0:
                return np.zeros(0, self.dtype)
            self._map = np.memmap(
                self.path, self.dtype, mode="r", offset=HEADER_BYTES, shape=(self._n,)
            )
        return self._map

    def copy_to(self, target: Path) -> None:
        """The header and the records as of now into ``target`` (a snapshot)."""
        end = HEADER_BYTES + self._n * self.dtype.itemsize
        with target.open("wb") as out:
            pos = 0
            while pos < end:
                block = os.pread(self.fd, min(1 << 24, end - pos), pos)
                out.write(block)
                pos += len(block)

    def close(self) -> None:
        self._map = None
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
