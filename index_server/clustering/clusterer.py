"""The decision loop: FBC's join rule over scored candidates, in arrival order.

Each row is decided from the rows before it (FBC), with the statistics of rows 0..row
(idf), so deciding a batch equals deciding its items one by one. The chunk's pair scores
are computed together; a bound rules most pairs out before the verifier is asked. The join
rule runs compiled over the chunk (``FBC.decide_batch``), asking the verifier for the pairs
it needs as ``FBC.decide`` would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from fitrep.domain import Level

from index_server.clustering.cluster_ids import format_cluster_id, format_family_id, resolve
from index_server.clustering.decision_log import DecisionLog
from index_server.clustering.fbc import FBC, Decision
from index_server.scoring.bounds import ChunkScores
from index_server.scoring.row_scorer import RowScorer

Progress = Callable[[str, int, int], None]
ChunkScoreFn = Callable[[int, Sequence[int]], tuple[np.ndarray, np.ndarray]]
CHUNK = 512  # rows decided between progress reports


class Clusterer:
    """Cluster state (FBC), every row's assignment (DecisionLog) and the aliases."""

    def __init__(self, fbc: FBC, decisions: DecisionLog) -> None:
        self.fbc = fbc
        self.decisions = decisions
        self.aliases: dict[int, int] = {}

    def cluster_id(self, row: int) -> str:
        return format_cluster_id(resolve(self.aliases, self.fbc.cluster_of[row]))

    def family_id(self, row: int) -> str:
        return format_family_id(self.fbc.family(row))

    def decide(
        self,
        rows: list[int],
        candidates: Callable[[list[int]], np.ndarray],
        scorer: RowScorer,
        levels: Sequence[Level],
        progress: Progress | None = None,
    ) -> None:
        """Decide ``rows`` (appended, in order) and record their assignments."""
        verifier = scorer.verifier
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            chunk_rows, cands = np.asarray(chunk, np.int64), candidates(chunk)
            scores, lexical = scorer.chunk(chunk_rows, cands)
            # Bounds pay off only when they rule pairs out; when most pairs could pass (a
            # calibration led by lexical features), score every candidate as before.
            prunes = scores.pruned_share(verifier.threshold) >= 0.5
            score = _chunk_score(scorer, scores, lexical.exact, chunk)
            upper = scores.upper if prunes else None
            batch = self.fbc.decide_batch(chunk_rows, cands, score, upper, scorer.conflicts)
            verifier.stats.extend_to(scorer.rows.anchors, chunk[-1] + 1)
            for i in range(len(chunk)):
                d = batch.decision(i)
                per_level: dict[Level, float] = {}
                if d.nearest_row >= 0:
                    cos = scores.per_level(i, d.nearest_row).tolist()
                    present = scores.present[i, scores.position(i, d.nearest_row)].tolist()
                    per_level = {lv: c for lv, c, p in zip(levels, cos, present, strict=True) if p}
                self.record(d, per_level)
            if progress:
                progress("cluster", min(start + CHUNK, len(rows)), len(rows))

    def record(self, d: Decision, per_level: dict[Level, float]) -> None:
        """Append the Assignment of a decided row (rows are decided in order)."""
        confidence = d.probability if not d.is_new else 1.0 - d.best_pair
        self.decisions.record(
            d.cluster, d.nearest_row, d.best_pair, float(confidence), d.is_new, per_level, d.family
        )


def _chunk_score(
    scorer: RowScorer, scores: ChunkScores, exact: Mapping[str, np.ndarray], chunk: list[int]
) -> ChunkScoreFn:
    """FBC's ``score`` for the rows of a chunk: a row is judged with the statistics of rows
    0..row (module doc), from the chunk's precomputed cosines and token features."""
    position = {row: i for i, row in enumerate(chunk)}

    def score(row: int, others: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        scorer.verifier.stats.extend_to(scorer.rows.anchors, row + 1)
        return scorer.chunk_score(scores, exact, position[row], row, others)

    return score
