"""A build whose chunk pairs are scored in forked processes decides exactly as one that scores
them in its own process (``scoring.forked_pairs``)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from index_server.config import IndexConfig
from index_server.engine import IndexEngine
from index_server.scoring import forked_pairs

from .test_bounds import synthetic_items

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")


def _build(processes: int, n: int = 1500) -> list[tuple[str, str, str, float, str, float]]:
    engine = IndexEngine(config=IndexConfig(score_processes=processes))
    out = engine.build(synthetic_items(n, seed=5))
    engine.close()
    return [
        (a.item_id, a.cluster_id, a.family_id, a.confidence, a.nearest_item_id, a.similarity)
        for a in out
    ]


def test_forked_scoring_gives_the_same_clusters_and_scores(monkeypatch):
    monkeypatch.setattr(forked_pairs, "MIN_FORKED_PAIRS", 1)
    forks = []
    real_fork = os.fork

    def counting_fork() -> int:
        forks.append(1)
        return real_fork()

    monkeypatch.setattr(forked_pairs.os, "fork", counting_fork)
    forked = _build(2)
    assert forks, "no chunk was scored in forked processes"
    assert forked == _build(1)


def test_a_failed_fork_falls_back_to_this_process(monkeypatch):
    monkeypatch.setattr(forked_pairs, "MIN_FORKED_PAIRS", 1)

    def no_fork() -> int:
        raise OSError("fork refused")

    monkeypatch.setattr(forked_pairs.os, "fork", no_fork)
    assert _build(2, n=600) == _build(1, n=600)


def test_forked_scores_equal_the_parents():
    engine = IndexEngine(config=IndexConfig())
    engine.build(synthetic_items(400, seed=3))
    scorer = engine.scorer
    assert scorer is not None
    rows = list(range(200, 300))
    scores, lexical = scorer.chunk(np.asarray(rows, np.int64), engine.candidates.candidates(rows))
    plans = {i: list(scores.candidates(i)) for i in range(len(rows))}
    got, cpu = forked_pairs.score_forked(scorer, scores, lexical.exact, plans, rows, 2)
    assert got is not None and set(got) == {i for i, p in plans.items() if p} and cpu > 0
    for i, row in enumerate(rows):
        if not plans[i]:
            continue
        scorer.count_tokens(row + 1)
        p, f = scorer.chunk_score(scores, lexical.exact, i, row, plans[i])
        assert [got[i][o] for o in plans[i]] == list(zip(p.tolist(), f.tolist(), strict=True))
    engine.close()
