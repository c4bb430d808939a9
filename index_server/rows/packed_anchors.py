"""Every row's anchors, packed: the engine keeps them for the pairs it verifies.

As Python objects, a catalogue item's anchors (codes, quantities, tokens, the words of its
description, ...) cost ~4 KB of memory; packed as compact JSON they cost ~0.6 KB. Only pairs
that pass the chunk bound (a few per item) and ``explain`` unpack them; the bulk work reads
the interned arrays of ``rows.tokens.LexicalRows``. One row takes part in many pairs, mostly
near in time (its chunk's candidates, the code index, the self-calibration sample, the
commit), so the last ``cached`` rows unpacked stay unpacked: at most ``cached`` x ~4 KB.
"""

from __future__ import annotations

import json
import operator
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from typing import overload

from fitrep.domain import Anchors

# Rows kept unpacked (~4 KB each: 128 MB at most)
CACHED = 1 << 15


class PackedAnchors(Sequence[Anchors]):
    """An append-only list of ``Anchors`` in their JSON form (an empty "code_any" kept: the
    verifier tells it from a missing one), the ``cached`` rows unpacked last kept unpacked
    (``Anchors`` are frozen, so one object serves every reader; the cache takes a lock, so
    threads may share it)."""

    def __init__(self, rows: Iterable[Anchors] = (), cached: int = CACHED) -> None:
        self._rows: list[bytes] = []
        self._cached = cached
        self._unpacked: OrderedDict[int, Anchors] = OrderedDict()
        self._lock = threading.Lock()
        self.extend(rows)

    def append(self, anchors: Anchors) -> None:
        self._rows.append(json.dumps(anchors.to_json(), separators=(",", ":")).encode())

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
        got = Anchors.from_json(json.loads(self._rows[row]))
        with self._lock:
            self._unpacked[row] = got
            if len(self._unpacked) > self._cached:
                self._unpacked.popitem(last=False)
        return got

    def nbytes(self) -> int:
        return sum(len(row) for row in self._rows)
