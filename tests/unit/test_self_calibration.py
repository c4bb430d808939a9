"""The Fellegi–Sunter self-calibration: EM recovers a known model, the prior wins where the
catalogue is small, and the correction it gives the shipped score."""

from __future__ import annotations

import numpy as np
import pytest
from fitrep.domain import Anchors, InvalidInput
from hypothesis import given, settings
from hypothesis import strategies as st

from index_server.scoring.catalogue_fit import (
    SelfCalibration,
    catalogue_prior,
    fit_self_calibration,
    load_prior,
)
from index_server.scoring.comparisons import (
    ABSENT,
    ADDITION,
    AGREE,
    COMPARISONS,
    SUBSTITUTION,
    SUBSTITUTION_GATES,
    verifier_levels,
)
from index_server.scoring.self_calibration import LEVELS, FellegiSunter, FSPrior
from index_server.scoring.sibling_bound import sibling_bits

M = np.array(
    [
        [0.90, 0.05, 0.04, 0.01],
        [0.70, 0.25, 0.04, 0.01],
        [0.80, 0.10, 0.05, 0.05],
        [0.60, 0.30, 0.08, 0.02],
    ]
)
U = np.array(
    [
        [0.10, 0.10, 0.20, 0.60],
        [0.05, 0.30, 0.15, 0.50],
        [0.20, 0.20, 0.20, 0.40],
        [0.25, 0.25, 0.25, 0.25],
    ]
)


