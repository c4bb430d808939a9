"""Does the decision travel to a domain it was never calibrated on? Leave one domain out.

    python benchmarks/transfer.py [--data ../shared/data] [--static-levels all|primary,...]

For each of the six shared pair sets (two product sets and the four of other-domains/), the
calibration is fitted on the train + valid splits of the other five (domain-balanced, as
``fitrep calibrate`` fits the shipped one) and scored on the held-out set's test split; the
mean of those six F1s is the figure to raise. Beside it: in-domain (fitted on the set's own
train + valid), the fixed threshold vs the label-free adaptive decision of ``fitrep match``,
and a transfer baseline with the same protocol: TF-IDF char 3-5-gram cosine over the whole
record, one threshold tuned on the pooled valid splits of the other five. Writes
``benchmarks/results/transfer.md``. Test splits are never used for fitting.

``--static-levels`` embeds the named levels (or all) with the static encoder instead of
MiniLM, the others with MiniLM: where the static vectors cost nothing (encoder.md).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from fitrep.ditto import PairFile, read_pairs
from fitrep.domain import TEXT_LEVELS, EmbeddedItem, Item, Level, LevelEmbeddings
from quality import record_tfidf  # the same transfer baseline as quality.md's
from results_io import git_commit, write_markdown

from index_server.scoring.calibration import Calibration
from index_server.scoring.calibration_fit import (
    best_f1_threshold,
    domain_weights,
    fit_calibration,
    to_matrix,
)
from index_server.scoring.logistic import LogisticModel
from index_server.scoring.pairs import PairTable, decide_pairs
from mllm_server.chie.encoder import LevelEncoder
from mllm_server.chie.engine import ConceptEngine

ROOT = Path(__file__).resolve().parents[1]
SETS = {
    "Abt-Buy": "abt-buy",
    "Amazon-Google": "amazon-google-pairs",
    "Beer": "other-domains/beer",
    "Fodors-Zagats": "other-domains/fodors-zagats",
    "iTunes-Amazon": "other-domains/itunes-amazon",
    "DBLP-ACM": "other-domains/dblp-acm",
}
SPLITS = ("train", "valid", "test")


def f1(pred: np.ndarray, y: np.ndarray) -> float:
    tp = float((pred & y).sum())
    return 2 * tp / max(float(pred.sum() + y.sum()), 1.0)


def probabilities(rows: list[dict[str, float]], cal: Calibration) -> np.ndarray:
    """The logistic model on precomputed feature rows (no image-only pairs here)."""
    model = cal.model
    assert isinstance(model, LogisticModel)
    names = sorted(model.coef)
    z = model.bias + to_matrix(rows, names) @ np.array([model.coef[n] for n in names])
    return 1.0 / (1.0 + np.exp(-z))


class MixedEngine:
    """MiniLM's levels, with ``static_levels`` replaced by the static encoder's vectors."""

    def __init__(self, static_levels: frozenset[Level]) -> None:
        self.static_levels = static_levels
        everywhere = static_levels == frozenset(TEXT_LEVELS)
        self.engine = ConceptEngine.create("rules", encoder="static" if everywhere else "minilm")
        self.static = LevelEncoder(encoder="static") if static_levels and not everywhere else None

    def process(self, items: list[Item]) -> list[EmbeddedItem]:
        out = self.engine.process(items)
        if self.static is None:
            return out
        mixed = []
        for e, s in zip(out, self.static.encode([e.concepts for e in out]), strict=True):
            vectors = {**e.embeddings.vectors}
            for level in self.static_levels:
                vectors.pop(level, None)
                if level in s.vectors:
                    vectors[level] = s.vectors[level]
            mixed.append(EmbeddedItem(e.concepts, LevelEmbeddings(e.item_id, vectors)))
        return mixed


def static_levels(text: str) -> frozenset[Level]:
    if text == "all":
        return frozenset(TEXT_LEVELS)
    return frozenset(Level[name.strip().upper()] for name in text.split(",") if name.strip())


class Loaded:
    """One split of one set: its pairs, labels, feature rows and baseline scores."""

    def __init__(self, pf: PairFile, engine: MixedEngine) -> None:
        self.pf = pf
        self.y = np.array([int(x or 0) for x in pf.labels]) == 1
        self.rows = PairTable(engine.process(pf.items)).features(pf.pairs)
        self.tfidf = record_tfidf(pf)


def fit_on(parts: list[tuple[str, Loaded]]) -> Calibration:
    rows = [r for _, part in parts for r in part.rows]
    labels = [int(v) for _, part in parts for v in part.y]
    domains = [name for name, part in parts for _ in part.rows]
    return fit_calibration(rows, labels, domains=domains)


def tfidf_threshold(parts: list[tuple[str, Loaded]]) -> float:
    scores = np.concatenate([p.tfidf for _, p in parts])
    y = np.concatenate([p.y for _, p in parts])
    w = domain_weights([name for name, p in parts for _ in p.rows])
    return best_f1_threshold(scores, y, w)[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "transfer.md")
    parser.add_argument(
        "--static-levels",
        type=static_levels,
        default=frozenset(),
        help="all, or e.g. form,subjective",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    engine = MixedEngine(args.static_levels)
    levels = sorted(level.name.lower() for level in args.static_levels)
    encoders = "MiniLM levels" if not levels else f"static encoder on {', '.join(levels)}"
    flag = f" --static-levels {','.join(levels)}" if levels else ""
    if args.static_levels == frozenset(TEXT_LEVELS):
        encoders, flag = "static encoder on every level", " --static-levels all"
    data: dict[tuple[str, str], Loaded] = {}
    for name, folder in SETS.items():
        for split in SPLITS:
            data[name, split] = Loaded(read_pairs(args.data / folder / f"{split}.txt"), engine)
            print(f"loaded {name} {split}: {len(data[name, split].rows)} pairs", flush=True)

    rows, means = [], {k: [] for k in ("lodo_fixed", "lodo_adapt", "in_fixed", "in_adapt", "tf")}
    for held in SETS:
        test = data[held, "test"]
        pairs = test.pf.pairs
        others = [(n, data[n, s]) for n in SETS if n != held for s in ("train", "valid")]
        own = [(held, data[held, s]) for s in ("train", "valid")]
        result = {}
        for tag, parts in (("lodo", others), ("in", own)):
            cal = fit_on(parts)
            p = probabilities(test.rows, cal)
            result[f"{tag}_fixed"] = f1(p >= cal.threshold, test.y)
            result[f"{tag}_adapt"] = f1(decide_pairs(pairs, p, cal.threshold), test.y)
            if tag == "lodo":
                oracle = best_f1_threshold(p, test.y)[1]
        t = tfidf_threshold([(n, data[n, "valid"]) for n in SETS if n != held])
        result["tf"] = f1(test.tfidf >= t, test.y)
        for k, v in result.items():
            means[k].append(v)
        rows.append(
            f"| {held} | {result['lodo_fixed']:.3f} | **{result['lodo_adapt']:.3f}** | "
            f"({oracle:.3f}) | {result['in_fixed']:.3f} | {result['in_adapt']:.3f} | "
            f"{result['tf']:.3f} |"
        )
    mean = {k: float(np.mean(v)) for k, v in means.items()}
    rows.append(
        f"| **mean** | {mean['lodo_fixed']:.3f} | **{mean['lodo_adapt']:.3f}** | | "
        f"{mean['in_fixed']:.3f} | {mean['in_adapt']:.3f} | {mean['tf']:.3f} |"
    )
    lines = [
        "# Transfer: leave one domain out",
        "",
        f"Generated by `python benchmarks/transfer.py{flag}` in "
        f"{time.perf_counter() - started:.0f} s "
        f"(2-core CPU, `rules` backend, {encoders}), {time.strftime('%Y-%m-%d %H:%M')}, "
        f"commit {git_commit()}. F1 on each set's **test** split; every test split is **dev** "
        "(looked at while developing), none held out.",
        "",
        "- *held out*: calibration fitted (domain-balanced) on train + valid of the other five "
        "sets, never on this one; the decision is the fixed calibrated threshold "
        "(`fitrep match --no-adaptive`) or the label-free adaptive one (mutual best match at "
        "half the threshold, `fitrep match`).",
        "- *in-domain*: fitted on the set's own train + valid.",
        "- *TF-IDF*: char 3-5-gram cosine over the whole record, one threshold tuned on the "
        "pooled valid splits of the other five (the same leave-one-out protocol).",
        "- *(oracle)*: best threshold on the test split itself, for scale; not a result.",
        "",
        "| held-out set | held out, fixed | held out, adaptive | (oracle) | in-domain, fixed "
        "| in-domain, adaptive | TF-IDF baseline, held out |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    write_markdown(args.out, lines)


if __name__ == "__main__":
    main()
