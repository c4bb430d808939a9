"""Crash-safe output directories for ``fitrep dedup``: a staging directory, a swap, a resume.

A run never writes into ``OUT``. It builds the whole result (index/, clusters.jsonl,
report.html, summary.json, run.json) in the sibling ``OUT.partial`` and, once every file is
written, marks it complete (``run.json``, written atomically) and swaps it in: rename ``OUT``
to ``OUT.old``, rename ``OUT.partial`` to ``OUT``, delete ``OUT.old``. Renames within one
directory are atomic, so a SIGKILL at any moment leaves at ``OUT`` the previous complete run
or the new one, never a mix (the old defect: a kill while rewriting left the old
clusters.jsonl beside an emptied index). The only window without ``OUT`` lies between the two
renames; ``recover`` closes it on the next start, from which of the two is complete.

Staging is a sibling, not a folder inside ``OUT``, so the swap never moves the directory it
is renaming. The name is fixed (not per pid) so that the next run finds it: ``--resume``
continues it, a run without ``--resume`` discards it. An exclusive ``flock`` on
``OUT.partial/LOCK`` keeps two runs off one staging directory.

What a resume reuses: the CHIE + encoding output, checkpointed one pipeline batch at a time
(``EmbeddingCheckpoint``, SQLite, one transaction per batch). Each batch is the same slice of
the input as in an uninterrupted run, so the resumed run hands the index the same embedded
items. The index build itself is one store transaction (``IndexEngine.build`` fits SPDR on all
items before deciding any), so it has no partial state worth keeping: a resume rebuilds it
from the checkpointed items, which gives the same ids (FBC decides item i from the items
before it, in input order). ``run.json`` records the input's SHA-256 and the settings that
change the result; ``--resume`` refuses a staging directory made from other ones.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import shutil
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fitrep.domain import (
    Anchors,
    ConceptSet,
    EmbeddedItem,
    FitrepError,
    InvalidInput,
    ItemProfile,
    Level,
    LevelEmbeddings,
)
from index_server.storage.atomic import atomic_write_text, fsync_path
from index_server.storage.snapshot import file_sha256

__all__ = ["file_sha256"]  # re-exported: the CLI names its input and calibration by it

MANIFEST = "run.json"
# the concept stage's checkpoint (a staging directory of an earlier format, "embedded.sqlite"
# of protobuf items, is resumed without it: its concept stage runs again)
CHECKPOINT = "embedded-v2.sqlite"
_LE_F32 = np.dtype("<f4")
LOCK = "LOCK"
LABELS = "labels.jsonl"  # ``fitrep label``'s answers about this run's pairs
LABEL_CALIBRATION = "label-calibration.json"  # and the calibration it fitted on them
# A person's labels outlive the run they were given on (they name items, not rows): a new run
# into OUT, e.g. with ``--calibration OUT/label-calibration.json``, carries them over.
CARRIED = (LABELS, LABEL_CALIBRATION)
# What a run writes into its directory; anything else in OUT is not ours to delete.
RUN_ENTRIES = frozenset(
    {
        "index",
        "clusters.jsonl",
        "clusters.jsonl.tmp",
        "clusters.parquet",
        "clusters.parquet.tmp",
        "report.html",
        "summary.json",
        MANIFEST,
        *CARRIED,
    }
)


def _checkpoint_files() -> tuple[str, ...]:
    return (CHECKPOINT, f"{CHECKPOINT}-wal", f"{CHECKPOINT}-shm")


class RunInUse(FitrepError):
    """Another ``fitrep dedup`` is writing the same output directory."""


class CannotResume(FitrepError):
    """``--resume`` found an unfinished run of another input or other settings."""


def staging_dir(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


def old_dir(out: Path) -> Path:
    return out.with_name(out.name + ".old")


def _read_manifest(run: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((run / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _is_complete(run: Path) -> bool:
    manifest = _read_manifest(run)
    return bool(manifest and manifest.get("complete"))


def _write_manifest(run: Path, manifest: dict[str, Any]) -> None:
    """Atomically (temp file, fsync, rename): the manifest is the completion marker, never
    half there."""
    atomic_write_text(run / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def recover(out: Path) -> None:
    """Finish or undo a swap a kill interrupted; drop an ``OUT.old`` a kill left behind."""
    staging, old = staging_dir(out), old_dir(out)
    if staging.is_dir() and _is_complete(staging):
        # Killed after the new run was marked complete: finish its swap.
        if out.exists():
            if old.exists():
                shutil.rmtree(old)
            out.rename(old)
        staging.rename(out)
    elif not out.exists() and old.is_dir():
        old.rename(out)  # killed between the renames before the new run was complete: undo
    if out.exists() and old.is_dir():
        shutil.rmtree(old)


def check_replaceable(out: Path) -> None:
    """``OUT`` is replaced whole by the swap, so it may hold only what a run writes there
    (or nothing): ``--out .`` or a folder of the user's own files must not be deleted."""
    if not out.is_dir():
        return
    foreign = sorted(p.name for p in out.iterdir() if p.name not in RUN_ENTRIES)
    if foreign:
        raise InvalidInput(
            "--out",
            f"{out} holds files that are not from a fitrep run ({', '.join(foreign[:3])}); "
            "a run replaces its output directory whole: give a new or empty directory",
        )


