"""Batched verification gives the per-pair verifier's probabilities and the reference join's
decisions."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fitrep.domain import Anchors, ConceptSet, EmbeddedItem, Level, LevelEmbeddings

from index_server.config import IndexConfig
from index_server.engine import IndexEngine
from index_server.rows.codes import CODE_SLOTS, code_keys
from index_server.scoring.bounds import ChunkScores
from index_server.scoring.calibration import create_scorer
from index_server.scoring.lexical import FEATURES, chunk_features
from index_server.scoring.token_features import TokenStats
from tests.join_reference import ReferenceJoin

LEVELS = (Level.PRIMARY, Level.CONTENT, Level.OBJECTIVE)


def synthetic_items(n: int, seed: int = 0, dim: int = 16) -> list[EmbeddedItem]:
    """Products with 1-3 near-copies each; anchors agree within a product, some levels absent."""
    rng = np.random.default_rng(seed)
    items = []
    n_products = max(1, n // 2)
    centres = rng.normal(size=(n_products, len(LEVELS), dim))
    for i in range(n):
        p = int(rng.integers(n_products))
        vectors = {}
        for j, level in enumerate(LEVELS):
            if j and rng.random() < 0.2:
                continue
            v = centres[p, j] + rng.normal(scale=0.15, size=dim)
            vectors[level] = (v / np.linalg.norm(v)).astype(np.float32)
        anchors = {
            "code": [f"{p % 13}m{p:05d}"],
            "tokens": [f"t{p % 7}", f"u{p % 11}", f"w{i % 3}"],
        }
        if rng.random() < 0.1:
            anchors = {"tokens": [f"t{p % 7}"]}
        concepts = ConceptSet(f"i{i}", {lv: [f"x{p}"] for lv in vectors}, anchors)
        items.append(EmbeddedItem(concepts, LevelEmbeddings(f"i{i}", vectors)))
    return items


# Pinned so the pruning test does not follow re-fitted shipped coefficients: vector scores
# carry most of the weight here, as in the first hand-set calibration.
HAND_SET = {
    "weights": {"PRIMARY": 0.45, "CONTENT": 0.15, "OBJECTIVE": 0.10},
    "coef": {"weighted_cos": 14.0, "code_match": 3.0, "token_jaccard": 3.0, "code_conflict": -4.0},
    "bias": -12.0,
    "threshold": 0.5,
}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[IndexEngine, list]:
    path = tmp_path_factory.mktemp("calibration") / "calibration.json"
    path.write_text(json.dumps(HAND_SET))
    engine = IndexEngine(config=IndexConfig(calibration=path))
    return engine, engine.build(synthetic_items(400))


def test_chunk_bounds_hold_and_prune(built):
    engine, _ = built
    rows = list(range(100, 300))
    scores = ChunkScores(
        engine.verifier,
        engine.rows.vectors,
        engine.rows.present,
        engine.rows.codes,
        engine.rows.images,
        np.asarray(rows),
        engine.candidates.candidates(rows),
    )
    bounds, exact = [], []
    for i, row in enumerate(rows):
        cands = scores.candidates(i)
        if cands:
            bounds += scores.upper_bounds(i)
            exact += engine.scorer.score(row, cands).tolist()
    assert len(exact) > 500
    assert all(u >= p for u, p in zip(bounds, exact, strict=True))
    assert np.mean(np.asarray(bounds) < engine.rule.threshold) > 0.5  # most pairs never scored


def test_code_keys_match_compatible_codes():
    keys = code_keys(
        [
            Anchors.from_json(a)
            for a in ({"code": ["lmvm2085"]}, {"code": ["lmvm2085wh"]}, {"code": ["t0441"]}, {})
        ]
    )
    assert keys[0, 0] == keys[1, 0] != keys[2, 0]
    assert keys[:, CODE_SLOTS].tolist() == [1, 1, 1, 0]
    assert keys[3, 0] == 0


def test_compatible_codes_always_share_a_key():
    """The pruning bound is only safe if every pair the verifier calls compatible shares a
    key; checked against the verifier's own rule on affix variants of a few codes."""
    from index_server.rows.codes import codes_compatible as _codes_compatible

    bases = ["lmvm2085", "srsa212bk", "23292", "t0441", "t0442", "av23292", "dsc-w830", "mx3"]
    variants = {b + s for b in bases for s in ("", "wh", "blk", "x")} | {
        p + b for b in bases for p in ("av", "abc", "z")
    }
    codes = sorted(variants)
    keys = code_keys([Anchors.from_json({"code": [c]}) for c in codes])[:, 0]
    for i, a in enumerate(codes):
        for j, b in enumerate(codes):
            if _codes_compatible(a, b):
                assert keys[i] == keys[j], (a, b)


