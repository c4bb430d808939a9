"""Incremental assign on a real-text index: items/s of ``IndexEngine.assign_items`` on the index
that a cold ``fitrep dedup`` left (``e2e.measure(..., then=...)``), in-process.

The index holds the catalogue's 6-level vectors from the encoder the run chose (not synthetic
vectors). The calls mix what a platform sends: new ids (half; products drawn with another seed,
so some are re-listings of indexed products and most are not), ids sent again unchanged (a
quarter: answered from the store) and ids sent again with a changed title (a quarter: judged
again). Concepts and vectors are made before the clock starts (the concept tier's work, timed
in the dedup stages); the clock covers the index tier only, as a gRPC ``AssignItems`` of the
same batch would run it (its transport is ~1 % at this batch size, speed.md section b).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from e2e import label, text_catalogue, tree_rss_bytes
from fitrep.domain import Item, ItemChange
from results_io import write_markdown
from small_batch import stage_clock, stage_table

BATCH = 1024


@dataclass
class AssignFigures:
    indexed: int
    items: int
    batch: int
    open_seconds: float
    items_per_second: float
    rss_gb_open: float
    rss_gb_after: float
    joined: int  # assignments into an existing cluster
    unchanged: int  # re-sent ids answered from the store


def assign_items(indexed: int, n: int, seed: int = 1) -> list[Item]:
    """``n`` items: half new ids, a quarter indexed ids unchanged, a quarter indexed ids with a
    changed title, shuffled."""
    rng = random.Random(seed)
    fresh = [
        Item(f"new-{r['id']}", r["title"], r["text"]) for r in text_catalogue(n // 2, seed=seed)
    ]
    known = text_catalogue(min(indexed, 4 * n), seed=0)  # the indexed catalogue's first rows
    resent = rng.sample(known, n - len(fresh))
    half = len(resent) // 2
    same = [Item(r["id"], r["title"], r["text"]) for r in resent[:half]]
    changed = [Item(r["id"], r["title"] + " refurbished", r["text"]) for r in resent[half:]]
    items = fresh + same + changed
    rng.shuffle(items)
    return items


def measure_assign(
    index_dir: Path,
    indexed: int,
    encoder: str,
    n: int = 8192,
    stage_seconds: dict[str, float] | None = None,
) -> AssignFigures:
    """Open the index a dedup run wrote, then time ``assign_items`` over ``n`` items in
    ``BATCH``-item calls (``stage_seconds``: filled with the calls' seconds by stage,
    ``small_batch.stage_clock``)."""
    from fitrep.pipeline import Pipeline

    from index_server.engine import IndexEngine

    items = assign_items(indexed, min(n, indexed))
    concepts = Pipeline.create(encoder=encoder, workers=1)
    try:
        embedded = concepts.embed(items)
    finally:
        concepts.close()
    started = time.perf_counter()
    engine = IndexEngine(data_dir=index_dir)
    open_seconds = time.perf_counter() - started
    try:
        rss_open = tree_rss_bytes(os.getpid())
        gc.collect()
        clock = stage_clock(stage_seconds) if stage_seconds is not None else nullcontext()
        started = time.perf_counter()
        joined = unchanged = 0
        with clock:
            for s in range(0, len(embedded), BATCH):
                result = engine.assign_items(embedded[s : s + BATCH])
                joined += sum(not a.is_new_cluster for a in result.assignments)
                unchanged += sum(a.change == ItemChange.UNCHANGED for a in result.assignments)
        seconds = time.perf_counter() - started
        return AssignFigures(
            indexed,
            len(embedded),
            BATCH,
            open_seconds,
            len(embedded) / seconds,
            rss_open / 2**30,
            tree_rss_bytes(os.getpid()) / 2**30,
            joined,
            unchanged,
        )
    finally:
        engine.close()


def assign_line(a: AssignFigures) -> str:
    """``assign: N items/s at 1M indexed`` (the line speed.md starts with), and what it was."""
    return (
        f"assign: {a.items_per_second:.0f} items/s at {label(a.indexed).upper()} indexed (real text, "
        f"{a.batch}-item calls, in-process)"
    )


def main() -> None:
    """``python benchmarks/assign_text.py [--indexed 100000]``: a cold ``fitrep dedup`` of a
    generated catalogue of that size, then its assign calls timed by stage (where an online
    assign's time goes on a real-text index), written to ``results/assign_stages.md``."""
    import e2e

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--indexed", type=int, default=100_000)
    ap.add_argument("--items", type=int, default=8192)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results/assign_stages.md")
    args = ap.parse_args()
    totals: dict[str, float] = {}
    got: list[AssignFigures] = []

    def assign_on(out: Path, cold: e2e.RunFigures) -> None:
        encoder = str(cold.summary.get("encoder") or "static")
        got.append(measure_assign(out / "index", args.indexed, encoder, args.items, totals))

    e2e.measure(args.indexed, warm=False, then=assign_on)
    a = got[0]
    calls = -(-a.items // a.batch)
    write_markdown(
        args.out,
        [
            "# Where an assign call's time goes, real-text index",
            "",
            f"`python benchmarks/assign_text.py --indexed {args.indexed} --items {args.items}`, "
            f"{time.strftime('%Y-%m-%d %H:%M')}. Label: in-sample (e2e.py's own generator). A "
            f"cold `fitrep dedup` of {args.indexed:,} generated shop items, then {a.items:,} "
            f"items in {calls} calls of {a.batch} (half new ids, a quarter re-sent unchanged, a "
            "quarter changed) on the index it wrote, in process, each stage timed around its "
            "method (`small_batch.stage_clock`; no profiler). Machine: 2 CPU cores shared with "
            "other work.",
            "",
            assign_line(a) + f" ({a.joined:,} joined an existing cluster, "
            f"{a.unchanged:,} answered unchanged)",
            "",
            *stage_table(totals, calls, a.batch),
        ],
    )


if __name__ == "__main__":
    main()
