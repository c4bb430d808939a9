"""What the engine writes per batch and reads back on start, as plain data.

One SQLite transaction per batch holds the rows, the rows they replace (changed items) and
the counters (next cluster id, index version, layout, and how many records of the vector file
are committed, with their CRC: ``storage.vector_file``, synced before the transaction), so
after a crash the engine restarts from the last committed batch. The reducer and vector index
are derived state: saved per index version, rebuilt when missing; so are the representatives
(from the rows' profiles).

This module knows the store, not the engine: ``batch_meta`` spells the counters a batch
commits, ``load_state`` gives back everything the store holds as a ``StoredState``, and
``index_server.state_store`` reads the engine's ``IndexState`` into the one and applies the
other to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from index_server.integration import LevelLayout
from index_server.storage.cluster_store import ClusterStore, StoredItem


@dataclass(frozen=True)
class StoredState:
    """The committed index: rows in row order, families, aliases and the counters."""

    layout: LevelLayout
    encoder: str  # the encoder the index's vectors come from; "" when not recorded
    items: list[StoredItem]
    families: dict[int, int]  # cluster -> family, where they differ
    aliases: dict[int, int]
    next_cluster: int
    index_version: int
    fit_size: int
    # the vector file's committed state (codec, rows, crc32); None: a store from before it,
    # whose rows carry float16 vectors
    vectors: dict[str, Any] | None


def batch_meta(
    layout: LevelLayout,
    next_cluster: int,
    index_version: int,
    fit_size: int,
    encoder: str,
    representative: str,
    vectors: dict[str, Any],
) -> dict[str, Any]:
    """The counters committed with every batch (``load_state`` reads them back)."""
    return {
        "vectors": vectors,
        "layout": layout.to_json(),
        "next_cluster": next_cluster,
        "index_version": index_version,
        "fit_size": fit_size,
        "encoder": encoder,
        "representative": representative,
    }


def load_state(store: ClusterStore) -> StoredState | None:
    """Everything ``store`` holds for the engine; None for a store nothing was committed to."""
    meta = store.get_meta()
    if "layout" not in meta:
        return None
    layout = LevelLayout.from_json(meta["layout"])
    items = list(store.iter_items(layout.total))
    families = store.families()
    return StoredState(
        layout=layout,
        encoder=str(meta.get("encoder", "")),
        items=items,
        families=families,
        aliases=store.aliases(),
        next_cluster=int(meta.get("next_cluster", 1)),
        index_version=int(meta.get("index_version", 0)),
        fit_size=int(meta.get("fit_size", 0)),
        vectors=meta.get("vectors"),
    )
