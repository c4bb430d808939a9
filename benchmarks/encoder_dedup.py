"""End to end per text encoder: ``fitrep dedup`` of a generated catalogue, cold, as a user runs it.

    python benchmarks/encoder_dedup.py --sizes 20000 [--encoders minilm,static] [--data DIR]

Each run is a fresh CLI process with an empty string cache (``FITREP_ENCODER_CACHE`` points at a
new file; the ONNX export of MiniLM stays in the user cache, as after the first run of an
install) on ``speed.py``'s seeded text catalogue (1-3 listings per product, its ids name the
product). Reports wall time, peak RSS (``/usr/bin/time``), the CLI's per-stage seconds
(``summary.json``: ``stages``) and pairwise F1 against the generator's truth. Then the
Amazon-Google catalogue (``amazon-google-catalog`` of the shared data, as ``quality.py`` reads
and scores it: cross-table pairs against gold.csv), once per encoder with the shipped
calibration. Writes ``benchmarks/results/encoder_dedup.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from e2e import pair_scores, text_catalogue  # noqa: E402
from quality import catalogue_scores, read_catalogue  # noqa: E402
from results_io import git_commit, write_markdown  # noqa: E402

STAGES = ("concepts", "received", "reduce", "cluster", "report")


def run(n: int, encoder: str, tmp: Path, path: Path | None = None) -> dict[str, object]:
    """One cold ``fitrep dedup`` of the generated catalogue of ``n`` items (or of ``path``)."""
    if path is None:
        path = tmp / f"cat-{n}.jsonl"
        if not path.exists():
            path.write_text("".join(json.dumps(r) + "\n" for r in text_catalogue(n)))
    out = tmp / f"run-{path.stem}-{encoder}"
    fitrep = str(Path(sys.executable).with_name("fitrep"))
    env = {
        **os.environ,
        "FITREP_ENCODER_CACHE": str(tmp / f"cache-{n}-{encoder}.sqlite"),
        "FITREP_ENCODER_RUNTIME": "onnx",
    }
    cmd = ["/usr/bin/time", "-f", "%M", fitrep, "dedup", str(path), "--out", str(out)]
    started = time.perf_counter()
    done = subprocess.run(
        [*cmd, "--no-progress", "--encoder", encoder], env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"dedup {n} {encoder} failed:\n{done.stderr[-2000:]}")
    summary = json.loads((out / "summary.json").read_text())
    precision, recall, f1 = pair_scores(out / "clusters.jsonl") if n else (0.0, 0.0, 0.0)
    return {
        "wall": wall,
        "rss_gb": int(done.stderr.strip().splitlines()[-1]) / 1e6,
        "stages": {k: v["seconds"] for k, v in summary.get("stages", {}).items()},
        "seconds": summary["seconds"],
        "reducer": summary.get("reducer", ""),
        "clusters": summary["clusters"],
        "f1": (precision, recall, f1),
        "clusters_path": out / "clusters.jsonl",
    }


def amazon_google(data: Path, encoders: list[str], tmp: Path) -> list[str]:
    """The catalogue rows: P / R / F1 of cross-table pairs, as quality.md's catalogue rows."""
    items, gold = read_catalogue(data / "amazon-google-catalog")
    path = tmp / "amazon-google.jsonl"
    rows = []
    for it in items:
        rows.append({"id": it.id, "title": it.title, "description": it.text, **it.attributes})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    lines = []
    for encoder in encoders:
        r = run(0, encoder, tmp, path)
        found = [json.loads(x) for x in Path(str(r["clusters_path"])).read_text().splitlines()]
        ids = [x["id"] for x in found]
        labels = {c: i for i, c in enumerate(dict.fromkeys(x["cluster_id"] for x in found))}
        p, rec, f1, clusters, largest = catalogue_scores(
            ids, [labels[x["cluster_id"]] for x in found], gold
        )
        lines.append(
            f"| {encoder} | {p:.3f} | {rec:.3f} | **{f1:.3f}** | {clusters} clusters, largest "
            f"{largest} | {r['wall']:.1f} |"
        )
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000")
    parser.add_argument("--encoders", default="minilm,static")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "encoder_dedup.md"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    encoders = args.encoders.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="fitrep-encoder-dedup-"))
    load = os.getloadavg()
    results = {}
    try:
        for n in sizes:
            for encoder in encoders:
                results[n, encoder] = run(n, encoder, tmp)
                print(n, encoder, results[n, encoder], flush=True)
        ag = amazon_google(args.data, encoders, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load_after = os.getloadavg()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = [
        "# `fitrep dedup` end to end, per text encoder",
        "",
        f"`python benchmarks/encoder_dedup.py --sizes {args.sizes} --encoders {args.encoders}`, "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, commit {git_commit()}, "
        f"{platform.node() or 'vm'} ({cores} cores, **shared with other jobs**: load average "
        f"{load[0]:.1f} before, {load_after[0]:.1f} after; absolute seconds are noisy).",
        "",
        "Cold: a fresh CLI process and an empty string cache (MiniLM runs on ONNX Runtime, its "
        "export already in the user cache). Catalogue: `speed.py`'s seeded text generator "
        "(1-3 listings per product; in-sample, a generator nobody tuned on). Stage seconds "
        "from `summary.json` (`stages`): concepts = CHIE + encoding, received/reduce/cluster "
        "= the index build, report = report.html; rest = reading the catalogue, creating the "
        "engines, writing the outputs. Each encoder with its own shipped calibration "
        "(`index_server/scoring/calibration*.json`). Pair F1 against the generator's products.",
        "",
        "| items | encoder | wall s | items/s | peak RSS GB | "
        + " | ".join(f"{s} s" for s in STAGES)
        + " | rest s | reducer | pair P / R / F1 |",
        "|---" * (8 + len(STAGES)) + "|",
    ]
    for (n, encoder), r in results.items():
        stages = r["stages"]
        assert isinstance(stages, dict)
        rest = float(r["wall"]) - sum(float(stages.get(s, 0.0)) for s in STAGES)  # type: ignore[arg-type]
        p, rec, f1 = r["f1"]  # type: ignore[misc]
        lines.append(
            f"| {n:,} | {encoder} | **{r['wall']:.1f}** | {n / float(r['wall']):,.0f} | "  # type: ignore[arg-type]
            f"{r['rss_gb']:.2f} | "
            + " | ".join(f"{float(stages.get(s, 0.0)):.1f}" for s in STAGES)
            + f" | {rest:.1f} | {r['reducer']} | {p:.3f} / {rec:.3f} / {f1:.3f} |"
        )
    lines += [
        "",
        "## Amazon-Google catalogue (dev: looked at while choosing the encoder; each shipped "
        "calibration has seen its pair set's train/valid)",
        "",
        "Cross-table pairs of `fitrep dedup` clusters against gold.csv, each encoder with its "
        "shipped calibration, cold cache, same CLI runs as above.",
        "",
        "| encoder | precision | recall | F1 | clusters | wall s |",
        "|---|---|---|---|---|---|",
        *ag,
        "",
    ]
    write_markdown(args.out, lines)


if __name__ == "__main__":
    main()
