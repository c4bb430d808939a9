"""Speed benchmark: regenerates ``benchmarks/results/speed.md`` whole, from one command.

    python benchmarks/speed.py                  # full: dedup of 100k and 1M, 1M indexed (hours)
    python benchmarks/speed.py --quick          # small sizes (minutes), for a smoke check
    python benchmarks/speed.py --sections a --sizes 10000,100000   # one section, own sizes

Writes ``benchmarks/results/speed.md`` (``--out`` to change): first the figures a check reads,
``dedup-100k: S s cold, S s warm, peak RSS G GB``, ``dedup-1m: S s cold, peak RSS G GB``,
``assign: N items/s at 1M indexed``, ``join: N items/s``, then the command, date, commit and
machine load, then the sections, every figure from this run (nothing is carried over).
(e) ``fitrep dedup`` end to end as a user runs it, cold and warm, per stage (``e2e.py``);
(r) with (e): incremental assign on the real-text index each cold run wrote (``assign_text.py``:
    the ``assign:`` line; section (a)'s synthetic figure leads only when (e) did not run);
(j) the compiled join alone (``join.py`` in its own process);
(a) index tier: batched assign at N indexed (synthetic clustered vectors), build, memory,
    candidate recall vs exact search, growth with N; baseline = the per-item decision loop;
    sizes above ``bulk_above`` are bulk-loaded (clusters from the generator, see
    ``bulk_load``) because deciding 1M items one by one does not fit the run's budget;
(b) gRPC: batched assign through the real index server vs in-process;
(d) SPDR: fit time and transform throughput vs N; FAISS speed/memory reduced vs full dims.

Synthetic index data: each product has a 16-d latent vector; each of three text levels
(PRIMARY, CONTENT, OBJECTIVE) maps it to 64-d by its own random projection plus noise, so
an item is 3 x 64 = 192-d (the real encoder gives 6 x 384; see the memory note in the
report). Products have 1-3 copies; anchors carry a model code and tokens like CHIE's.
"""

# ruff: noqa: B023, E501
# (B023: every lambda here is called at once by timed(), inside its loop; E501: table rows)
from __future__ import annotations

import argparse
import gc
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fitrep.domain import ConceptSet, EmbeddedItem, Level, LevelEmbeddings  # noqa: E402

from index_server.clustering.clusterer import Clusterer  # noqa: E402
from index_server.config import IndexConfig  # noqa: E402
from index_server.engine import IndexEngine  # noqa: E402
from index_server.scoring.calibration import Calibration  # noqa: E402
from tests.join_reference import ReferenceJoin  # noqa: E402

LEVELS = (Level.PRIMARY, Level.CONTENT, Level.OBJECTIVE)
LATENT, DIM = 16, 64
BATCH = 4096  # items per assign call (the server's default max batch)


