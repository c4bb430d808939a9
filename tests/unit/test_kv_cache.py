"""KVCache: LRU in memory, write-through SQLite table, best effort on a broken table."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mllm_server.chie.kv_cache import KVCache, SqliteTable


def _table(path: Path) -> SqliteTable:
    return SqliteTable(path, "kv", "k TEXT PRIMARY KEY, v TEXT", keys=["k"], value="v")


def test_table_hits_survive_a_restart_and_are_remembered(tmp_path: Path) -> None:
    first = KVCache[str, str](1, _table(tmp_path / "kv.sqlite"), table_key=lambda k: (k,))
    first.put_many([("a", "1"), ("b", "2")])
    assert len(first) == 1  # "a" evicted from memory only
    first.close()
    second = KVCache[str, str](2, _table(tmp_path / "kv.sqlite"), table_key=lambda k: (k,))
    assert second.get_many(["a", "b", "c"]) == {"a": "1", "b": "2"}
    assert (second.hits, second.table_hits, len(second)) == (0, 2, 2)
    assert second.get("a") == "1" and second.hits == 1


def test_a_broken_table_is_an_error_unless_best_effort(tmp_path: Path) -> None:
    table = _table(tmp_path / "kv.sqlite")
    table.db.close()
    with pytest.raises(sqlite3.Error):
        KVCache[str, str](4, table, table_key=lambda k: (k,)).get("a")
    cache = KVCache[str, str](4, table, table_key=lambda k: (k,), best_effort=True)
    cache.put("a", "1")
    assert cache.get("a") == "1" and cache.get("b") is None
