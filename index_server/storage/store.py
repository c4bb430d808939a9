"""The cluster store: SQLite in WAL mode. Items, their concepts and vectors, cluster ids,
aliases and metadata.

Every assign batch is one transaction, so after a crash the store holds the last
committed assignment: no lost and no duplicated ids. The FAISS index and the reducer are
files derived from this store and can always be rebuilt from it.
"""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from fitrep.domain import Anchors

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    row INTEGER PRIMARY KEY,
    item_id TEXT UNIQUE NOT NULL,
    cluster INTEGER NOT NULL,
    nearest TEXT NOT NULL DEFAULT '',
    similarity REAL NOT NULL DEFAULT 0,
    confidence REAL NOT NULL DEFAULT 1,
    is_new INTEGER NOT NULL DEFAULT 1,
    deleted INTEGER NOT NULL DEFAULT 0,
    levels TEXT NOT NULL,
    anchors TEXT NOT NULL,
    vector BLOB NOT NULL,
    image BLOB
);
CREATE INDEX IF NOT EXISTS items_cluster ON items(cluster);
CREATE TABLE IF NOT EXISTS aliases (alias INTEGER PRIMARY KEY, target INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS families (cluster INTEGER PRIMARY KEY, family INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass
class StoredItem:
    row: int
    item_id: str
    cluster: int
    vector: np.ndarray  # unweighted full vector, float16 on disk
    levels: dict[str, list[str]]
    anchors: Anchors
    image_features: dict[str, np.ndarray] = field(default_factory=dict)
    nearest: str = ""
    similarity: float = 0.0
    confidence: float = 1.0
    is_new: bool = True
    deleted: bool = False


def _pack_arrays(arrays: dict[str, np.ndarray]) -> bytes | None:
    if not arrays:
        return None
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]  # names are array keys
    return buf.getvalue()


def _unpack_arrays(blob: bytes | None) -> dict[str, np.ndarray]:
    if not blob:
        return {}
    with np.load(io.BytesIO(blob)) as data:
        return {k: data[k] for k in data.files}


class ClusterStore:
    """SQLite persistence; ``path=None`` keeps everything in memory (tests, one-shot runs)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path) if path else ":memory:", check_same_thread=False)
        if path is not None:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def get_meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.db.execute("SELECT key, value FROM meta")}

    def commit(
        self,
        items: Sequence[StoredItem] = (),
        meta: dict[str, Any] | None = None,
        deleted_rows: Sequence[int] = (),
        aliases: dict[int, int] | None = None,
        families: dict[int, int] | None = None,
    ) -> None:
        """Write everything of one batch atomically (``families``: cluster -> family of the
        clusters the batch opened; a cluster without a row is its own family)."""
        with self.db:
            self.db.executemany(
                "INSERT INTO items (row, item_id, cluster, nearest, similarity, confidence, is_new,"
                " deleted, levels, anchors, vector, image) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        it.row,
                        it.item_id,
                        it.cluster,
                        it.nearest,
                        it.similarity,
                        it.confidence,
                        int(it.is_new),
                        int(it.deleted),
                        json.dumps(it.levels),
                        json.dumps(it.anchors.to_json()),
                        np.asarray(it.vector, np.float16).tobytes(),
                        _pack_arrays(it.image_features),
                    )
                    for it in items
                ],
            )
            if deleted_rows:
                self.db.executemany(
                    "UPDATE items SET deleted = 1 WHERE row = ?", [(r,) for r in deleted_rows]
                )
            if aliases:
                self.db.executemany(
                    "INSERT OR REPLACE INTO aliases (alias, target) VALUES (?, ?)", aliases.items()
                )
            if families:
                self.db.executemany(
                    "INSERT OR REPLACE INTO families (cluster, family) VALUES (?, ?)",
                    families.items(),
                )
            if meta:
                self.db.executemany(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                    [(k, json.dumps(v)) for k, v in meta.items()],
                )

    def iter_items(self, dim: int) -> Iterator[StoredItem]:
        cursor = self.db.execute(
            "SELECT row, item_id, cluster, nearest, similarity, confidence, is_new, deleted,"
            " levels, anchors, vector, image FROM items ORDER BY row"
        )
        for r in cursor:
            vector = np.frombuffer(r[10], dtype=np.float16)
            if vector.size != dim:
                raise RuntimeError(
                    f"stored vector of row {r[0]} has {vector.size} values, not {dim}"
                )
            yield StoredItem(
                row=r[0],
                item_id=r[1],
                cluster=r[2],
                nearest=r[3],
                similarity=r[4],
                confidence=r[5],
                is_new=bool(r[6]),
                deleted=bool(r[7]),
                levels=json.loads(r[8]),
                anchors=Anchors.from_json(json.loads(r[9])),
                vector=vector,
                image_features=_unpack_arrays(r[11]),
            )

    def levels_of(self, row: int) -> dict[str, list[str]]:
        found = self.db.execute("SELECT levels FROM items WHERE row = ?", (row,)).fetchone()
        return json.loads(found[0]) if found else {}

    def aliases(self) -> dict[int, int]:
        return dict(self.db.execute("SELECT alias, target FROM aliases"))

    def families(self) -> dict[int, int]:
        return dict(self.db.execute("SELECT cluster, family FROM families"))

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM items WHERE deleted = 0").fetchone()[0])

    def backup(self, path: Path) -> None:
        """A consistent copy while the store stays open (SQLite online backup)."""
        target = sqlite3.connect(str(path))
        try:
            self.db.backup(target)
        finally:
            target.close()

    def close(self) -> None:
        self.db.close()
