"""Grocery shelf photos: clusters of same-product photos, with and without reading the package.

    .venv/bin/python benchmarks/grocery.py [--data ../shared/data] [--split val,train]
        [--limit N] [--cost-photos 48] [--out benchmarks/results/grocery.md]

Each photo is an image-only item (no title); photos of one product (its folder) are
duplicates. For each split, in one run on the same photos:
- pooled global image vector (the VISUAL level's vector; connected components at the
  threshold that is best on this same split: an optimistic, oracle baseline);
- ours, pixel-only (``fitrep dedup --ocr off``): perceptual hash, colour histogram, RootSIFT
  + RANSAC, the global vector;
- ours with OCR (``--ocr on``): the same plus the words read off the package.
Pairwise P/R/F1 over all pairs of the split, cluster count, the largest cluster, and which
products the largest clusters hold. ``--cost-photos``: the CHIE cost per photo (extract and
embed, 2 cores), pixel-only, with OCR on a cold cache and on a warm one (min of 3 rounds).
``benchmarks/quality.py`` runs ``grocery_rows`` as its grocery section.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from fitrep.cli.quality import evenly_spaced
from fitrep.domain import Item, Level
from fitrep.pipeline import Pipeline
from results_io import write_markdown

from index_server.config import IndexConfig
from index_server.engine import IndexEngine
from mllm_server.chie.encoder import LevelEncoder
from mllm_server.chie.engine import ConceptEngine
from mllm_server.chie.ocr import PackageReader, ocr_available
from mllm_server.chie.rules import RulesExtractor

ROOT = Path(__file__).resolve().parents[1]
Scores = tuple[float, float, float, int, int]


# Photos of train.txt that scripts/calibrate.sh fits the shipped calibration on (fitrep
# calibrate --image-limit 150 picks them with ``evenly_spaced``).
CALIBRATION_PHOTOS = 150
UNFITTED = "train-unfitted"  # train.txt without those photos: what the calibration never saw


def read_split(data: Path, split: str, limit: int | None = None) -> tuple[list[Item], list[str]]:
    """The photos of ``train.txt`` / ``val.txt`` (first ``limit``) and each one's product;
    ``train-unfitted``: train.txt less the photos the shipped calibration was fitted on."""
    folder = data / "grocery-packages"
    items, products = [], []
    lines = [
        ln for ln in (folder / f"{split.split('-')[0]}.txt").read_text().splitlines() if ln.strip()
    ]
    if split == UNFITTED:
        fitted = set(evenly_spaced(len(lines), CALIBRATION_PHOTOS))
        lines = [ln for i, ln in enumerate(lines) if i not in fitted]
    for line in lines[:limit]:
        rel = line.split(",")[0].strip().replace("/Packages", "")
        items.append(Item(id=rel, image=folder / rel))
        products.append(rel.split("/")[-2])
    return items, products


def cluster_scores(labels: Sequence[int], products: Sequence[str]) -> Scores:
    """(P, R, F1 over all pairs, clusters, largest cluster)."""
    truth, lab = np.array(products), np.array(labels)
    upper = np.triu(np.ones((len(lab), len(lab)), bool), 1)
    gold = (truth[:, None] == truth[None, :]) & upper
    pred = (lab[:, None] == lab[None, :]) & upper
    tp, npred, ngold = float((pred & gold).sum()), float(pred.sum()), float(gold.sum())
    p, r = (tp / npred if npred else 0.0), (tp / ngold if ngold else 0.0)
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f, len(set(labels)), max(Counter(labels).values())


def largest_clusters(labels: Sequence[int], products: Sequence[str], k: int = 3) -> list[str]:
    """The ``k`` largest clusters as 'size: product count + ...' (what merged)."""
    members: dict[int, Counter[str]] = {}
    for label, product in zip(labels, products, strict=True):
        members.setdefault(label, Counter())[product] += 1
    biggest = sorted(members.values(), key=lambda c: -sum(c.values()))[:k]
    return [
        f"{sum(c.values())}: " + " + ".join(f"{p} {n}" for p, n in c.most_common()) for c in biggest
    ]


def components_at(x: np.ndarray, thr: float) -> list[int]:
    """Connected components of the graph 'cosine >= thr' (rows of ``x`` are unit vectors)."""
    parent = list(range(len(x)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(x @ x.T >= thr, 1)), strict=True):
        parent[find(int(i))] = find(int(j))
    return [find(i) for i in range(len(x))]


def dedup(engine: ConceptEngine, items: Sequence[Item]) -> tuple[list[int], float]:
    """``fitrep dedup``'s pipeline in-process (shipped calibration): labels and seconds."""
    started = time.perf_counter()
    index = IndexEngine(None, IndexConfig())
    assignments = Pipeline(engine, index).dedup(list(items))
    index.close()
    return [int(a.cluster_id[1:]) for a in assignments], time.perf_counter() - started


def _row(split: str, method: str, s: Scores, note: str, bold: bool = False) -> list[str]:
    f1 = f"**{s[2]:.3f}**" if bold else f"{s[2]:.3f}"
    return [f"grocery ({split})", method, f"{s[0]:.3f}", f"{s[1]:.3f}", f1, note]


