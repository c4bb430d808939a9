"""A concept cache any CHIE backend can put in front of an expensive model.

Keyed by (item content hash, model, prompt version): re-extracting an unchanged item skips the
model, and changing the model or the prompt invalidates every entry without a flush. An LRU in
memory, optionally backed by a SQLite file so hits survive a restart.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import fitrep
from fitrep.domain import Anchors, ConceptSet, Item, Level

from mllm_server.chie.kv_cache import KVCache, SqliteTable, user_cache_path

_LEVELS = {level.name: level for level in Level}  # Level[name] is an enum lookup per call
_LIBRARIES = ("regex", "ftfy")  # the text libraries whose behaviour the rules read through


def rules_cache_path() -> Path | None:
    """``$FITREP_CONCEPT_CACHE`` ("" turns it off), else the user cache dir."""
    return user_cache_path("FITREP_CONCEPT_CACHE", "concepts-cache.sqlite")


@functools.cache
def code_fingerprint() -> str:
    """A digest of the code a code-defined backend (``rules``) answers with: every module of
    ``mllm_server.chie`` and of the ``fitrep`` package's top level (the domain types), the text
    libraries' versions and Python's (``unicodedata`` moves with it). Any edit, upgrade or
    reinstall of a different version gives a new digest, so the concept cache can never serve
    an answer the running code would not give; a version constant alone relies on every edit
    remembering to bump it."""
    digest = hashlib.sha256(sys.version.encode())
    for name in _LIBRARIES:
        try:
            digest.update(f"{name}={importlib.metadata.version(name)}".encode())
        except importlib.metadata.PackageNotFoundError:
            digest.update(f"{name}=none".encode())
    for root in (Path(__file__).parent, Path(fitrep.__file__).parent):
        for path in sorted(root.glob("*.py")):
            digest.update(path.name.encode() + b"\x00" + path.read_bytes())
    return digest.hexdigest()[:24]


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
        levels={_LEVELS[name]: values for name, values in data["levels"].items()},
        anchors=Anchors.from_json(data["anchors"]),
        backend=data["backend"],
        version=data["version"],
    )


class ConceptCache:
    """Thread-safe LRU of ConceptSets; ``path`` adds a SQLite file behind the LRU.

    ``get`` returns a fresh ConceptSet carrying the caller's item id, so one cached answer
    serves every item with the same content.
    """

    def __init__(
        self,
        max_entries: int = 100_000,
        path: str | Path | None = None,
        *,
        best_effort: bool = False,
    ) -> None:
        """``best_effort``: a cache file that cannot be read or written is skipped, never an
        error (for a cache in front of a backend that can always recompute)."""
        table = None
        if path is not None:
            table = SqliteTable(
                path,
                "concepts",
                "content_hash TEXT, model TEXT, prompt_version TEXT, value TEXT,"
                " PRIMARY KEY (content_hash, model, prompt_version)",
                keys=["content_hash", "model", "prompt_version"],
                value="value",
                timeout=10,
                synchronous="NORMAL",  # a cache: WAL without a sync per commit
            )
        # Values stay encoded (JSON) in memory too: each hit decodes a fresh ConceptSet.
        self._cache: KVCache[tuple[str, str, str], str] = KVCache(
            max_entries, table, best_effort=best_effort
        )
        self.max_entries = max_entries

    def __len__(self) -> int:
        return len(self._cache)

    def get(self, item: Item, model: str, prompt_version: str) -> ConceptSet | None:
        raw = self._cache.get((content_hash(item), model, prompt_version))
        return None if raw is None else _decode(item.id, raw)

    def put(self, item: Item, model: str, prompt_version: str, concepts: ConceptSet) -> None:
        self._cache.put((content_hash(item), model, prompt_version), _encode(concepts))

    def get_many(
        self, items: Sequence[Item], model: str, prompt_version: str
    ) -> list[ConceptSet | None]:
        """``get`` for many items with one table read: the answer or None, item by item."""
        keys = [(content_hash(item), model, prompt_version) for item in items]
        found = self._cache.get_many(keys)
        return [
            None if (raw := found.get(key)) is None else _decode(item.id, raw)
            for item, key in zip(items, keys, strict=True)
        ]

    def put_many(
        self, answers: Sequence[tuple[Item, ConceptSet]], model: str, prompt_version: str
    ) -> None:
        """``put`` for many items in one transaction."""
        self._cache.put_many(
            [((content_hash(item), model, prompt_version), _encode(cs)) for item, cs in answers]
        )

    def close(self) -> None:
        self._cache.close()
