"""The cluster store (``cluster_store.ClusterStore``) in SQLite, WAL mode: items, their
concepts, cluster ids, aliases and metadata; the rows' vectors are in ``storage.vector_file``
beside it (older stores kept them in the ``vector`` column, which is read once to move them
there).

Every assign batch is one transaction, so after a crash the store holds the last
committed assignment: no lost and no duplicated ids. The FAISS index and the reducer are
files derived from this store and can always be rebuilt from it.

Rows are append-only: an item whose content changed gets a new row, and its old row is
marked deleted with ``replaced_by`` set, so one item id may have several rows but only one
current one (a partial unique index). Stores written before that (``item_id UNIQUE``) are
migrated in one transaction when opened.

A store that cannot be read (a damaged file, rows that do not decode) raises ``CorruptStore``
naming the file, never a bare SQLite or decoding error.
"""

from __future__ import annotations

import io
import json
import logging
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from fitrep.domain import Anchors

from index_server.storage.cluster_store import StoredItem
from index_server.storage.faults import DECODE_ERRORS, CorruptStore, is_corruption

log = logging.getLogger("fitrep.index")

_ITEMS = """
CREATE TABLE items (
    row INTEGER PRIMARY KEY,
    item_id TEXT NOT NULL,
    cluster INTEGER NOT NULL,
    nearest TEXT NOT NULL DEFAULT '',
    similarity REAL NOT NULL DEFAULT 0,
    confidence REAL NOT NULL DEFAULT 1,
    is_new INTEGER NOT NULL DEFAULT 1,
    deleted INTEGER NOT NULL DEFAULT 0,
    levels TEXT NOT NULL,
    anchors TEXT NOT NULL,
    vector BLOB NOT NULL,
    image BLOB,
    replaced_by INTEGER,
    first_row INTEGER,
    previous INTEGER NOT NULL DEFAULT 0,
    digest TEXT NOT NULL DEFAULT '',
    profile TEXT NOT NULL DEFAULT '{}'
)"""
# Every column in the order ``_decode`` reads them, with the value a store of the first
# schema stands for (read-only ``--check`` of such a store).
_COLUMNS = (
    *((c, c) for c in ("row", "item_id", "cluster", "nearest", "similarity", "confidence")),
    *((c, c) for c in ("is_new", "deleted", "levels", "anchors", "vector", "image")),
    ("replaced_by", "NULL"),
    ("first_row", "NULL"),
    ("previous", "0"),
    ("digest", "''"),
    ("profile", "'{}'"),
)
_SELECT = ", ".join(c for c, _ in _COLUMNS)
_V1_COLUMNS = (
    "row, item_id, cluster, nearest, similarity, confidence, is_new, deleted, levels, anchors,"
    " vector, image"
)
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS items_cluster ON items(cluster)",
    # one current row per item id; replaced rows keep their id
    "CREATE UNIQUE INDEX IF NOT EXISTS items_current ON items(item_id) WHERE replaced_by IS NULL",
)
_TABLES = (
    "CREATE TABLE IF NOT EXISTS aliases (alias INTEGER PRIMARY KEY, target INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS families (cluster INTEGER PRIMARY KEY, family INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)


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


class SqliteStore:
    """The ``ClusterStore`` in SQLite; ``path=None`` keeps everything in memory (tests,
    one-shot runs)."""

    def __init__(self, path: Path | None = None, read_only: bool = False) -> None:
        """``read_only``: open an existing store without writing to it (``--check``; a
        store of the first schema is read as it is, not migrated)."""
        self.path = path
        if read_only and path is not None:
            self.db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        else:
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(path) if path else ":memory:", check_same_thread=False)
        self._select = _SELECT
        try:
            if read_only:
                self._select = self._read_only_select()
            else:
                if path is not None:
                    self.db.execute("PRAGMA journal_mode=WAL")
                    self.db.execute("PRAGMA synchronous=NORMAL")
                self._create_or_migrate()
        except sqlite3.DatabaseError as exc:
            self.db.close()
            if is_corruption(exc):
                raise self.corrupt(str(exc)) from None
            raise

    def _read_only_select(self) -> str:
        """The row query for the columns this store has (defaults for newer ones)."""
        have = {r[1] for r in self.db.execute("PRAGMA table_info(items)")}
        if not have:
            raise self.corrupt("no items table: not a FITRep store")
        return ", ".join(c if c in have else f"{d} AS {c}" for c, d in _COLUMNS)

    def corrupt(self, detail: str) -> CorruptStore:
        """The error for this store; ``detail`` on one line (SQLite's reports have several)."""
        where = self.path or "the in-memory store"
        return CorruptStore(f"{where} cannot be read: {' '.join(detail.split())}")

    def _create_or_migrate(self) -> None:
        """The current schema; a store of the first schema (``item_id UNIQUE``: one row per
        id) is rebuilt into it in one transaction, so a crash leaves the old or the new one."""
        columns = {r[1] for r in self.db.execute("PRAGMA table_info(items)")}
        if "replaced_by" not in columns:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                if columns:
                    log.info("event=store_migrate path=%s to=append_only_rows", self.path)
                    self.db.execute("ALTER TABLE items RENAME TO items_v1")
                self.db.execute(_ITEMS)
                if columns:
                    self.db.execute(
                        f"INSERT INTO items ({_V1_COLUMNS}) SELECT {_V1_COLUMNS} FROM items_v1"
                    )
                    self.db.execute("DROP TABLE items_v1")
                for statement in (*_INDEXES, *_TABLES):
                    self.db.execute(statement)
                self.db.commit()
            except BaseException:
                self.db.rollback()
                raise
        for statement in _TABLES:
            self.db.execute(statement)

    def get_meta(self) -> dict[str, Any]:
        try:
            return {k: json.loads(v) for k, v in self.db.execute("SELECT key, value FROM meta")}
        except sqlite3.DatabaseError as exc:
            if is_corruption(exc):
                raise self.corrupt(str(exc)) from None
            raise
        except DECODE_ERRORS as exc:
            raise self.corrupt(f"metadata does not decode ({exc})") from None

    def commit(
        self,
        items: Sequence[StoredItem] = (),
        meta: dict[str, Any] | None = None,
        deleted_rows: Sequence[int] = (),
        aliases: dict[int, int] | None = None,
        families: dict[int, int] | None = None,
        replaced: dict[int, int] | None = None,
    ) -> None:
        """Write everything of one batch atomically. ``families``: cluster -> family of the
        clusters the batch opened (a cluster without a row is its own family); ``replaced``:
        old row -> the row of the item's new version (the old one is marked deleted)."""
        with self.db:
            if replaced:  # before the inserts: one current row per id at every statement
                self.db.executemany(
                    "UPDATE items SET deleted = 1, replaced_by = ? WHERE row = ?",
                    [(new, old) for old, new in replaced.items()],
                )
            self.db.executemany(
                "INSERT INTO items (row, item_id, cluster, nearest, similarity, confidence, is_new,"
                " deleted, levels, anchors, vector, image, first_row, previous, digest, profile)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
                        b"" if it.vector is None else np.asarray(it.vector, np.float16).tobytes(),
                        _pack_arrays(it.image_features),
                        it.first_row,
                        it.previous,
                        it.digest,
                        json.dumps(it.profile),
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

    def iter_items(self, dim: int, where: str = "") -> Iterator[StoredItem]:
        """Every row in row order (``where``: an SQL condition on them); CorruptStore names
        the first row that cannot be read."""
        row = -1
        try:
            for r in self.db.execute(f"SELECT {self._select} FROM items {where} ORDER BY row"):
                row = r[0]
                yield self._decode(r, dim)
        except sqlite3.DatabaseError as exc:
            if is_corruption(exc):
                raise self.corrupt(f"{exc} (after row {row})") from None
            raise

    def _decode(self, r: Sequence[Any], dim: int) -> StoredItem:
        try:
            blob = np.frombuffer(r[10], dtype=np.float16)
            if blob.size not in (0, dim) or not isinstance(r[1], str) or not isinstance(r[2], int):
                raise ValueError(f"a vector of {blob.size} values, not {dim}")
            vector = blob if blob.size else None
            return StoredItem(
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
                replaced_by=r[12],
                first_row=r[13],
                previous=r[14],
                digest=r[15],
                profile=json.loads(r[16]),
            )
        except DECODE_ERRORS as exc:
            raise self.corrupt(f"row {r[0]} does not decode ({exc})") from None

    def rows_of(self, rows: Sequence[int], dim: int) -> dict[int, StoredItem]:
        """Stored rows by row number (a batch's known items: their digests and profiles)."""
        if not rows:
            return {}
        marks = ",".join("?" * len(rows))
        query = f"SELECT {self._select} FROM items WHERE row IN ({marks})"
        return {r[0]: self._decode(r, dim) for r in self.db.execute(query, list(rows))}

    def levels_of(self, row: int) -> dict[str, list[str]]:
        found = self.db.execute("SELECT levels FROM items WHERE row = ?", (row,)).fetchone()
        return json.loads(found[0]) if found else {}

    def aliases(self) -> dict[int, int]:
        try:
            return dict(self.db.execute("SELECT alias, target FROM aliases"))
        except sqlite3.DatabaseError as exc:
            if is_corruption(exc):
                raise self.corrupt(str(exc)) from None
            raise

    def families(self) -> dict[int, int]:
        try:
            return dict(self.db.execute("SELECT cluster, family FROM families"))
        except sqlite3.DatabaseError as exc:
            if is_corruption(exc):
                raise self.corrupt(str(exc)) from None
            raise

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
