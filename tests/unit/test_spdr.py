"""SPDR: identity below its useful range, PCA/UMAP above, save/load round trip.
One UMAP fit per session (numba JIT is the slow part)."""

from __future__ import annotations

import numpy as np
import pytest

from index_server.candidates.spdr import SPDR


def _clustered(n: int, d: int = 96, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n // 4, d))
    x = centres[rng.integers(0, len(centres), n)] + 0.05 * rng.normal(size=(n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="session")
def umap_reducer():
    return SPDR(method="umap", n_components=8, n_neighbors=10).fit(_clustered(400))


def test_small_n_is_identity_and_says_why():
    x = _clustered(100)
    r = SPDR(min_items=1000).fit(x)
    assert r.describe() == "identity" and r.metric_ == "ip"
    assert np.array_equal(r.transform(x), x)
    assert "min_items" in r.report_["reason"]


def test_auto_sweep_picks_a_reduction_and_reports_recall(monkeypatch):
    x = _clustered(600)
    r = SPDR(min_items=100, sweep=(16, 32), eval_queries=100)
    # keep the sweep to PCA here: UMAP is covered by its own session-wide fit
    monkeypatch.setattr(r, "_sweep_candidates", lambda: [("pca", 16), ("pca", 32)], raising=False)
    r.fit(x)
    assert r.method_ in ("pca", "umap")
    assert set(r.report_["candidate_recall"]) >= {"pca(16)", "pca(32)"}
    assert r.transform(x[:5]).shape == (5, r.n_components_)


def test_umap_transform_new_points_and_round_trip(tmp_path, umap_reducer):
    x_new = _clustered(20, seed=1)
    y = umap_reducer.transform(x_new)
    assert y.shape == (20, 8) and np.isfinite(y).all()
    path = tmp_path / "reducer.pkl"
    umap_reducer.save(path)
    again = SPDR.load(path)
    assert again.describe() == umap_reducer.describe()
    assert np.allclose(again.transform(x_new), y, atol=1e-4)


def test_transform_checks_shape(umap_reducer):
    from fitrep.domain import InvalidInput

    with pytest.raises(InvalidInput):
        umap_reducer.transform(np.zeros((2, 5), np.float32))


def test_spdr_is_a_scikit_learn_estimator():
    from fitrep.domain import InvalidInput
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError

    r = SPDR(method="pca", n_components=4)
    assert clone(r).get_params()["n_components"] == 4
    with pytest.raises(NotFittedError):
        r.transform(_clustered(8))
    with pytest.raises(InvalidInput) as err:  # hyper-parameters are checked in fit
        SPDR(method="tsne").fit(_clustered(8))
    assert err.value.field == "spdr.method"