class StagingDir:
    """``OUT.partial`` for one run, locked; ``resumed`` tells whether earlier work is kept."""

    def __init__(self, out: Path, manifest: dict[str, Any], resume: bool) -> None:
        """``manifest``: what the result depends on (input path and SHA-256, settings)."""
        self.out = out
        self.path = staging_dir(out)
        self.manifest = {**manifest, "complete": False}
        self.path.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.release()
            raise RunInUse(f"{self.path} is in use by another fitrep dedup") from None
        try:
            found = _read_manifest(self.path)
            self.resumed = resume and found is not None and self._check_same(found)
            # A resume keeps the checkpoint only: the index build is one transaction, redone.
            keep = {LOCK, MANIFEST, *_checkpoint_files()} if self.resumed else {LOCK}
            self.discarded = self._clear(keep)
            _write_manifest(self.path, self.manifest)
        except BaseException:
            self.release()
            raise

    def _check_same(self, found: dict[str, Any]) -> bool:
        for key, want in self.manifest.items():
            if key != "complete" and found.get(key) != want:
                what = "input file changed" if key == "input_sha256" else f"{key} differs"
                raise CannotResume(
                    f"cannot resume {self.path}: {what} since the interrupted run "
                    f"({found.get(key)!r}, now {want!r}); run without --resume to start over"
                )
        return True

    def _clear(self, keep: set[str]) -> bool:
        """Delete what is not in ``keep``; whether there was an earlier run's work."""
        found = False
        for entry in self.path.iterdir():
            if entry.name in keep:
                continue
            found = found or entry.name != MANIFEST
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        return found

    @property
    def index_dir(self) -> Path:
        return self.path / "index"

    def checkpoint(self) -> EmbeddingCheckpoint:
        return EmbeddingCheckpoint(self.path / CHECKPOINT)

    def commit(self) -> None:
        """Mark the staged run complete and swap it in at ``OUT``.

        The checkpoint and the lock file are dropped first: a complete run needs neither.
        The labelling files of the run it replaces are copied in (``CARRIED``).
        """
        for name in _checkpoint_files():
            (self.path / name).unlink(missing_ok=True)
        (self.path / LOCK).unlink(missing_ok=True)
        for name in CARRIED:
            if (self.out / name).is_file():
                shutil.copy2(self.out / name, self.path / name)
        _write_manifest(self.path, {**self.manifest, "complete": True})
        fsync_path(self.path)
        old = old_dir(self.out)
        if old.exists():
            shutil.rmtree(old)
        if self.out.exists():
            self.out.rename(old)
        self.path.rename(self.out)
        fsync_path(self.out.parent)
        self.release()
        if old.exists():
            shutil.rmtree(old)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


