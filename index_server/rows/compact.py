"""The exact space, compact: each row's unweighted full vector as one fixed-size record.

``int8`` (the default): per level, the unit vector's values as int8 codes scaled so that the
largest is +-127, and one float32 per level that makes the decoded level unit length again
(0 for an absent level). A 6 x 384-d row is 2,328 bytes instead of 4,608 as float16; a cosine
moves by ~1e-4 (decoded levels are exactly unit length, so a row's cosine with itself is 1).
``float16``: the vector as float16, what the store kept before (4,608 bytes per real row).

Records are plain structured numpy arrays: the same bytes sit in memory (``rows.table``) or in
a memory-mapped file beside the store (``storage.vector_file``), which only sees the dtype.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit

from index_server.integration import LevelLayout

CODECS = ("int8", "float16")


class VectorCodec:
    """Encode (m, D) float32 unweighted full vectors into records and decode them back."""

    def __init__(self, layout: LevelLayout, name: str = "int8") -> None:
        if name not in CODECS:
            raise ValueError(f"vector codec {name!r}: one of {', '.join(CODECS)}")
        self.layout = layout
        self.name = name
        self.dims = np.array([d for _, d in layout.dims], np.int64)
        self._slices = list(layout.slices().values())
        widths = {d for _, d in layout.dims}
        self._level_dim = widths.pop() if len(widths) == 1 else 0
        if name == "int8":
            fields = [("codes", "i1", (layout.total,)), ("scale", "<f4", (len(self.dims),))]
        else:
            fields = [("codes", "<f2", (layout.total,))]
        self.dtype = np.dtype(fields)

    @property
    def record_bytes(self) -> int:
        return self.dtype.itemsize

    def encode(self, full: np.ndarray) -> np.ndarray:
        """(m,) records of ``full`` (m, D) float32, each level unit length or zero."""
        out = np.zeros(len(full), self.dtype)
        if self.name == "float16":
            out["codes"] = full
            return out
        codes = np.zeros(full.shape, np.int8)
        scale = np.zeros((len(full), len(self._slices)), np.float32)
        for j, where in enumerate(self._slices):
            block = full[:, where]
            peak = np.abs(block).max(axis=1, keepdims=True)
            q = np.rint(block * (127.0 / np.where(peak > 0, peak, 1.0)))
            codes[:, where] = q
            norm = np.linalg.norm(q, axis=1)
            scale[:, j] = np.where(norm > 0, 1.0 / np.where(norm > 0, norm, 1.0), 0.0)
        out["codes"] = codes
        out["scale"] = scale
        return out

    def decode(self, records: np.ndarray) -> np.ndarray:
        """(..., D) float32 vectors of (...) ``records``."""
        codes = records["codes"].astype(np.float32)
        if self.name == "float16":
            return codes
        # int8 -> float32 is exact, so each value is one float32 product, code x its level's
        # scale, taken in place level by level (no (m, D) array of repeated scales)
        scale = records["scale"]
        if self._level_dim:  # every level as wide: one broadcast product
            levels = codes.reshape(*records.shape, len(self._slices), self._level_dim)  # a view
            levels *= scale[..., None]
            return codes
        for j, where in enumerate(self._slices):
            codes[..., where] *= scale[..., j, None]
        return codes

    def decode_level(self, records: np.ndarray, level: int) -> np.ndarray:
        """(..., d) float32, C-contiguous: the block of the ``level``-th level (layout order) of
        (...) ``records``, equal to ``decode(records)[..., block]`` without decoding the rest."""
        block = records["codes"][..., self._slices[level]].astype(np.float32)
        if self.name == "int8":
            block *= records["scale"][..., level, None]
        return block

    def present(self, records: np.ndarray) -> np.ndarray:
        """(m, L) bool: which levels each record has."""
        if self.name == "int8":
            return np.asarray(records["scale"] > 0)
        codes = records["codes"]
        return np.stack([(codes[:, w] != 0).any(axis=1) for w in self._slices], axis=1)

    def dot(
        self, records: np.ndarray, queries: np.ndarray, rows: np.ndarray | None = None
    ) -> np.ndarray:
        """(m, p) inner products of records (m, p) with float32 ``queries`` (m, D), level by
        level (int8: the scale applied to p per-level sums, not to p x D values). ``rows``
        (m, p): the records are ``records[rows]``, gathered field by field (one copy of the
        int8 codes, not of whole records and then of their codes)."""
        if self.name == "float16":
            picked = records if rows is None else records[rows]
            return np.einsum("mpd,md->mp", picked["codes"].astype(np.float32), queries)
        codes, scale = records["codes"], records["scale"]
        if rows is not None:
            codes, scale = codes[rows], scale[rows]
        bounds = np.array([(w.start, w.stop) for w in self._slices], np.int64).reshape(-1, 2)
        return _int8_dot(
            np.ascontiguousarray(codes),
            np.ascontiguousarray(scale),
            np.ascontiguousarray(queries, np.float32),
            bounds,
        )


@njit(cache=True, fastmath=True)
def _block_dot(codes: np.ndarray, query: np.ndarray) -> np.float32:
    """codes . query of one level's block (contiguous slices: LLVM vectorises this loop,
    which it did not do for the same loop indexed into the 3-d array, 9x slower)."""
    s = np.float32(0.0)
    for d in range(codes.shape[0]):
        s += np.float32(codes[d]) * query[d]
    return s


@njit(cache=True, fastmath=True)
def _int8_dot(
    codes: np.ndarray, scale: np.ndarray, queries: np.ndarray, bounds: np.ndarray
) -> np.ndarray:
    """(m, p) sum over levels j of scale[., ., j] x (codes . queries over level j's block).

    The int8 codes are read as they are stored: decoding them to float32 first (and an
    einsum over the copy) was most of the exact re-rank's 12 s in a 100k build."""
    m, p = codes.shape[0], codes.shape[1]
    out = np.zeros((m, p), np.float32)
    for i in range(m):
        for k in range(p):
            total = np.float32(0.0)
            for j in range(bounds.shape[0]):
                lo, hi = bounds[j, 0], bounds[j, 1]
                total += _block_dot(codes[i, k, lo:hi], queries[i, lo:hi]) * scale[i, k, j]
            out[i, k] = total
    return out


class Records:
    """A growable in-memory record array (``data_dir=None``); the file-backed one is
    ``storage.vector_file.VectorFile``. Both: ``append``, ``view`` and ``len``."""

    def __init__(self, dtype: np.dtype) -> None:
        self._data = np.zeros(0, dtype)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def append(self, records: np.ndarray) -> None:
        need = self._n + len(records)
        if need > len(self._data):
            grown = np.zeros(max(need, 2 * len(self._data), 1024), self._data.dtype)
            grown[: self._n] = self._data[: self._n]
            self._data = grown
        self._data[self._n : need] = records
        self._n = need

    def view(self) -> np.ndarray:
        return self._data[: self._n]

    def truncate(self, rows: int) -> None:
        """Back to the first ``rows`` (an in-memory engine rolling a failed batch back)."""
        self._n = min(self._n, rows)

    def sync(self) -> None:
        """Nothing to make durable in memory (``VectorFile.sync`` has)."""

    def state(self) -> dict[str, int]:
        return {"rows": self._n}


class CompactVectors:
    """``RowTable.vectors``: indexing gives decoded float32 rows, like the float16 array it
    replaces (``vectors[rows]``, ``vectors[a:b]``)."""

    def __init__(self, codec: VectorCodec, records: np.ndarray) -> None:
        self.codec = codec
        self.records = records

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.records), self.codec.layout.total

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int | slice | Sequence[int] | np.ndarray) -> np.ndarray:
        if isinstance(index, (int, np.integer)):
            return self.codec.decode(self.records[int(index) : int(index) + 1])[0]
        return self.codec.decode(self.records[index])
