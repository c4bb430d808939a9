"""Why true pairs of the generated catalogues are missed: a table of causes.

    python benchmarks/recall_misses.py [--seeds 0-4] [--label dev] [--baseline DIR] [--show N]
                                       [--out benchmarks/results/recall.md]

For every true pair (same sku) that ``fitrep dedup``'s pipeline leaves in two clusters, on
``fitrep.synthetic.multilingual`` and ``electronics`` (listing columns included, roles
inferred, as ``columns.py``), one cause is counted, the first that applies:
- ``gate:<name>``: a hard gate of the pair fired (the verifier vetoes it);
- ``not in candidates``: neither item was among the other's candidates (the later row's);
- ``below threshold``: candidates, no gate, the pair's probability under the threshold;
- ``join rule``: the pair alone passes, the join rule (agree with the cluster) kept it out.
Each miss also gets its title difference (the first that applies): ``same title``,
``codes apart`` (the code written with a space, hyphen or not), ``cross-script`` (one title
has CJK, the other not), ``cross-language words`` (other nouns or colours), ``word order/suffix``
(same words, other order, or one side adds words).

Two oracles say what a multilingual encoder could give: every title translated to English with
the generators' own tables first (vectors and anchors), and the vectors alone translated (the
anchors, which the lexical features and gates read, as written).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from columns import GENERATORS, items_of
from fitrep.columns import infer_roles
from fitrep.pipeline import Pipeline
from fitrep.synthetic import pairwise_scores
from results_io import write_markdown

from index_server.engine import IndexEngine
from mllm_server.chie.engine import ConceptEngine
from mllm_server.chie.text_parse import tokenize

ROOT = Path(__file__).resolve().parents[1]
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
_SUFFIX = re.compile(r"\s+-\s+.*$")


def _words(title: str) -> list[str]:
    return [t for t in tokenize(title) if t != ","]


def title_kind(a: str, b: str) -> str:
    """How two titles of one item differ, codes written alike first (see ``_code_apart``)."""
    a, b = (t if t == t.upper() else _CODE.sub(r"\1\2", t) for t in (a, b))
    if a.casefold() == b.casefold():
        return "same title"
    wa, wb = _words(_SUFFIX.sub("", a)), _words(_SUFFIX.sub("", b))
    if sorted(wa) == sorted(wb):
        return "word order/suffix"
    sa, sb = set(_words(a)), set(_words(b))
    if sa <= sb or sb <= sa:
        return "word order/suffix"
    if bool(_CJK.search(a)) != bool(_CJK.search(b)):
        return "cross-script (zh vs Latin)"
    return "cross-language words"


_CODE = re.compile(r"\b([A-Z]{2,4})[ -]?(\d{2,5})\b")


def _code_apart(a: str, b: str) -> bool:
    """The two titles write a letters+digits code differently (space, hyphen, none)."""
    pat = re.compile(r"\b([A-Z]{2,3})([ -]?)(\d{3})\b")
    ca = {(m.group(1), m.group(3)): m.group(2) for m in pat.finditer(a)}
    cb = {(m.group(1), m.group(3)): m.group(2) for m in pat.finditer(b)}
    return any(k in cb and cb[k] != v for k, v in ca.items())


def _english(generator) -> list[tuple[str, str]]:
    """(word in another language, its English form) from a generator's own tables, longest
    first: the oracle translation a multilingual encoder would at best stand in for."""
    pairs: dict[str, str] = {}
    for nouns, _axis, values, _base in generator._TYPES:
        for word in nouns[1:]:
            pairs.setdefault(word, nouns[0])
        for value in values:
            for word in value[1:]:
                pairs.setdefault(word, value[0])
    for words in generator._SUFFIX.values():
        for i, word in enumerate(words):
            pairs.setdefault(word, generator._SUFFIX["en"][i])
    return sorted(pairs.items(), key=lambda kv: -len(kv[0]))


def translated(cat, generator):
    """``cat`` with every title's words of the generator's tables in English (case kept
    loosely: an upper-cased title is matched case-insensitively)."""
    table = _english(generator)
    rows = []
    for row in cat.rows:
        title = str(row["title"])
        for word, english in table:
            if word != english:
                title = re.sub(
                    rf"(?<![\w-]){re.escape(word)}(?![\w-])", english, title, flags=re.IGNORECASE
                )
        rows.append({**row, "title": title})
    return type(cat)(cat.name, cat.seed, rows, cat.sku, cat.family)


def misses(engine: ConceptEngine, generate, seed: int, oracle=None, vectors_only=False):
    """``oracle``: the generator's module, to translate the titles with; ``vectors_only``: the
    translated titles give the vectors only, the concepts and anchors (what the lexical
    features and gates read) stay those of the titles as written (a multilingual encoder
    alone)."""
    written = generate(seed)
    cat = translated(written, oracle) if oracle is not None else written
    items = items_of(cat)
    engine.columns = infer_roles(items)
    pipeline = Pipeline(engine, IndexEngine(None))
    index = pipeline.index
    try:
        embedded = pipeline.embed(items)
        if vectors_only:
            own = pipeline.embed(items_of(written))
            embedded = [replace(e, concepts=o.concepts) for e, o in zip(embedded, own, strict=True)]
            items = items_of(written)
        cluster = {a.item_id: a.cluster_id for a in index.build(embedded)}
        rows = index.rows
        title = {it.id: it.title for it in items}
        cands: dict[int, set[int]] = {}
        all_rows = list(range(rows.n))
        for r, cs in zip(all_rows, index.candidates.candidates(all_rows).tolist(), strict=True):
            cands[r] = {c for c in cs if c >= 0}
        out = []
        for a, b in sorted(cat.truth_pairs()):
            if cluster[a] == cluster[b]:
                continue
            ra, rb = rows.row(a), rows.row(b)
            early, late = min(ra, rb), max(ra, rb)
            exp = index.explain(a, b)
            fired = [g.name for g in exp.gates if g.fired and g.hard]
            soft = [g.name for g in exp.gates if g.fired and not g.hard]
            if fired:
                cause = "gate:" + ",".join(sorted(fired))
            elif early not in cands[late]:
                cause = "not in candidates"
            elif not exp.pair_duplicate:
                cause = "below threshold" + (f" (soft: {','.join(sorted(soft))})" if soft else "")
            else:
                cause = "join rule"
            kind = title_kind(title[a], title[b])
            if _code_apart(title[a], title[b]):
                kind = f"codes apart, {kind}"
            out.append((cause, kind, title[a], title[b], exp.score, exp.threshold))
        s = pairwise_scores(cluster, cat.sku)
        truth = cat.truth_pairs()
        ids = sorted(cluster)
        wrong = [
            (title[a], title[b])
            for i, a in enumerate(ids)
            for b in ids[i + 1 :]
            if cluster[a] == cluster[b] and (a, b) not in truth
        ]
        return out, s, len(truth), wrong
    finally:
        index.close()


_ORACLE = {
    (False, False): "",
    (True, False): ", titles translated to English (oracle)",
    (
        True,
        True,
    ): ", vectors of the translated titles, anchors of the written ones (oracle encoder)",
}


def section(
    engine: ConceptEngine,
    seeds: range,
    label: str,
    oracle: bool,
    show: int,
    vectors_only: bool = False,
) -> list[str]:
    """Markdown lines: per generator, the scores and the causes of the missed true pairs."""
    lines: list[str] = []
    for name, generate in GENERATORS.items():
        causes: Counter[tuple[str, str]] = Counter()
        shown = []
        total = missed = 0
        prf = []
        false_pairs: list[tuple[str, str]] = []
        for seed in seeds:
            module = sys.modules[generate.__module__] if oracle else None
            got, s, n, wrong = misses(engine, generate, seed, module, vectors_only)
            prf.append((s.precision, s.recall, s.f1))
            false_pairs.extend(wrong)
            total += n
            missed += len(got)
            for cause, kind, ta, tb, p, t in got:
                causes[(cause, kind)] += 1
                shown.append((cause, kind, ta, tb, p, t))
        mp = [sum(x[i] for x in prf) / len(prf) for i in range(3)]
        cross = sum(c for (_, kind), c in causes.items() if "cross" in kind)
        lines += [
            "",
            f"### {name}{_ORACLE[(oracle, vectors_only)]} "
            f"({label}, seeds {seeds.start}-{seeds.stop - 1})",
            "",
            f"Mean P {mp[0]:.3f} R {mp[1]:.3f} F1 {mp[2]:.3f}; {missed} of {total} true pairs "
            f"missed, {cross} of them between titles in two languages; {len(false_pairs)} "
            "false pairs joined.",
            "",
            "| cause | title difference | missed pairs |",
            "|---|---|---|",
            *(
                f"| {cause} | {kind} | {c} |"
                for (cause, kind), c in sorted(causes.items(), key=lambda kv: (-kv[1], kv[0]))
            ),
        ]
        if show:
            lines += ["", "```"]
            lines += [f"false pair  {ta!r}  ~  {tb!r}" for ta, tb in false_pairs[:show]]
            lines += [
                f"{cause:22s} {kind:26s} {p:.2f}/{t:.2f}  {ta!r}  ~  {tb!r}"
                for cause, kind, ta, tb, p, t in shown[:show]
            ]
            lines += ["```"]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--label", default="dev")
    ap.add_argument("--show", type=int, default=0, help="list this many misses per generator")
    ap.add_argument("--baseline", type=Path, help="checkout of the commit to compare with")
    ap.add_argument("--section-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "recall.md")
    args = ap.parse_args()
    lo, _, hi = args.seeds.partition("-")
    seeds = range(int(lo), int(hi or lo) + 1)
    started = time.perf_counter()
    engine = ConceptEngine.create("rules")
    if args.section_only:  # the baseline's table, printed for the run that writes the file
        print("\n".join(section(engine, seeds, args.label, False, 0)))
        return
    lines = [
        "# Missed true pairs of the generated catalogues, by cause",
        "",
        f"Generated by `python benchmarks/recall_misses.py --seeds {args.seeds} --label "
        f"{args.label}{' --baseline DIR' if args.baseline else ''}` in "
        "{seconds} s on a 2-core CPU machine. ``fitrep dedup``'s pipeline (listing columns, "
        "roles inferred, as columns.py). Cause: a hard gate fired; not among the later item's "
        "candidates; below the threshold; or the pair passes but the join rule (agree with the "
        "cluster) kept it out. Title difference: by the generator's words (codes apart = a "
        "code written with a space, hyphen or none on the two sides, then how the rest differs; cross-script = one title "
        "Chinese, the other Latin; cross-language words = other nouns or colours). The oracle "
        "rows translate every title to English with the generators' own tables first: what a "
        "multilingual encoder could at best give; the oracle encoder rows take only the vectors from "
        "the translated titles and the anchors (lexical features, gates) from the written ones: "
        "a multilingual encoder alone, under the shipped calibration.",
    ]
    if args.baseline is not None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(args.baseline / "client"), str(args.baseline)])
        done = subprocess.run(
            [sys.executable, __file__, "--seeds", args.seeds, "--label", args.label]
            + ["--section-only"],
            check=True,
            env=env,
            cwd=args.baseline,
            capture_output=True,
            text=True,
        )
        lines += ["", f"## Before ({args.baseline.name})", *done.stdout.splitlines()]
    lines += ["", "## This tree", *section(engine, seeds, args.label, False, args.show)]
    lines += ["", "## This tree, oracle translation", *section(engine, seeds, args.label, True, 0)]
    lines += section(engine, seeds, args.label, True, 0, vectors_only=True)
    seconds = f"{time.perf_counter() - started:.0f}"
    write_markdown(args.out, [line.replace("{seconds}", seconds) for line in lines])


if __name__ == "__main__":
    main()
