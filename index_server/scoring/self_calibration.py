"""The Fellegi–Sunter model fitted by EM, without labels (as Splink fits it).

Each candidate pair is described by discrete comparison levels, one per comparison (brand,
code, colour, ... see ``comparisons``); level 0 = agree, 1 = nothing to compare, 2 = one side
only (an addition), 3 = both sides, different values (a substitution). The model says a pair
is a duplicate with probability ``lambda_``, and that given its class the comparisons are
independent: ``m_[k, l]`` = P(level l of comparison k | duplicate), ``u_[k, l]`` = the same
among the non-duplicate candidates. A level's match weight is ``log2(m / u)``; a pair's is
the sum over comparisons plus the prior odds.

Why ``u_`` is learned here and not fixed at its random-pair value (Splink's default): the
non-duplicates the candidate search proposes agree far more often than random pairs do. In a
template catalogue (``<brand> <product> <size> <colour>``) a candidate non-duplicate agrees on
all but one slot; against random-pair ``u`` it looks like a duplicate, EM then absorbs it
into ``m`` and learns a brand substitution weight near zero. So ``u_`` is the non-duplicate
class *among candidates*; the random pairs' frequencies (``u_random_``) are reported beside
it, and are its prior when no other prior is given.

Both ``m_`` and ``u_`` carry a Dirichlet prior (``FSPrior``, strength in pairs per
comparison), so on a catalogue with few pairs the fit stays at the prior: there the prior
comes from the shipped calibration (``catalogue_fit``), and the decision falls back to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from fitrep.domain import InvalidInput

F64 = npt.NDArray[np.float64]
LEVELS = 4  # agree, absent, addition, substitution
LEVEL_NAMES = ("agree", "absent", "addition", "substitution")
_SUBSTITUTION = 3
_FLOOR = 1e-4  # no level is impossible: its weight stays finite


@dataclass
class FSPrior:
    """Prior means of ``m`` and ``u`` ((K, LEVELS), rows sum to 1), of ``lambda_``, and
    their strength: pseudo-pairs per comparison (``strength``) and for ``lambda_``."""

    m: F64
    u: F64
    lambda_: float = 0.1
    strength: float = 200.0

    @classmethod
    def flat(cls, k: int, strength: float = 200.0) -> FSPrior:
        """A prior that says little: duplicates mostly agree, non-duplicates anything."""
        m = np.tile([0.7, 0.2, 0.07, 0.03], (k, 1))
        u = np.full((k, LEVELS), 1.0 / LEVELS)
        return cls(m, u, 0.1, strength)


def _as_levels(levels: npt.ArrayLike, name: str) -> npt.NDArray[np.int64]:
    x = np.asarray(levels, np.int64)
    if x.ndim != 2:
        raise InvalidInput(name, f"expected (pairs, comparisons) levels, got shape {x.shape}")
    if x.size and (x.min() < 0 or x.max() >= LEVELS):
        raise InvalidInput(name, f"levels must lie in 0..{LEVELS - 1}")
    return x


def _one_hot(levels: npt.NDArray[np.int64]) -> F64:
    """(n, K) levels -> (n, K, LEVELS) indicators."""
    return np.asarray(np.eye(LEVELS)[levels], np.float64)


def _normalise(counts: F64) -> F64:
    counts = np.maximum(counts, _FLOOR)
    return np.asarray(counts / counts.sum(axis=-1, keepdims=True), np.float64)


class FellegiSunter:
    """Two-class latent model over discrete comparison levels (module docstring).

    ``fit(levels, random_levels, prior)``: ``levels`` (n, K) of the candidate pairs,
    ``random_levels`` (r, K) of random pairs (``u_random_``; without ``prior``, the prior of
    ``u_``),
    ``prior`` an ``FSPrior`` (default: ``FSPrior.flat``). Learned: ``m_``, ``u_`` (K,
    LEVELS), ``lambda_``, ``u_random_``, ``n_iter_``, ``converged_``, ``n_pairs_``.
    """

    def __init__(self, max_iter: int = 200, tol: float = 1e-6, capped: Sequence[int] = ()) -> None:
        """``capped``: comparisons (identity types) whose substitution rate among
        duplicates may fall below the prior's but never rise above it."""
        self.max_iter = max_iter
        self.tol = tol
        self.capped = tuple(capped)

    def fit(
        self,
        levels: npt.ArrayLike,
        random_levels: npt.ArrayLike | None = None,
        prior: FSPrior | None = None,
        start: npt.ArrayLike | None = None,
    ) -> FellegiSunter:
        """EM from ``start`` (n,) duplicate probabilities of the pairs (default: the
        prior's posterior). Returns self."""
        x = _as_levels(levels, "levels")
        n, k = x.shape
        given_prior = prior is not None
        prior = prior if prior is not None else FSPrior.flat(k)
        if prior.m.shape != (k, LEVELS) or prior.u.shape != (k, LEVELS):
            raise InvalidInput("prior", f"m and u must be ({k}, {LEVELS})")
        self.u_random_: F64 | None = None
        if random_levels is not None:
            r = _as_levels(random_levels, "random_levels")
            if r.shape[1] != k:
                raise InvalidInput("random_levels", f"{r.shape[1]} comparisons, expected {k}")
            self.u_random_ = _normalise(_one_hot(r).sum(axis=0) + 1.0)
        # without a prior of its own, the random pairs' frequencies are the prior of u
        u_prior = np.asarray(
            prior.u if given_prior or self.u_random_ is None else self.u_random_, np.float64
        )
        onehot = _one_hot(x)  # (n, K, L)
        s = prior.strength
        m, u, lam = np.asarray(prior.m, np.float64), u_prior, float(prior.lambda_)
        resp = (
            np.clip(np.asarray(start, np.float64), 0.0, 1.0)
            if start is not None
            else self._posterior(x, m, u, lam)
        )
        self.n_iter_, self.converged_ = 0, False
        for it in range(1, self.max_iter + 1):
            m_new = self._cap(
                _normalise(np.einsum("n,nkl->kl", resp, onehot) + s * prior.m), prior.m
            )
            u_new = _normalise(np.einsum("n,nkl->kl", 1.0 - resp, onehot) + s * u_prior)
            lam_new = float((resp.sum() + s * prior.lambda_) / (n + s))
            delta = max(np.abs(m_new - m).max(), np.abs(u_new - u).max(), abs(lam_new - lam))
            m, u, lam = m_new, u_new, lam_new
            resp = self._posterior(x, m, u, lam)
            self.n_iter_ = it
            if delta < self.tol:
                self.converged_ = True
                break
        self.m_, self.u_, self.lambda_ = m, u, lam
        self.n_pairs_ = n
        return self

    def _cap(self, m: F64, prior_m: F64) -> F64:
        """A substitution of an identity type is no likelier among duplicates than the prior
        says: EM that explains a class of near-identical non-duplicates (a template's pairs
        that differ in one slot) as duplicates would otherwise learn that it is common."""
        for k in self.capped:
            if m[k, _SUBSTITUTION] > prior_m[k, _SUBSTITUTION]:
                rest = np.arange(LEVELS) != _SUBSTITUTION
                free = 1.0 - prior_m[k, _SUBSTITUTION]
                m[k, rest] *= free / m[k, rest].sum()
                m[k, _SUBSTITUTION] = prior_m[k, _SUBSTITUTION]
        return m

    @staticmethod
    def _posterior(x: npt.NDArray[np.int64], m: F64, u: F64, lam: float) -> F64:
        cols = np.arange(x.shape[1])
        w = np.log(m[cols, x]).sum(axis=1) - np.log(u[cols, x]).sum(axis=1)
        z = w + np.log(lam / (1.0 - lam))
        return np.asarray(1.0 / (1.0 + np.exp(-z)), np.float64)

    @property
    def weights_(self) -> F64:
        """(K, LEVELS) match weight of each level, in bits (log2 m/u)."""
        return np.asarray(np.log2(self.m_ / self.u_), np.float64)

    @property
    def prior_weight_(self) -> float:
        """The prior odds of a duplicate among candidates, in bits."""
        return float(np.log2(self.lambda_ / (1.0 - self.lambda_)))

    def explain(self, levels: npt.ArrayLike) -> F64:
        """(n, K) the weight (bits) each comparison adds for each pair: the waterfall's bars."""
        x = _as_levels(levels, "levels")
        return np.asarray(self.weights_[np.arange(x.shape[1]), x], np.float64)

    def match_weight(self, levels: npt.ArrayLike) -> F64:
        """(n,) match weight in bits: prior odds plus every comparison's weight."""
        return np.asarray(self.prior_weight_ + self.explain(levels).sum(axis=1), np.float64)

    def predict_proba(self, levels: npt.ArrayLike) -> F64:
        """(n,) posterior duplicate probability."""
        return np.asarray(1.0 / (1.0 + 2.0 ** (-self.match_weight(levels))), np.float64)
