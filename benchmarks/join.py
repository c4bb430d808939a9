"""The join phase alone: FBC's grouping rule over scores that are already computed.

    python benchmarks/join.py [--n 1000000] [--k 16]

Items come in products of 1-3 copies in arrival order; each item's candidates are k earlier
rows (its earlier copies plus random earlier rows), each with its probability precomputed
(0.9 within a product, 0.0-0.2 otherwise) and that probability as its upper bound, as the
chunk bound gives it. ``score`` is an array lookup, so what is timed is FBC.decide itself:
the join's bookkeeping per item, i.e. the single-writer part of a sharded or Ray build
(docs/scaling.md). Writes ``benchmarks/results/join.md``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from results_io import write_markdown

from index_server.clustering.fbc import FBC

ROOT = Path(__file__).resolve().parents[1]


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

    fbc = FBC(threshold=0.5)
    cand_lists = [c[c >= 0].tolist() for c in cands]
    upper_lists = [p[c >= 0].tolist() for c, p in zip(cands, probs, strict=True)]
    started = time.perf_counter()
    for row in range(args.n):
        fbc.decide(row, cand_lists[row], score, upper_lists[row])
    elapsed = time.perf_counter() - started
    rate = args.n / elapsed
    pure = sum(1 for m in fbc.members.values() if len({int(product[r]) for r in m}) == 1)
    lines = [
        "# Join phase alone",
        "",
        f"`python benchmarks/join.py --n {args.n} --k {args.k}` (workload built in {made:.0f} s, "
        "not timed): FBC.decide over precomputed candidate scores and bounds, one process.",
        "",
        f"join: {rate:,.0f} items/s",
        "",
        f"{args.n:,} items -> {len(fbc.members):,} clusters ({product.max() + 1:,} products in "
        f"the workload), {pure / len(fbc.members):.4f} of clusters pure; {elapsed:.1f} s.",
        "",
    ]
    write_markdown(args.out, lines)


if __name__ == "__main__":
    main()
