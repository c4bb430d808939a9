"""`fitrep dedup` end to end, as a user runs it: wall time cold and warm, peak RSS, per stage.

    python benchmarks/e2e.py --sizes 20000            # prints the lines speed.md starts with

Cold = a fresh ``XDG_CACHE_HOME`` (no encoder string cache, no OCR cache, no ONNX export: what a
new install meets); warm = the same command again on the caches the cold run wrote. Peak RSS is
the largest sum over the CLI's whole process tree (worker processes included), sampled every
0.2 s from /proc. Per-stage wall/CPU/utilisation come from the run's summary.json ``stages``.
The catalogue: shop titles (brand, type, model code, size, colour) with 1-3 re-listings per
product (reworded, recased, a marketing suffix), seeded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BRANDS = ["acme", "globex", "initech", "umbrella", "hooli", "vandelay", "stark", "wayne",
          "tyrell", "cyberdyne", "wonka", "soylent", "aperture", "oscorp", "massive"]  # fmt: skip
TYPES = ["laptop", "monitor", "keyboard", "phone", "tablet", "speaker", "printer", "ssd",
         "mouse", "router", "headphones", "camera lens", "memory card", "charger"]  # fmt: skip
COLOURS = ["black", "white", "red", "blue", "silver"]
ADJ = ["premium", "durable", "new", "best", "compact", "lightweight"]


def text_catalogue(n: int, seed: int = 0) -> list[dict[str, str]]:
    """Titles like a shop's: brand, type, model code, size, colour; 1-3 listings per product."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, str]] = []
    while len(rows) < n:
        p = len(rows)
        brand, kind = BRANDS[rng.integers(len(BRANDS))], TYPES[rng.integers(len(TYPES))]
        code = f"{kind[:2]}{rng.integers(100, 9999)}{'xyz'[rng.integers(3)]}"
        size = f"{rng.integers(1, 64)} gb" if rng.random() < 0.5 else f"{rng.integers(5, 40)} inch"
        colour = COLOURS[rng.integers(len(COLOURS))]
        for c in range(int(rng.integers(1, 4))):
            adj = ADJ[rng.integers(len(ADJ))]
            title = f"{brand} {kind} {code.upper() if c else code} {size} {colour}"
            if c:
                title = f"{adj} {title} - free shipping" if c == 2 else f"{title} ({adj})"
            rows.append({"id": f"p{p}-{c}", "title": title, "text": f"{adj} {kind} by {brand}"})
    return rows[:n]


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants (0 for what has exited)."""
    kids, todo, total = _children(), [pid], 0
    page = os.sysconf("SC_PAGE_SIZE")
    while todo:
        p = todo.pop()
        todo += kids.get(p, [])
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * page
        except (OSError, IndexError, ValueError):
            pass
    return total


@dataclass
class RunFigures:
    seconds: float
    peak_rss_gb: float
    summary: dict[str, object] = field(default_factory=dict)
    pair_prf: tuple[float, float, float] = (0.0, 0.0, 0.0)  # clusters vs the generator's products


def pair_scores(clusters: Path) -> tuple[float, float, float]:
    """Pairwise P / R / F1 of ``cluster_id`` against the product an id names (``p<product>-<c>``)."""
    by_cluster: dict[str, Counter[str]] = {}
    products: Counter[str] = Counter()
    with clusters.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            product = row["id"].rsplit("-", 1)[0]
            by_cluster.setdefault(row["cluster_id"], Counter())[product] += 1
            products[product] += 1

    def pairs(n: int) -> int:
        return n * (n - 1) // 2

    tp = sum(pairs(c) for counts in by_cluster.values() for c in counts.values())
    said = sum(pairs(sum(counts.values())) for counts in by_cluster.values())
    true = sum(pairs(c) for c in products.values())
    p, r = tp / max(said, 1), tp / max(true, 1)
    return p, r, 2 * p * r / max(p + r, 1e-12)


def run_dedup(catalogue: Path, out: Path, cache_home: Path, *extra: str) -> RunFigures:
    """One ``fitrep dedup`` process (this interpreter's), timed and sampled until it exits."""
    fitrep = str(Path(sys.executable).with_name("fitrep"))
    cmd = [fitrep, "dedup", str(catalogue), "--out", str(out), "--no-progress", *extra]
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home)}
    peak, started = 0, time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_bytes(proc.pid))
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {stderr.decode()[-2000:]}")
    summary = json.loads((out / "summary.json").read_text())
    return RunFigures(seconds, peak / 2**30, summary, pair_scores(out / "clusters.jsonl"))


