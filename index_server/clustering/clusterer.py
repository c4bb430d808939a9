"""The decision loop: the join rule over scored candidates, in arrival order.

Each row is decided from the rows before it (``JoinRule``), with the statistics of rows
0..row (idf), so deciding a batch equals deciding its items one by one. The chunk's pair
scores are computed together; a bound rules most pairs out before the verifier is asked. The
join rule runs compiled over the chunk (``JoinRule.decide_batch``), asking the verifier for
the pairs it needs as the rule one row at a time would.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence

import numpy as np
from fitrep.domain import Level

from index_server.clustering.cluster_ids import format_cluster_id, format_family_id, resolve
from index_server.clustering.decision import Decision
from index_server.clustering.decision_log import DecisionLog
from index_server.clustering.join_rule import JoinRule
from index_server.scoring.bounds import ChunkScores
from index_server.scoring.chunk_pairs import ChunkPairs, PlanCounts
from index_server.scoring.lexical import ChunkLexical
from index_server.scoring.pair_prefetch import PairPrefetch
from index_server.scoring.pair_prefetch import wanted as prefetch_wanted
from index_server.scoring.row_scorer import RowScorer

log = logging.getLogger("fitrep.index")
Progress = Callable[[str, int, int], None]
ChunkScoreFn = Callable[[int, Sequence[int]], tuple[np.ndarray, np.ndarray]]
CHUNK = 512  # rows decided between progress reports


class Clusterer:
    """Cluster state (``JoinRule``), every row's assignment (``DecisionLog``) and the aliases."""

    def __init__(self, rule: JoinRule, decisions: DecisionLog) -> None:
        self.rule = rule
        self.decisions = decisions
        self.aliases: dict[int, int] = {}
        self.plan_counts = PlanCounts()  # how the chunk score plans fared (``ChunkPairs``)

    def cluster_id(self, row: int) -> str:
        return format_cluster_id(resolve(self.aliases, self.rule.cluster_of[row]))

    def family_id(self, row: int) -> str:
        return format_family_id(self.rule.family(row))

    def decide(
        self,
        rows: list[int],
        candidates: Callable[[list[int]], np.ndarray],
        scorer: RowScorer,
        levels: Sequence[Level],
        progress: Progress | None = None,
    ) -> None:
        """Decide ``rows`` (appended, in order) and record their assignments; a large batch
        has a worker compute its pairs' record features ahead (``pair_prefetch``)."""
        anchors = scorer.rows.anchors
        ahead = PairPrefetch(anchors) if prefetch_wanted(len(rows), len(anchors)) else None
        try:
            self._decide(rows, candidates, scorer, levels, progress, ahead)
        finally:
            if ahead is not None:
                ahead.close()
                log.info("event=pair_worker rows=%d pairs_taken=%d", len(rows), ahead.taken)

    def _decide(
        self,
        rows: list[int],
        candidates: Callable[[list[int]], np.ndarray],
        scorer: RowScorer,
        levels: Sequence[Level],
        progress: Progress | None,
        ahead: PairPrefetch | None,
    ) -> None:
        verifier = scorer.verifier
        starts = range(0, len(rows), CHUNK)

        def prepare(start: int) -> tuple[np.ndarray, np.ndarray, ChunkScores, ChunkLexical]:
            """A chunk's candidates and their cosines, token features and bounds: none of
            it reads what the join writes (``chunk_features`` leaves the count as it is)."""
            chunk = rows[start : start + CHUNK]
            chunk_rows, cands = np.asarray(chunk, np.int64), candidates(chunk)
            return (chunk_rows, cands, *scorer.chunk(chunk_rows, cands))

        if rows:
            scorer.count_tokens(rows[0])  # every row before the batch is decided
            ready = prepare(0)
        for n_chunk, start in enumerate(starts):
            chunk = rows[start : start + CHUNK]
            chunk_rows, cands, scores, lexical = ready
            # Bounds pay off only when they rule pairs out; when most pairs could pass (a
            # calibration led by lexical features), score every candidate as before.
            prunes = scores.pruned_share(verifier.threshold) >= 0.5
            # planned on a row's first ask: the rule's clusters stay as at the chunk start until
            # decide_batch writes its decisions back, so the plan is the same, and rows the
            # compiled join decides without asking cost none (with a worker every row's plan
            # is made now, for the worker to start on)
            plan: Callable[[int], Sequence[int]] = functools.partial(
                self._plan, scores, prunes=prunes
            )
            if ahead is not None:
                plans = [plan(i) for i in range(len(chunk))]
                ahead.submit(chunk, plans)
                plan = plans.__getitem__
            if n_chunk + 1 < len(starts):  # the next chunk's, while the worker starts on these
                ready = prepare(starts[n_chunk + 1])
            pairs = ChunkPairs(
                scorer,
                scores,
                lexical.exact,
                plan,
                self.plan_counts,
                ahead.take if ahead is not None else None,
            )
            score = _chunk_score(scorer, pairs, chunk)
            upper = scores.upper if prunes else None
            batch = self.rule.decide_batch(chunk_rows, cands, score, upper, scorer.conflicts)
            scorer.count_tokens(chunk[-1] + 1)
            for i in range(len(chunk)):
                d = batch.decision(i)
                per_level: dict[Level, float] = {}
                if d.nearest_row >= 0:
                    cos = scores.per_level(i, d.nearest_row).tolist()
                    present = scores.present[i, scores.position(i, d.nearest_row)].tolist()
                    per_level = {lv: c for lv, c, p in zip(levels, cos, present, strict=True) if p}
                self.record(d, per_level)
            pairs.finish()
            if progress:
                progress("cluster", min(start + CHUNK, len(rows)), len(rows))
        c = self.plan_counts
        log.info(
            "event=chunk_pairs rows=%d planned=%d outside=%d unused=%d",
            len(rows),
            c.planned,
            c.outside,
            c.unused,
        )

    def _plan(self, scores: ChunkScores, i: int, *, prunes: bool) -> list[int]:
        """The rows the join rule will ask row ``i`` of a chunk about first, as the clusters
        are at the chunk start: its candidates that may pass (rows decided earlier in the
        chunk too) and the other candidates in their clusters. The members a cluster's check
        asks about next (its core, the oldest) are left to that check, which asks for them in
        one go: planning them too scored ~60,000 pairs the join never asked about on 20k
        synthetic items (clusters whose best pair failed), more than it saved."""
        cluster_of, t = self.rule.cluster_of, self.rule.threshold
        cands = scores.candidates(i)
        upper = scores.upper_bounds(i) if prunes else [1.0] * len(cands)
        by_cluster: dict[int, list[int]] = {}
        passing: list[int] = []
        first = int(scores.rows[0])  # rows from here on are decided inside the chunk
        for c, u in zip(cands, upper, strict=True):
            cluster = cluster_of.get(c)
            if cluster is not None:
                by_cluster.setdefault(cluster, []).append(c)
            if u >= t and (cluster is not None or first <= c < scores.rows[i]):
                passing.append(c)
        plan = list(passing)
        for cluster in dict.fromkeys(cluster_of[c] for c in passing if c in cluster_of):
            plan += by_cluster[cluster]
        return plan

    def record(self, d: Decision, per_level: dict[Level, float]) -> None:
        """Append the Assignment of a decided row (rows are decided in order)."""
        confidence = d.probability if not d.is_new else 1.0 - d.best_pair
        self.decisions.record(
            d.cluster, d.nearest_row, d.best_pair, float(confidence), d.is_new, per_level, d.family
        )


def _chunk_score(scorer: RowScorer, pairs: ChunkPairs, chunk: list[int]) -> ChunkScoreFn:
    """The join rule's ``score`` for the rows of a chunk: a row is judged with the statistics
    of rows 0..row (module doc), from the chunk's planned pair scores (``ChunkPairs``)."""
    position = {row: i for i, row in enumerate(chunk)}

    def score(row: int, others: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        scorer.count_tokens(row + 1)
        return pairs.score(position[row], row, others)

    return score
