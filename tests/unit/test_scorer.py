"""The pair scorer registry and feature sources: a new scorer or a new source of evidence is
one module and one registry entry, and the index runs with it."""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np
import pytest
from fitrep.domain import Anchors, InvalidInput, Level

from index_server.config import IndexConfig
from index_server.engine import IndexEngine
from index_server.integration import LevelLayout
from index_server.scoring import features, scorer
from index_server.scoring.calibration import DEFAULT_PATH, Calibration, create_scorer
from index_server.scoring.logistic import LogisticModel, LogisticScorer
from index_server.scoring.token_features import TokenStats
from tests.unit.test_bounds import synthetic_items


class UnboundedScorer(LogisticScorer):
    """The logistic scorer without the optional ``upper_bound``: every pair is scored."""

    upper_bound = None  # type: ignore[assignment]


def half(a: Anchors, b: Anchors, stats: TokenStats | None) -> Mapping[str, float]:
    return {"test_half": 0.5}


def test_unknown_scorer_is_one_clear_error():
    with pytest.raises(InvalidInput, match="unknown scorer 'nope'"):
        Calibration.from_json({"weights": {}, "scorer": "nope"})


def test_calibration_file_names_its_scorer_and_keeps_its_model():
    cal = Calibration.load()
    assert cal.scorer == "logistic" and isinstance(cal.model, LogisticModel)
    again = Calibration.from_json(json.loads(json.dumps(cal.to_json())))
    assert again == cal


def test_a_registered_scorer_without_a_bound_runs_the_index(tmp_path, monkeypatch):
    """Registered by name, built from the calibration file; without ``upper_bound`` nothing
    is pruned, and since the bound only skips pairs that cannot pass, the clusters agree."""
    monkeypatch.setitem(scorer.SCORERS, "unbounded", f"{__name__}:UnboundedScorer")
    path = tmp_path / "cal.json"
    path.write_text(json.dumps({**json.loads(DEFAULT_PATH.read_text()), "scorer": "unbounded"}))
    items = synthetic_items(200, seed=5)
    plain = IndexEngine(config=IndexConfig(calibration=str(path)))
    plain_ids = [a.cluster_id for a in plain.build(items)]
    assert isinstance(plain.verifier, UnboundedScorer)
    rows = np.arange(100, 200)
    chunk, _ = plain.scorer.chunk(rows, plain.candidates.candidates(rows.tolist()))
    assert chunk.pruned_share(plain.verifier.threshold) == 0.0
    shipped = IndexEngine(config=IndexConfig())
    assert [a.cluster_id for a in shipped.build(items)] == plain_ids
    assert len(set(plain_ids)) < len(items)  # some pairs merged: the scorer was asked


def test_a_registered_feature_source_reaches_the_features_and_the_score(monkeypatch):
    monkeypatch.setitem(features.SOURCES, "half", f"{__name__}:half")
    a, b = Anchors(tokens=("acme", "x1")), Anchors(tokens=("acme", "x2"))
    assert features.anchor_features(a, b)["test_half"] == 0.5
    layout = LevelLayout.from_dims({Level.PRIMARY: 2})
    v = np.array([1, 0], np.float32)
    logits = []
    for coef in ({}, {"test_half": 2.0}):
        s = create_scorer(Calibration(model=LogisticModel(coef=coef)), layout).score(
            v, a, v[None, :], [b]
        )
        assert s.features[0]["test_half"] == 0.5
        p = float(s.probability[0])
        logits.append(np.log(p / (1 - p)))
    assert logits[1] - logits[0] == pytest.approx(1.0, abs=1e-5)
