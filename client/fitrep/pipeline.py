"""The in-process Pipeline: the same domain classes the two servers run, without gRPC.

This is the CLI's default (``fitrep dedup``): one machine, no servers to start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from fitrep.columns import ColumnRole, ColumnRoles, infer_roles
from fitrep.defaults import BATCH_SIZE
from fitrep.domain import Assignment, EmbeddedItem, Item
from serving.gc_policy import batch_collections

if TYPE_CHECKING:
    from index_server.config import IndexConfig
    from index_server.engine import IndexEngine
    from mllm_server.chie.engine import ConceptEngine

Progress = Callable[[str, int, int], None]
# Starting a worker (a fresh interpreter importing the backend) costs ~2 s; below this many
# batches the sequential path is done before the workers would be.
MIN_POOLED_BATCHES = 8


class Checkpoint(Protocol):
    """Where ``dedup`` keeps the concept stage's output as it goes (``fitrep.run_dir``)."""

    def done(self) -> list[EmbeddedItem]: ...

    def save(self, start: int, batch: Sequence[EmbeddedItem]) -> None: ...


def reusable(
    checkpoint: Checkpoint | None, items: Sequence[Item], batch: int = 1
) -> list[EmbeddedItem]:
    """The checkpointed items a resumed run keeps: a prefix of ``items`` (same ids, same
    order), cut to a multiple of ``batch`` unless it is complete; [] when it is not theirs."""
    if checkpoint is None:
        return []
    done = checkpoint.done()[: len(items)]
    if len(done) < len(items):
        done = done[: len(done) - len(done) % batch]
    return done if all(e.item_id == it.id for e, it in zip(done, items, strict=False)) else []


def _stage(progress: Progress, stage: str, offset: int, total: int) -> Callable[[int, int], None]:
    """A (done, total) callback of one batch, reported as ``stage`` over the whole input."""
    return lambda done, _: progress(stage, offset + done, total)


