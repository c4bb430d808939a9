"""Column roles: listing columns must not decide identity. Writes ``benchmarks/results/columns.md``.

    python benchmarks/columns.py [--data ../shared/data] [--seeds 100-104] [--label "held out"]
                                 [--no-pairs]

Two tables, each with its baseline in the same run:
- generated catalogues (``fitrep.synthetic.multilingual``, ``electronics``), seed by seed:
  pairwise P/R/F1 of ``fitrep dedup``'s pipeline on the rows with their listing columns, on the
  same rows without them, and with every column compared as identity (the behaviour before
  column roles); "same decisions" is whether the clusters with listing columns equal those
  without them. Rows are the mean over the seeds, labelled dev (seeds 0-4, looked at while
  developing) or held out (seeds 100-104, run once for the result). Where the generator mixes
  languages, the note splits recall into re-listings in one language and translations (the
  product's name in another language: the rules backend has no multilingual model).
- pair sets (Abt-Buy and Amazon-Google test splits, as ``quality.py``): ``fitrep match``'s
  decision and the fixed threshold with price as a listing column (the default: never words
  or a field, only the calibrated ``price_gap``), with price as identity (``--columns
  price=identity``: also its words in the AUXILIARY level, the behaviour before roles) and
  with price ignored (``--columns price=ignore``: no price evidence at all); and the
  Amazon-Google catalogue (cross-table pairs, as ``quality.py``) with the first two; the
  other domains' and ProMap-EN's test pairs with roles by name and with every column compared.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from fitrep.columns import ColumnRole, ColumnRoles, infer_roles
from fitrep.ditto import read_pairs
from fitrep.domain import Item
from fitrep.pipeline import Pipeline
from fitrep.synthetic import SyntheticCatalogue, electronics, multilingual, pairwise_scores
from quality import catalogue_scores, prf, read_catalogue
from results_io import write_markdown

from index_server.engine import IndexEngine
from index_server.scoring.calibration import Calibration
from index_server.scoring.pairs import PairTable, decide_pairs
from mllm_server.chie.engine import ConceptEngine

ROOT = Path(__file__).resolve().parents[1]
GENERATORS: dict[str, Callable[..., SyntheticCatalogue]] = {
    "multilingual (~60 items, 6 languages)": multilingual.generate,
    "electronics (~80 items, 4 languages)": electronics.generate,
}


def items_of(cat: SyntheticCatalogue) -> list[Item]:
    """The rows as ``fitrep dedup`` reads them (column names lower-cased)."""
    return [
        Item(
            id=str(r["id"]),
            title=str(r["title"]),
            attributes={k.lower(): str(v) for k, v in r.items() if k not in ("id", "title")},
        )
        for r in cat.rows
    ]


def clusters(engine: ConceptEngine, items: list[Item], roles: ColumnRoles) -> dict[str, str]:
    engine.columns = roles
    pipeline = Pipeline(engine, IndexEngine(None))
    try:
        return {a.item_id: a.cluster_id for a in pipeline.index.build(pipeline.embed(items))}
    finally:
        pipeline.index.close()


def _changed(
    with_cols: dict[str, str], without: dict[str, str], sku: dict[str, str]
) -> tuple[int, int]:
    """(pairs decided differently with the listing columns than without, of which the
    decision with them is the right one)."""
    ids = sorted(with_cols)
    changed = right = 0
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            joined = with_cols[a] == with_cols[b]
            if joined != (without[a] == without[b]):
                changed += 1
                right += joined == (sku[a] == sku[b])
    return changed, right


def recall_by_language(
    cluster_of: dict[str, str], cat: SyntheticCatalogue
) -> dict[bool, tuple[int, int]]:
    """{same language: (true pairs found, true pairs)}: a re-listing in the item's language
    against one written in another (a translation of the product's name)."""
    out = {True: [0, 0], False: [0, 0]}
    for a, b in cat.truth_pairs():
        counts = out[cat.language[a] == cat.language[b]]
        counts[0] += cluster_of[a] == cluster_of[b]
        counts[1] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


def _language_note(found: dict[bool, list[int]]) -> str:
    same, cross = found[True], found[False]
    return (
        f"; recall within one language {same[0] / max(same[1], 1):.3f} ({same[0]}/{same[1]}), "
        f"across languages {cross[0] / max(cross[1], 1):.3f} ({cross[0]}/{cross[1]})"
    )


def synthetic_rows(engine: ConceptEngine, seeds: list[int], label: str) -> list[list[str]]:
    rows = []
    for name, generate in GENERATORS.items():
        runs: dict[str, list[tuple[float, float, float]]] = {}
        same = changed = right = 0
        listing = []
        by_language = {True: [0, 0], False: [0, 0]}
        for seed in seeds:
            with_cols, without = generate(seed), generate(seed, listing_columns=False)
            items = items_of(with_cols)
            roles = infer_roles(items)
            listing.append(len(roles.columns_of(ColumnRole.LISTING)))
            every_identity = ColumnRoles(overrides={k: ColumnRole.IDENTITY for k in roles.decided})
            got = {
                "with listing columns (roles inferred)": clusters(engine, items, roles),
                "without listing columns": clusters(
                    engine, items_of(without), infer_roles(items_of(without))
                ),
                "with listing columns compared (before roles)": clusters(
                    engine, items, every_identity
                ),
            }
            for method, cluster_of in got.items():
                s = pairwise_scores(cluster_of, with_cols.sku)
                runs.setdefault(method, []).append((s.precision, s.recall, s.f1))
            a, b = got["with listing columns (roles inferred)"], got["without listing columns"]
            if with_cols.language:
                for key, (hit, total) in recall_by_language(a, with_cols).items():
                    by_language[key][0] += hit
                    by_language[key][1] += total
            pairs, ok = _changed(a, b, with_cols.sku)
            same, changed, right = same + (pairs == 0), changed + pairs, right + ok
        for method, scores in runs.items():
            p, r, f = np.mean(np.array(scores), axis=0)
            note = ""
            if method.startswith("with listing columns (roles"):
                note = (
                    f"same decisions as without: {same}/{len(seeds)} seeds ({changed} pairs "
                    f"differ, {right} of them now right: the price gap); "
                    f"listing columns found {np.mean(listing):.1f} of 4"
                )
                if by_language[False][1]:
                    note += _language_note(by_language)
            rows.append([f"{name} ({label})", method, f"{p:.3f}", f"{r:.3f}", f"{f:.3f}", note])
    return rows


def pair_rows(data: Path) -> list[list[str]]:
    cal = Calibration.load()
    rows = []
    for name, folder in (
        ("Abt-Buy test", "abt-buy"),
        ("Amazon-Google test", "amazon-google-pairs"),
    ):
        pf = read_pairs(data / folder / "test.txt")
        y = np.array(pf.labels) == 1
        for method, overrides in (
            ("price listing: price gap only (default)", {}),
            ("price identity: words + price gap (before roles)", {"price": ColumnRole.IDENTITY}),
            ("price ignored: no price evidence", {"price": ColumnRole.IGNORE}),
        ):
            engine = ConceptEngine.create("rules", columns=ColumnRoles(overrides=overrides))
            probs = PairTable(engine.process(pf.items)).probabilities(pf.pairs, cal)
            p, r, f = prf(decide_pairs(pf.pairs, probs, cal.threshold), y)
            fp, fr, ff = prf(probs >= cal.threshold, y)
            rows.append(
                [f"{name} (dev)", method, f"{p:.3f}", f"{r:.3f}", f"**{f:.3f}**",
                 f"fixed threshold: P {fp:.3f} R {fr:.3f} F1 {ff:.3f}"]
            )  # fmt: skip
    return rows


def other_domain_rows(data: Path) -> list[list[str]]:
    """The other domains' and ProMap-EN's test pairs (their own column names: iTunes'
    ``Price``, beer's ``ABV``, ...): roles by name against every column compared (before)."""
    cal = Calibration.load()
    rows = []
    sets = ["other-domains/" + n for n in ("itunes-amazon", "beer", "fodors-zagats", "dblp-acm")]
    for folder in [*sets, "variants/promap-en"]:
        name = folder.rpartition("/")[2]
        pf = read_pairs(data / folder / "test.txt")
        y = np.array(pf.labels) == 1
        columns = sorted({k for it in pf.items for k in it.attributes})
        listing = [c for c in columns if ColumnRoles().role(c) is not ColumnRole.IDENTITY]
        every = {c: ColumnRole.IDENTITY for c in columns}
        for method, overrides in (
            ("roles by name (default)", {}),
            ("every column identity", every),
        ):
            engine = ConceptEngine.create("rules", columns=ColumnRoles(overrides=overrides))
            probs = PairTable(engine.process(pf.items)).probabilities(pf.pairs, cal)
            p, r, f = prf(decide_pairs(pf.pairs, probs, cal.threshold), y)
            note = f"not identity: {', '.join(listing) or 'none'}" if not overrides else ""
            rows.append([f"{name} test (dev)", method, f"{p:.3f}", f"{r:.3f}", f"{f:.3f}", note])
    return rows


def catalogue_rows(data: Path) -> list[list[str]]:
    """The Amazon-Google catalogue through ``fitrep dedup``'s pipeline, cross-table pairs,
    with the two price roles that keep the pair sets' F1 (as ``quality.py``'s catalogue row)."""
    items, gold = read_catalogue(data / "amazon-google-catalog")
    ids = [it.id for it in items]
    rows = []
    for method, overrides in (
        ("price listing: price gap only (default)", {}),
        ("price identity: words + price gap (before roles)", {"price": ColumnRole.IDENTITY}),
    ):
        engine = ConceptEngine.create("rules")
        engine.columns = infer_roles(items, overrides)
        pipeline = Pipeline(engine, IndexEngine(None))
        labels = [int(a.cluster_id[1:]) for a in pipeline.dedup(items)]
        pipeline.index.close()
        p, r, f, n, big = catalogue_scores(ids, labels, gold)
        note = f"{n} clusters, largest {big}"
        rows.append(
            ["Amazon-Google catalogue (dev)", method, f"{p:.3f}", f"{r:.3f}", f"{f:.3f}", note]
        )
    return rows


def _seeds(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--seeds", action="append", default=None, help="e.g. 0-4; repeatable")
    ap.add_argument("--label", action="append", default=None, help="dev / held out, per --seeds")
    ap.add_argument("--no-pairs", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "columns.md")
    args = ap.parse_args()
    started = time.perf_counter()
    seed_sets = args.seeds or ["0-4", "100-104"]
    labels = args.label or ["dev", "held out"]
    engine = ConceptEngine.create("rules")
    rows = []
    for seeds, label in zip(seed_sets, labels, strict=True):
        rows += synthetic_rows(engine, _seeds(seeds), f"{label}, seeds {seeds}")
    if not args.no_pairs:
        rows += pair_rows(args.data) + catalogue_rows(args.data) + other_domain_rows(args.data)
    lines = [
        "# Column roles",
        "",
        f"Generated by `python benchmarks/columns.py` in {time.perf_counter() - started:.0f} s "
        "on a 2-core CPU machine (no GPU). Synthetic rows: mean over the seeds named; dev = "
        "looked at while developing, held out = run once for the result. Pair sets: the test "
        "splits quality.py reports (dev: looked at before); ours is `fitrep match` (mutual best, "
        "shipped calibration).",
        "",
        "| data | method | P | R | F1 | note |",
        "|---|---|---|---|---|---|",
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
    ]
    write_markdown(args.out, lines)


if __name__ == "__main__":
    main()
