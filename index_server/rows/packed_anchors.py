"""Every row's anchors, packed: the engine keeps them for the pairs it verifies.

As Python objects, a catalogue item's anchors (codes, quantities, tokens, the words of its
description, ...) cost ~4 KB of memory; packed they cost ~0.25 KB (a generated shop
listing: 240 bytes, 375 as the compact JSON used before). The form is ``marshal`` of the
field values in field order, the one Python reads fastest: unpacking is on the verifier's
path (half a million unpacks in a 100k build) and takes ~4.6 us a row, against ~13.5 us to
parse the JSON and build the ``Anchors`` from a dict. Only pairs that pass the chunk bound
(a few per item) and ``explain`` unpack them; the bulk work reads the interned arrays of
``rows.tokens.LexicalRows``. One row takes part in many pairs, mostly near in time (its
chunk's candidates, the code index, the self-calibration sample, the commit), so the last
``cached`` rows unpacked stay unpacked: at most ``cached`` x ~4 KB. Nothing persists this
form (the store keeps the JSON), so it may change between versions.
"""

from __future__ import annotations

import dataclasses
import marshal
import operator
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from typing import overload

from fitrep.domain import Anchors

_FIELDS = tuple(f.name for f in dataclasses.fields(Anchors))

# Rows kept unpacked (~4 KB each: 128 MB at most)
CACHED = 1 << 15


class PackedAnchors(Sequence[Anchors]):
    """An append-only list of ``Anchors``, packed (every field, so an empty "code_any" stays
    apart from a missing one: the verifier tells them apart), the ``cached`` rows unpacked
    last kept unpacked (``Anchors`` are frozen, so one object serves every reader; the cache
    takes a lock, so threads may share it)."""

    def __init__(self, rows: Iterable[Anchors] = (), cached: int = CACHED) -> None:
        self._rows: list[bytes] = []
        self._cached = cached
        self._unpacked: OrderedDict[int, Anchors] = OrderedDict()
        self._lock = threading.Lock()
        self.extend(rows)

    @classmethod
    def of_packed(cls, rows: list[bytes], cached: int = CACHED) -> PackedAnchors:
        """The rows ``packed_rows`` gave (another process's copy)."""
        out = cls(cached=cached)
        out._rows = rows
        return out

    def packed_rows(self) -> list[bytes]:
        """Every row, packed (what another process needs to read them: ``of_packed``)."""
        return list(self._rows)

    def append(self, anchors: Anchors) -> None:
        values = (getattr(anchors, name) for name in _FIELDS)
        self._rows.append(
            marshal.dumps(tuple(None if v is None else tuple(map(str, v)) for v in values))
        )

    def extend(self, rows: Iterable[Anchors]) -> None:
        for anchors in rows:
            self.append(anchors)

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> Anchors: ...

    @overload
    def __getitem__(self, index: slice) -> list[Anchors]: ...

    def __getitem__(self, index: int | slice) -> Anchors | list[Anchors]:
        if isinstance(index, slice):
            return [self._unpack(row) for row in range(*index.indices(len(self._rows)))]
        row = operator.index(index)
        if row < 0:
            row += len(self._rows)
        if not 0 <= row < len(self._rows):
            raise IndexError(f"row {index} of {len(self._rows)}")
        return self._unpack(row)

    def __iter__(self) -> Iterator[Anchors]:
        return (self._unpack(row) for row in range(len(self._rows)))

    def _unpack(self, row: int) -> Anchors:
        with self._lock:
            got = self._unpacked.get(row)
            if got is not None:
                self._unpacked.move_to_end(row)
                return got
        got = Anchors(*marshal.loads(self._rows[row]))
        with self._lock:
            self._unpacked[row] = got
            if len(self._unpacked) > self._cached:
                self._unpacked.popitem(last=False)
        return got

    def nbytes(self) -> int:
        return sum(len(row) for row in self._rows)
