"""SPDR: identity below its useful range, PCA/UMAP above, save/load round trip.
One UMAP fit per session (numba JIT is the slow part)."""

from __future__ import annotations

import sys

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


def _low_rank(n: int, d: int = 96, rank: int = 8, seed: int = 0) -> np.ndarray:
    """Points on an 8-d subspace: PCA keeps every neighbour."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, rank)) @ rng.normal(size=(rank, d)) + 0.01 * rng.normal(size=(n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("data, umap_below", [("low-rank", 0.9), ("isotropic", 0.0)])
def test_sweep_that_keeps_pca_never_imports_umap(monkeypatch, data, umap_below):
    """PCA keeps every neighbour (low rank), or is above the bar UMAP must beat (umap_below=0:
    any recall): UMAP is neither fitted nor imported."""
    monkeypatch.delitem(sys.modules, "umap", raising=False)
    monkeypatch.setitem(sys.modules, "umap", None)  # any `import umap` now raises
    fits: list[tuple[str, int]] = []
    r = SPDR(
        min_items=100, sweep=(16, 32), eval_queries=100, screen_items=500, umap_below=umap_below
    )
    original = r._fit_model

    def fit_model(method: str, sample: np.ndarray, dims: int) -> object:
        fits.append((method, len(sample)))
        return original(method, sample, dims)

    monkeypatch.setattr(r, "_fit_model", fit_model)
    rng = np.random.default_rng(0)
    x = _low_rank(1200) if data == "low-rank" else rng.normal(size=(1200, 96)).astype(np.float32)
    r.fit(x)
    assert r.method_ == "pca"
    assert [m for m, _ in fits if m != "pca"] == []
    assert r.report_["candidate_recall"].get("umap(16)") is None
    # screened on 500 rows, the winner refitted on the whole fit sample
    assert fits[0][1] == 500 and fits[-1][1] == 1200 and r.report_["screen_items"] == 500


def test_umap_is_screened_when_pca_leaves_room(monkeypatch):
    """Isotropic noise: no linear projection keeps the neighbours, so UMAP gets its screen
    (a stand-in model here: the real fit is covered by the session-wide one)."""

    class Fake:
        def transform(self, x: np.ndarray) -> np.ndarray:
            return x[:, :16]

    fits: list[str] = []
    r = SPDR(min_items=100, sweep=(16, 32), eval_queries=100, screen_items=500)
    original = r._fit_model

    def fit_model(method: str, sample: np.ndarray, dims: int) -> object:
        fits.append(method)
        return Fake() if method == "umap" else original(method, sample, dims)

    monkeypatch.setattr(r, "_fit_model", fit_model)
    rng = np.random.default_rng(0)
    r.fit(rng.normal(size=(800, 96)).astype(np.float32))
    assert fits[:3] == ["pca", "pca", "umap"]
    assert r.report_["candidate_recall"]["umap(16)"] is not None
