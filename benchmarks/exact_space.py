"""Re-rank and decision fidelity of the compact exact space: writes ``results/exact_space.md``.

    python benchmarks/exact_space.py [--data ../shared/data] [--assign-at 100000]

The Amazon-Google catalogue (4,589 items, real 6 x 384-d MiniLM levels) deduplicated as
``quality.py`` does (``Pipeline.dedup``, rules backend), once per vector codec: ``float16``
(what the store kept before, the baseline) and ``int8`` (the default now), with the shipped
defaults (exact full-space search at this size) and with SPDR forced on (PCA, so every
candidate list goes through the full-space re-rank that the codec feeds). Reported: whether
the cluster ids are identical, how many items differ, pairwise F1 against gold, and the
duplicate-pair candidate recall of each codec (gold pairs whose later item has the earlier
one among its re-ranked candidates) with the ratio int8 / float16.
"""

# ruff: noqa: E501
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from fitrep.pipeline import Pipeline
from quality import catalogue_scores, read_catalogue

from index_server.config import IndexConfig
from index_server.engine import IndexEngine
from mllm_server.chie.engine import ConceptEngine

ROOT = Path(__file__).resolve().parents[1]


def run(
    concepts: ConceptEngine, items: list, config: IndexConfig
) -> tuple[list[str], np.ndarray, float, IndexEngine]:
    """Cluster ids in input order, the vector part of every row's candidates, seconds."""
    started = time.perf_counter()
    pipeline = Pipeline(concepts, IndexEngine(None, config))
    assignments = pipeline.dedup(list(items))
    seconds = time.perf_counter() - started
    engine = pipeline.index
    rows = [engine.rows.row_of[it.id] for it in items]
    cands = engine.candidates.candidates(rows)[:, : config.k]
    return [a.cluster_id for a in assignments], cands, seconds, engine


def pair_recall(
    engine: IndexEngine, cands: np.ndarray, gold: set[tuple[str, str]]
) -> tuple[float, int]:
    row_of = engine.rows.row_of
    found = [set(c.tolist()) for c in cands]
    hits = total = 0
    for a, b in gold:
        if a not in row_of or b not in row_of:
            continue
        early, late = sorted((row_of[a], row_of[b]))
        total += 1
        hits += early in found[late]
    return hits / max(total, 1), total


def assign_rates(n: int, queries: int = 8192, rounds: int = 2) -> list[str]:
    """Synthetic (``speed.py``'s generator, bulk-loaded, in memory): batched assign items/s
    at ``n`` indexed with each codec, alternating, ``rounds`` times in this one process."""
    import gc

    import speed

    cat = speed.Catalogue(n + queries, seed=n)
    rates: dict[str, list[float]] = {"float16": [], "int8": []}
    for _ in range(rounds):
        for codec in rates:
            gc.collect()
            engine = IndexEngine(None, speed.index_config(vector_codec=codec))
            speed.bulk_load(engine, cat, n)
            items = cat.items(n, n + queries)
            started = time.perf_counter()
            for s in range(0, queries, speed.BATCH):
                engine.assign(items[s : s + speed.BATCH])
            rates[codec].append(queries / (time.perf_counter() - started))
            engine.close()
    lines = [
        "",
        f"Batched assign at {n:,} indexed (synthetic, `speed.py`'s bulk load, PCA 32 + re-rank x4),"
        f" {queries:,} new items, {rounds} alternating rounds per codec in one process:",
        "",
        "| codec | assign items/s per round |",
        "|---|---|",
    ]
    lines += [f"| {c} | {', '.join(f'{r:,.0f}' for r in v)} |" for c, v in rates.items()]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "exact_space.md")
    ap.add_argument("--assign-at", type=int, default=0, help="also: assign items/s per codec at N")
    args = ap.parse_args()
    items, gold = read_catalogue(args.data / "amazon-google-catalog")
    ids = [it.id for it in items]
    concepts = ConceptEngine.create("rules")
    concepts.process(items)  # the encoder cache warm for every run below
    lines = [
        "# Compact exact space: re-rank and decision fidelity",
        "",
        f"`python benchmarks/exact_space.py`, {time.strftime('%Y-%m-%d %H:%M')}: Amazon-Google catalogue"
        f" ({len(items):,} items, 6 x 384-d levels), `Pipeline.dedup` as in `quality.py`; baseline ="
        " float16 vectors (the store before), same run.",
        "",
        "| search | codec | bytes / row | clusters | largest | pairwise F1 | cluster ids vs float16 | dup-pair candidate recall | recall ratio vs float16 | s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    searches = {
        "defaults (exact, full space)": {},
        "SPDR forced (pca 32 + re-rank x4)": {
            "spdr_method": "pca",
            "spdr_components": 32,
            "spdr_min_items": 1000,
        },
    }
    for search, extra in searches.items():
        base: tuple[list[str], float] | None = None
        for codec in ("float16", "int8"):
            config = IndexConfig(vector_codec=codec, **extra)  # type: ignore[arg-type]
            labels, cands, seconds, engine = run(concepts, items, config)
            recall, pairs = pair_recall(engine, cands, gold)
            record = engine.rows.codec.record_bytes if engine.rows.codec else 0
            engine.close()
            _, _, f1, n, big = catalogue_scores(ids, [int(c[1:]) for c in labels], gold)
            if base is None:
                base = (labels, recall)
                same, ratio = "(baseline)", "1.0000"
            else:
                differ = sum(a != b for a, b in zip(labels, base[0], strict=True))
                same = "**identical**" if differ == 0 else f"{differ} items differ"
                ratio = f"{recall / max(base[1], 1e-9):.4f}"
            lines.append(
                f"| {search} | {codec} | {record:,} | {n:,} | {big} | {f1:.3f} | {same} | {recall:.4f} ({pairs} gold pairs) | {ratio} | {seconds:.0f} |"
            )
            print(lines[-1], flush=True)
    if args.assign_at:
        lines += assign_rates(args.assign_at)
        print("\n".join(lines[-4:]), flush=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
