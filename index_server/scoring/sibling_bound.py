"""How much a substitution counts against a duplicate here: a bound from the catalogue's
own counts of "siblings", label-free.

EM over the typed levels cannot tell a template catalogue's siblings (two items differing in
one slot: another brand, colour or size of one product) from duplicates: they agree on every
level but one, and there are more of them than there are duplicates, so the mixture takes
them for a class of duplicates or leaves the prior alone. Counts can. Among the candidate
pairs that substitute nothing but comparison k, duplicates are at most

    q_k = rho_k * n_agree_k / n_substitute_k,   rho_k = m_k(substitution) / m_k(agree)

of them: duplicates that substitute k are at most rho_k (the shipped prior's rate, from
labelled pairs) times the duplicates that agree on k, and those are at most the n_agree_k
otherwise-identical pairs that agree on k. When substitutions outnumber agreements (a
template) the bound is small, and where the shipped score puts those pairs above it (their
median logit), the substitution of k is corrected down by the gap. Where they are rare (an
offer catalogue: a brand written two ways) q_k >= 1/2 and nothing changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from index_server.scoring.comparisons import AGREE, SUBSTITUTION
from index_server.scoring.self_calibration import FSPrior

F64 = npt.NDArray[np.float64]
MIN_SIBLINGS = 20  # fewer otherwise-identical substitutions: no bound
_LN2 = float(np.log(2.0))


def sibling_masks(
    levels: npt.ArrayLike, names: Sequence[str], identity: Sequence[str]
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per identity comparison k: (pairs substituting k and nothing else, pairs agreeing on
    k and substituting nothing else), (n,) bool each."""
    x = np.asarray(levels, np.int64)
    subs = x == SUBSTITUTION
    out = {}
    for k, name in enumerate(names):
        if name not in identity:
            continue
        clean = ~np.delete(subs, k, axis=1).any(axis=1)
        out[k] = (clean & subs[:, k], clean & (x[:, k] == AGREE))
    return out


Q_FLOOR = 1e-12


def sibling_bits(
    levels: npt.ArrayLike,
    logits: npt.ArrayLike,
    names: Sequence[str],
    identity: Sequence[str],
    prior: FSPrior,
) -> F64:
    """(K,) bits (<= 0) to add to a substitution of each comparison; ``logits`` (n,) the
    shipped logits of the pairs (read only where a pair substitutes one comparison alone)."""
    z = np.asarray(logits, np.float64)
    out = np.zeros(len(names))
    for k, (sub, agree) in sibling_masks(levels, names, identity).items():
        n_sub = int(sub.sum())
        if n_sub < MIN_SIBLINGS:
            continue
        rho = prior.m[k, SUBSTITUTION] / prior.m[k, AGREE]
        # no agreeing sibling (q 0): a finite veto, not log(0)'s -inf (and inf - inf = nan later)
        q = min(max(rho * int(agree.sum()) / n_sub, Q_FLOOR), 0.5)
        gap = np.log(q / (1 - q)) - float(np.median(z[sub]))
        out[k] = min(gap, 0.0) / _LN2
    return out
