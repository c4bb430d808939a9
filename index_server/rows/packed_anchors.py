"""Every row's anchors, packed: the engine keeps them for the pairs it verifies.

As Python objects, a catalogue item's anchors (codes, quantities, tokens, the words of its
description, ...) cost ~4 KB of memory; packed as compact JSON they cost ~0.6 KB. Only pairs
that pass the chunk bound (a few per item) and ``explain`` unpack them, which costs
microseconds; the bulk work reads the interned arrays of ``rows.tokens.LexicalRows``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import overload

from fitrep.domain import Anchors


class PackedAnchors(Sequence[Anchors]):
    """An append-only list of ``Anchors`` in their JSON form (an empty "code_any" kept: the
    verifier tells it from a missing one)."""

    def __init__(self, rows: Iterable[Anchors] = ()) -> None:
        self._rows: list[bytes] = []
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
            return [Anchors.from_json(json.loads(row)) for row in self._rows[index]]
        return Anchors.from_json(json.loads(self._rows[index]))

    def __iter__(self) -> Iterator[Anchors]:
        return (Anchors.from_json(json.loads(row)) for row in self._rows)

    def nbytes(self) -> int:
        return sum(len(row) for row in self._rows)
