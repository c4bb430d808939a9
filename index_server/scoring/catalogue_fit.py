"""Self-calibration of one catalogue: the Fellegi–Sunter weights of its typed comparisons,
fitted on its own candidate pairs, and how they correct the shipped calibration's score.

The prior is shipped beside the calibration and fitted on the same labelled splits
(``selfcal_prior.json``, ``scripts/selfcal_prior.py``): how often each comparison level
occurs among labelled duplicates (``m``) and labelled non-duplicates (``u``), so its weights
``w_prior = log2(m / u)`` are what the shipped calibration learned about typed differences
on other people's data. EM re-fits ``m``, ``u`` and the share of duplicates on this
catalogue's candidate pairs, starting from the prior and pulled towards it by a Dirichlet
prior (``FSPrior.strength`` pairs per comparison). The prior also fixes which class means
"duplicate" (without it, EM may split the pairs along whatever differs most, the failure
Splink showed on a template catalogue). The decision adds to the shipped logit the
difference, comparison by comparison, between the catalogue's weight and the prior's weight
of the level the pair shows:

    z = z_shipped + ln 2 * sum_k (w_fit[k, l_k] - w_prior[k, l_k])

A catalogue with few candidate pairs is not fitted (the difference is 0: today's decision),
and a weak fit stays near its prior, so its difference is small.

Which differences count (``scope``): by default only the substitution level of identity
comparisons, and only downwards ("substitutions"): a brand, colour or size substitution may
count for more against here than the shipped calibration thought, nothing else moves. EM
over candidate pairs does not always find the duplicates as its "match" class: on the
Amazon-Google catalogue it settled on a 17 % class of same-product-line pairs, and the
corrections of agreements and additions it implied (up to +6 bits) cost precision
(``benchmarks/results/selfcal.md``). "all" applies every level's difference, gains capped at
``max_gain`` nats.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from fitrep.domain import Anchors

from index_server.scoring import comparisons
from index_server.scoring.comparisons import (
    COMPARISONS,
    SUBSTITUTION,
    SUBSTITUTION_GATES,
    level_matrix,
    substituted,
)
from index_server.scoring.self_calibration import LEVEL_NAMES, LEVELS, FellegiSunter, FSPrior
from index_server.scoring.sibling_bound import sibling_bits

F64 = npt.NDArray[np.float64]
MIN_PAIRS = 2000  # fewer candidate pairs: not fitted, the shipped calibration decides
STRENGTH = 200.0  # the prior's weight, in pairs per comparison
PRIOR_PATH = Path(__file__).with_name("selfcal_prior.json")
# comparisons of an identity type: EM may not make their substitution likelier among
# duplicates than the prior (``FellegiSunter.capped``)
IDENTITY = ("brand", "code", "quantity", "pack", "size", "colour", "flavour", "generation")
_LN2 = float(np.log(2.0))


@dataclass
class SelfCalibration:
    """The fitted correction (module docstring); ``fitted`` False: no correction."""

    names: tuple[str, ...] = COMPARISONS
    weights: F64 = field(default_factory=lambda: np.zeros((len(COMPARISONS), LEVELS)))
    prior_weights: F64 = field(default_factory=lambda: np.zeros((len(COMPARISONS), LEVELS)))
    fitted: bool = False
    reason: str = "not fitted"
    pairs: int = 0
    random_pairs: int = 0
    duplicate_share: float = 0.0
    max_gain: float = 1.0  # nats, with scope "all"
    scope: str = "substitutions"  # or "all" (module docstring)
    # (K,) bits the sibling bound takes from each substitution (``sibling_bound``)
    sibling: F64 = field(default_factory=lambda: np.zeros(0))
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.sibling) != len(self.names):  # none given: no bound
            self.sibling = np.zeros(len(self.names))

    @property
    def delta(self) -> F64:
        """(K, LEVELS) bits each level adds to (or takes from) the shipped score."""
        diff = np.asarray(self.weights - self.prior_weights, np.float64)
        if not self.fitted:
            return np.zeros_like(diff)
        out = diff.copy() if self.scope == "all" else np.zeros_like(diff)
        for k, name in enumerate(self.names):
            if name in IDENTITY:  # the stronger of the two corrections, never a gain
                fs = min(diff[k, SUBSTITUTION], 0.0)
                out[k, SUBSTITUTION] = min(fs, float(self.sibling[k]))
        return out

    @property
    def max_adjustment(self) -> float:
        """The most any pair's logit can rise (for the chunk's score bounds)."""
        return self.max_gain if self.fitted and self.scope == "all" else 0.0

    def adjustment(self, levels: npt.ArrayLike) -> F64:
        """(n,) logit correction (nats) of pairs with ``levels`` (n, K)."""
        x = np.asarray(levels, np.int64)
        if not self.fitted or not len(x):
            return np.zeros(len(x))
        bits = self.delta[np.arange(x.shape[1]), x].sum(axis=1)
        return np.asarray(np.minimum(_LN2 * bits, self.max_gain), np.float64)

    def levels(self, a: Anchors, b: Anchors, features: Mapping[str, float]) -> list[int]:
        return level_matrix([(a, b)], [features], self.names)[0].tolist()

    def adjust(self, a: Anchors, b: Anchors, features: Mapping[str, float]) -> float:
        """The correction of one pair (the verifier's hook)."""
        if not self.fitted:
            return 0.0
        return float(self.adjustment([self.levels(a, b, features)])[0])

    def pair_adjust(self) -> Callable[[Anchors, Anchors, Mapping[str, float]], float]:
        """``adjust`` for the verifier, which asks it of every scored pair (over 100k pairs
        in a 100k-item build). Under scope "substitutions" only identity substitutions carry
        a correction, and whether a pair shows one is what its gates say
        (``comparisons.substituted``): the correction is then a sum over the fired gates,
        without typing the pair's other levels. Same value as ``adjust``; any other set-up
        (scope "all", another level source) gets ``adjust`` itself."""
        delta = self.delta
        bits = {
            name: float(delta[k, SUBSTITUTION])
            for k, name in enumerate(self.names)
            if delta[k].any()
        }
        general = (
            self.scope == "all"
            or comparisons.LEVEL_SOURCE is not comparisons.verifier_levels
            or not set(bits) <= set(SUBSTITUTION_GATES)
        )
        if general or not self.fitted:
            return self.adjust
        max_gain = self.max_gain

        def adjust(a: Anchors, b: Anchors, features: Mapping[str, float]) -> float:
            total = sum(w for name, w in bits.items() if substituted(name, features))
            return min(_LN2 * total, max_gain)

        return adjust

    def explain(
        self, a: Anchors, b: Anchors, features: Mapping[str, float]
    ) -> list[dict[str, Any]]:
        """One row per comparison: its level and weights (bits), the waterfall's bars."""
        return self._explain(self.levels(a, b, features))

    def _explain(self, levels: Sequence[int]) -> list[dict[str, Any]]:
        delta = self.delta  # a property: computed once, not per comparison
        return [
            {
                "comparison": name,
                "level": LEVEL_NAMES[lv],
                "weight": round(float(self.weights[k, lv]), 3),
                "shipped_weight": round(float(self.prior_weights[k, lv]), 3),
                "correction": round(float(delta[k, lv]), 3),
                "applied": round(float(self.prior_weights[k, lv] + delta[k, lv]), 3),
            }
            for k, (name, lv) in enumerate(zip(self.names, levels, strict=True))
        ]

    def features(self, a: Anchors, b: Anchors, features: Mapping[str, float]) -> dict[str, float]:
        """``explain``'s named values: ``selfcal_<comparison>`` the weight (bits) this catalogue
        judges the level the pair shows by (the shipped prior's plus the correction),
        ``selfcal_logit`` the correction applied to the score (nats)."""
        levels = self.levels(a, b, features)  # typed once for both
        out = {f"selfcal_{row['comparison']}": row["applied"] for row in self._explain(levels)}
        out["selfcal_logit"] = round(float(self.adjustment([levels])[0]), 4)  # 0: not fitted
        return out

    def to_json(self) -> dict[str, Any]:
        table = {
            name: {
                level: {
                    "weight": round(float(self.weights[k, j]), 6),
                    "shipped_weight": round(float(self.prior_weights[k, j]), 6),
                    "applied": round(float(self.prior_weights[k, j] + self.delta[k, j]), 6),
                }
                for j, level in enumerate(LEVEL_NAMES)
            }
            for k, name in enumerate(self.names)
        }
        return {
            "fitted": self.fitted,
            "reason": self.reason,
            "pairs": self.pairs,
            "random_pairs": self.random_pairs,
            "duplicate_share": round(self.duplicate_share, 4),
            "max_gain": self.max_gain,
            "scope": self.scope,
            "weights_bits": table,
            "sibling_bound_bits": {
                n: round(float(v), 6) for n, v in zip(self.names, self.sibling, strict=True)
            },
            **self.details,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SelfCalibration:
        table = data.get("weights_bits", {})
        names = tuple(table) or COMPARISONS
        w = (
            np.array([[table[n][lv]["weight"] for lv in LEVEL_NAMES] for n in names])
            if table
            else None
        )
        p = (
            np.array([[table[n][lv]["shipped_weight"] for lv in LEVEL_NAMES] for n in names])
            if table
            else None
        )
        out = cls(
            names=names,
            fitted=bool(data.get("fitted", False)),
            reason=str(data.get("reason", "")),
            pairs=int(data.get("pairs", 0)),
            random_pairs=int(data.get("random_pairs", 0)),
            duplicate_share=float(data.get("duplicate_share", 0.0)),
            max_gain=float(data.get("max_gain", 1.0)),
            scope=str(data.get("scope", "substitutions")),
        )
        if w is not None and p is not None:
            out.weights, out.prior_weights = w, p
        bound = data.get("sibling_bound_bits", {})
        out.sibling = np.array([float(bound.get(n, 0.0)) for n in names])
        return out


def load_prior(path: Path | None = None, strength: float = STRENGTH) -> FSPrior:
    """The shipped prior (``scripts/selfcal_prior.py``: level frequencies among the labelled
    duplicates and non-duplicates the shipped calibration was fitted on), in ``COMPARISONS``
    order; a comparison it lacks gets a flat prior."""
    data = json.loads((path or PRIOR_PATH).read_text())
    row = {name: k for k, name in enumerate(data["comparisons"])}
    flat = FSPrior.flat(len(COMPARISONS))
    m, u = flat.m.copy(), flat.u.copy()
    for k, name in enumerate(COMPARISONS):
        if name in row:
            m[k], u[k] = data["m"][row[name]], data["u"][row[name]]
    return FSPrior(m, u, float(data["lambda"]), strength)


def catalogue_prior(levels: npt.ArrayLike, shipped: FSPrior) -> FSPrior:
    """The shipped prior moved to this catalogue: how often each level occurs differs from
    catalogue to catalogue (a template shop gives every item a size; a software catalogue
    none), what a level says does not. So ``u`` starts at the candidate pairs' own level
    frequencies (nearly all of them non-duplicates) and ``m`` at ``u`` times the shipped
    likelihood ratio ``m / u`` of each level."""
    x = np.asarray(levels, np.int64)
    u = np.eye(LEVELS)[x].sum(axis=0) + 1.0
    u /= u.sum(axis=1, keepdims=True)
    m = u * (shipped.m / shipped.u)
    m /= m.sum(axis=1, keepdims=True)
    return FSPrior(m, u, shipped.lambda_, shipped.strength)


def fit_self_calibration(
    levels: npt.ArrayLike,
    random_levels: npt.ArrayLike | None = None,
    prior: FSPrior | None = None,
    names: Sequence[str] = COMPARISONS,
    min_pairs: int = MIN_PAIRS,
    max_gain: float = 1.0,
    scope: str = "substitutions",
    logits: npt.ArrayLike | None = None,
) -> SelfCalibration:
    """Fit on the candidate pairs' ``levels`` (n, K) from the shipped ``prior`` (default
    ``load_prior()``); ``random_levels`` (r, K) of random pairs are reported beside the fit.
    ``logits`` (n,): the shipped logits of the pairs, for the sibling bound (``sibling_bound``;
    read only where a pair substitutes one identity comparison alone)."""
    x = np.asarray(levels, np.int64).reshape(-1, len(names))
    n = len(x)
    empty = np.zeros((len(names), LEVELS))
    if n < min_pairs:
        return SelfCalibration(
            tuple(names), empty, empty.copy(), False, f"{n} candidate pairs < {min_pairs}", n
        )
    shipped = prior if prior is not None else load_prior()
    here = catalogue_prior(x, shipped)
    capped = [k for k, name in enumerate(names) if name in IDENTITY]
    model = FellegiSunter(capped=capped).fit(x, random_levels, here)
    # a level no candidate pair shows has no evidence either way: weight 0 (fitted and prior)
    seen = np.eye(LEVELS)[x].sum(axis=0) > 0
    weights = np.where(seen, model.weights_, 0.0)
    prior_w = np.where(seen, np.log2(here.m / here.u), 0.0)
    details: dict[str, Any] = {"em_iterations": model.n_iter_, "converged": model.converged_}
    if model.u_random_ is not None:
        details["u_random"] = {
            name: {lv: round(float(model.u_random_[k, j]), 4) for j, lv in enumerate(LEVEL_NAMES)}
            for k, name in enumerate(names)
        }
    return SelfCalibration(
        names=tuple(names),
        weights=weights,
        prior_weights=prior_w,
        fitted=True,
        reason=f"fitted on {n} candidate pairs",
        pairs=n,
        random_pairs=0 if random_levels is None else len(np.asarray(random_levels)),
        duplicate_share=model.lambda_,
        max_gain=max_gain,
        scope=scope,
        sibling=(
            np.zeros(len(names))
            if logits is None
            else sibling_bits(x, logits, names, IDENTITY, shipped)
        ),
        details=details,
    )
