"""A concept cache any CHIE backend can put in front of an expensive model.

Keyed by (item content hash, model, prompt version): re-extracting an unchanged item skips the
model, and changing the model or the prompt invalidates every entry without a flush. An LRU in
memory, optionally backed by a SQLite file so hits survive a restart.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from fitrep.domain import Anchors, ConceptSet, Item, Level

from mllm_server.chie.kv_cache import KVCache, SqliteTable


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
            "anchors": concepts.anchors.to_json(),
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
        anchors=Anchors.from_json(data["anchors"]),
        backend=data["backend"],
        version=data["version"],
    )


class ConceptCache:
    """Thread-safe LRU of ConceptSets; ``path`` adds a SQLite file behind the LRU.

    ``get`` returns a fresh ConceptSet carrying the caller's item id, so one cached answer
    serves every item with the same content.
    """

    def __init__(self, max_entries: int = 100_000, path: str | Path | None = None) -> None:
        table = None
        if path is not None:
            table = SqliteTable(
                path,
                "concepts",
                "content_hash TEXT, model TEXT, prompt_version TEXT, value TEXT,"
                " PRIMARY KEY (content_hash, model, prompt_version)",
                keys=["content_hash", "model", "prompt_version"],
                value="value",
            )
        # Values stay encoded (JSON) in memory too: each hit decodes a fresh ConceptSet.
        self._cache: KVCache[tuple[str, str, str], str] = KVCache(max_entries, table)
        self.max_entries = max_entries

    def __len__(self) -> int:
        return len(self._cache)

    def get(self, item: Item, model: str, prompt_version: str) -> ConceptSet | None:
        raw = self._cache.get((content_hash(item), model, prompt_version))
        return None if raw is None else _decode(item.id, raw)

    def put(self, item: Item, model: str, prompt_version: str, concepts: ConceptSet) -> None:
        self._cache.put((content_hash(item), model, prompt_version), _encode(concepts))

    def close(self) -> None:
        self._cache.close()
