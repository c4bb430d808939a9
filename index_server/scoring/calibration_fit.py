"""Fitting the calibration (level weights, logistic model, threshold) from labelled pairs.

A logistic regression (``logistic.LogisticModel``) over the scorer's named features (per-level
cosines, anchor agreement and conflict gates, image evidence). The level weights used for
retrieval are the positive per-level coefficients, normalised to sum to 1; the scorer uses the
per-level cosines directly (``coef["cos_<level>"]``), so ``weighted_cos`` gets no coefficient.
The threshold maximises F1 of out-of-fold probabilities, so it is not tuned on the rows the
coefficients were fitted on. With ``domains`` every domain weighs the same in the fit and in
the threshold: one large pair set (dblp-acm has 27x the pairs of beer) must not decide the
model that every other domain is then judged by (``benchmarks/transfer.py``, leave one domain
out, is where that was measured).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from fitrep.domain import InvalidInput, Level

from index_server.scoring.calibration import Calibration
from index_server.scoring.features import vetoed
from index_server.scoring.logistic import LogisticModel
from index_server.scoring.variant_gates import HARD_GATES, SUBSTITUTION_GATE

MIN_VISUAL_WEIGHT = 0.05  # share of the retrieval weights the VISUAL level keeps when fitted
# weighted_cos is a function of the per-level cosines and the weights being fitted; the hard
# gates are vetoes, not coefficients (``variant_gates``)
_EXCLUDED = ("weighted_cos", *HARD_GATES)
# The gates whose pairs the fit leaves out: the variant gates of one kind, not the typed
# substitution veto. That veto decides ~11k more pairs of the train/valid splits (two brands,
# two colours among otherwise different records); left out, they took with them the negatives
# that teach brand_conflict and the similarity terms (leave-one-domain-out 0.846 -> 0.820).
FIT_GATES = tuple(g for g in HARD_GATES if g != SUBSTITUTION_GATE)


def feature_names(rows: Sequence[Mapping[str, float]]) -> list[str]:
    names: set[str] = set()
    for row in rows:
        names.update(row)
    # the self-calibration's weights (``explain``) describe the score, they are not inputs
    return sorted(n for n in names if n not in _EXCLUDED and not n.startswith("selfcal_"))


def to_matrix(rows: Sequence[Mapping[str, float]], names: Sequence[str]) -> np.ndarray:
    """(n, len(names)) float64; a feature missing from a row is 0."""
    return np.array([[float(r.get(n, 0.0)) for n in names] for r in rows], np.float64)


def best_f1_threshold(
    probabilities: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None
) -> tuple[float, float]:
    """(threshold, F1) maximising (weighted) F1 of ``probabilities >= threshold``."""
    order = np.argsort(-probabilities, kind="stable")
    p, y = probabilities[order], labels[order].astype(np.float64)
    w = np.ones_like(y) if weights is None else np.asarray(weights, np.float64)[order]
    tp = np.cumsum(y * w)
    k = np.cumsum(w)
    positives = max(float((y * w).sum()), 1e-12)
    f1 = 2 * tp / (k + positives)
    # Only cut between distinct scores: ties go together.
    valid = np.r_[p[1:] < p[:-1], True]
    f1 = np.where(valid, f1, -1.0)
    i = int(np.argmax(f1))
    upper = float(p[i])
    lower = float(p[i + 1]) if i + 1 < len(p) else 0.0
    return (upper + lower) / 2 if lower < upper else upper, float(f1[i])


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


def _image_only_shift(
    rows: Sequence[Mapping[str, float]], oof: np.ndarray, y: np.ndarray, threshold: float
) -> float:
    """Logit that moves image-only pairs so their own best out-of-fold threshold meets the
    shared one (0 without enough labelled image-only pairs)."""
    text = [f"cos_{lv.name.lower()}" for lv in Level if lv != Level.VISUAL]
    mask = np.array(
        [r.get("image_both", 0.0) > 0 and not any(r.get(n, 0.0) for n in text) for r in rows]
    )
    if mask.sum() < 20 or y[mask].sum() < 5 or (1 - y[mask]).sum() < 5:
        return 0.0
    own, _ = best_f1_threshold(oof[mask], y[mask])
    return round(_logit(threshold) - _logit(own), 6)


def domain_weights(domains: Sequence[str]) -> np.ndarray:
    """Per-row weights that give every domain the same total (mean weight 1)."""
    names, index, counts = np.unique(np.asarray(domains), return_inverse=True, return_counts=True)
    return len(domains) / (len(names) * counts[index])


def fit_calibration(
    rows: Sequence[Mapping[str, float]],
    labels: Sequence[int],
    notes: Mapping[str, Any] | None = None,
    c: float = 1.0,
    folds: int = 5,
    seed: int = 0,
    domains: Sequence[str] | None = None,
) -> Calibration:
    """Fit on feature ``rows`` (from ``PairTable.features``) and 0/1 ``labels``; ``domains``
    (one name per row, e.g. the pair file's data set) balances the domains (module doc)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(labels, np.int64)
    if len(rows) != len(y):
        raise InvalidInput("labels", f"{len(y)} labels for {len(rows)} pairs")
    if len(set(y.tolist())) < 2 or min(int(y.sum()), int(len(y) - y.sum())) < folds:
        raise InvalidInput("labels", f"need at least {folds} duplicates and {folds} non-duplicates")
    if domains is not None and len(domains) != len(y):
        raise InvalidInput("domains", f"{len(domains)} domain names for {len(y)} pairs")
    w = domain_weights(domains) if domains is not None else np.ones(len(y))
    names = feature_names(rows)
    x = to_matrix(rows, names)
    # The model learns "same item, given no variant gate vetoes it": those pairs are decided
    # already, and fitting on them would teach the similarity terms that near-identical
    # listings of two sizes are different (lowering the family score too). Pairs only the
    # typed substitution veto decides stay in the fit (``FIT_GATES``). Every vetoed pair
    # counts with probability 0 when the threshold is chosen, as it is decided.
    keep = ~vetoed(rows, FIT_GATES)
    oof = np.zeros(len(y))
    kept = np.flatnonzero(keep)
    splits = StratifiedKFold(folds, shuffle=True, random_state=seed).split(x[kept], y[kept])
    for fit_rows, held in splits:
        fold_model = LogisticRegression(C=c, max_iter=2000)
        fold_model.fit(x[kept[fit_rows]], y[kept[fit_rows]], sample_weight=w[kept[fit_rows]])
        oof[kept[held]] = fold_model.predict_proba(x[kept[held]])[:, 1]
    oof[vetoed(rows)] = 0.0  # as decided: every hard gate vetoes, fitted on or not
    threshold, f1 = best_f1_threshold(oof, y, w)
    shift = _image_only_shift(rows, oof, y, threshold)
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit(x[keep], y[keep], sample_weight=w[keep])
    coef = {n: float(w) for n, w in zip(names, model.coef_[0], strict=True)}
    level_coef = {level: max(coef.get(f"cos_{level.name.lower()}", 0.0), 0.0) for level in Level}
    if "cos_visual" in names:
        # Photos may have no other level: with a zero VISUAL weight they would have no
        # retrieval vector, hence no candidates, whatever the verifier makes of them. The fit
        # drops it when other image evidence (histogram, RootSIFT) carries the same signal.
        rest = sum(v for lv, v in level_coef.items() if lv != Level.VISUAL)
        floor = MIN_VISUAL_WEIGHT / (1 - MIN_VISUAL_WEIGHT) * rest
        level_coef[Level.VISUAL] = max(level_coef[Level.VISUAL], floor)
    total = sum(level_coef.values())
    weights = {lv: (w / total if total > 0 else 0.0) for lv, w in level_coef.items()}
    return Calibration(
        weights=weights,
        threshold=float(threshold),
        model=LogisticModel(
            coef={n: round(w, 6) for n, w in coef.items() if w != 0.0},
            bias=float(model.intercept_[0]),
            modality_shift={"image_only": shift} if shift else {},
        ),
        version="fitted-1",
        notes={
            **(dict(notes) if notes else {}),
            "pairs": int(len(y)),
            "duplicates": int(y.sum()),
            "vetoed_pairs": int((~keep).sum()),
            "vetoed_duplicates": int(y[~keep].sum()),
            "out_of_fold_f1": round(f1, 4),
            "regularisation_C": c,
            **({"domains_balanced": sorted(set(domains))} if domains is not None else {}),
        },
    )