class EmbeddingCheckpoint:
    """The concept stage's output so far: ``pos`` (input position) -> the item, one SQLite
    transaction per batch, so a kill keeps whole batches.

    An item is kept as JSON (ids, concepts, anchors, profile, and the dtype and shape of each
    array) beside its arrays' little-endian bytes (``_pack``): half the cost of ``fitrep.v1``
    EmbeddedItem bytes (29 against 62 us an item to write, 61 against 84 to read), and read
    back only by the run that wrote it or its ``--resume``, so no contract to keep. Both give
    the items the wire would (vectors as 1-d float32, arrays in their own dtype). WAL with
    ``synchronous=NORMAL``: a killed process loses no committed batch; a power cut may lose
    the last ones, which a resume then computes again."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(str(path))
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS items (pos INTEGER PRIMARY KEY, meta TEXT, arrays BLOB)"
        )

    def done(self) -> list[EmbeddedItem]:
        """The checkpointed items from position 0 on, up to the first gap."""
        out: list[EmbeddedItem] = []
        for pos, meta, arrays in self.db.execute(
            "SELECT pos, meta, arrays FROM items ORDER BY pos"
        ):
            if pos != len(out):
                break
            out.append(_unpack(meta, arrays))
        return out

    def save(self, start: int, batch: Sequence[EmbeddedItem]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO items (pos, meta, arrays) VALUES (?, ?, ?)",
                [(start + i, *_pack(it)) for i, it in enumerate(batch)],
            )

    def close(self) -> None:
        self.db.close()


def _pack(item: EmbeddedItem) -> tuple[str, bytes]:
    """``item`` as JSON and the bytes of its arrays (level vectors, then image features)."""
    concepts, emb = item.concepts, item.embeddings
    arrays = [np.ascontiguousarray(v, dtype=_LE_F32) for v in emb.vectors.values()]
    images = [np.asarray(v) for v in concepts.image_features.values()]
    meta = {
        "id": concepts.item_id,
        "levels": [[int(lv), list(words)] for lv, words in concepts.levels.items()],
        "anchors": concepts.anchors.to_json(),
        "backend": concepts.backend,
        "version": concepts.version,
        "profile": concepts.profile.to_json(),
        "embeddings_id": emb.item_id,
        "encoder": emb.encoder,
        "vectors": [[int(lv), a.size] for lv, a in zip(emb.vectors, arrays, strict=True)],
        "images": [
            [name, a.dtype.name, list(a.shape)]
            for name, a in zip(concepts.image_features, images, strict=True)
        ],
    }
    arrays += [np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")) for a in images]
    return json.dumps(meta, separators=(",", ":")), b"".join(a.tobytes() for a in arrays)


def _unpack(meta_text: str, data: bytes) -> EmbeddedItem:
    meta, at = json.loads(meta_text), 0

    def take(dtype: np.dtype[Any], shape: Sequence[int]) -> np.ndarray:
        nonlocal at
        count = math.prod(shape)
        le = np.frombuffer(data, dtype.newbyteorder("<"), count, at) if count else np.zeros(0)
        at += count * dtype.itemsize
        return le.reshape(shape).astype(dtype.newbyteorder("="))

    vectors = {Level(lv): take(_LE_F32, (size,)) for lv, size in meta["vectors"]}
    images = {name: take(np.dtype(dtype), shape) for name, dtype, shape in meta["images"]}
    concepts = ConceptSet(
        item_id=meta["id"],
        levels={Level(lv): words for lv, words in meta["levels"]},
        anchors=Anchors.from_json(meta["anchors"]),
        image_features=images,
        backend=meta["backend"],
        version=meta["version"],
        profile=ItemProfile.from_json(meta["profile"]),
    )
    embeddings = LevelEmbeddings(meta["embeddings_id"] or meta["id"], vectors, meta["encoder"])
    return EmbeddedItem(concepts=concepts, embeddings=embeddings)
