"""How ``fitrep dedup`` runs its stages: ``embedded`` (everything in this process, the default)
or ``ray`` (CHIE on a Ray Data actor pool, the join here).

Both return an object with the embedded ``Pipeline``'s surface the CLI uses — ``dedup(items,
progress, checkpoint) -> list[Assignment]``, ``index`` (the ``IndexEngine`` that made the ids) and
``close()`` — so a run writes the same clusters.jsonl and report.html whichever engine ran it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from fitrep.columns import ColumnRoles
from fitrep.domain import Assignment, FitrepError, InvalidInput, Item
from fitrep.pipeline import Checkpoint, Pipeline, Progress

if TYPE_CHECKING:
    from collections.abc import Sequence

    from index_server.config import IndexConfig
    from index_server.engine import IndexEngine

ENGINES = ("embedded", "ray")
RAY_EXTRA_HINT = "--engine ray needs the [ray] extra: pip install 'fitrep[ray]'"


class DedupEngine(Protocol):
    index: IndexEngine

    def dedup(
        self,
        items: Sequence[Item],
        progress: Progress | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> list[Assignment]: ...

    def close(self) -> None: ...


def create_engine(
    engine: str,
    data_dir: Path,
    backend: str = "rules",
    config: IndexConfig | None = None,
    *,
    address: str | None = None,
    actors: int | None = None,
    actor_cpus: float | None = None,
    backend_options: dict[str, Any] | None = None,
    columns: ColumnRoles | None = None,
    workers: int | None = None,
) -> DedupEngine:
    """``engine``: one of ``ENGINES``; ``address`` and the actor options are Ray's only,
    ``workers`` (extraction processes) the embedded engine's; ``backend_options`` go to the
    CHIE backend (e.g. ``ocr``); ``columns``: the catalogue's column roles
    (``fitrep.columns``), for the concept stage."""
    options = dict(backend_options or {})
    if engine == "embedded":
        return Pipeline.create(
            data_dir=data_dir,
            backend=backend,
            config=config,
            columns=columns,
            workers=workers,
            **options,
        )
    if engine != "ray":
        raise InvalidInput("--engine", f"unknown engine {engine!r}; choose one of {ENGINES}")
    try:
        from fitrep.engines.ray_engine import RayEngine
    except ImportError as exc:
        if (exc.name or "").partition(".")[0] != "ray":
            raise
        raise FitrepError(RAY_EXTRA_HINT) from None
    return RayEngine.create(
        data_dir,
        backend,
        config,
        address=address,
        actors=actors,
        actor_cpus=actor_cpus,
        columns=columns,
        **options,
    )
