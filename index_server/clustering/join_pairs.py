"""The compiled join's per-row table of pair probabilities: what it holds and what it asks for.

For the row being decided, ``join_kernel`` keeps the table the reference's ``PairTable``
would hold (``t_*`` arrays, one entry per row it pairs with): ``load_row`` fills it from the
pairs the caller computed ahead (the candidates', the member table's) and, for the row the
kernel stopped at, the callback's answers; ``need`` marks pairs asked, or sets a request
(``req_info``: kind, position, length; ``req_rows``) when some are not available. A pair is
*asked* once the rule asked for it, since ``best_pair`` of a new cluster and the family rule
read only the pairs the reference would have scored.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# req_info[0]: what the kernel asks for when it stops before the end of the batch
DONE, SCORE, CONFLICT = 0, 1, 2


@njit(cache=True)
def find(keys: np.ndarray, n: int, key: int) -> int:
    for e in range(n):
        if keys[e] == key:
            return e
    return -1


@njit(cache=True)
def need(
    rows: np.ndarray,
    n_rows: int,
    t_row: np.ndarray,
    t_avail: np.ndarray,
    t_asked: np.ndarray,
    n_t: int,
    req_rows: np.ndarray,
    req_info: np.ndarray,
    position: int,
) -> bool:
    """``PairTable.need(rows)``: True (a request is set) when some missing pair is not
    available; else the missing pairs are marked asked."""
    m = 0
    available = True
    for a in range(n_rows):
        r = rows[a]
        e = find(t_row, n_t, r)
        if e >= 0 and t_asked[e]:
            continue
        if find(req_rows, m, r) >= 0:
            continue
        req_rows[m] = r
        m += 1
        if e < 0 or not t_avail[e]:
            available = False
    if m == 0:
        return False
    if available:
        for b in range(m):
            t_asked[find(t_row, n_t, req_rows[b])] = True
        return False
    req_info[0] = SCORE
    req_info[1] = position
    req_info[2] = m
    return True


@njit(cache=True)
def members(
    lc: int, lc_head: np.ndarray, slot_row: np.ndarray, slot_next: np.ndarray, out: np.ndarray
) -> int:
    """The first ``len(out)`` members of local cluster ``lc``, oldest first; how many."""
    n = 0
    s = lc_head[lc]
    while s >= 0 and n < out.shape[0]:
        out[n] = slot_row[s]
        n += 1
        s = slot_next[s]
    return n


@njit(cache=True)
def load_row(
    j: int,
    with_answers: bool,
    cand_ptr: np.ndarray,
    cand_rows: np.ndarray,
    cand_upper: np.ndarray,
    cand_lc: np.ndarray,
    cand_pos: np.ndarray,
    cand_item: np.ndarray,
    cand_family: np.ndarray,
    pos_lc: np.ndarray,
    ext_ptr: np.ndarray,
    ext_rows: np.ndarray,
    ext_item: np.ndarray,
    ext_family: np.ndarray,
    sup_rows: np.ndarray,
    sup_item: np.ndarray,
    sup_family: np.ndarray,
    t_row: np.ndarray,
    t_item: np.ndarray,
    t_fam: np.ndarray,
    t_bound: np.ndarray,
    t_avail: np.ndarray,
    t_asked: np.ndarray,
    k_row: np.ndarray,
    k_lc: np.ndarray,
    k_te: np.ndarray,
) -> tuple[int, int, int]:
    """Batch row ``j``'s table: its known candidates (``k_*``: row, local cluster, table
    entry; a candidate not assigned is skipped), then the member table's pairs, then, with
    ``with_answers``, the callback answers ``sup_*``. Returns (table entries, known
    candidates, entries that are candidates)."""
    n_t = 0
    n_k = 0
    for e in range(cand_ptr[j], cand_ptr[j + 1]):
        lc = cand_lc[e]
        if lc == -1 and cand_pos[e] >= 0:
            lc = pos_lc[cand_pos[e]]
        if lc == -1:  # not assigned (-2: assigned, in a cluster the rule never opens)
            continue
        c = cand_rows[e]
        te = find(t_row, n_t, c)
        if te < 0:
            te = n_t
            n_t += 1
            t_row[te] = c
            t_asked[te] = False
            t_avail[te] = not np.isnan(cand_item[e])
            t_item[te] = cand_item[e]
            t_fam[te] = cand_family[e]
        t_bound[te] = cand_upper[e]  # a repeated candidate: its last bound, as a dict
        k_row[n_k] = c
        k_lc[n_k] = lc
        k_te[n_k] = te
        n_k += 1
    n_cand_t = n_t
    for e in range(ext_ptr[j], ext_ptr[j + 1]):
        if find(t_row, n_t, ext_rows[e]) < 0:
            t_row[n_t] = ext_rows[e]
            t_item[n_t] = ext_item[e]
            t_fam[n_t] = ext_family[e]
            t_avail[n_t] = True
            t_asked[n_t] = False
            t_bound[n_t] = 0.0
            n_t += 1
    if with_answers:
        for e in range(sup_rows.shape[0]):
            te = find(t_row, n_t, sup_rows[e])
            if te < 0:
                te = n_t
                n_t += 1
                t_row[te] = sup_rows[e]
                t_asked[te] = False
                t_bound[te] = 0.0
            t_item[te] = sup_item[e]
            t_fam[te] = sup_family[e]
            t_avail[te] = True
    return n_t, n_k, n_cand_t
