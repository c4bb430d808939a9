"""The in-process Pipeline: the same domain classes the two servers run, without gRPC.

This is the CLI's default (``fitrep dedup``): one machine, no servers to start.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from fitrep.defaults import BATCH_SIZE
from fitrep.domain import Assignment, EmbeddedItem, Item

if TYPE_CHECKING:
    from index_server.config import IndexConfig
    from index_server.engine import IndexEngine
    from mllm_server.chie.engine import ConceptEngine

Progress = Callable[[str, int, int], None]


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
    """CHIE (ConceptEngine) then SPDR + FBC (IndexEngine), batch by batch."""

    def __init__(
        self, concepts: ConceptEngine, index: IndexEngine, batch_size: int = BATCH_SIZE
    ) -> None:
        self.concepts = concepts
        self.index = index
        self.batch_size = batch_size

    @classmethod
    def create(
        cls,
        data_dir: Path | None = None,
        backend: str = "rules",
        config: IndexConfig | None = None,
        encoder_runtime: str | None = None,
        encoder: str | None = None,
        **backend_options: object,
    ) -> Pipeline:
        """``encoder``: the text model (minilm, static; None: ``$FITREP_ENCODER``, else
        minilm); ``encoder_runtime``: MiniLM's (auto, torch, onnx, onnx-int8; None:
        ``$FITREP_ENCODER_RUNTIME``, else auto)."""
        from index_server.engine import IndexEngine
        from mllm_server.chie.engine import ConceptEngine

        concepts = ConceptEngine.create(
            backend, encoder_runtime=encoder_runtime, encoder=encoder, **backend_options
        )
        return cls(concepts, IndexEngine(data_dir, config))

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
        if progress and out:
            progress("concepts", len(out), len(items))
        pictures = list(accumulate((it.image is not None for it in items), initial=0))
        for start in range(len(out), len(items), self.batch_size):
            read_progress = None
            if progress is not None:
                read_progress = _stage(progress, "ocr", pictures[start], pictures[-1])
            batch = self.concepts.process(
                items[start : start + self.batch_size], read_progress=read_progress
            )
            if checkpoint is not None:
                checkpoint.save(start, batch)
            out.extend(batch)
            if progress:
                progress("concepts", len(out), len(items))
        return out

    def dedup(
        self,
        items: Sequence[Item],
        progress: Progress | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> list[Assignment]:
        """Batch: every item, clustered together (the index is fitted on all of them)."""
        return self.index.build(self.embed(items, progress, checkpoint), progress)

    def assign(self, items: Sequence[Item], progress: Progress | None = None) -> list[Assignment]:
        """Incremental: new items join existing clusters or open new ones."""
        return self.index.assign(self.embed(items, progress), progress)

    def close(self) -> None:
        self.concepts.close()
        self.index.close()
