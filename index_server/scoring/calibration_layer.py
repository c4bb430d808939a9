"""A per-catalogue correction layered on a fitted calibration, from a few labelled pairs.

Refitting every coefficient (``calibration_fit``) on the tens of pairs a person labels in a
session overfits: ~27 coefficients from 20 labels. The layer fits a small correction of the
base model's logit instead,

    z' = (1 + scale) * z_base + bias + sum_f coef[f] * (x_f - mean[f]) / std[f]

by logistic regression with a Gaussian prior centred on "no correction" (bias, scale and
every coef 0), so with few labels it stays near the base model and moves only as far as the
labels insist. ``z_base`` is the base verifier's own logit (from its probability), so vetoes
or other evidence the base applies stay in; the features ``x_f`` are whatever the verifier's
feature rows hold (``PairTable.features``, ``Explanation.features``), standardised on the
unlabelled candidates. The layer is linear in the features, so ``layered`` folds it into an
ordinary ``Calibration`` (same weights and threshold): a file ``fitrep dedup --calibration``
reads. Measured in ``benchmarks/label.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from fitrep.domain import InvalidInput

from index_server.scoring.calibration import Calibration
from index_server.scoring.calibration_fit import feature_names, to_matrix
from index_server.scoring.logistic import LogisticModel

F64 = npt.NDArray[np.float64]
_CLIP = 1e-7  # probabilities come as float32: keep their logits finite (|z| <= 16)
_MIN_SCALE = -0.5  # the layer may flatten the base logit, never invert it


def logits(probabilities: npt.ArrayLike) -> F64:
    """Logit of each probability, clipped to the range float32 probabilities resolve."""
    p = np.clip(np.asarray(probabilities, np.float64), _CLIP, 1 - _CLIP)
    return np.asarray(np.log(p / (1 - p)), np.float64)


@dataclass(frozen=True)
class LayerPrior:
    """Precision (inverse variance) of the zero-centred prior on each part of the layer.

    The bias is cheap to move (a catalogue's scores shift as a whole); the scale and the
    feature coefficients cost more, since a few labels near the boundary say little about
    the slope or about any one feature. Chosen on the valid splits in ``benchmarks/label.py``.
    """

    bias: float = 0.5
    scale: float = 4.0
    coef: float = 2.0


@dataclass
class CalibrationLayer:
    """The fitted correction (module docstring); all zero: the base model unchanged."""

    bias: float = 0.0
    scale: float = 0.0
    coef: dict[str, float] = field(default_factory=dict)
    mean: dict[str, float] = field(default_factory=dict)
    std: dict[str, float] = field(default_factory=dict)
    labels: int = 0
    duplicates: int = 0

    def logits(self, base_logits: npt.ArrayLike, rows: Sequence[Mapping[str, float]]) -> F64:
        """Corrected logits, shape (n,), of pairs with base logits (n,) and feature rows."""
        z = (1.0 + self.scale) * np.asarray(base_logits, np.float64) + self.bias
        if self.coef:
            names = sorted(self.coef)
            x = to_matrix(rows, names)
            w = np.array([self.coef[n] / self.std[n] for n in names])
            z = z + (x - np.array([self.mean[n] for n in names])) @ w
        return np.asarray(z, np.float64)

    def probabilities(self, base_logits: npt.ArrayLike, rows: Sequence[Mapping[str, float]]) -> F64:
        return np.asarray(1.0 / (1.0 + np.exp(-self.logits(base_logits, rows))), np.float64)

    def layered(self, base: Calibration, notes: Mapping[str, Any] | None = None) -> Calibration:
        """``base`` (a logistic model) with the layer folded into its bias, coefficients and
        modality shifts."""
        if not isinstance(base.model, LogisticModel):
            raise InvalidInput(
                "calibration", f"a layer folds into a logistic model, not {base.scorer}"
            )
        k = 1.0 + self.scale
        coef = {n: k * c for n, c in base.model.coef.items()}
        bias = k * base.model.bias + self.bias
        for n, c in self.coef.items():
            coef[n] = coef.get(n, 0.0) + c / self.std[n]
            bias -= c * self.mean[n] / self.std[n]
        return Calibration(
            weights=dict(base.weights),
            threshold=base.threshold,
            model=LogisticModel(
                coef={n: round(c, 6) for n, c in coef.items() if c != 0.0},
                bias=bias,
                modality_shift={m: k * s for m, s in base.model.modality_shift.items()},
            ),
            version=f"{base.version}+layer{self.labels}",
            notes={
                **(dict(notes) if notes else {}),
                "base_version": base.version,
                "labels": self.labels,
                "duplicates": self.duplicates,
                "layer": {
                    "bias": round(self.bias, 6),
                    "scale": round(self.scale, 6),
                    "coef": {n: round(c, 6) for n, c in self.coef.items()},
                },
            },
        )


def fit_layer(
    base_logits: npt.ArrayLike,
    rows: Sequence[Mapping[str, float]],
    labels: Sequence[int],
    reference: Sequence[Mapping[str, float]] | None = None,
    features: bool = True,
    prior: LayerPrior | None = None,
) -> CalibrationLayer:
    """MAP fit of the layer on labelled pairs: ``base_logits`` (n,), feature ``rows`` and
    0/1 ``labels`` of the same n pairs. ``reference``: rows (labelled or not, e.g. every
    candidate pair) whose mean and spread standardise the features; default ``rows``.
    ``features=False`` fits bias and scale only. Any n works, one class included: the prior
    keeps the fit finite."""
    z = np.asarray(base_logits, np.float64)
    y = np.asarray(labels, np.float64)
    if not (len(z) == len(rows) == len(y)):
        raise InvalidInput("labels", f"{len(y)} labels, {len(rows)} rows, {len(z)} logits")
    prior = prior or LayerPrior()
    if len(y) == 0:
        return CalibrationLayer()
    ref = reference if reference is not None else rows
    names = feature_names(ref) if features else []
    ref_x = to_matrix(ref, names)
    std = ref_x.std(axis=0) if names else np.zeros(0)
    keep = std > 1e-9  # a constant feature cannot be told from the bias
    names = [n for n, k in zip(names, keep, strict=True) if k]
    mean, std = ref_x.mean(axis=0)[keep], std[keep]
    x = (to_matrix(rows, names) - mean) / std if names else np.zeros((len(y), 0))
    design = np.column_stack([np.ones_like(z), z, x])  # (n, 2 + F): bias, scale, coefs
    precision = np.r_[prior.bias, prior.scale, np.full(len(names), prior.coef)]

    theta = _newton(z, y, design, precision)
    if theta[1] < _MIN_SCALE:
        # The loss is convex, so the bounded optimum lies on the bound: fix the scale there
        # and fit the rest.
        fixed = z + _MIN_SCALE * z
        rest = _newton(fixed, y, np.delete(design, 1, axis=1), np.delete(precision, 1))
        theta = np.insert(rest, 1, _MIN_SCALE)
    return CalibrationLayer(
        bias=float(theta[0]),
        scale=float(theta[1]),
        coef={n: float(c) for n, c in zip(names, theta[2:], strict=True)},
        mean={n: float(m) for n, m in zip(names, mean, strict=True)},
        std={n: float(s) for n, s in zip(names, std, strict=True)},
        labels=len(y),
        duplicates=int(y.sum()),
    )


def _newton(z: F64, y: F64, design: F64, precision: F64, steps: int = 50) -> F64:
    """argmin over theta of the logistic loss of ``z + design @ theta`` against ``y`` plus
    ``0.5 * sum(precision * theta**2)``: Newton steps, halved while they do not lower it."""

    def loss(theta: F64) -> float:
        margin = z + design @ theta
        # log(1 + e^m) - y m, in a form that does not overflow for large |m|
        return float(np.sum(np.logaddexp(0.0, margin) - y * margin) + 0.5 * precision @ theta**2)

    theta = np.zeros(design.shape[1])
    current = loss(theta)
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(z + design @ theta)))
        grad = design.T @ (p - y) + precision * theta
        hess = (design * (p * (1 - p))[:, None]).T @ design + np.diag(precision)
        step = np.linalg.solve(hess, grad)
        size = 1.0
        while size > 1e-4 and loss(theta - size * step) > current:
            size /= 2
        theta = theta - size * step
        previous, current = current, loss(theta)
        if previous - current < 1e-10:
            break
    return theta
