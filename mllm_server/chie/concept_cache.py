"""A concept cache any CHIE backend can put in front of an expensive model.

Keyed by (item content hash, model, prompt version): re-extracting an unchanged item skips the
model, and changing the model or the prompt invalidates every entry without a flush. An LRU in
memory, optionally backed by a SQLite file so hits survive a restart.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path

from fitrep.domain import ConceptSet, Item, Level


def content_hash(item: Item) -> str:
    """SHA-256 over everything the model reads: title, text, attributes and image bytes.

    The item id is left out on purpose: two ids with identical content share one answer.
    """
    digest = hashlib.sha256()
    payload = {
        "title": item.title,
        "text": item.text,
        "attributes": sorted(item.attributes.items()),
    }
    digest.update(json.dumps(payload, ensure_ascii=False, sort_keys=True).encode())
    digest.update(b"\x00image\x00")
    if isinstance(item.image, bytes):
        digest.update(item.image)
    elif item.image is not None:
        digest.update(Path(item.image).read_bytes())
    return digest.hexdigest()


def _encode(concepts: ConceptSet) -> str:
    """Levels and anchors only; pixel features are cheap to recompute and not JSON."""
    return json.dumps(
        {
            "levels": {level.name: values for level, values in concepts.levels.items()},
            "anchors": concepts.anchors,
            "backend": concepts.backend,
            "version": concepts.version,
        },
        ensure_ascii=False,
    )


def _decode(item_id: str, raw: str) -> ConceptSet:
    data = json.loads(raw)
    return ConceptSet(
        item_id=item_id,
        levels={Level[name]: list(values) for name, values in data["levels"].items()},
        anchors={k: list(v) for k, v in data["anchors"].items()},
        backend=data["backend"],
        version=data["version"],
    )


class ConceptCache:
    """Thread-safe LRU of ConceptSets; ``path`` adds a SQLite file behind the LRU.

    ``get`` returns a fresh ConceptSet carrying the caller's item id, so one cached answer
    serves every item with the same content.
    """

    def __init__(self, max_entries: int = 100_000, path: str | Path | None = None) -> None:
        if max_entries < 0:
            raise ValueError("max_entries must be >= 0")
        self.max_entries = max_entries
        self._lru: OrderedDict[tuple[str, str, str], str] = OrderedDict()
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if path is not None:
            # One connection shared by the engine thread and callers, guarded by _lock.
            self._db = sqlite3.connect(str(path), check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS concepts (content_hash TEXT, model TEXT,"
                " prompt_version TEXT, value TEXT,"
                " PRIMARY KEY (content_hash, model, prompt_version))"
            )
            self._db.commit()

    def __len__(self) -> int:
        return len(self._lru)

    def get(self, item: Item, model: str, prompt_version: str) -> ConceptSet | None:
        key = (content_hash(item), model, prompt_version)
        with self._lock:
            raw = self._lru.get(key)
            if raw is not None:
                self._lru.move_to_end(key)
            elif self._db is not None:
                row = self._db.execute(
                    "SELECT value FROM concepts WHERE content_hash=? AND model=? AND"
                    " prompt_version=?",
                    key,
                ).fetchone()
                if row is not None:
                    raw = row[0]
                    self._remember(key, raw)
        return None if raw is None else _decode(item.id, raw)

    def put(self, item: Item, model: str, prompt_version: str, concepts: ConceptSet) -> None:
        key = (content_hash(item), model, prompt_version)
        raw = _encode(concepts)
        with self._lock:
            self._remember(key, raw)
            if self._db is not None:
                self._db.execute("INSERT OR REPLACE INTO concepts VALUES (?, ?, ?, ?)", (*key, raw))
                self._db.commit()

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _remember(self, key: tuple[str, str, str], raw: str) -> None:
        if self.max_entries == 0:
            return
        self._lru[key] = raw
        self._lru.move_to_end(key)
        while len(self._lru) > self.max_entries:
            self._lru.popitem(last=False)
