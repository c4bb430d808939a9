"""Rich progress bars fed by the pipeline's (stage, done, total) callbacks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from fitrep.pipeline import Progress as ProgressFn

console = Console(stderr=True)


@contextmanager
def stage_progress(enabled: bool = True) -> Iterator[ProgressFn]:
    """Yields a callback that shows one bar per stage."""
    if not enabled:
        yield lambda stage, done, total: None
        return
    with Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bars:
        tasks: dict[str, TaskID] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(stage, total=total)
            bars.update(tasks[stage], completed=done, total=total)

        yield update


class StageClock:
    """Seconds per stage from the (stage, done, total) callbacks, passed on to ``report``. A
    stage runs from the previous stage's last report (the first from the clock's start) to its
    own last one, so stages that report in turn (concepts, received, reduce, cluster) sum to the
    whole; interleaved ones (ocr inside concepts) share the time between them."""

    def __init__(self, report: ProgressFn) -> None:
        self.report = report
        self.start = time.perf_counter()
        self.last: dict[str, float] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.last[stage] = time.perf_counter()
        self.report(stage, done, total)

    def seconds(self) -> dict[str, float]:
        out, previous = {}, self.start
        for stage, at in self.last.items():
            out[stage] = round(at - previous, 2)
            previous = at
        return out
