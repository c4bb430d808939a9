"""The calibration layer `fitrep label` refits: small, moves toward its labels, and folds
into an ordinary calibration file."""

from __future__ import annotations

import numpy as np

from index_server.scoring.calibration import Calibration
from index_server.scoring.calibration_fit import to_matrix
from index_server.scoring.calibration_layer import (
    CalibrationLayer,
    LayerPrior,
    fit_layer,
    logits,
)
from index_server.scoring.logistic import LogisticModel

BASE = Calibration(
    model=LogisticModel(
        coef={"cos_primary": 4.0, "idf_cosine": 2.0, "code_conflict": -3.0}, bias=-3.0
    ),
    threshold=0.3,
)


def _rows(n: int, seed: int = 0) -> list[dict[str, float]]:
    rng = np.random.default_rng(seed)
    return [
        {
            "weighted_cos": float(rng.random()),
            "cos_primary": float(rng.random()),
            "idf_cosine": float(rng.random()),
            "code_conflict": float(rng.random() < 0.2),
            "token_jaccard": float(rng.random()),  # a feature the base gives no weight
        }
        for _ in range(n)
    ]


def _linear(cal: Calibration, rows: list[dict[str, float]]) -> np.ndarray:
    """The verifier's logit of a calibration on feature rows (no image-only pairs here)."""
    names = sorted(cal.model.coef)
    z = cal.model.bias + to_matrix(rows, names) @ np.array([cal.model.coef[n] for n in names])
    return z


def test_no_labels_leave_the_base_model_unchanged():
    layer = fit_layer([], [], [])
    cal = layer.layered(BASE)
    assert cal.model == BASE.model and cal.threshold == BASE.threshold
    assert cal.weights == BASE.weights


def test_the_layered_file_scores_as_the_layer_does():
    rows = _rows(200)
    z = _linear(BASE, rows)
    labels = [int(r["token_jaccard"] > 0.5) for r in rows]  # evidence the base ignores
    layer = fit_layer(z[:40], rows[:40], labels[:40], reference=rows)
    assert layer.coef and layer.coef["token_jaccard"] > 0
    cal = layer.layered(BASE, {"layered_on": "shipped"})
    assert np.allclose(_linear(cal, rows), layer.logits(z, rows), atol=1e-4)
    assert cal.notes["labels"] == 40 and cal.notes["layered_on"] == "shipped"
    assert Calibration.from_json(cal.to_json()).model == cal.model  # survives the file


def test_labels_move_the_score_their_way():
    rows = _rows(60, seed=1)
    z = _linear(BASE, rows)
    t = logits([BASE.threshold])[0]
    below = [i for i in range(60) if t - 1.5 < z[i] < t][:10]
    above = [i for i in range(60) if t < z[i] < t + 1.5][:10]
    up = fit_layer(z[below], [rows[i] for i in below], [1] * len(below), reference=rows)
    down = fit_layer(z[above], [rows[i] for i in above], [0] * len(above), reference=rows)
    assert (up.logits(z[below], [rows[i] for i in below]) > z[below]).all()
    assert (down.logits(z[above], [rows[i] for i in above]) < z[above]).all()
    # enough agreeing labels carry the labelled pairs across the threshold
    many = fit_layer(
        np.tile(z[below], 4), [rows[i] for i in below] * 4, [1] * 4 * len(below), reference=rows
    )
    assert np.median(many.logits(z[below], [rows[i] for i in below])) > t


def test_the_prior_holds_the_layer_near_the_base():
    rows = _rows(30, seed=2)
    z = _linear(BASE, rows)
    flipped = [int(v < np.median(z)) for v in z]  # labels that contradict the base entirely
    layer = fit_layer(z[:10], rows[:10], flipped[:10], reference=rows)
    firm = fit_layer(
        z[:10], rows[:10], flipped[:10], reference=rows, prior=LayerPrior(32.0, 32.0, 32.0)
    )
    assert layer.scale >= -0.5  # the base logit's own part is flattened at most, not inverted
    assert np.isfinite(layer.bias) and all(np.isfinite(list(layer.coef.values())))
    moved = np.abs(layer.logits(z, rows) - z).mean()
    assert np.abs(firm.logits(z, rows) - z).mean() < moved / 2


def test_bias_and_scale_only():
    rows = _rows(20, seed=3)
    z = _linear(BASE, rows)
    layer = fit_layer(z, rows, [1] * 20, features=False)
    assert layer.coef == {} and layer.bias > 0
    assert isinstance(layer, CalibrationLayer) and layer.duplicates == 20
