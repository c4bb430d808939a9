"""The row table: every stored item's data in memory, in row order.

Rows are only ever appended (a row number is a FAISS id and a store key); deletion marks a
row, it never renumbers. What each stage reads lives here once: float16 unweighted full
vectors and level masks (scoring, re-ranking), packed anchors and image features (the
verifier), interned title tokens (chunk-wide lexical features), code keys (the chunk bound).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from fitrep.domain import Anchors, EmbeddedItem, NotFound

from index_server.integration import LevelLayout
from index_server.rows.codes import code_keys
from index_server.rows.packed_anchors import PackedAnchors
from index_server.rows.tokens import LexicalRows


def level_presence(vectors: np.ndarray, layout: LevelLayout) -> np.ndarray:
    """(n, L) bool: which levels of each (unweighted, concatenated) row are non-zero."""
    out = np.zeros((len(vectors), len(layout.dims)), bool)
    for j, where in enumerate(layout.slices().values()):
        out[:, j] = (vectors[:, where] != 0).any(axis=1)
    return out


class RowTable:
    """See module docstring. ``set_layout`` must be called before the first append."""

    def __init__(self) -> None:
        self.layout: LevelLayout | None = None
        self.ids: list[str] = []
        self.row_of: dict[str, int] = {}
        self._vectors = np.zeros((0, 0), np.float16)  # capacity >= n rows; see ``vectors``
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
    def vectors(self) -> np.ndarray:
        """(n, D) float16 unweighted full vectors, a view of a buffer grown by doubling."""
        return self._vectors[: self.n]

    @property
    def present(self) -> np.ndarray:
        return self._present[: self.n]

    @property
    def codes(self) -> np.ndarray:
        return self._codes[: self.n]

    def set_layout(self, layout: LevelLayout) -> None:
        self.layout = layout
        self._vectors = np.zeros((0, layout.total), np.float16)
        self._present = np.zeros((0, len(layout.dims)), bool)

    def _reserve(self, rows: int) -> None:
        if rows <= len(self._vectors):
            return
        capacity = max(rows, 2 * len(self._vectors), 1024)
        for name in ("_vectors", "_present", "_codes"):
            old = getattr(self, name)
            grown = np.zeros((capacity, old.shape[1]), old.dtype)
            grown[: self.n] = old[: self.n]
            setattr(self, name, grown)

    def append(self, items: Sequence[EmbeddedItem], full: np.ndarray) -> list[int]:
        """Append ``items`` with their unweighted full vectors ``full`` (m, D); their rows."""
        assert self.layout is not None
        start = self.n
        self._reserve(start + len(items))
        self._vectors[start : start + len(items)] = full
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
        vectors: Sequence[np.ndarray],
        anchors: Sequence[Anchors],
        images: Sequence[dict[str, np.ndarray]],
    ) -> None:
        """Reload stored rows (row order) after a restart, in one go."""
        assert self.layout is not None
        for row, (item_id, a, image) in enumerate(zip(item_ids, anchors, images, strict=True)):
            self.ids.append(item_id)
            self.row_of[item_id] = row
            self.anchors.append(a)
            self.lexical.extend((a,))
            self.images.append(image)
        if vectors:
            self._vectors = np.stack(vectors)
            self._present = level_presence(self._vectors, self.layout)
            self._codes = code_keys(anchors)

    def row(self, item_id: str) -> int:
        """The live row of ``item_id``; NotFound for unknown or deleted items."""
        row = self.row_of.get(item_id)
        if row is None or row in self.deleted:
            raise NotFound("item", item_id)
        return row

    def full(self, rows: int | Sequence[int] | slice | np.ndarray) -> np.ndarray:
        """Unweighted full vectors of ``rows`` as float32."""
        return self.vectors[rows].astype(np.float32)