class Pipeline:
    """CHIE (ConceptEngine) then SPDR + FBC (IndexEngine), batch by batch.

    ``workers`` > 1 with a ``backend`` spec (name, options): a run of ``MIN_POOLED_BATCHES``
    extracts concepts in that many worker processes while this process encodes
    (``mllm_server.chie.extract_pool``); the same batches, so the same concepts.
    """

    def __init__(
        self,
        concepts: ConceptEngine,
        index: IndexEngine,
        batch_size: int = BATCH_SIZE,
        workers: int = 1,
        backend: tuple[str, dict[str, object]] | None = None,
    ) -> None:
        self.concepts = concepts
        self.index = index
        self.batch_size = batch_size
        self.workers = workers
        self.backend = backend
        self.worker_cpu_seconds = 0.0  # CPU the extraction workers spent

    @classmethod
    def create(
        cls,
        data_dir: Path | None = None,
        backend: str = "rules",
        config: IndexConfig | None = None,
        encoder_runtime: str | None = None,
        columns: ColumnRoles | Mapping[str, ColumnRole] | None = None,
        workers: int | None = None,
        encoder: str | None = None,
        **backend_options: object,
    ) -> Pipeline:
        """``encoder``: the text model (minilm, static; None: ``$FITREP_ENCODER``, else
        minilm); ``encoder_runtime``: MiniLM's (auto, torch, onnx, onnx-int8; None:
        ``$FITREP_ENCODER_RUNTIME``, else auto). ``columns``: roles set by the user
        (``fitrep.columns.parse_columns``) or already inferred; ``dedup`` infers the others
        from the catalogue it is given. ``workers``: extraction processes (None: one per core
        for a backend that runs on this CPU, 1: none)."""
        from index_server.engine import IndexEngine
        from mllm_server.chie.engine import ConceptEngine
        from mllm_server.chie.extract_pool import default_workers

        if not isinstance(columns, ColumnRoles):
            columns = ColumnRoles(overrides=dict(columns or {}))
        concepts = ConceptEngine.create(
            backend,
            encoder_runtime=encoder_runtime,
            encoder=encoder,
            columns=columns,
            **backend_options,
        )
        local = not getattr(concepts.extractor, "concurrent", True)  # vLLM has its own server
        n = (default_workers() if local else 1) if workers is None else workers
        spec = (backend, dict(backend_options))
        return cls(concepts, IndexEngine(data_dir, config), workers=n, backend=spec)

    @property
    def columns(self) -> ColumnRoles:
        """The column roles the concept stage reads items with."""
        return self.concepts.columns

    def embed(
        self,
        items: Sequence[Item],
        progress: Progress | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> list[EmbeddedItem]:
        """``checkpoint``: batches already there are reused, each new one saved. Resuming
        starts at a batch boundary, so every batch holds the same items as in a run from
        scratch (an encoder's output can depend on its batch's padding). Pictures that the
        backend reads in a pass of its own (OCR) show as an "ocr" stage, per picture."""
        out = reusable(checkpoint, items, self.batch_size)
        if progress:  # the stage starts now (a resumed run: with what it keeps)
            progress("concepts", len(out), len(items))
        pictures = list(accumulate((it.image is not None for it in items), initial=0))
        starts = range(len(out), len(items), self.batch_size)
        for start, batch in zip(
            starts, self._batches(items, starts, pictures, progress), strict=True
        ):
            if checkpoint is not None:
                checkpoint.save(start, batch)
            out.extend(batch)
            if progress:
                progress("concepts", len(out), len(items))
        return out

    def _batches(
        self,
        items: Sequence[Item],
        starts: range,
        pictures: list[int],
        progress: Progress | None,
    ) -> Iterator[list[EmbeddedItem]]:
        """Each batch of ``items`` from ``starts``, embedded: in worker processes when that
        pays (``MIN_POOLED_BATCHES`` or more), else here."""
        size = self.batch_size
        if self.workers > 1 and self.backend is not None and len(starts) >= MIN_POOLED_BATCHES:
            from mllm_server.chie.extract_pool import ExtractPool

            for start in starts:  # a bad item is named (as the sequential path does) up front
                for j, item in enumerate(items[start : start + size]):
                    item.validate(f"items[{j}]")
            pool = ExtractPool(self.backend[0], self.backend[1], self.workers)
            try:
                batches = (items[start : start + size] for start in starts)
                for start, concept_sets in zip(
                    starts, pool.extract(batches, self.concepts.columns), strict=True
                ):
                    if progress is not None and pictures[-1]:
                        progress("ocr", pictures[min(start + size, len(items))], pictures[-1])
                    yield self.concepts.embed(concept_sets)
            finally:
                pool.close()
                self.worker_cpu_seconds += pool.cpu_seconds
            return
        for start in starts:
            read_progress = None
            if progress is not None:
                read_progress = _stage(progress, "ocr", pictures[start], pictures[-1])
            yield self.concepts.process(items[start : start + size], read_progress=read_progress)

    def dedup(
        self,
        items: Sequence[Item],
        progress: Progress | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> list[Assignment]:
        """Batch: every item, clustered together (the index is fitted on all of them); the
        column roles are inferred from these items (``fitrep.columns.infer_roles``). The
        embedded items are this call's own (the checkpoint keeps its copy on disk), so the
        index drops their vectors as it stores them."""
        self.concepts.columns = infer_roles(items, self.concepts.columns.overrides)
        with batch_collections():  # (``serving.gc_policy``)
            embedded = self.embed(items, progress, checkpoint)
            return self.index.build(embedded, progress, release_vectors=True)

    def assign(self, items: Sequence[Item], progress: Progress | None = None) -> list[Assignment]:
        """Incremental: new items join existing clusters or open new ones."""
        with batch_collections():
            return self.index.assign(self.embed(items, progress), progress)

    def close(self) -> None:
        self.concepts.close()
        self.index.close()
