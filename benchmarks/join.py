"""The join phase alone: the join rule over scores that are already computed.

    python benchmarks/join.py [--n 1000000] [--k 16]

Items come in products of 1-3 copies in arrival order; each item's candidates are k earlier
rows (its earlier copies plus random earlier rows), each with its probability precomputed
(0.9 within a product, 0.0-0.2 otherwise) and that probability as its upper bound, as the
chunk bound gives it. ``score`` is an array lookup, so what is timed is the join itself: the
join's bookkeeping per item, i.e. the single-writer part of a sharded or Ray build
(docs/scaling.md). Both paths in one run: the reference decide item by item (Python,
tests/join_reference.py) and JoinRule.decide_batch (compiled, numba) over the whole batch and over 512-row chunks (as the
build's Clusterer calls it), their decisions compared; the compiled join's first call in a
fresh process is timed with an empty numba cache (compile) and with the cache written.
Writes ``benchmarks/results/join.md``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from results_io import write_markdown

from index_server.clustering.batch_join import KnownPairs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the reference join lives with the tests

from index_server.clustering.join_rule import JoinRule  # noqa: E402
from tests.join_reference import ReferenceJoin  # noqa: E402

# the rule's parameters this benchmark has always measured (a core of one member at half the
# threshold); the engine runs IndexConfig's
PARAMS = {"threshold": 0.5, "core": 1, "core_share": 0.5}


def workload(n: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(product of each row, candidates (n, k) with -1 padding, their probabilities)."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 4, size=n)
    product = np.repeat(np.arange(n), sizes)[:n]
    cands = np.full((n, k), -1, np.int64)
    probs = np.zeros((n, k), np.float32)
    first = np.r_[0, np.flatnonzero(np.diff(product)) + 1]
    start_of = first[np.searchsorted(first, np.arange(n), "right") - 1]
    for i in range(1, n):
        own = list(range(start_of[i], i))[-k:]
        others = rng.integers(0, i, size=k - len(own)).tolist()
        row = own + others
        cands[i, : len(row)] = row
        probs[i, : len(row)] = np.where(product[row] == product[i], 0.9, rng.random(len(row)) * 0.2)
    return product, cands, probs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "join.md")
    args = parser.parse_args()
    made = time.perf_counter()
    product, cands, probs = workload(args.n, args.k)
    made = time.perf_counter() - made
    lookup = [
        dict(zip(c[c >= 0].tolist(), p[c >= 0].tolist(), strict=True))
        for c, p in zip(cands, probs, strict=True)
    ]

    def score(row: int, others: list[int]) -> np.ndarray:
        # Members checked that were not candidates: a different product scores 0.05.
        table = lookup[row]
        same = product[row]
        return np.array(
            [table.get(o, 0.9 if product[o] == same else 0.05) for o in others], np.float32
        )

    cache = tempfile.mkdtemp(prefix="fitrep-numba-")
    cold, cached = first_call(cache), first_call(cache)  # an empty numba cache, then written
    shutil.rmtree(cache)
    rows = np.arange(args.n)
    known = KnownPairs(np.where(cands >= 0, probs, np.nan))
    # this process's first call (loads or compiles the kernel) is not part of the rate
    JoinRule(**PARAMS).decide_batch(rows[:1000], cands[:1000], score, probs[:1000])

    spent: dict[int, Counter[str]] = {}

    def compiled(chunk: int) -> tuple[JoinRule, float, int]:
        fbc = JoinRule(**PARAMS)
        started, called, spent[chunk] = time.perf_counter(), 0, Counter()
        for lo in range(0, args.n, chunk):
            part = slice(lo, lo + chunk)
            ahead = KnownPairs(known.candidate_item[part])
            got = fbc.decide_batch(rows[part], cands[part], score, probs[part], known=ahead)
            called += got.rows_with_callbacks
            spent[chunk].update(got.seconds or {})
        return fbc, time.perf_counter() - started, called

    def breakdown(chunk: int) -> str:
        total = sum(spent[chunk].values())
        return ", ".join(f"{k} {v:.2f} s ({v / total:.0%})" for k, v in spent[chunk].items())

    batch, batch_s, batch_called = compiled(args.n)
    fbc = ReferenceJoin(**PARAMS)
    cand_lists = [c[c >= 0].tolist() for c in cands]
    upper_lists = [p[c >= 0].tolist() for c, p in zip(cands, probs, strict=True)]
    started = time.perf_counter()
    for row in range(args.n):
        fbc.decide(row, cand_lists[row], score, upper_lists[row])
    elapsed = time.perf_counter() - started
    chunked, chunked_s, chunked_called = compiled(512)
    again, again_s, _ = compiled(args.n)
    same = all(
        (f.cluster_of, f.members, f.family_of, f.next_id)
        == (fbc.cluster_of, fbc.members, fbc.family_of, fbc.next_id)
        for f in (batch, chunked, again)
    )
    rate = args.n / elapsed
    pure = sum(1 for m in fbc.members.values() if len({int(product[r]) for r in m}) == 1)
    lines = [
        "# Join phase alone",
        "",
        f"`python benchmarks/join.py --n {args.n} --k {args.k}` (workload built in {made:.0f} s, "
        "not timed): the join over precomputed candidate scores and bounds, one process, "
        "measured in this order: compiled (whole batch), Python, compiled (512-row chunks), "
        "compiled (whole batch) again.",
        "",
        f"join: {args.n / min(batch_s, again_s):,.0f} items/s compiled (JoinRule.decide_batch, "
        f"one batch; {args.n / batch_s:,.0f} and {args.n / again_s:,.0f} in its two runs)",
        "",
        f"join: {rate:,.0f} items/s Python (the reference decide item by item, the baseline)",
        "",
        f"join: {args.n / chunked_s:,.0f} items/s compiled in 512-row chunks (the build's "
        "Clusterer: the rule's dicts read and written back per chunk)",
        "",
        f"Compiled first call in a fresh process, 1,000 items (import included): {cold:.1f} s "
        f"with an empty numba cache (compile), {cached:.1f} s with the cache written "
        "(`cache=True`: compiled once per install).",
        "",
        f"Rows that needed a score call (fallback): {batch_called} of {args.n:,} (one batch), "
        f"{chunked_called} of {args.n:,} (chunks). Same clusters, members, families and "
        f"cluster counter in all paths: {'yes' if same else 'NO'}.",
        "",
        "Where the compiled join's time goes (`BatchDecisions.seconds`, summed over calls): "
        f"one batch (its second run): {breakdown(args.n)}; 512-row chunks: {breakdown(512)}. "
        "`state_read` is reading the rule's dicts (cluster of each candidate assigned before the "
        "batch, the members of the clusters the rule may open): per chunk it is one dict "
        "lookup per distinct earlier candidate, and it dominates the chunked rate; the next "
        "step is the rule keeping `cluster_of` as an array beside the dict (one gather per chunk).",
        "",
        f"{args.n:,} items -> {len(fbc.members):,} clusters ({product.max() + 1:,} products in "
        f"the workload), {pure / len(fbc.members):.4f} of clusters pure; Python {elapsed:.1f} s, "
        f"compiled {min(batch_s, again_s):.2f} s.",
        "",
    ]
    write_markdown(args.out, lines)
    if not same:
        sys.exit("the compiled join decided differently from the reference decide")


_FIRST_CALL = """
import time
started = time.perf_counter()
import numpy as np
from index_server.clustering.join_rule import JoinRule
n = 1000
cands = np.maximum(np.arange(n)[:, None] - np.arange(1, 5)[None, :], -1)
rule = JoinRule(core=1, core_share=0.5)
rule.decide_batch(np.arange(n), cands, lambda row, others: np.full(len(others), 0.9, np.float32))
print(time.perf_counter() - started)
"""


def first_call(cache: str) -> float:
    """Seconds of a fresh process's first ``decide_batch`` (import, load or compile, run) with
    ``cache`` as numba's cache folder."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", _FIRST_CALL], env=env, check=True, capture_output=True, text=True
    )
    return float(out.stdout.split()[-1])


if __name__ == "__main__":
    main()
