"""The join rule over arrays, compiled with numba: the inner loop of ``JoinRule.decide_batch``.

``join_rows`` decides batch rows ``start, start + 1, ...`` exactly as the reference
``decide`` / ``JoinRule.check`` / ``_open`` (``tests/join_reference.py``) would, one after the
other, over array state (``batch_join`` builds it from the rule's dicts and writes the result
back). It keeps, per row, the table of pair probabilities the reference's ``PairTable`` would
hold (``join_pairs``): a pair is *available* when the caller computed it ahead
(``candidate_item``, the member table) or a callback returned it. When the rule asks for
pairs that are not all available (or for a variant-conflict answer it does not have), the
kernel stops at that row and returns its position with the request
(``req_info``: kind, position, length; ``req_rows``): the caller scores exactly the rows the
reference would have passed to its ``score`` in that call and runs the kernel again from the
same row, which is decided from scratch (a row changes the state only once it is decided).

Shapes: batch of n rows; candidates in CSR form (``cand_ptr`` (n + 1,), entries (nnz,));
members of the caller's table in CSR form too. Local clusters (``lc_*``) are the clusters
of candidates assigned before the batch followed by the clusters the batch opens; their
members are linked lists of slots (``slot_row``, ``slot_next``) of which the rule reads only
the first ``member_cap`` (the core, the oldest ``max_checked``, the conflict scan).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from index_server.clustering.join_pairs import CONFLICT, find, load_row, members, need

# params_f / params_i layout
THRESHOLD, MIN_MEMBER_SHARE, CORE_SHARE, FAMILY_REP = 0, 1, 2, 3
MAX_CHECKED, MAX_CONFLICT_SCAN, FAMILY_PROBE, CORE, HAS_UPPER, CHECK_CONFLICTS = range(6)
# counters layout
N_LC, N_SLOTS, NEXT_ID, N_KEEP_USED = range(4)


@njit(cache=True)
def join_rows(
    start: int,
    rows: np.ndarray,
    cand_ptr: np.ndarray,
    cand_rows: np.ndarray,
    cand_upper: np.ndarray,
    cand_lc: np.ndarray,
    cand_pos: np.ndarray,
    cand_item: np.ndarray,
    cand_family: np.ndarray,
    ext_ptr: np.ndarray,
    ext_rows: np.ndarray,
    ext_item: np.ndarray,
    ext_family: np.ndarray,
    sup_rows: np.ndarray,
    sup_item: np.ndarray,
    sup_family: np.ndarray,
    conf_rows: np.ndarray,
    conf_hit: np.ndarray,
    keep: np.ndarray,
    params_f: np.ndarray,
    params_i: np.ndarray,
    pos_lc: np.ndarray,
    lc_id: np.ndarray,
    lc_family: np.ndarray,
    lc_head: np.ndarray,
    lc_tail: np.ndarray,
    slot_row: np.ndarray,
    slot_next: np.ndarray,
    counters: np.ndarray,
    keep_used: np.ndarray,
    out_cluster: np.ndarray,
    out_nearest: np.ndarray,
    out_probability: np.ndarray,
    out_best_pair: np.ndarray,
    out_is_new: np.ndarray,
    out_family: np.ndarray,
    member_cap: int,
    table_cap: int,
    req_rows: np.ndarray,
    req_info: np.ndarray,
) -> int:
    """Decide rows ``start..n-1`` (module doc); the position it stopped at (n: all done).

    Candidates: ``cand_lc`` is the local cluster of a candidate assigned before the batch
    (-1 otherwise), ``cand_pos`` the batch position of a candidate that is a batch row (-1
    otherwise); ``cand_item``/``cand_family`` NaN where not computed ahead. ``sup_*`` and
    ``conf_*`` are the callback answers for row ``start`` only."""
    n = rows.shape[0]
    t = params_f[THRESHOLD]
    core_floor = t * params_f[CORE_SHARE]
    member_floor = t * params_f[MIN_MEMBER_SHARE]
    family_floor = t * params_f[FAMILY_REP]
    max_checked = params_i[MAX_CHECKED]
    scan = params_i[MAX_CONFLICT_SCAN]
    family_probe = params_i[FAMILY_PROBE]
    core = params_i[CORE]
    has_upper = params_i[HAS_UPPER] != 0
    check_conflicts = params_i[CHECK_CONFLICTS] != 0
    # the per-row table (``PairTable``), the known candidates and their clusters
    t_row = np.empty(table_cap, np.int64)
    t_item = np.empty(table_cap, np.float64)
    t_fam = np.empty(table_cap, np.float64)
    t_bound = np.empty(table_cap, np.float64)
    t_avail = np.empty(table_cap, np.bool_)
    t_asked = np.empty(table_cap, np.bool_)
    k_cap = max(table_cap, 1)
    k_row = np.empty(k_cap, np.int64)
    k_lc = np.empty(k_cap, np.int64)
    k_te = np.empty(k_cap, np.int64)  # its entry in the table
    k_g = np.empty(k_cap, np.int64)  # its cluster's place in g_lc
    g_lc = np.empty(k_cap, np.int64)
    g_bound = np.empty(k_cap, np.float64)
    g_fam = np.empty(k_cap, np.float64)
    retrieved = np.empty(k_cap, np.int64)
    mem = np.empty(member_cap, np.int64)
    checked = np.empty(max(max_checked, 1), np.int64)
    wanted = np.empty(member_cap + max_checked + k_cap + 1, np.int64)
    probe = np.empty(max(family_probe, 1), np.int64)
    for j in range(start, n):
        r = rows[j]
        # -- known candidates (``c in cluster_of``) and the pair table -------------------
        n_t, n_k, n_cand_t = load_row(
            j,
            j == start,
            cand_ptr,
            cand_rows,
            cand_upper,
            cand_lc,
            cand_pos,
            cand_item,
            cand_family,
            pos_lc,
            ext_ptr,
            ext_rows,
            ext_item,
            ext_family,
            sup_rows,
            sup_item,
            sup_family,
            t_row,
            t_item,
            t_fam,
            t_bound,
            t_avail,
            t_asked,
            k_row,
            k_lc,
            k_te,
        )
        best_lc = -1
        best_agreement = 0.0
        best_pair = 0.0
        best_nearest = -1
        family = 0
        opened_best = 0.0
        if n_k > 0:
            # -- the pairs that may pass, scored in one call ---------------------------------
            n_w = 0
            for q in range(n_k):
                if not has_upper or t_bound[k_te[q]] >= t:
                    wanted[n_w] = k_row[q]
                    n_w += 1
            if need(wanted, n_w, t_row, t_avail, t_asked, n_t, req_rows, req_info, j):
                return j
            # -- clusters in order of their first candidate, the bound of each ----------------
            n_g = 0
            for q in range(n_k):
                g = find(g_lc, n_g, k_lc[q])
                if g < 0:
                    g = n_g
                    n_g += 1
                    g_lc[g] = k_lc[q]
                    g_bound[g] = -np.inf
                k_g[q] = g
                g_bound[g] = max(g_bound[g], t_bound[k_te[q]])
            for g in range(n_g):
                if has_upper and g_bound[g] < t:
                    continue
                lc = g_lc[g]
                n_r = 0
                for q in range(n_k):
                    if k_g[q] == g:
                        retrieved[n_r] = k_row[q]
                        n_r += 1
                # ``check``: the best retrieved member, the core, the checked members
                if need(retrieved, n_r, t_row, t_avail, t_asked, n_t, req_rows, req_info, j):
                    return j
                top = retrieved[0]
                top_p = t_item[find(t_row, n_t, top)]
                for q in range(1, n_r):
                    p = t_item[find(t_row, n_t, retrieved[q])]
                    if p > top_p:
                        top, top_p = retrieved[q], p
                if top_p < t:
                    continue
                n_m = members(lc, lc_head, slot_row, slot_next, mem)
                n_core = min(core, n_m)
                n_c = 0
                checked[0] = mem[0]
                n_c = 1
                for q in range(n_r):
                    if n_c >= max_checked:
                        break
                    if find(checked, n_c, retrieved[q]) < 0:
                        checked[n_c] = retrieved[q]
                        n_c += 1
                n_c = min(n_c, max_checked)
                for q in range(n_m):
                    if n_c >= max_checked:
                        break
                    if find(checked, n_c, mem[q]) < 0:
                        checked[n_c] = mem[q]
                        n_c += 1
                for q in range(n_core):
                    wanted[q] = mem[q]
                for q in range(n_c):
                    wanted[n_core + q] = checked[q]
                if need(wanted, n_core + n_c, t_row, t_avail, t_asked, n_t, req_rows, req_info, j):
                    return j
                core_sum = 0.0
                for q in range(n_core):
                    core_sum += t_item[find(t_row, n_t, mem[q])]
                agreement_sum = 0.0
                weakest_p = np.inf
                for q in range(n_c):
                    p = t_item[find(t_row, n_t, checked[q])]
                    agreement_sum += p
                    weakest_p = min(weakest_p, p)
                agreement = agreement_sum / n_c
                if core_sum / n_core < core_floor or agreement < t or weakest_p < member_floor:
                    continue
                if check_conflicts:
                    # ``_conflicting``: members beyond the checked ones, up to the scan
                    n_rest = 0
                    for q in range(min(n_m, scan)):
                        if find(checked, n_c, mem[q]) < 0:
                            req_rows[n_rest] = mem[q]
                            n_rest += 1
                    hit = False
                    for q in range(n_rest):
                        ce = find(conf_rows, conf_rows.shape[0] if j == start else 0, req_rows[q])
                        if ce < 0:
                            req_info[0] = CONFLICT
                            req_info[1] = j
                            req_info[2] = n_rest
                            return j
                        if conf_hit[ce]:
                            hit = True
                            break
                    if hit:
                        continue
                if best_lc < 0 or agreement > best_agreement:
                    best_lc, best_agreement, best_pair, best_nearest = lc, agreement, top_p, top
            if best_lc < 0:
                # -- ``_open``: the best pair behind a new cluster, then its family ---------
                best_pair = -np.inf
                for q in range(n_k):
                    te = k_te[q]
                    p = t_item[te] if t_asked[te] else (t_bound[te] if has_upper else 0.0)
                    best_pair = max(best_pair, p)
                if has_upper:
                    n_p = 0
                    while n_p < family_probe:
                        pick = -1
                        for te in range(n_cand_t):  # distinct candidates, first-seen order
                            if t_asked[te] or t_bound[te] < family_floor:
                                continue
                            if find(probe, n_p, t_row[te]) >= 0:
                                continue
                            if pick < 0 or t_bound[te] > t_bound[pick]:
                                pick = te
                        if pick < 0:
                            break
                        probe[n_p] = t_row[pick]
                        n_p += 1
                    if need(probe, n_p, t_row, t_avail, t_asked, n_t, req_rows, req_info, j):
                        return j
                # the best family probability of each cluster's asked candidates (asking a
                # cluster's first member below changes no other cluster's)
                for g in range(n_g):
                    g_fam[g] = -np.inf
                for q in range(n_k):
                    if t_asked[k_te[q]]:
                        g_fam[k_g[q]] = max(g_fam[k_g[q]], t_fam[k_te[q]])
                for g in range(n_g):
                    lc = g_lc[g]
                    top_f = g_fam[g] if g_fam[g] > -np.inf else 0.0
                    if top_f < t or top_f <= opened_best:
                        continue
                    wanted[0] = slot_row[lc_head[lc]]
                    if need(wanted, 1, t_row, t_avail, t_asked, n_t, req_rows, req_info, j):
                        return j
                    if t_fam[find(t_row, n_t, wanted[0])] >= family_floor:
                        family, opened_best = lc_family[lc], top_f
        # -- commit the row -------------------------------------------------------------
        s = counters[N_SLOTS]
        counters[N_SLOTS] = s + 1
        slot_row[s] = r
        slot_next[s] = -1
        if best_lc >= 0:
            slot_next[lc_tail[best_lc]] = s
            lc_tail[best_lc] = s
            pos_lc[j] = best_lc
            out_cluster[j] = lc_id[best_lc]
            out_nearest[j] = best_nearest
            out_probability[j] = best_agreement
            out_best_pair[j] = best_pair
            out_is_new[j] = False
            out_family[j] = lc_family[best_lc]
            continue
        cluster = keep[j]
        if cluster != 0 and find(keep_used, counters[N_KEEP_USED], cluster) >= 0:
            cluster = 0
        if cluster != 0:
            keep_used[counters[N_KEEP_USED]] = cluster
            counters[N_KEEP_USED] += 1
        else:
            cluster = counters[NEXT_ID]
            counters[NEXT_ID] = cluster + 1
        lc = counters[N_LC]
        counters[N_LC] = lc + 1
        lc_id[lc] = cluster
        lc_family[lc] = family if family != 0 else cluster
        lc_head[lc] = s
        lc_tail[lc] = s
        pos_lc[j] = lc
        out_cluster[j] = cluster
        out_nearest[j] = -1
        out_probability[j] = 0.0
        out_best_pair[j] = best_pair if n_k > 0 else 0.0
        out_is_new[j] = True
        out_family[j] = lc_family[lc]
    return n
