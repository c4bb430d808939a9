"""The in-process Pipeline: the same domain classes the two servers run, without gRPC.

This is the CLI's default (``fitrep dedup``): one machine, no servers to start.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from fitrep.domain import Assignment, EmbeddedItem, Item

if TYPE_CHECKING:
    from index_server.config import IndexConfig
    from index_server.engine import IndexEngine
    from mllm_server.chie.engine import ConceptEngine

Progress = Callable[[str, int, int], None]


class Pipeline:
    """CHIE (ConceptEngine) then SPDR + FBC (IndexEngine), batch by batch."""

    def __init__(self, concepts: ConceptEngine, index: IndexEngine, batch_size: int = 256) -> None:
        self.concepts = concepts
        self.index = index
        self.batch_size = batch_size

    @classmethod
    def create(
        cls,
        data_dir: Path | None = None,
        backend: str = "rules",
        config: IndexConfig | None = None,
        **backend_options: object,
    ) -> Pipeline:
        from index_server.engine import IndexEngine
        from mllm_server.chie.engine import ConceptEngine

        return cls(ConceptEngine.create(backend, **backend_options), IndexEngine(data_dir, config))

    def embed(self, items: Sequence[Item], progress: Progress | None = None) -> list[EmbeddedItem]:
        out: list[EmbeddedItem] = []
        for start in range(0, len(items), self.batch_size):
            out.extend(self.concepts.process(items[start : start + self.batch_size]))
            if progress:
                progress("concepts", len(out), len(items))
        return out

    def dedup(self, items: Sequence[Item], progress: Progress | None = None) -> list[Assignment]:
        """Batch: every item, clustered together (the index is fitted on all of them)."""
        return self.index.build(self.embed(items, progress), progress)

    def assign(self, items: Sequence[Item], progress: Progress | None = None) -> list[Assignment]:
        """Incremental: new items join existing clusters or open new ones."""
        return self.index.assign(self.embed(items, progress), progress)

    def close(self) -> None:
        self.concepts.close()
        self.index.close()