def label(n: int) -> str:
    return f"{n // 1_000_000}m" if n % 1_000_000 == 0 else f"{n // 1000}k"


def measure(
    n: int, warm: bool, seed: int = 0, then: Callable[[Path, RunFigures], None] | None = None
) -> tuple[RunFigures, RunFigures | None]:
    """Cold (and, with ``warm``, a second run on its caches) over an ``n``-item catalogue;
    ``then(out, cold)`` runs on the cold run's output folder before it is removed."""
    tmp = Path(tempfile.mkdtemp(prefix=f"fitrep-e2e-{label(n)}-"))
    try:
        path = tmp / "catalogue.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for row in text_catalogue(n, seed):
                fh.write(json.dumps(row) + "\n")
        cold = run_dedup(path, tmp / "cold", tmp / "cache")
        if then is not None:
            then(tmp / "cold", cold)
        again = run_dedup(path, tmp / "warm", tmp / "cache") if warm else None
        return cold, again
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def headline(n: int, cold: RunFigures, warm: RunFigures | None) -> str:
    """``dedup-100k: 290 s cold, 110 s warm, peak RSS 3.1 GB`` (no warm part without one)."""
    warm_part = f", {warm.seconds:.0f} s warm" if warm is not None else ""
    peak = max(cold.peak_rss_gb, warm.peak_rss_gb if warm else 0.0)
    return f"dedup-{label(n)}: {cold.seconds:.0f} s cold{warm_part}, peak RSS {peak:.1f} GB"


def stage_table(runs: list[tuple[int, str, RunFigures]]) -> list[str]:
    """One row per (size, cold/warm, stage): wall s, CPU s, share of all cores busy."""
    lines = [
        "| catalogue | run | stage | wall s | CPU s | cores busy |",
        "|---|---|---|---|---|---|",
    ]
    for n, kind, run in runs:
        stages = run.summary.get("stages", {})
        assert isinstance(stages, dict)
        for stage, fig in stages.items():
            lines.append(
                f"| {n:,} | {kind} | {stage} | {fig['seconds']:.1f} | {fig['cpu_seconds']:.1f}"
                f" | {fig['cpu_utilisation']:.0%} |"
            )
        lines.append(f"| {n:,} | {kind} | **whole command** | **{run.seconds:.1f}** | | |")
    lines.append("")
    for n, kind, run in runs:
        p, r, f1 = run.pair_prf
        lines.append(
            f"- {n:,} {kind}: encoder {run.summary.get('encoder', 'not recorded')}, reducer "
            f"{run.summary.get('reducer', '?')}, pair P / R / F1 {p:.3f} / {r:.3f} / {f1:.3f} "
            "(in-sample: the generator is this script's own)"
        )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="20000", help="catalogue sizes, comma-separated")
    ap.add_argument("--cold-only", action="store_true", help="skip the warm rerun")
    args = ap.parse_args()
    runs = []
    for n in (int(x) for x in args.sizes.split(",")):
        cold, warm = measure(n, not args.cold_only)
        print(headline(n, cold, warm), flush=True)
        runs += [(n, "cold", cold)] + ([(n, "warm", warm)] if warm else [])
    print("\n".join(stage_table(runs)))


if __name__ == "__main__":
    main()
