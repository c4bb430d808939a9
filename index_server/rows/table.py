"""The row table: every stored item's data in memory, in row order.

Rows are only ever appended (a row number is a FAISS id and a store key); deletion marks a
row, it never renumbers. What each stage reads lives here once: the unweighted full vectors as
compact records (``rows.compact``: int8 per level by default; in memory, or memory-mapped from
the store's vector file) and level masks (scoring, re-ranking), packed anchors and image
features (the verifier), interned title tokens (chunk-wide lexical features), code keys (the
chunk bound).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from fitrep.domain import Anchors, EmbeddedItem, NotFound

from index_server.integration import LevelLayout
from index_server.rows.codes import code_keys
from index_server.rows.compact import CompactVectors, Records, VectorCodec
from index_server.rows.packed_anchors import PackedAnchors
from index_server.rows.tokens import LexicalRows


def level_presence(vectors: np.ndarray, layout: LevelLayout) -> np.ndarray:
    """(n, L) bool: which levels of each (unweighted, concatenated) row are non-zero."""
    out = np.zeros((len(vectors), len(layout.dims)), bool)
    for j, where in enumerate(layout.slices().values()):
        out[:, j] = (vectors[:, where] != 0).any(axis=1)
    return out


class RecordStore(Protocol):
    """Where the vector records live: ``Records`` (memory) or ``storage.vector_file``."""

    def __len__(self) -> int: ...

    def append(self, records: np.ndarray) -> None: ...

    def view(self) -> np.ndarray: ...


class RowTable:
    """See module docstring. ``set_layout`` must be called before the first append."""

    def __init__(self) -> None:
        self.layout: LevelLayout | None = None
        self.codec: VectorCodec | None = None
        self.records: RecordStore | None = None
        self.ids: list[str] = []
        self.row_of: dict[str, int] = {}
        self._present = np.zeros((0, 0), bool)  # (capacity, L) which levels each row has
        self._codes = code_keys([])  # (capacity, slots + 1) model-code keys per row
        self.anchors = PackedAnchors()  # per row, unpacked only for verified pairs
        self.images: list[dict[str, np.ndarray]] = []
        self.lexical = LexicalRows()  # interned title tokens: chunk-wide token features
        self.deleted: set[int] = set()

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def live(self) -> int:
        return self.n - len(self.deleted)

    @property
    def vectors(self) -> CompactVectors:
        """(n, D) unweighted full vectors: indexing decodes them to float32."""
        assert self.codec is not None and self.records is not None
        return CompactVectors(self.codec, self.records.view())

    @property
    def present(self) -> np.ndarray:
        return self._present[: self.n]

    @property
    def codes(self) -> np.ndarray:
        return self._codes[: self.n]

    def set_layout(
        self,
        layout: LevelLayout,
        codec: VectorCodec | None = None,
        records: RecordStore | None = None,
    ) -> None:
        """The layout, how vectors are encoded (default int8) and where the records live
        (default: in memory; they must be this table's rows, as restored)."""
        self.layout = layout
        self.codec = codec or VectorCodec(layout)
        self.records = records if records is not None else Records(self.codec.dtype)
        self._present = np.zeros((0, len(layout.dims)), bool)

    def _reserve(self, rows: int) -> None:
        if rows <= len(self._present):
            return
        capacity = max(rows, 2 * len(self._present), 1024)
        for name in ("_present", "_codes"):
            old = getattr(self, name)
            grown = np.zeros((capacity, old.shape[1]), old.dtype)
            grown[: self.n] = old[: self.n]
            setattr(self, name, grown)

    def append(self, items: Sequence[EmbeddedItem], full: np.ndarray) -> list[int]:
        """Append ``items`` with their unweighted full vectors ``full`` (m, D); their rows."""
        assert self.layout is not None and self.codec is not None and self.records is not None
        start = self.n
        self._reserve(start + len(items))
        self.records.append(self.codec.encode(full))
        self._present[start : start + len(items)] = level_presence(full, self.layout)
        self._codes[start : start + len(items)] = code_keys(
            [item.concepts.anchors for item in items]
        )
        for offset, item in enumerate(items):
            self.ids.append(item.item_id)
            self.row_of[item.item_id] = start + offset
            self.anchors.append(item.concepts.anchors)
            self.images.append(item.concepts.image_features)
        self.lexical.extend(item.concepts.anchors for item in items)
        return list(range(start, self.n))

    def restore(
        self,
        item_ids: Sequence[str],
        anchors: Sequence[Anchors],
        images: Sequence[dict[str, np.ndarray]],
    ) -> None:
        """Reload stored rows (row order) after a restart, in one go; their vector records
        are already in ``records`` (``set_layout``)."""
        assert self.codec is not None and self.records is not None
        if len(self.records) != len(item_ids):
            raise ValueError(f"{len(self.records)} vector records for {len(item_ids)} rows")
        for row, (item_id, a, image) in enumerate(zip(item_ids, anchors, images, strict=True)):
            self.ids.append(item_id)
            self.row_of[item_id] = row
            self.anchors.append(a)
            self.lexical.extend((a,))
            self.images.append(image)
        if item_ids:
            view = self.records.view()
            step = 1 << 16
            self._present = np.concatenate(
                [self.codec.present(view[s : s + step]) for s in range(0, len(view), step)]
            )
            self._codes = code_keys(anchors)

    def row(self, item_id: str) -> int:
        """The live row of ``item_id``; NotFound for unknown or deleted items."""
        row = self.row_of.get(item_id)
        if row is None or row in self.deleted:
            raise NotFound("item", item_id)
        return row

    def full(self, rows: int | Sequence[int] | slice | np.ndarray) -> np.ndarray:
        """Unweighted full vectors of ``rows`` as float32."""
        return self.vectors[rows]

    def dot(self, rows: np.ndarray, queries: np.ndarray) -> np.ndarray:
        """(m, p) inner products of stored ``rows`` (m, p) with float32 ``queries`` (m, D)."""
        assert self.codec is not None and self.records is not None
        return self.codec.dot(self.records.view(), queries, rows)
