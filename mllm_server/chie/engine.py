"""ConceptEngine: one backend plus the level encoder, the unit the gRPC servicer and the
in-process Pipeline both drive."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol, runtime_checkable

from fitrep.columns import ColumnRoles
from fitrep.domain import (
    Anchors,
    ConceptSet,
    EmbeddedItem,
    Item,
    ItemProfile,
    Level,
    LevelEmbeddings,
)

from mllm_server import __version__
from mllm_server.chie.encoder import LevelEncoder
from mllm_server.chie.extractor import ConceptExtractor, create_extractor
from mllm_server.chie.image_features import _HIST_BINS, _THUMB
from mllm_server.chie.rules import listed_price
from mllm_server.images import image_pixels

VISUAL_DIM = _HIST_BINS[0] * _HIST_BINS[1] * _HIST_BINS[2] + _THUMB * _THUMB


@runtime_checkable
class ReadsPictures(Protocol):
    """A backend with a separate, slow picture-reading pass (the rules backend's OCR) that
    can report its progress per image; ``extract`` then finds the results in its cache."""

    def read_packages(
        self, items: Sequence[Item], progress: Callable[[int, int], None] | None = None
    ) -> None: ...


def extract_concepts(
    extractor: ConceptExtractor,
    items: Sequence[Item],
    columns: ColumnRoles,
    timeout: float | None = None,
    read_progress: Callable[[int, int], None] | None = None,
) -> list[ConceptSet]:
    """Validate ``items`` and extract their concepts with the item profile (no vectors): the
    part of ``ConceptEngine.process`` a worker process can run on its own. The backend reads
    only the identity and text columns (``columns.identity_view``), the profile every one."""
    for i, item in enumerate(items):
        item.validate(f"items[{i}]")
    if read_progress is not None and isinstance(extractor, ReadsPictures):
        extractor.read_packages(items, read_progress)
    views = [columns.identity_view(item) for item in items]
    return [
        replace(
            cs,
            anchors=with_listed_price(cs.anchors, item, columns),
            profile=ItemProfile.of(item, image_pixels(item.image)),
        )
        for item, cs in zip(items, extractor.extract(views, timeout=timeout), strict=True)
    ]


def with_listed_price(anchors: Anchors, item: Item, columns: ColumnRoles) -> Anchors:
    """The listed price for the verifier's calibrated ``price_gap``, read from the whole item:
    a price column is the listing's, so it is never compared as words or a field, but a gap
    beyond a factor of 1.5 (an upgrade, a six-pack) is more than listing noise
    (docs/architecture.md, "Column roles")."""
    if anchors.price:
        return anchors
    price = listed_price(columns.price_columns(item))
    return replace(anchors, price=(price,)) if price else anchors


class BatchExtractor(Protocol):
    def extract_batch(self, items: Sequence[Item], columns: ColumnRoles) -> list[ConceptSet]: ...

    def close(self) -> None: ...


class ConceptEngine:
    """Extracts concept levels and embeds them, in batches.

    ``columns``: the catalogue's column roles; the backend reads only the identity and text
    columns (``ColumnRoles.identity_view``), the item's profile every column. Without a
    catalogue, roles come from column names (and a server's ``--columns``)."""

    def __init__(
        self,
        extractor: ConceptExtractor,
        encoder: LevelEncoder | None = None,
        columns: ColumnRoles | None = None,
    ) -> None:
        self.extractor = extractor
        self.encoder = encoder if encoder is not None else LevelEncoder()
        self.columns = columns if columns is not None else ColumnRoles()
        self.items_processed = 0
        # Concurrent backends (vLLM) extract in parallel; encoding on CPU gains nothing from
        # overlapping calls, so it runs one batch at a time.
        self._encode_lock = threading.Lock()
        # A server's concurrent calls extract in these processes (``extract_pool``), not on
        # this process's one GIL-bound core.
        self.pool: BatchExtractor | None = None

    @classmethod
    def create(
        cls,
        backend: str = "rules",
        *,
        encoder_runtime: str | None = None,
        columns: ColumnRoles | None = None,
        encoder: str | None = None,
        **backend_options: Any,
    ) -> ConceptEngine:
        """``encoder``: the text model (minilm, static; None: ``$FITREP_ENCODER`` or minilm);
        ``encoder_runtime``: MiniLM's (auto, torch, onnx, onnx-int8; None: the
        ``$FITREP_ENCODER_RUNTIME`` or auto)."""
        level_encoder = LevelEncoder(runtime=encoder_runtime, encoder=encoder)
        return cls(create_extractor(backend, **backend_options), level_encoder, columns)

    def process(
        self,
        items: Sequence[Item],
        embed: bool = True,
        timeout: float | None = None,
        read_progress: Callable[[int, int], None] | None = None,
    ) -> list[EmbeddedItem]:
        """``read_progress(done, total)``: per picture of ``items``, when the backend reads
        pictures in a pass of its own (``ReadsPictures``)."""
        if self.pool is not None:
            concept_sets = self.pool.extract_batch(items, self.columns)
        else:
            concept_sets = extract_concepts(
                self.extractor, items, self.columns, timeout, read_progress
            )
        return self.embed(concept_sets, embed)

    def embed(self, concept_sets: Sequence[ConceptSet], embed: bool = True) -> list[EmbeddedItem]:
        """The level vectors of extracted concepts (none when ``embed`` is False)."""
        with self._encode_lock:
            if embed:
                embeddings = self.encoder.encode(list(concept_sets))
            else:
                embeddings = [LevelEmbeddings(cs.item_id, {}) for cs in concept_sets]
            self.items_processed += len(concept_sets)
        return [EmbeddedItem(cs, emb) for cs, emb in zip(concept_sets, embeddings, strict=True)]

    def warm_up(self) -> None:
        """Load the backend's and the encoder's models now, so the first real call is not
        the slow one. The encoder is called directly: its string cache may already hold the
        warm-up strings, and then ``process`` alone would never load the model."""
        self.process([Item(id="warmup", title="warm up item 1 kg")])
        with self._encode_lock:
            self.encoder.embed(["warm up"])

    def info(self) -> dict[str, Any]:
        stats: dict[str, float] = {
            "items": float(self.items_processed),
            "strings_encoded": float(self.encoder.strings_encoded),
            "string_cache_hits": float(self.encoder.cache_hits),
        }
        stats.update({k: float(v) for k, v in self.extractor.stats().items()})
        dims = self.encoder.level_dims(VISUAL_DIM)
        return {
            "backend": self.extractor.name,
            "backend_version": self.extractor.version,
            "encoder": self.encoder.name,
            "level_dims": {Level(level).name: dim for level, dim in dims.items()},
            "stats": stats,
            "server_version": __version__,
        }

    def close(self) -> None:
        self.extractor.close()
        if self.pool is not None:
            self.pool.close()
