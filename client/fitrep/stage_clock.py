"""Wall and CPU time per pipeline stage, read off the (stage, done, total) progress callbacks.

A 2-core machine is only as fast as the stage that leaves a core idle; summary.json reports each
stage's CPU utilisation (CPU seconds over wall seconds times the cores) so that idle core shows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from fitrep.pipeline import Progress
from serving.machine import usable_cores


@dataclass
class _Span:
    wall0: float
    cpu0: float
    wall1: float = 0.0
    cpu1: float = 0.0


@dataclass
class StageClock:
    """Wraps a progress callback; a stage runs from its first report to its last."""

    inner: Progress
    cores: int = field(default_factory=usable_cores)
    spans: dict[str, _Span] = field(default_factory=dict)

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.mark(stage)
        self.inner(stage, done, total)

    def mark(self, stage: str) -> None:
        """Time ``stage`` up to now without reporting progress (work after the bars end)."""
        wall, cpu = time.perf_counter(), time.process_time()
        span = self.spans.setdefault(stage, _Span(wall, cpu))
        span.wall1, span.cpu1 = wall, cpu

    def summary(self, extra_cpu: dict[str, float] | None = None) -> dict[str, dict[str, float]]:
        """Per stage: wall seconds, CPU seconds (this process, plus ``extra_cpu`` spent for
        the stage elsewhere, e.g. in worker processes) and the share of all cores busy."""
        out = {}
        for stage, span in self.spans.items():
            wall = span.wall1 - span.wall0
            cpu = span.cpu1 - span.cpu0 + (extra_cpu or {}).get(stage, 0.0)
            out[stage] = {
                "seconds": round(wall, 2),
                "cpu_seconds": round(cpu, 2),
                "cpu_utilisation": round(cpu / (wall * self.cores), 3) if wall > 0 else 0.0,
            }
        return out