# -- synthetic data ------------------------------------------------------------------------
class Catalogue:
    """Deterministic synthetic catalogue; item i belongs to product ``product[i]``."""

    def __init__(self, n: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.n = n
        self.n_products = max(1, int(n / 2))
        self.product = rng.integers(0, self.n_products, n)
        self.seed = seed
        maps = np.random.default_rng(1234)  # shared across catalogues: the "encoder"
        self.proj = maps.normal(size=(len(LEVELS), LATENT, DIM)).astype(np.float32)
        self.latent = rng.normal(size=(self.n_products, LATENT)).astype(np.float32)

    def items(self, start: int, stop: int, prefix: str = "i") -> list[EmbeddedItem]:
        rng = np.random.default_rng((self.seed, start))
        prod = self.product[start:stop]
        latent = self.latent[prod]
        out_vecs = []
        for j in range(len(LEVELS)):
            v = latent @ self.proj[j] + rng.normal(scale=0.9, size=(len(prod), DIM))
            out_vecs.append((v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32))
        items = []
        for i, p in enumerate(prod.tolist()):
            iid = f"{prefix}{start + i}"
            vectors = {lv: out_vecs[j][i] for j, lv in enumerate(LEVELS)}
            anchors = {
                "code": [f"m{p:07d}"],
                "brand": [f"b{p % 997}"],
                "tokens": [f"b{p % 997}", f"t{p % 101}", f"u{p % 53}", f"m{p:07d}"],
            }
            concepts = ConceptSet(iid, {lv: [f"p{p}"] for lv in LEVELS}, anchors)
            items.append(EmbeddedItem(concepts, LevelEmbeddings(iid, vectors)))
        return items


# -- helpers -------------------------------------------------------------------------------
def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def rss_parts_mb() -> dict[str, float]:
    """RssAnon (heap: the process's own memory) and RssFile (mapped file pages such as the
    vector file's: page cache, shared and reclaimable) in MB."""
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("RssAnon", "RssFile", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024
    return out


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


class PerItemClusterer(Clusterer):
    """Baseline: the decision loop before batching (one verifier call per item and pair set)."""

    def decide(self, rows, candidates, scorer, levels, progress=None) -> None:  # type: ignore[no-untyped-def]
        verifier = scorer.verifier
        rule = self.rule
        assert isinstance(rule, ReferenceJoin)
        for start in range(0, len(rows), 512):
            chunk = rows[start : start + 512]
            cands = candidates(chunk)
            for row, hits in zip(chunk, cands.tolist(), strict=True):
                scorer.count_tokens(row + 1)  # as the engine does
                d = rule.decide(row, [h for h in hits if h >= 0], scorer.score)
                per_level = {}
                if d.nearest_row >= 0:
                    s = scorer.pair_scores(row, [d.nearest_row])
                    per_level = {
                        ls.level: ls.similarity for ls in verifier.level_scores(s, 0) if ls.present
                    }
                self.record(d, per_level)


def bulk_load(engine: IndexEngine, cat: Catalogue, n: int) -> None:
    """Index ``n`` items without deciding them: clusters from the generator's truth, one
    SPDR fit and FAISS build at the end, no store writes. Deciding 1M items one by one
    takes longer than this benchmark's budget; assign speed at N depends on the index and
    the cluster sizes, which this reproduces."""

    from index_server.integration import concatenate, infer_layout

    first: dict[int, int] = {}
    for start in range(0, n, 50_000):
        batch = cat.items(start, min(n, start + 50_000))
        if engine.layout is None:
            engine.set_layout(infer_layout([it.embeddings for it in batch]))
        assert engine.layout is not None
        rows = engine.rows.append(
            batch, concatenate([it.embeddings for it in batch], engine.layout)
        )
        engine.candidates.register(rows)
        for item in batch:  # every row needs its representative key (the engine's _add does it)
            engine.representatives.append(item.concepts.profile, None)
        for row, p in zip(rows, cat.product[start : start + len(rows)].tolist(), strict=True):
            cluster = first.get(p)
            is_new = cluster is None
            if cluster is None:
                cluster = first[p] = engine.rule.new_cluster(row)
            else:
                engine.rule.join(row, cluster)
            engine.clusterer.decisions.record(cluster, -1, 0.0, 1.0, is_new)
    engine.candidates.refit(None)


def index_config(**overrides: object) -> IndexConfig:
    cfg = dict(spdr_method="pca", spdr_components=32, threads=os.cpu_count())
    cfg.update(overrides)
    return IndexConfig(**cfg)  # type: ignore[arg-type]


def candidate_recall(engine: IndexEngine, cat: Catalogue, q_start: int, q_stop: int) -> dict:
    """True duplicate pairs (query item, earlier item of the same product) found among the
    engine's candidates vs among exact top-k in the full weighted space (Flat over the
    generator's float32 vectors, not the engine's stored records)."""
    import faiss

    from index_server.integration import concatenate, integrate

    rows = [engine.rows.row_of[f"i{i}"] for i in range(q_start, min(q_stop, q_start + 2000))]
    found = engine.candidates.candidates(rows)
    layout, weights = engine.layout, engine.calibration.weights
    assert layout is not None

    def exact_full(start: int, stop: int) -> np.ndarray:
        batch = cat.items(start, stop)
        return integrate(concatenate([it.embeddings for it in batch], layout), layout, weights)

    flat = faiss.IndexFlatIP(layout.total)
    for start in range(0, rows[0], 50_000):
        flat.add(exact_full(start, min(rows[0], start + 50_000)))
    _, exact = flat.search(exact_full(q_start, q_start + len(rows)), engine.config.k)
    del flat
    by_product: dict[int, list[int]] = {}
    for r, p in enumerate(cat.product[: rows[0]].tolist()):
        by_product.setdefault(p, []).append(r)
    pairs = hit_ivf = hit_flat = 0
    for i in range(len(rows)):
        truth = by_product.get(int(cat.product[q_start + i]), [])
        if not truth:
            continue
        f, e = set(found[i].tolist()), set(exact[i].tolist())
        pairs += len(truth)
        hit_ivf += sum(t in f for t in truth)
        hit_flat += sum(t in e for t in truth)
    return {
        "pairs": pairs,
        "recall_index": hit_ivf / max(pairs, 1),
        "recall_flat": hit_flat / max(pairs, 1),
    }


# -- (a) index tier ------------------------------------------------------------------------
def bench_index(
    sizes: Sequence[int],
    queries: int,
    baseline_queries: int,
    lines: list[str],
    bulk_above: int = 100_000,
) -> int:
    lines += [
        "## (a) Index tier: batched assign",
        "",
        f"Synthetic: 3 levels x {DIM}-d ({3 * DIM}-d items), products of 1-3 copies, anchors per item;"
        f" SPDR pca(32); assign batches of {BATCH}; FAISS threads = {os.cpu_count()}."
        " Baseline = the per-item decision loop (one verifier call per item), same index, same run."
        f" Verifier calibration: `{Calibration.load().version}`.",
        "",
        "RSS = resident memory after the build minus before (RssAnon: the process's own heap;"
        " the rest are mapped file pages, e.g. the vector file's, which are also store bytes);"
        " store = the data directory on disk (SQLite + WAL, `vectors.bin`); footprint = RssAnon"
        " + store. Peak = the process's high-water RSS.",
        "",
        "| indexed N | build s | build items/s | assign items/s (batched) | baseline items/s (per item)"
        " | speed-up | candidate recall (dup pairs) | exact Flat recall | recall ratio | RSS MB / 1M (anon) | store MB / 1M (sqlite + vectors) | footprint MB / 1M | peak RSS MB | index |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    assign_at_max = 0
    for n in sizes:
        gc.collect()
        cat = Catalogue(n + queries + baseline_queries, seed=n)
        tmp = Path(tempfile.mkdtemp(prefix="fitrep-speed-"))
        base_rss, base_anon = rss_mb(), rss_parts_mb()["RssAnon"]
        bulk = n > bulk_above
        engine = IndexEngine(None if bulk else tmp / "a", index_config())
        t0 = time.perf_counter()
        step = 50_000
        if bulk:
            bulk_load(engine, cat, n)
        for start in range(0, 0 if bulk else n, step):
            batch = cat.items(start, min(n, start + step))
            (engine.build if start == 0 else engine.assign)(batch)
            del batch
            if start // step % 4 == 3:
                print(
                    f"  built {start + step:,} in {time.perf_counter() - t0:.0f} s,"
                    f" rss {rss_mb():,.0f} MB",
                    flush=True,
                )
        build_s = time.perf_counter() - t0
        gc.collect()
        mem = rss_mb() - base_rss
        anon = rss_parts_mb()["RssAnon"] - base_anon
        peak = rss_parts_mb()["VmHWM"]  # the build's; the recall check below adds a Flat index
        store = 0.0 if bulk else dir_mb(tmp / "a")
        vec_file = tmp / "a" / "vectors.bin"
        vec_mb = vec_file.stat().st_size / 2**20 if vec_file.exists() else 0.0
        q_items = cat.items(n, n + queries)
        assign_s, _ = timed(
            lambda: [engine.assign(q_items[s : s + BATCH]) for s in range(0, len(q_items), BATCH)]
        )
        rate = queries / assign_s
        rec = candidate_recall(engine, cat, n, n + queries)
        b_items = cat.items(n + queries, n + queries + baseline_queries)
        engine.clusterer.__class__ = PerItemClusterer  # same state, old decision loop
        engine.rule.__class__ = ReferenceJoin  # the rule one item at a time
        base_s, _ = timed(
            lambda: [engine.assign(b_items[s : s + BATCH]) for s in range(0, len(b_items), BATCH)]
        )
        engine.clusterer.__class__ = Clusterer
        base_rate = baseline_queries / base_s
        desc = engine.candidates.describe()[1]
        lines.append(
            f"| {n:,}{' (bulk-loaded)' if bulk else ''} | {build_s:.1f} | {n / build_s:,.0f} | **{rate:,.0f}** | {base_rate:,.0f} | {rate / base_rate:.1f}x"
            f" | {rec['recall_index']:.4f} ({rec['pairs']} pairs) | {rec['recall_flat']:.4f}"
            f" | {rec['recall_index'] / max(rec['recall_flat'], 1e-9):.4f} | {mem * 1e6 / n:,.0f} ({anon * 1e6 / n:,.0f})"
            f" | {'n/a (no store)' if bulk else f'{store * 1e6 / n:,.0f} ({(store - vec_mb) * 1e6 / n:,.0f} + {vec_mb * 1e6 / n:,.0f})'}"
            f" | {(anon + store) * 1e6 / n:,.0f} | {peak:,.0f} | {desc} |"
        )
        print(lines[-1], flush=True)
        assign_at_max = int(rate)
        engine.close()
        engine = None  # type: ignore[assignment]  # free the index before the next size
        shutil.rmtree(tmp, ignore_errors=True)
    return assign_at_max


# -- (b) gRPC ------------------------------------------------------------------------------
ROUNDS = 2


def best_round(assign: Callable[[list], object], items: list) -> float:
    """Seconds of the fastest of ROUNDS assigns, each of a new slice of ``items``."""
    size = len(items) // ROUNDS
    return min(timed(lambda: assign(items[r * size : (r + 1) * size]))[0] for r in range(ROUNDS))


def bench_grpc(n: int, queries: int, lines: list[str]) -> None:
    import subprocess

    from fitrep.client import Client
    from fitrep.launch import free_port

    cat = Catalogue(n + queries, seed=7)
    base, q_items = cat.items(0, n), cat.items(n, n + queries)
    tmp = Path(tempfile.mkdtemp(prefix="fitrep-grpc-"))
    port = free_port()
    flags = ["--spdr-method", "pca", "--spdr-components", "32", "--max-batch", str(BATCH)]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "index_server",
            "--port",
            str(port),
            "--data-dir",
            str(tmp / "s"),
            *flags,
        ],
        stderr=subprocess.DEVNULL,
    )
    try:
        client = Client(concept=None, index=f"127.0.0.1:{port}", batch_size=BATCH, timeout=600)
        deadline = time.time() + 60
        while not client.healthy() and time.time() < deadline:
            time.sleep(0.2)
        for s in range(0, n, BATCH):
            client.assign_embedded(base[s : s + BATCH])
        grpc_s = best_round(lambda batch: client.assign_embedded(batch), q_items)
        client.close()
    finally:
        server.terminate()
        server.wait(30)
    engine = IndexEngine(tmp / "p", index_config(threads=None))
    for s in range(0, n, BATCH):
        engine.assign(base[s : s + BATCH])
    local_s = best_round(engine.assign, q_items)
    engine.close()
    shutil.rmtree(tmp, ignore_errors=True)
    round_size = queries // ROUNDS
    lines += [
        "",
        "## (b) gRPC overhead: batched AssignItems through the index server",
        "",
        f"{n:,} items indexed the same way on both sides (assign batches of {BATCH}, SQLite store"
        f" on disk), then {queries:,} new items assigned in {ROUNDS} rounds of new items; the"
        " faster round of each path counts (the machine is shared and noisy). Server:"
        " `python -m index_server` on loopback, SDK `Client.assign_embedded` (packed float32"
        " vectors).",
        "",
        "| path | items/s | share of in-process |",
        "|---|---|---|",
        f"| in-process `IndexEngine.assign` (baseline) | {round_size / local_s:,.0f} | 100% |",
        f"| gRPC `Client.assign_embedded` | {round_size / grpc_s:,.0f} | **{local_s / grpc_s:.0%}** |",
    ]
    print("\n".join(lines[-3:]), flush=True)


# -- (d) SPDR ------------------------------------------------------------------------------
def bench_spdr(sizes: Sequence[int], lines: list[str]) -> None:
    import faiss

    from index_server.candidates.spdr import SPDR
    from index_server.integration import LevelLayout, integrate

    lines += [
        "",
        "## (d) SPDR: fit / transform vs N, and what it buys",
        "",
        f"Synthetic {3 * DIM}-d weighted vectors; PCA(32) fitted on min(N, 50k); FAISS Flat over"
        " the full vectors (baseline) vs the reduced ones; candidate recall = share of each"
        " query's exact full-space top-16 found in the reduced top-16 (and true duplicate pairs).",
        "",
        "| N | fit s | transform rows/s | Flat full q/s | Flat pca32 q/s | index MB full | index MB pca32 | top-16 recall | dup-pair recall full / pca32 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    layout = LevelLayout.from_dims({lv: DIM for lv in LEVELS})
    weights = Calibration.load().weights
    for n in sizes:
        cat = Catalogue(n, seed=3)
        items = cat.items(0, n)
        from index_server.integration import concatenate

        X = integrate(concatenate([it.embeddings for it in items], layout), layout, weights)
        fit_s, model = timed(lambda: SPDR(method="pca", n_components=32).fit(X))
        tr_s, R = timed(lambda: model.transform(X))  # type: ignore[attr-defined]
        q = min(2000, n, max(300, 50_000_000 // n))  # Flat over 1M x 192 is slow
        full, red = faiss.IndexFlatIP(X.shape[1]), faiss.IndexFlatL2(32)
        full.add(X)
        red.add(R)
        fs, (_, ef) = timed(lambda: full.search(X[:q], 16))
        rs, (_, er) = timed(lambda: red.search(R[:q], 16))
        top = np.mean(
            [len(set(a) & set(b)) / 16 for a, b in zip(ef.tolist(), er.tolist(), strict=True)]
        )
        pairs = hit_f = hit_r = 0
        for i in range(q):
            same = set(np.flatnonzero(cat.product == cat.product[i]).tolist()) - {i}
            pairs += len(same)
            hit_f += len(same & set(ef[i].tolist()))
            hit_r += len(same & set(er[i].tolist()))
        lines.append(
            f"| {n:,} | {fit_s:.2f} | {n / tr_s:,.0f} | {q / fs:,.0f} | {q / rs:,.0f} | {X.nbytes / 2**20:.0f}"
            f" | {R.nbytes / 2**20:.0f} | {top:.3f} | {hit_f / max(pairs, 1):.3f} / {hit_r / max(pairs, 1):.3f} |"
        )
        print(lines[-1], flush=True)


def provenance(args: argparse.Namespace, argv: Sequence[str]) -> str:
    """Which command, tree, machine and load the figures come from."""
    import subprocess

    def git(*cmd: str) -> str:
        run = subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True)
        return run.stdout.strip() or "unknown"

    dirty = (
        " (with uncommitted changes)"
        if git("status", "--porcelain", "--untracked-files=no") not in ("", "unknown")
        else ""
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"`python benchmarks/speed.py {' '.join(argv)}`".replace(" `", "`")
        + f", {time.strftime('%Y-%m-%d %H:%M')}, commit {git('rev-parse', '--short', 'HEAD')}{dirty},"
        f" {platform.node()} ({os.cpu_count()} cores, {platform.processor() or platform.machine()},"
        f" load average {load} at the start)."
    )


def join_rate(n: int) -> int:
    """``benchmarks/join.py --n N`` in a process of its own: the compiled join's items/s."""
    import re
    import subprocess

    out = Path(tempfile.mkdtemp(prefix="fitrep-join-")) / "join.md"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "join.py"), "--n", str(n), "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True)
    found = re.search(r"^join: ([\d,]+) items/s compiled", out.read_text(), re.M)
    shutil.rmtree(out.parent, ignore_errors=True)
    if found is None:
        raise RuntimeError("join.py wrote no 'join: N items/s compiled' line")
    return int(found[1].replace(",", ""))


def main() -> None:
    import e2e
    from assign_text import AssignFigures, assign_line, measure_assign

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "speed.md")
    ap.add_argument("--sections", default="eajbd", help="which of e, a, j, b, d to run")
    ap.add_argument("--e2e-sizes", default="", help="(e) catalogue sizes, comma-separated")
    ap.add_argument("--sizes", default="", help="indexed sizes for (a), comma-separated")
    ap.add_argument(
        "--bulk-above",
        type=int,
        default=50_000,
        help="(a): sizes above this are bulk-loaded; below, built through the FBC path with a store",
    )
    args = ap.parse_args()
    started = provenance(args, sys.argv[1:])
    head: list[str] = []  # the end-to-end figures a check reads, first
    lines: list[str] = []
    if "e" in args.sections:
        sizes = (5_000, 20_000) if args.quick else (100_000, 1_000_000)
        if args.e2e_sizes:
            sizes = tuple(int(x) for x in args.e2e_sizes.split(","))
        runs = []
        assigned: list[AssignFigures] = []

        def assign_on(out: Path, cold: e2e.RunFigures) -> None:
            encoder = str(cold.summary.get("encoder") or "static")
            indexed = int(cold.summary.get("items", 0) or 0) or n
            assigned.append(measure_assign(out / "index", indexed, encoder))
            print(assign_line(assigned[-1]), flush=True)

        for n in sizes:  # warm rerun of the first size only: 1M twice does not fit a session
            cold, warm = e2e.measure(n, warm=n == sizes[0], then=assign_on)
            head.append(e2e.headline(n, cold, warm))
            runs += [(n, "cold", cold)] + ([(n, "warm", warm)] if warm else [])
            print(head[-1], flush=True)
        if assigned:
            head.append(assign_line(assigned[-1]))
        lines += [
            "",
            "## (e) `fitrep dedup` end to end, per stage",
            "",
            "As a user runs it (`benchmarks/e2e.py`): one CLI process over a generated shop",
            "catalogue with re-listings; cold = a fresh `XDG_CACHE_HOME` (no encoder, OCR or ONNX",
            "cache), warm = the same command again. Peak RSS: the whole process tree. Stages from",
            "summary.json; cores busy = CPU seconds / (wall seconds x cores).",
            "",
            *e2e.stage_table(runs),
            "",
            "## (r) Incremental assign on the real-text index of each cold run",
            "",
            "`benchmarks/assign_text.py`: the index the cold run wrote is opened in this process",
            "and sent up to 8,192 items (the items column) in 1,024-item `assign_items` calls: half new ids, a quarter",
            "indexed ids unchanged, a quarter indexed ids with a changed title. The clock",
            "covers the index tier only (concepts and vectors made before it starts).",
            "",
            "| indexed | items | batch | open s | items/s | joined | unchanged | RSS open GB | RSS after GB |",
            "|---|---|---|---|---|---|---|---|---|",
            *(
                f"| {a.indexed:,} | {a.items:,} | {a.batch:,} | {a.open_seconds:.1f} | "
                f"{a.items_per_second:,.0f} | {a.joined:,} | {a.unchanged:,} | "
                f"{a.rss_gb_open:.1f} | {a.rss_gb_after:.1f} |"
                for a in assigned
            ),
        ]
    if "a" in args.sections:
        sizes = (10_000, 50_000) if args.quick else (10_000, 100_000, 1_000_000)
        if args.sizes:
            sizes = tuple(int(x) for x in args.sizes.split(","))
        rate = bench_index(sizes, 8_192, 2_048, lines, bulk_above=args.bulk_above)
        synthetic = f"assign: {rate} items/s at {e2e.label(sizes[-1]).upper()} indexed"
        if any(line.startswith("assign:") for line in head):  # the real-text figure leads
            lines += ["", f"Synthetic vectors (section a): {synthetic}"]
        else:
            head.append(synthetic + " (synthetic 192-d vectors)")
    if "j" in args.sections:
        n = 100_000 if args.quick else 1_000_000
        head.append(f"join: {join_rate(n)} items/s")
    if "b" in args.sections:
        bench_grpc(10_000 if args.quick else 20_000, 8_192, lines)
    if "d" in args.sections:
        bench_spdr((10_000, 50_000) if args.quick else (10_000, 100_000, 1_000_000), lines)
    order = ("dedup-100k", "dedup-1m", "assign", "join")
    for name in order:  # a figure this run did not make says so, in its place
        if not any(line.startswith(f"{name}:") for line in head):
            head.append(f"{name}: not measured in this run (`python benchmarks/speed.py` makes it)")
    head.sort(key=lambda line: next((i for i, n in enumerate(order) if line.startswith(n)), 9))
    text = ["# Speed", "", *head, "", started, *lines]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(text) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