def grocery_rows(
    data: Path, splits: Sequence[str], limit: int | None = None
) -> tuple[list[list[str]], list[str]]:
    """Table rows (data, method, P, R, F1, note) and lines naming the largest clusters."""
    rows: list[list[str]] = []
    notes: list[str] = []
    modes = ["off", "on"] if ocr_available() else ["off"]
    engines = {mode: ConceptEngine.create("rules", ocr=mode) for mode in modes}
    for split in splits:
        items, products = read_split(data, split, limit)
        label = f"{split}, {len(items)} photos"
        visual = np.stack(
            [e.embeddings.vectors[Level.VISUAL] for e in engines["off"].process(items)]
        )
        best = max(
            (
                (cluster_scores(components_at(visual, t), products), t)
                for t in np.linspace(0.5, 0.99, 50)
            ),
            key=lambda st: st[0][2],
        )
        rows.append(
            _row(
                label,
                "pooled global image vector (+ components, oracle threshold)",
                best[0],
                f"{best[0][3]} clusters, largest {best[0][4]}",
            )
        )
        for mode, engine in engines.items():
            labels, seconds = dedup(engine, items)
            s = cluster_scores(labels, products)
            name = "ours, pixel-only (--ocr off)" if mode == "off" else "**ours, --ocr on**"
            note = f"{s[3]} clusters, largest {s[4]}, {seconds:.0f} s"
            rows.append(_row(label, name, s, note, bold=mode == "on"))
            notes.append(
                f"- {split}, --ocr {mode}: " + "; ".join(largest_clusters(labels, products))
            )
        if "on" not in engines:
            rows.append([f"grocery ({label})", "ours, --ocr on", "", "", "n/a", "no [ocr] extra"])
    for engine in engines.values():
        engine.close()
    return rows, notes


def chie_cost(data: Path, photos: int, rounds: int = 3) -> list[str]:
    """Markdown lines: ms per photo of CHIE (extract + embed), min over ``rounds``."""
    items, _ = read_split(data, "train")
    items = items[:: max(len(items) // photos, 1)][:photos]

    def run(ocr: str, cache: Path | None, warm: bool) -> float:
        """``warm``: a first pass fills the caches (and imports what the first call needs)."""
        rules = RulesExtractor(ocr=ocr)
        if rules.reader is not None:
            rules.reader = PackageReader(disk_cache=cache)
            rules.reader.read(items[0].image)  # type: ignore[arg-type]  # load the models
        engine = ConceptEngine(rules, LevelEncoder(disk_cache=None))
        engine.warm_up()
        if warm:
            engine.process(items)
        started = time.perf_counter()
        engine.process(items)
        return (time.perf_counter() - started) / len(items) * 1000

    cases = [("pixel-only (--ocr off)", "off", True)]
    if ocr_available():
        cases += [("--ocr on, cold cache", "on", False), ("--ocr on, warm cache", "on", True)]
    lines = ["| CHIE per photo | ms (min of rounds) |", "|---|---|"]
    for name, ocr, warm in cases:
        times = []
        for _ in range(rounds):
            with tempfile.TemporaryDirectory() as tmp:
                times.append(run(ocr, Path(tmp) / "ocr.sqlite", warm))
        lines.append(
            f"| {name} | {min(times):.0f} (rounds: {', '.join(f'{t:.0f}' for t in times)}) |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument(
        "--split",
        default=f"val,{UNFITTED},train",
        help=f"comma-separated: val, train, {UNFITTED} (train less the calibration's photos)",
    )
    parser.add_argument("--limit", type=int, default=None, help="first N photos of each split")
    parser.add_argument("--cost-photos", type=int, default=48, help="0: skip the cost table")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "grocery.md")
    args = parser.parse_args()
    started = time.perf_counter()
    rows, notes = grocery_rows(args.data, args.split.split(","), args.limit)
    cost = chie_cost(args.data, args.cost_photos) if args.cost_photos else []
    lines = [
        "# FITRep grocery photos benchmark",
        "",
        f"Generated by `python benchmarks/grocery.py --split {args.split}` in "
        f"{time.perf_counter() - started:.0f} s on a 2-core CPU machine (no GPU), shipped "
        "calibration. OCR: rapidocr (PP-OCR ONNX), detection side 736 px, no angle classifier.",
        "",
        "Labels: *val* and *train-unfitted* are **dev** (looked at while developing, never "
        "fitted on); *train-unfitted* is train.txt less the 150 photos `scripts/calibrate.sh` "
        "fits the shipped calibration on (`--image-limit 150`, evenly spaced); *train* holds "
        "those 150 too, so it is partly **in-sample**.",
        "",
        "| data | method | P | R | F1 | clusters |",
        "|---|---|---|---|---|---|",
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
        "Largest clusters (size: products in it):",
        "",
        *notes,
        "",
        *cost,
        "",
    ]
    write_markdown(args.out, lines)


if __name__ == "__main__":
    main()
