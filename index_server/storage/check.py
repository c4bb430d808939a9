"""``python -m index_server --check DIR``: verify a data directory offline, writing nothing.

What a server would trip over at start, found before it starts (or after a restore): the
snapshot marker's checksums, SQLite's own ``integrity_check``, every row decoded as a start
decodes it (concepts, anchors, image arrays, profiles), the vector file against the committed
row count and CRC, and the bookkeeping across rows (each replaced row points at a later row
of the same item, one current row per item, cluster ids below the recorded counter). Safe
beside a running server: the store is opened read-only.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fitrep.domain import FitrepError

from index_server.integration import LevelLayout
from index_server.storage.cluster_store import STORE_FILE
from index_server.storage.faults import DECODE_ERRORS, CorruptStore
from index_server.storage.snapshot import verify_snapshot
from index_server.storage.store import SqliteStore
from index_server.storage.vector_file import VECTOR_FILE, verify


def check_data_dir(data_dir: Path) -> str:
    """A one-line summary of a whole store; ``CorruptStore`` or ``BadSnapshot`` (naming the
    file and the first fault) otherwise."""
    path = data_dir / STORE_FILE
    if not data_dir.is_dir():
        raise FitrepError(f"{data_dir} is not a directory")
    if not path.is_file():
        raise FitrepError(f"{data_dir} has no {STORE_FILE}: not an index data directory")
    snapshot = verify_snapshot(data_dir)
    store = SqliteStore(path, read_only=True)
    try:
        return _check(store, path, snapshot)
    except sqlite3.DatabaseError as exc:
        raise store.corrupt(str(exc)) from None
    finally:
        store.close()


def _check(store: SqliteStore, path: Path, snapshot: bool) -> str:
    problems = [r[0] for r in store.db.execute("PRAGMA integrity_check(3)")]
    if problems != ["ok"]:
        found = "; ".join(problems).replace("*** in database main ***", "")
        raise store.corrupt(f"integrity check: {found.strip()}")
    meta = store.get_meta()
    count = store.db.execute("SELECT COUNT(*) FROM items").fetchone()[0]
    if "layout" not in meta:
        if count:
            raise store.corrupt(f"{count} rows but no recorded layout")
        return f"ok: {path}: empty store"
    try:
        layout = LevelLayout.from_json(meta["layout"])
    except DECODE_ERRORS as exc:
        raise store.corrupt(f"the recorded layout does not decode ({exc})") from None
    next_cluster = int(meta.get("next_cluster", 1))
    item_of: dict[int, str] = {}
    current: dict[str, int] = {}
    live = replaced = deleted = 0
    clusters: set[int] = set()
    pointers: list[tuple[int, int]] = []
    for it in store.iter_items(layout.total):
        item_of[it.row] = it.item_id
        if it.cluster >= next_cluster or it.cluster < 1:
            raise _bad(store, it.row, f"cluster {it.cluster} outside 1..{next_cluster - 1}")
        if it.replaced_by is not None:
            replaced += 1
            pointers.append((it.row, it.replaced_by))
            continue
        if it.item_id in current:
            raise _bad(store, it.row, f"a second current row of item {it.item_id!r}")
        current[it.item_id] = it.row
        if it.deleted:
            deleted += 1
        else:
            live += 1
            clusters.add(it.cluster)
    for old, new in pointers:
        if new <= old or item_of.get(new) != item_of[old]:
            raise _bad(store, old, f"replaced by row {new}, not a later row of the same item")
    vectors = meta.get("vectors")
    if vectors is not None:
        try:
            verify(path.parent / VECTOR_FILE, int(vectors["rows"]), int(vectors["crc32"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise store.corrupt(f"the recorded vector file state does not decode ({exc})") from None
        if int(vectors["rows"]) != len(item_of):
            raise store.corrupt(f"{len(item_of)} rows but {vectors['rows']} committed vectors")
    kind = "snapshot" if snapshot else "store"
    return (
        f"ok: {path}: whole {kind}: {live} live items in {len(clusters)} clusters"
        f" ({replaced} replaced and {deleted} deleted rows kept), layout {layout.to_json()}"
    )


def _bad(store: SqliteStore, row: int, detail: str) -> CorruptStore:
    return store.corrupt(f"row {row}: {detail}")