def test_batched_build_decides_like_the_per_item_reference(built):
    engine, assignments = built
    reference = ReferenceJoin(engine.rule.threshold, engine.rule.max_checked)
    rows = list(range(engine.n))
    cands = engine.candidates.candidates(rows)
    for row in rows:
        d = reference.decide(row, [c for c in cands[row].tolist() if c >= 0], engine.scorer.score)
        assert reference.cluster_of[row] == engine.rule.cluster_of[row]
        assert assignments[row].is_new_cluster == d.is_new
        if d.is_new:  # batched: an upper bound of the best pair
            assert assignments[row].similarity >= d.best_pair - 1e-5
        else:
            assert assignments[row].similarity == pytest.approx(d.best_pair, abs=1e-5)
            assert assignments[row].confidence == pytest.approx(d.probability, abs=1e-5)
    assert len(engine.rule.members) < engine.n  # some items did join clusters


def test_vector_buffer_grows_and_survives_restart(tmp_path):
    items = synthetic_items(1500, seed=1)
    engine = IndexEngine(tmp_path)
    first = engine.assign(items[:700]) + engine.assign(items[700:])
    assert engine.rows.vectors.shape[0] == 1500
    engine.close()
    again = IndexEngine(tmp_path)
    assert np.array_equal(again.rows.vectors, engine.rows.vectors)
    assert np.array_equal(again.rows.present, engine.rows.present)
    assert [a.cluster_id for a in again.assign(items[:5])] == [a.cluster_id for a in first[:5]]


def decision_score(engine, chunk, lexical, i, row, cands):
    """The score the decision of ``row`` uses, with the token statistics of rows 0..row (as
    the clusterer has them when it decides ``row``; after the build they cover every row):
    the chunk's token features plus every other feature computed per pair by the scorer."""
    stats = TokenStats.of(engine.rows.anchors[: row + 1])
    verifier = create_scorer(engine.calibration, engine.verifier.layout, stats)
    pos = [chunk.position(i, c) for c in cands]
    known = [{name: float(lexical.exact[name][i, p]) for name in FEATURES} for p in pos]
    anchors, images = engine.rows.anchors, engine.rows.images
    return verifier.score_levels(
        chunk.cos[i, pos],
        chunk.present[i, pos],
        anchors[row],
        [anchors[c] for c in cands],
        images[row],
        [images[c] for c in cands],
        known,
    ).probability


def test_bounds_hold_with_the_shipped_calibration():
    engine = IndexEngine()
    engine.build(synthetic_items(200, seed=2))
    rows = np.arange(50, 200)
    cands = engine.candidates.candidates(rows.tolist())
    args = (engine.verifier, engine.rows.vectors, engine.rows.present, engine.rows.codes)
    loose = ChunkScores(*args, engine.rows.images, rows, cands)
    lexical = chunk_features(engine.rows.lexical, rows, cands)
    tight = ChunkScores(*args, engine.rows.images, rows, cands, lexical)
    for i, row in enumerate(rows.tolist()):
        cands_i = tight.candidates(i)
        if cands_i:
            exact = decision_score(engine, tight, lexical, i, row, cands_i).tolist()
            assert all(u >= p for u, p in zip(tight.upper_bounds(i), exact, strict=True))
            assert all(
                u >= t for u, t in zip(loose.upper_bounds(i), tight.upper_bounds(i), strict=True)
            )
    # the exact token features make the bound tight enough to skip most pairs
    threshold = engine.verifier.threshold
    assert tight.pruned_share(threshold) > 0.5 > loose.pruned_share(threshold)
