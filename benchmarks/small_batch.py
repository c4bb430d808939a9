"""Small assign calls in process: items/s of 16-item ``IndexEngine.assign_items`` calls on a
real-text index, for several index configurations in one run, with a profile of one call and
the candidate recall of each configuration against exact search.

    python benchmarks/small_batch.py [--rows 10000] [--calls 30] [--rounds 3]
        [--config NAME:KEY=VALUE,...] [--profile NAME] [--stages NAME] [--batch 16]
        [--out results/small_batch.md]

1. A template catalogue (``fitrep.synthetic.templates``, ``--seed``) of ``--rows`` items plus
   the query items is embedded once with the rules backend and the default encoder (MiniLM:
   6 levels x 384-d) and cached as a pickle (``--cache``), so later runs skip the encoder.
2. Each configuration gets its own engine (``--data-dir``: on disk as a server keeps it, else
   in memory) loaded with the first ``--rows`` items in 1,024-item assign calls.
3. Timing: ``--rounds`` rounds; in each, every configuration in turn assigns the same
   ``--calls`` fresh 16-item calls (the engines grow alike), so baseline and change are
   measured back to back on the same loaded machine. Items/s is the median over rounds.
4. Candidate recall: the vector candidates (``k`` per row) of ``--recall-rows`` rows of each
   configuration against those of exact full-space search (``spdr_method=identity``) over the
   same rows.
5. ``--profile NAME``: cProfile of ``--calls`` further calls of that configuration, the top
   functions by own and cumulative time.
6. ``--stages NAME``: ``--calls`` further calls of that configuration timed by stage (wall
   clock around each stage's method, no profiler): where a call goes, and what it would take
   without its pair scoring.

Configurations are ``NAME:KEY=VALUE,...`` over ``IndexConfig`` fields (``default`` is
``IndexConfig()`` as shipped; ``baseline`` is given with the flags that restore the old
behaviour).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import pickle
import pstats
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
from fitrep.domain import EmbeddedItem
from fitrep.readers import read_items
from fitrep.synthetic.templates import generate
from results_io import write_markdown

from index_server import state_store
from index_server.candidates.generator import CandidateGenerator
from index_server.clustering.join_rule import JoinRule
from index_server.config import IndexConfig
from index_server.engine import IndexEngine
from index_server.scoring.row_scorer import RowScorer

ROOT = Path(__file__).resolve().parents[1]
LOAD_BATCH = 1024


def embedded_items(n: int, seed: int, cache: Path) -> list[EmbeddedItem]:
    """``n`` template items embedded with the rules backend and the default encoder (cached)."""
    path = cache / f"small_batch-templates-{n}-{seed}.pkl"
    if path.exists():
        with path.open("rb") as fh:
            return pickle.load(fh)  # type: ignore[no-any-return]
    from fitrep.pipeline import Pipeline

    with tempfile.TemporaryDirectory() as tmp:
        data = generate(n, seed).write_jsonl(Path(tmp) / "catalogue.jsonl")
        items = read_items(data)
    pipeline = Pipeline.create(workers=1)
    try:
        out = pipeline.embed(items)
    finally:
        pipeline.close()
    cache.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL))
    return out


def parse_config(spec: str) -> tuple[str, IndexConfig]:
    name, _, rest = spec.partition(":")
    types = {f.name: f.type for f in fields(IndexConfig)}
    values: dict[str, object] = {}
    for part in filter(None, rest.split(",")):
        key, _, raw = part.partition("=")
        kind = str(types[key])
        values[key] = (
            raw
            if "str" in kind and "int" not in kind
            else (float(raw) if "float" in kind else int(raw))
        )
    return name, IndexConfig(**values)  # type: ignore[arg-type]


def load(config: IndexConfig, items: list[EmbeddedItem], data_dir: Path | None) -> IndexEngine:
    engine = IndexEngine(data_dir, config)
    for s in range(0, len(items), LOAD_BATCH):
        engine.assign_items(items[s : s + LOAD_BATCH])
    return engine


def timed_calls(engine: IndexEngine, calls: list[list[EmbeddedItem]]) -> float:
    """Items/s of ``calls``, one ``assign_items`` each."""
    gc.collect()
    started = time.perf_counter()
    for call in calls:
        engine.assign_items(call)
    return sum(len(c) for c in calls) / (time.perf_counter() - started)


def vector_candidates(engine: IndexEngine, rows: list[int]) -> np.ndarray:
    return engine.candidates.candidates(rows)[:, : engine.config.k]


def recall(found: np.ndarray, exact: np.ndarray) -> tuple[float, int]:
    """Share of the exact candidates found, and how many were lost."""
    hits = total = 0
    for f, e in zip(found.tolist(), exact.tolist(), strict=True):
        e = {x for x in e if x >= 0}
        total += len(e)
        hits += len(e & set(f))
    return hits / max(total, 1), total - hits


def profile(engine: IndexEngine, calls: list[list[EmbeddedItem]], top: int = 25) -> list[str]:
    prof = cProfile.Profile()
    started = time.perf_counter()
    prof.enable()
    for call in calls:
        engine.assign_items(call)
    prof.disable()
    ms = (time.perf_counter() - started) * 1000 / len(calls)
    out = []
    for key in ("tottime", "cumulative"):
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats(key).print_stats(top)
        text = buf.getvalue()
        body = text[text.index("   ncalls") :] if "   ncalls" in text else text
        out += [f"By {key} ({len(calls)} calls, {ms:.1f} ms a call under the profiler):", ""]
        out += ["```", *body.rstrip().splitlines(), "```", ""]
    return out


# Where a call's time goes: (stage, its label, owner, method); each is timed around its
# calls, and a stage nested in another is taken out of it (``EXCLUSIVE``).
STAGES = (
    ("candidates", "candidates (vector search, code index)", CandidateGenerator, "candidates"),
    ("chunk", "chunk evidence (cosines, lexical arrays, bounds)", RowScorer, "chunk"),
    ("scoring", "pair scoring (features, logistic, family)", RowScorer, "chunk_score"),
    ("join", "join rule (compiled kernel, cluster state)", JoinRule, "decide_batch"),
    ("store", "store rows (table, digests, index add)", IndexEngine, "_add"),
    ("persist", "persist (SQLite commit)", state_store, "commit_batch"),
    ("whole", "whole call", IndexEngine, "assign_items"),
)
LABELS = {key: label for key, label, _, _ in STAGES}
LABELS["other"] = "other (plan, answers, representatives)"  # the whole call less the rest
EXCLUSIVE = {  # stage -> the stages timed directly inside it
    "join": ("scoring",),
    "store": ("candidates", "chunk", "join", "persist"),
}


@contextlib.contextmanager
def stage_clock(totals: dict[str, float]) -> Iterator[None]:
    """Add the wall time of each of ``STAGES`` to ``totals`` (by key) while inside (methods patched
    on their classes, restored after)."""
    saved = []
    for name, _, owner, attr in STAGES:
        original = getattr(owner, attr)
        saved.append((owner, attr, original))

        def timed(*args: Any, _f: Any = original, _name: str = name, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return _f(*args, **kwargs)
            finally:
                totals[_name] = totals.get(_name, 0.0) + time.perf_counter() - started

        setattr(owner, attr, timed)
    try:
        yield
    finally:
        for owner, attr, original in saved:
            setattr(owner, attr, original)


def stages(engine: IndexEngine, calls: list[list[EmbeddedItem]]) -> list[str]:
    """A table of ms a call by stage, exclusive, over ``calls`` (``stage_table``)."""
    totals: dict[str, float] = {}
    gc.collect()
    with stage_clock(totals):
        for call in calls:
            engine.assign_items(call)
    return stage_table(totals, len(calls), len(calls[0]))


def stage_table(totals: dict[str, float], calls: int, batch: int) -> list[str]:
    """Markdown: ms a call by stage, each without the stages timed inside it, over ``calls``
    calls of ``batch`` items; and the whole call less its pair scoring (what compiled pair
    features could reach at best)."""
    ms = {k: 1000 * v / calls for k, v in totals.items()}
    exclusive = {
        k: v - sum(ms.get(inner, 0.0) for inner in EXCLUSIVE.get(k, ())) for k, v in ms.items()
    }
    whole = ms["whole"]
    parts = {k: v for k, v in exclusive.items() if k != "whole"}
    exclusive["other"] = whole - sum(parts.values())
    lines = ["| stage | ms a call | share |", "| --- | ---: | ---: |"]
    for k, v in exclusive.items():
        if k != "whole":
            lines.append(f"| {LABELS[k]} | {v:.2f} | {v / whole:.0%} |")
    lines.append(f"| **{LABELS['whole']}** | **{whole:.2f}** | 100% |")
    rest = whole - exclusive["scoring"]
    lines += [
        "",
        f"Without pair scoring a {batch}-item call would take {rest:.2f} ms: "
        f"{1000 * batch / rest:.0f} items/s on one core, the most compiled pair features could give "
        "this engine in process (the server adds gRPC, validation and the durable commit).",
    ]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000, help="rows indexed before timing")
    ap.add_argument("--batch", type=int, default=16, help="items per timed call")
    ap.add_argument("--calls", type=int, default=30, help="timed calls per round and config")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7, help="template catalogue seed")
    ap.add_argument(
        "--config",
        action="append",
        default=[],
        help="NAME:KEY=VALUE,... (IndexConfig fields); repeatable; default: 'default:' only",
    )
    ap.add_argument("--profile", default="", help="configuration to profile after timing")
    ap.add_argument(
        "--stages", default="", help="configuration whose calls are timed by stage after timing"
    )
    ap.add_argument("--recall-rows", type=int, default=2000)
    ap.add_argument("--data-dir", action="store_true", help="engines on disk (as a server)")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache/fitrep/bench")
    ap.add_argument("--label", default="in-sample")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/small_batch.md")
    args = ap.parse_args()
    configs = dict(parse_config(c) for c in (args.config or ["default:"]))
    timed = args.rounds * args.calls * args.batch
    prof_items = args.calls * args.batch if args.profile else 0
    stage_items = args.calls * args.batch if args.stages else 0
    need = args.rows + timed + prof_items + stage_items
    items = embedded_items(-(-need // 4000) * 4000, args.seed, args.cache)  # cached in 4k steps
    base, rest = items[: args.rows], items[args.rows :]
    with tempfile.TemporaryDirectory() as tmp:
        engines = {}
        for name, config in configs.items():
            started = time.perf_counter()
            data_dir = Path(tmp) / name if args.data_dir else None
            engines[name] = load(config, base, data_dir)
            reducer, index = engines[name].candidates.describe()
            print(
                f"{name}: loaded {args.rows} rows in {time.perf_counter() - started:.0f} s "
                f"({reducer}, {index})",
                flush=True,
            )
        rates: dict[str, list[float]] = {name: [] for name in configs}
        for r in range(args.rounds):
            lo = r * args.calls * args.batch
            calls = [
                rest[lo + c * args.batch : lo + (c + 1) * args.batch] for c in range(args.calls)
            ]
            for name, engine in engines.items():
                rates[name].append(timed_calls(engine, calls))
                print(f"round {r}: {name} {rates[name][-1]:.0f} items/s", flush=True)
        # candidate recall against exact search over the same rows (every engine holds the
        # same items in the same order)
        n = next(iter(engines.values())).n
        rng = np.random.default_rng(0)
        sample = sorted(
            rng.choice(np.arange(1, n), min(args.recall_rows, n - 1), replace=False).tolist()
        )
        exact = exact_candidates(next(iter(engines.values())), sample)
        recalls = {name: recall(vector_candidates(e, sample), exact) for name, e in engines.items()}
        described = {name: e.candidates.describe() for name, e in engines.items()}
        prof_lines: list[str] = []
        if args.profile:
            lo = timed
            calls = [
                rest[lo + c * args.batch : lo + (c + 1) * args.batch] for c in range(args.calls)
            ]
            prof_lines = profile(engines[args.profile], calls)
        stage_lines: list[str] = []
        if args.stages:
            lo = timed + prof_items
            calls = [
                rest[lo + c * args.batch : lo + (c + 1) * args.batch] for c in range(args.calls)
            ]
            stage_lines = stages(engines[args.stages], calls)
        for e in engines.values():
            e.close()
    lines = [
        "# Small assign calls in process (`benchmarks/small_batch.py`)",
        "",
        f"`python benchmarks/small_batch.py --rows {args.rows} --calls {args.calls} --rounds "
        f"{args.rounds} "
        + " ".join(f"--config '{c}'" for c in args.config)
        + (f" --profile {args.profile}" if args.profile else "")
        + (f" --stages {args.stages}" if args.stages else "")
        + (f" --batch {args.batch}" if args.batch != 16 else "")
        + (" --data-dir" if args.data_dir else "")
        + f"`, {time.strftime('%Y-%m-%d %H:%M')}. Label: {args.label}. A template catalogue "
        f"(seed {args.seed}) embedded with the rules backend and MiniLM (6 levels x 384-d), "
        f"{args.rows:,} rows loaded in {LOAD_BATCH}-item calls, then {args.batch}-item "
        f"`assign_items` calls, the configurations in turn on the same calls each round "
        f"({args.rounds} rounds of {args.calls} calls). Engines "
        + ("on disk (SQLite + vectors.bin, as a server)." if args.data_dir else "in memory.")
        + " Machine: 2 CPU cores shared with other work; compare rows of one run only.",
        "",
        f"Candidate recall: the k vector candidates of {len(sample):,} random rows against "
        "exact search over the full weighted space on the same rows (lost: exact candidates "
        "missing).",
        "",
        "| config | reducer, index | items/s (median) | per round | ms a call | candidate recall | lost |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: |",
    ]
    for name in configs:
        med = statistics.median(rates[name])
        rec, lost = recalls[name]
        lines.append(
            f"| {name} | {', '.join(described[name])} | {med:.0f} | "
            + " / ".join(f"{x:.0f}" for x in rates[name])
            + f" | {1000 * args.batch / med:.1f} | {rec:.4f} | {lost} |"
        )
    lines += ["", "Configurations:", ""]
    lines += [f"- `{c}`" for c in (args.config or ["default:"])]
    if stage_lines:
        lines += [
            "",
            f"## Where a call's time goes (`{args.stages}`)",
            "",
            f"{args.calls} further calls, wall time by stage (each stage's own, without the "
            "stages timed inside it), no profiler:",
            "",
            *stage_lines,
        ]
    if prof_lines:
        lines += ["", f"## Profile of `{args.profile}`", "", *prof_lines]
    write_markdown(args.out, lines)


def exact_candidates(engine: IndexEngine, rows: list[int]) -> np.ndarray:
    """The k nearest earlier, live rows of each of ``rows`` by the exact weighted score in
    the full space (float64 over the decoded rows), ties to the older row."""
    gen = engine.candidates
    k = engine.config.k
    full = gen.weighted_all().astype(np.float64)
    deleted = np.zeros(len(full), bool)
    deleted[list(engine.rows.deleted)] = True
    out = np.full((len(rows), k), -1, np.int64)
    for i, row in enumerate(rows):
        scores = np.round(full[:row] @ full[row], 5)
        scores[deleted[:row]] = -np.inf
        order = np.lexsort((np.arange(row), -scores))[:k]
        kept = order[np.isfinite(scores[order])]
        out[i, : len(kept)] = kept
    return out


if __name__ == "__main__":
    main()
