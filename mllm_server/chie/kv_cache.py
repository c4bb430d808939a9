"""One cache shape for CHIE: a bounded in-memory LRU in front of an optional SQLite table.

Used by the encoder's string-embedding cache (``encoder.py``) and the concept cache
(``concept_cache.py``); each keeps its own keys, value format and table, so existing cache
files still load. The table is the durable layer (hits survive a restart), the LRU the fast
one; a value found only in the table is remembered in memory.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_CHUNK = 500  # keys per SELECT ... IN (...), below SQLite's bound-parameter limit


def user_cache_dir() -> Path:
    """``fitrep`` under ``$XDG_CACHE_HOME`` or ``~/.cache``: where every CHIE cache lives."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fitrep"


def user_cache_path(env: str, name: str) -> Path | None:
    """``$env`` ("" turns that cache off: None), else ``name`` in ``user_cache_dir()``."""
    value = os.environ.get(env)
    if value is not None:
        return Path(value) if value else None
    return user_cache_dir() / name


class SqliteTable:
    """One key -> value table in a SQLite file (WAL); one connection shared behind a lock.

    ``columns`` is the table's column list as existing files have it, e.g.
    ``"key BLOB PRIMARY KEY, vec BLOB NOT NULL"``; ``keys`` name its key columns and ``value``
    its value column.
    """

    def __init__(
        self,
        path: str | Path,
        name: str,
        columns: str,
        keys: Sequence[str],
        value: str,
        *,
        timeout: float = 5.0,
        synchronous: str | None = None,
    ) -> None:
        self.name, self.keys, self.value = name, tuple(keys), value
        self._lock = threading.Lock()
        self.db = sqlite3.connect(str(path), check_same_thread=False, timeout=timeout)
        self.db.execute("PRAGMA journal_mode=WAL")
        if synchronous:
            self.db.execute(f"PRAGMA synchronous={synchronous}")
        self.db.execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")
        self.db.commit()

    def get_many(self, keys: Sequence[tuple[Any, ...]]) -> dict[tuple[Any, ...], Any]:
        """The stored value of each key that has one (keys are tuples, one per key column)."""
        found: dict[tuple[Any, ...], Any] = {}
        with self._lock:
            if len(self.keys) == 1:
                flat = [k[0] for k in keys]
                for start in range(0, len(flat), _CHUNK):
                    part = flat[start : start + _CHUNK]
                    rows = self.db.execute(
                        f"SELECT {self.keys[0]}, {self.value} FROM {self.name}"
                        f" WHERE {self.keys[0]} IN ({','.join('?' * len(part))})",
                        part,
                    )
                    found.update(((key,), value) for key, value in rows)
            else:
                where = " AND ".join(f"{k}=?" for k in self.keys)
                for key in keys:
                    row = self.db.execute(
                        f"SELECT {self.value} FROM {self.name} WHERE {where}", key
                    ).fetchone()
                    if row is not None:
                        found[key] = row[0]
        return found

    def put_many(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Insert or replace ``(*key, value)`` rows in one transaction."""
        columns = (*self.keys, self.value)
        sql = (
            f"INSERT OR REPLACE INTO {self.name} ({', '.join(columns)})"
            f" VALUES ({', '.join('?' * len(columns))})"
        )
        with self._lock, self.db:
            self.db.executemany(sql, list(rows))

    def close(self) -> None:
        with self._lock:
            self.db.close()


def _same(x: Any) -> Any:
    return x


class KVCache(Generic[K, V]):
    """Thread-safe LRU of at most ``max_entries`` values, optionally backed by ``table``.

    ``table_key`` turns a key into its table row key (a tuple), ``dump`` / ``load`` a value
    into its stored form and back (``load`` returns None to reject a stored value).
    ``best_effort``: a table that fails to read or write is skipped, never an error.
    ``hits`` / ``table_hits`` count values found in memory / only in the table.
    """

    def __init__(
        self,
        max_entries: int,
        table: SqliteTable | None = None,
        *,
        table_key: Callable[[K], tuple[Any, ...]] = _same,
        dump: Callable[[V], Any] = _same,
        load: Callable[[Any], V | None] = _same,
        best_effort: bool = False,
    ) -> None:
        if max_entries < 0:
            raise ValueError("max_entries must be >= 0")
        self.max_entries = max_entries
        self.table = table
        self._table_key, self._dump, self._load = table_key, dump, load
        self.best_effort = best_effort
        self._lru: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.table_hits = 0

    def __len__(self) -> int:
        return len(self._lru)

    def get(self, key: K) -> V | None:
        return self.get_many([key]).get(key)

    def get_many(self, keys: Sequence[K]) -> dict[K, V]:
        """The value of each key found in memory, else in the table (then remembered)."""
        found: dict[K, V] = {}
        missing: list[K] = []
        with self._lock:
            for key in keys:
                value = self._lru.get(key)
                if value is None:
                    missing.append(key)
                else:
                    self._lru.move_to_end(key)
                    found[key] = value
            self.hits += len(found)
        table = self.table
        if missing and table is not None:
            wanted = {self._table_key(key): key for key in missing}
            try:
                stored = table.get_many(list(wanted))
            except sqlite3.Error:
                if not self.best_effort:
                    raise
                stored = {}
            loaded = {
                wanted[k]: v for k, raw in stored.items() if (v := self._load(raw)) is not None
            }
            with self._lock:
                for key, value in loaded.items():
                    self._remember(key, value)
                self.table_hits += len(loaded)
            found.update(loaded)
        return found

    def put(self, key: K, value: V) -> None:
        self.put_many([(key, value)])

    def put_many(self, pairs: Sequence[tuple[K, V]]) -> None:
        """Remember ``pairs`` in memory and write them through to the table."""
        with self._lock:
            for key, value in pairs:
                self._remember(key, value)
        table = self.table
        if table is not None:
            try:
                table.put_many((*self._table_key(k), self._dump(v)) for k, v in pairs)
            except sqlite3.Error:
                if not self.best_effort:
                    raise  # best effort: a full or read-only disk only costs a recompute

    def close(self) -> None:
        if self.table is not None:
            self.table.close()
            self.table = None

    def _remember(self, key: K, value: V) -> None:
        if self.max_entries == 0:
            return
        self._lru[key] = value
        self._lru.move_to_end(key)
        while len(self._lru) > self.max_entries:
            self._lru.popitem(last=False)
