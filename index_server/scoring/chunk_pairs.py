"""The score phase of a chunk: every pair the join will ask about, scored per row in one go.

FBC asks for pair probabilities a few at a time (the candidates that may pass, then the
first member, the retrieved members and the oldest of each cluster it checks). Each ask
was one verifier call. Here the pairs are planned when the chunk starts — each row's
candidates and the members of their clusters as they are then (``Clusterer``'s plan) — and
the first ask of a row scores its whole plan in one call; later asks read the result.
A pair outside the plan (a member that joined inside the chunk, a family probe) is scored
by the same ``RowScorer.chunk_score``, and each pair's scores do not depend on which pairs
are asked with it, so the plan changes no decision (``tests/unit/test_chunk_pairs.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from index_server.scoring.bounds import ChunkScores
from index_server.scoring.pair_prefetch import PairFeatures
from index_server.scoring.row_scorer import RowScorer


@dataclass
class PlanCounts:
    """How the plan fared: pairs scored from it, asked but outside it, scored and never
    asked (the cost of planning members of clusters the join turned down early)."""

    planned: int = 0
    outside: int = 0
    unused: int = 0


class ChunkPairs:
    """(same-item, family) probabilities of row ``i`` of a chunk against other rows.

    ``plan(i)`` names the rows to score together on row ``i``'s first ask; it is called only
    for rows that ask (the compiled join decides most rows without asking)."""

    def __init__(
        self,
        scorer: RowScorer,
        scores: ChunkScores,
        lexical: Mapping[str, np.ndarray],
        plan: Callable[[int], Sequence[int]],
        counts: PlanCounts | None = None,
        ahead: Callable[[int], PairFeatures | None] | None = None,
    ) -> None:
        self.scorer, self.scores, self.lexical = scorer, scores, lexical
        self.plan = plan
        self.ahead = ahead  # row i's planned pairs' record features, if computed ahead
        self.counts = counts if counts is not None else PlanCounts()
        self._row = -1
        self._scored: dict[int, tuple[float, float]] = {}
        self._asked: set[int] = set()
        self._planned: set[int] = set()

    def score(self, i: int, row: int, others: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """``RowScorer.chunk_score(scores, lexical, i, row, others)``, from the plan."""
        if i != self._row:
            self._start(i, row)
        scored = self._scored
        missing = [o for o in others if o not in scored]
        if missing:
            self.counts.outside += len(missing)
            got = self.scorer.chunk_score(self.scores, self.lexical, i, row, missing)
            scored.update(zip(missing, zip(*(g.tolist() for g in got), strict=True), strict=True))
        self._asked.update(others)
        probability = np.array([scored[o][0] for o in others], np.float32)
        family = np.array([scored[o][1] for o in others], np.float32)
        return probability, family

    def _start(self, i: int, row: int) -> None:
        self.finish()
        self._row = i
        planned = list(dict.fromkeys(self.plan(i)))
        self._scored = {}
        self._asked = set()
        if planned:
            ahead = self.ahead(i) if self.ahead is not None else None
            got = self.scorer.chunk_score(self.scores, self.lexical, i, row, planned, ahead)
            self._scored.update(
                zip(planned, zip(*(g.tolist() for g in got), strict=True), strict=True)
            )
        self.counts.planned += len(planned)
        self._planned = set(planned)

    def finish(self) -> None:
        """Count the previous row's planned pairs that were never asked."""
        if self._row >= 0:
            self.counts.unused += len(self._planned - self._asked)
            self._row = -1
