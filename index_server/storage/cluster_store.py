"""What the index needs of its store (``ClusterStore``) and the rows it keeps (``StoredItem``).

The engine, ``persistence`` and ``upserts`` speak to this protocol only; ``store.SqliteStore``
is the one backend, and a second is one module that implements the same calls. A store
holds the committed batches: rows (append-only; a changed item's old row is marked deleted
and replaced), cluster aliases and families, and a small metadata map (the counters).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from fitrep.domain import Anchors

from index_server.storage.faults import CorruptStore

STORE_FILE = "store.sqlite"  # the store's file in an index's data directory


@dataclass
class StoredItem:
    row: int
    item_id: str
    cluster: int
    # unweighted full vector (float16) of rows stored before the vector file; None since
    # (``storage.vector_file`` holds every row's vector; the column keeps an empty blob)
    vector: np.ndarray | None
    levels: dict[str, list[str]]
    anchors: Anchors
    image_features: dict[str, np.ndarray] = field(default_factory=dict)
    nearest: str = ""
    similarity: float = 0.0
    confidence: float = 1.0
    is_new: bool = True
    deleted: bool = False
    replaced_by: int | None = None  # the row of the item's next version
    first_row: int | None = None  # the row its item first arrived at (None: this row)
    previous: int = 0  # the cluster its item was in before this version; 0: first version
    digest: str = ""  # content identity (``storage.digest``); "" for rows stored before it
    profile: dict[str, Any] = field(default_factory=dict)  # ``ItemProfile.to_json()``


class ClusterStore(Protocol):
    """The committed index. Every ``commit`` is one transaction: all of it or none."""

    def get_meta(self) -> dict[str, Any]: ...

    def commit(
        self,
        items: Sequence[StoredItem] = (),
        meta: dict[str, Any] | None = None,
        deleted_rows: Sequence[int] = (),
        aliases: dict[int, int] | None = None,
        families: dict[int, int] | None = None,
        replaced: dict[int, int] | None = None,
    ) -> None: ...

    def iter_items(self, dim: int) -> Iterator[StoredItem]:
        """Every row in row order (``dim``: the length of a stored vector)."""
        ...

    def rows_of(self, rows: Sequence[int], dim: int) -> dict[int, StoredItem]: ...

    def levels_of(self, row: int) -> dict[str, list[str]]: ...

    def aliases(self) -> dict[int, int]: ...

    def families(self) -> dict[int, int]: ...

    def corrupt(self, detail: str) -> CorruptStore:
        """The error for a store that does not make sense, naming it."""
        ...

    def backup(self, path: Path) -> None:
        """A consistent copy of the store at ``path`` (a snapshot's)."""
        ...

    def close(self) -> None: ...