def _simulate(n: int, lam: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(levels (n, K), true class (n,)) drawn from the model (M, U, lam)."""
    rng = np.random.default_rng(seed)
    dup = rng.random(n) < lam
    levels = np.empty((n, len(M)), np.int64)
    for k in range(len(M)):
        levels[:, k] = np.where(dup, rng.choice(LEVELS, n, p=M[k]), rng.choice(LEVELS, n, p=U[k]))
    return levels, dup


def test_em_recovers_known_m_u_and_share() -> None:
    levels, _ = _simulate(40_000, 0.3)
    model = FellegiSunter().fit(levels, prior=FSPrior.flat(len(M), strength=1.0))
    assert model.converged_
    assert np.abs(model.m_ - M).max() < 0.03
    assert np.abs(model.u_ - U).max() < 0.03
    assert abs(model.lambda_ - 0.3) < 0.02


def test_match_weight_ranks_simulated_duplicates() -> None:
    levels, dup = _simulate(20_000, 0.2, seed=1)
    model = FellegiSunter().fit(levels)
    proba = model.predict_proba(levels)
    accuracy = ((proba >= 0.5) == dup).mean()
    assert accuracy > 0.9
    # the waterfall's bars add up to the match weight
    bars = model.explain(levels[:5])
    assert np.allclose(model.prior_weight_ + bars.sum(axis=1), model.match_weight(levels[:5]))


def test_random_pairs_are_reported_and_priored() -> None:
    levels, _ = _simulate(5000, 0.3)
    random_levels, _ = _simulate(3000, 0.0, seed=2)
    model = FellegiSunter().fit(levels, random_levels)
    assert model.u_random_ is not None
    assert np.abs(model.u_random_ - U).max() < 0.04


def test_levels_are_checked() -> None:
    with pytest.raises(InvalidInput):
        FellegiSunter().fit(np.array([[0, 4]]))
    with pytest.raises(InvalidInput):
        FellegiSunter().fit(np.zeros(3, np.int64))


NAMES = ("brand", "code", "quantity", "word")


def _shipped() -> FSPrior:
    return FSPrior(M.copy(), U.copy(), 0.3, strength=200.0)


def test_prior_wins_on_a_tiny_catalogue() -> None:
    """Few pairs: no fit at all below ``min_pairs``; just above, the weights stay near the
    shipped prior's, so the correction is small; many pairs of a catalogue that differs from
    the prior move the weights."""
    levels, _ = _simulate(300, 0.3)
    tiny = fit_self_calibration(levels, prior=_shipped(), names=NAMES, min_pairs=2000)
    assert not tiny.fitted
    assert np.all(tiny.adjustment(levels) == 0.0)
    # a catalogue where comparison 1's substitution is far rarer among duplicates
    m_here = M.copy()
    m_here[1] = [0.74, 0.25, 0.01, 0.0]
    rng = np.random.default_rng(3)
    dup = rng.random(40_000) < 0.3
    n = len(dup)
    many = np.stack(
        [
            np.where(dup, rng.choice(LEVELS, n, p=m_here[k]), rng.choice(LEVELS, n, p=U[k]))
            for k in range(len(M))
        ],
        axis=1,
    )
    small = fit_self_calibration(many[:40], prior=_shipped(), names=NAMES, min_pairs=10)
    big = fit_self_calibration(many, prior=_shipped(), names=NAMES, min_pairs=10)
    assert small.fitted and big.fitted
    assert np.abs(small.delta).max() < 0.5  # bits: the prior holds
    assert big.delta[1, SUBSTITUTION] < -1.0
    assert big.delta[1, SUBSTITUTION] < small.delta[1, SUBSTITUTION] - 1.0


def test_identity_substitution_is_capped_at_the_prior() -> None:
    """EM may not learn that a substitution is commoner among duplicates than the prior says
    (the Splink failure: a class of one-slot siblings absorbed as duplicates)."""
    levels, _ = _simulate(20_000, 0.3)
    prior = FSPrior.flat(len(M), strength=1.0)
    free = FellegiSunter().fit(levels, prior=prior)
    capped = FellegiSunter(capped=[3]).fit(levels, prior=prior)
    assert free.m_[3, SUBSTITUTION] < prior.m[3, SUBSTITUTION]  # the data needs no cap here
    capped_low = FellegiSunter(capped=[3]).fit(
        levels, prior=FSPrior(prior.m * [1, 1, 1, 0.2] / (1 - 0.8 * 0.03), prior.u, 0.1, 1.0)
    )
    assert np.allclose(capped.m_, free.m_)
    assert capped_low.m_[3, SUBSTITUTION] <= 0.2 * 0.03 / (1 - 0.8 * 0.03) + 1e-9
    assert np.allclose(capped_low.m_.sum(axis=1), 1.0)


def test_catalogue_prior_keeps_the_shipped_ratios() -> None:
    levels = np.array([[AGREE], [AGREE], [SUBSTITUTION], [ABSENT]])
    shipped = FSPrior(np.array([[0.8, 0.1, 0.05, 0.05]]), np.array([[0.2, 0.1, 0.2, 0.5]]))
    here = catalogue_prior(levels, shipped)
    ratio = np.log2(here.m / here.u)[0]
    expected = np.log2(shipped.m / shipped.u)[0]
    assert np.allclose(ratio - ratio[0], expected - expected[0])
    assert here.u[0, AGREE] > here.u[0, ADDITION]  # the catalogue's own frequencies


def test_shipped_prior_file_loads() -> None:
    prior = load_prior()
    assert prior.m.shape == (len(COMPARISONS), LEVELS)
    assert np.allclose(prior.m.sum(axis=1), 1.0) and np.allclose(prior.u.sum(axis=1), 1.0)
    # what the labelled pairs say: a brand substitution is evidence against
    assert prior.m[0, SUBSTITUTION] < prior.u[0, SUBSTITUTION]


def test_correction_caps_gains_and_round_trips() -> None:
    fitted = SelfCalibration(
        names=("brand", "word"),
        weights=np.array([[3.0, 0.0, 0.0, -6.0], [4.0, 0.0, 0.0, 0.0]]),
        prior_weights=np.array([[1.0, 0.0, 0.0, -1.0], [1.0, 0.0, 0.0, 0.0]]),
        fitted=True,
        max_gain=1.0,
        scope="all",
    )
    adj = fitted.adjustment([[SUBSTITUTION, ABSENT], [AGREE, AGREE]])
    assert adj[0] == pytest.approx(-5.0 * np.log(2.0))
    assert adj[1] == pytest.approx(1.0)  # +5 bits, capped at max_gain nats
    # the default scope: only identity substitutions, and only downwards
    fitted.scope = "substitutions"
    assert fitted.delta[0, SUBSTITUTION] == -5.0 and fitted.delta[0, AGREE] == 0.0
    assert np.all(fitted.delta[1] == 0.0)  # "word" is no identity type
    assert fitted.max_adjustment == 0.0
    fitted.prior_weights[0, SUBSTITUTION] = -9.0  # the catalogue is laxer: no correction
    assert fitted.delta[0, SUBSTITUTION] == 0.0
    fitted.scope, fitted.prior_weights[0, SUBSTITUTION] = "all", -1.0
    again = SelfCalibration.from_json(fitted.to_json())
    assert np.allclose(again.weights, fitted.weights)
    assert np.allclose(again.adjustment([[SUBSTITUTION, ABSENT]]), adj[:1])


@settings(max_examples=200, deadline=None)
@given(
    weights=st.lists(st.floats(-8, 8), min_size=len(COMPARISONS), max_size=len(COMPARISONS)),
    fired=st.sets(
        st.sampled_from(sorted({g for gs in SUBSTITUTION_GATES.values() for g in gs}))
        | st.just("code_match")
    ),
    coded=st.booleans(),
    scope=st.sampled_from(["substitutions", "all"]),
)
def test_pair_adjust_is_adjust(
    weights: list[float], fired: set[str], coded: bool, scope: str
) -> None:
    """The verifier's fast correction gives ``adjust``'s value for any fit and any gates."""
    w = np.zeros((len(COMPARISONS), LEVELS))
    w[:, SUBSTITUTION] = weights
    w[:, AGREE] = weights[::-1]
    fitted = SelfCalibration(weights=w, prior_weights=np.zeros_like(w), fitted=True, scope=scope)
    codes = ("t0441",) if coded else ()
    a = Anchors(brand=("kestor",), code=codes, tokens=("kestor", "oil"), variant=("colour:navy",))
    b = Anchors(brand=("brandon",), code=codes, tokens=("brandon", "oil"), quantity=("1 l",))
    features = {name: 1.0 for name in fired}
    assert fitted.pair_adjust()(a, b, features) == pytest.approx(fitted.adjust(a, b, features))


def test_verifier_levels_type_the_difference() -> None:
    a = Anchors(brand=("kestor",), tokens=("kestor", "olive", "oil"), variant=("colour:navy",))
    b = Anchors(brand=("brandon",), tokens=("brandon", "olive", "oil"), variant=("colour:beige",))
    feats = {"brand_conflict": 1.0, "colour_conflict": 1.0}
    got = verifier_levels(a, b, feats)
    assert set(got) == set(COMPARISONS)
    assert got["brand"] == SUBSTITUTION and got["colour"] == SUBSTITUTION
    assert got["word"] == AGREE  # olive oil on both sides; brand words are not counted twice
    assert got["code"] == ABSENT
    c = Anchors(brand=("kestor",), tokens=("kestor", "olive", "oil", "new"))
    assert verifier_levels(a, c, {})["word"] == ADDITION
    assert verifier_levels(a, c, {})["colour"] == ADDITION


def test_sibling_bound_corrects_a_template_not_an_offer_catalogue() -> None:
    """Pairs that substitute one slot and agree on the rest: when they outnumber the pairs
    that agree on that slot too (a template's siblings), duplicates can be few of them and
    the substitution counts for more against; when they are rare, nothing changes."""
    names = ("brand", "colour", "word")
    prior = FSPrior(
        np.tile([0.8, 0.1, 0.05, 0.05], (3, 1)), np.tile([0.25, 0.25, 0.25, 0.25], (3, 1))
    )
    agree = [[AGREE, AGREE, AGREE]] * 100
    siblings = [[SUBSTITUTION, AGREE, AGREE]] * 400
    template = np.array(agree + siblings)
    logits = np.r_[np.full(100, 3.0), np.full(400, 0.5)]  # the shipped score: 0.62 siblings
    bits = sibling_bits(template, logits, names, ("brand", "colour"), prior)
    q = 0.05 / 0.8 * 100 / 400
    assert bits[0] == pytest.approx((np.log(q / (1 - q)) - 0.5) / np.log(2.0))
    assert bits[1] == 0.0 and bits[2] == 0.0  # no colour siblings; words are no identity
    offers = np.array(agree * 4 + [[SUBSTITUTION, AGREE, AGREE]] * 30)
    assert np.all(sibling_bits(offers, np.zeros(len(offers)), names, ("brand",), prior) == 0)
    # a pair that also substitutes another slot is no sibling of the first
    mixed = np.array(agree + [[SUBSTITUTION, SUBSTITUTION, AGREE]] * 400)
    assert np.all(sibling_bits(mixed, np.zeros(len(mixed)), names, ("brand",), prior) == 0)
    # the bound enters the correction of that substitution, and only that
    fitted = SelfCalibration(
        names=names,
        weights=np.zeros((3, LEVELS)),
        prior_weights=np.zeros((3, LEVELS)),
        fitted=True,
        sibling=bits,
    )
    assert fitted.delta[0, SUBSTITUTION] == bits[0] < -3
    assert np.count_nonzero(fitted.delta) == 1
    assert np.allclose(SelfCalibration.from_json(fitted.to_json()).sibling, bits)


def test_sibling_bound_without_agreeing_pairs_is_a_finite_veto() -> None:
    """Siblings with no pair agreeing on the slot (q 0) get a large but finite bound: log(0)
    would be -inf, and -inf meets +inf or 0 in the logit as nan."""
    names = ("brand", "colour", "word")
    prior = FSPrior(
        np.tile([0.8, 0.1, 0.05, 0.05], (3, 1)), np.tile([0.25, 0.25, 0.25, 0.25], (3, 1))
    )
    siblings = np.array([[SUBSTITUTION, AGREE, AGREE]] * 400)
    with np.errstate(divide="raise"):
        bits = sibling_bits(siblings, np.full(400, 0.5), names, ("brand",), prior)
    assert np.isfinite(bits).all() and bits[0] < -30
