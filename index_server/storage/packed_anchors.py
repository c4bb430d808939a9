"""Every row's anchors, packed: the engine keeps them for the pairs it verifies.

As Python dicts of string lists, a catalogue item's anchors (codes, quantities, tokens, the
words of its description, ...) cost ~4 KB of memory; packed as compact JSON they cost ~0.6
KB. Only pairs that pass the chunk bound (a few per item) and ``explain`` unpack them, which
costs microseconds; the bulk work reads the interned arrays of ``lexical.LexicalRows``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import overload

AnchorDict = dict[str, list[str]]


class PackedAnchors(Sequence[AnchorDict]):
    """An append-only list of anchor dicts (empty lists kept: the verifier tells a missing
    "code_any" from an empty one)."""

    def __init__(self, rows: Iterable[Mapping[str, Sequence[str]]] = ()) -> None:
        self._rows: list[bytes] = []
        self.extend(rows)

    def append(self, anchors: Mapping[str, Sequence[str]]) -> None:
        packed = {key: list(values) for key, values in anchors.items()}
        self._rows.append(json.dumps(packed, separators=(",", ":")).encode())

    def extend(self, rows: Iterable[Mapping[str, Sequence[str]]]) -> None:
        for anchors in rows:
            self.append(anchors)

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> AnchorDict: ...

    @overload
    def __getitem__(self, index: slice) -> list[AnchorDict]: ...

    def __getitem__(self, index: int | slice) -> AnchorDict | list[AnchorDict]:
        if isinstance(index, slice):
            return [json.loads(row) for row in self._rows[index]]
        return json.loads(self._rows[index])  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[AnchorDict]:
        return (json.loads(row) for row in self._rows)

    def nbytes(self) -> int:
        return sum(len(row) for row in self._rows)
