"""A chunk's planned, batched pair scores equal the per-pair path's, pair by pair, exactly."""

from __future__ import annotations

import numpy as np
from fitrep.domain import Level

from index_server.config import IndexConfig
from index_server.engine import IndexEngine
from index_server.integration import LevelLayout, level_cosines
from index_server.scoring.chunk_pairs import ChunkPairs

from .test_bounds import synthetic_items


def _engine() -> IndexEngine:
    engine = IndexEngine(config=IndexConfig())
    engine.build(synthetic_items(300, seed=3))
    return engine


def test_batched_scores_equal_per_pair_scores_both_ways():
    engine = _engine()
    scorer = engine.scorer
    assert scorer is not None
    rows = list(range(150, 250))
    chunk_rows = np.asarray(rows, np.int64)
    scores, lexical = scorer.chunk(chunk_rows, engine.candidates.candidates(rows))
    rng = np.random.default_rng(0)
    checked = 0
    for i, row in enumerate(rows):
        scorer.count_tokens(row + 1)
        # candidates (chunk arrays) and random earlier rows (the per-pair path), mixed
        others = list(dict.fromkeys([*scores.candidates(i), *rng.integers(0, row, 6).tolist()]))
        plan = [others[: len(others) // 2]] * len(rows)
        batched = ChunkPairs(scorer, scores, lexical.exact, plan.__getitem__).score(i, row, others)
        for k, other in enumerate(others):
            alone = scorer.chunk_score(scores, lexical.exact, i, row, [other])
            reverse = scorer.chunk_score(scores, lexical.exact, i, row, others[::-1])
            for got, one, rev in zip(batched, alone, reverse, strict=True):
                assert got[k] == one[0] == rev[len(others) - 1 - k], (row, other)
            checked += 1
    assert checked > 500


def test_level_cosines_do_not_depend_on_the_batch():
    """A BLAS matrix-vector product blocks rows, so a row's cosine moved with the batch size;
    the decision of a pair must not depend on which pairs were scored with it."""
    rng = np.random.default_rng(1)
    layout = LevelLayout.from_dims({Level.PRIMARY: 48, Level.CONTENT: 40})
    a = rng.normal(size=layout.total).astype(np.float32)
    b = rng.normal(size=(37, layout.total)).astype(np.float32)
    whole, _ = level_cosines(a, b, layout)
    for m in range(len(b)):
        one, _ = level_cosines(a, b[m : m + 1], layout)
        assert np.array_equal(one[0], whole[m])


def test_a_chunks_level_logits_are_each_rows_own():
    """The level part of the logit is computed once for a whole chunk (``ChunkScores.levels``);
    a row's pairs must get from it exactly what the scorer computes on them alone."""
    engine = _engine()
    scorer = engine.scorer
    assert scorer is not None
    rows = list(range(150, 250))
    scores, _ = scorer.chunk(np.asarray(rows, np.int64), engine.candidates.candidates(rows))
    verifier = scorer.verifier
    checked = 0
    for i in range(len(rows)):
        pos = np.flatnonzero(scores.cands[i] >= 0)
        for take in (pos, pos[::-2], pos[:1]):
            levels = scores.levels(i, take)
            assert levels is not None
            alone = verifier.level_logit(scores.cos[i, take], scores.present[i, take])
            assert np.array_equal(levels[0], alone[0]) and np.array_equal(levels[1], alone[1])
            checked += len(take)
    assert checked > 1000
