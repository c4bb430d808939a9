"""Build report.html for real catalogues, open each in headless Chromium, check it loads fast.

    python scripts/test_report.py [--demo-only] [--reuse]

Catalogues: the demo (examples/data/catalogue.jsonl, always); when ../shared/data (--shared)
exists, the 4,589-item Amazon-Google catalogue (tableA + tableB) and the grocery-packages val
photos (image items: thumbnails). Each report is loaded ``--rounds`` times with
``chromium --dump-dom``; the page's script writes ``data-load-ms`` (performance.now() at the
load event, i.e. since navigation start) and ``data-clusters-shown`` onto <html>. Fails
(exit 1) when the median load is over ``--max-ms`` or a page shows no cluster. Screenshots:
runs/report.png (demo) and runs/report-<name>.png. ``--reuse`` keeps a run whose report.html
already exists.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNS = REPO / "runs"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def build_amazon_google(shared: Path, dest: Path) -> Path | None:
    src = shared / "amazon-google-catalog"
    if not (src / "tableA.csv").exists():
        return None
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("w", encoding="utf-8") as out:
        for prefix, name in (("a", "tableA.csv"), ("b", "tableB.csv")):
            with (src / name).open(encoding="latin-1", newline="") as fh:
                for row in csv.DictReader(fh):
                    record = {"id": prefix + row["id"]}
                    record.update({k: row[k] for k in ("title", "description", "manufacturer",
                                                       "price") if row.get(k)})  # fmt: skip
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return dest


def build_images(shared: Path, dest: Path) -> Path | None:
    photos = sorted((shared / "grocery-packages" / "val").rglob("*.jpg"))
    if not photos:
        return None
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text("".join(json.dumps({"id": p.stem, "image": str(p)}) + "\n" for p in photos))
    return dest


def dedup(catalogue: Path, out: Path, reuse: bool) -> float:
    """Seconds ``fitrep dedup`` took (0 when an existing report was reused)."""
    if reuse and (out / "report.html").exists():
        return 0.0
    fitrep = Path(sys.executable).with_name("fitrep")
    started = time.perf_counter()
    subprocess.run(
        [str(fitrep), "dedup", str(catalogue), "--out", str(out), "--no-progress"], check=True
    )
    return time.perf_counter() - started


def chromium(browser: str, *args: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
        done = subprocess.run(
            [browser, *flags, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
    if done.returncode != 0:
        raise SystemExit(f"test-report: {browser} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def measure(browser: str, report: Path, rounds: int) -> tuple[float, int, float]:
    """(median load ms, clusters shown, median seconds of the whole browser process)."""
    loads, walls, shown = [], [], 0
    for _ in range(rounds):
        started = time.perf_counter()
        dom = chromium(browser, "--dump-dom", report.resolve().as_uri())
        walls.append(time.perf_counter() - started)
        load = re.search(r'data-load-ms="(\d+)"', dom)
        count = re.search(r'data-clusters-shown="(\d+)"', dom)
        loads.append(float(load.group(1)) if load else float("inf"))
        shown = int(count.group(1)) if count else 0
    return statistics.median(loads), shown, statistics.median(walls)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-only", action="store_true", help="Skip the ../shared catalogues.")
    parser.add_argument("--reuse", action="store_true", help="Keep existing runs.")
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--max-ms", type=float, default=2000.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    browser = next((b for b in BROWSERS if shutil.which(b)), None)
    if browser is None:
        print("test-report: no chromium; install it: apt-get install -y chromium", file=sys.stderr)
        return 2
    runs: list[tuple[str, Path]] = [("demo", REPO / "examples" / "data" / "catalogue.jsonl")]
    if not args.demo_only:
        for name, build in (("amazon-google", build_amazon_google), ("images", build_images)):
            catalogue = build(args.shared, RUNS / f"report-{name}" / "catalogue.jsonl")
            if catalogue is not None:
                runs.append((name, catalogue))
    failed = False
    for name, catalogue in runs:
        out = RUNS / f"report-{name}"
        seconds = dedup(catalogue, out, args.reuse)
        report = out / "report.html"
        load_ms, shown, wall = measure(browser, report, args.rounds)
        png = RUNS / ("report.png" if name == "demo" else f"report-{name}.png")
        chromium(browser, "--window-size=1400,1800", f"--screenshot={png}", report.as_uri())
        ok = load_ms <= args.max_ms and shown > 0
        failed |= not ok
        print(
            f"test-report: {name}: {'ok' if ok else 'FAIL'} load {load_ms:.0f} ms "
            f"(limit {args.max_ms:.0f}), {shown} clusters on the first page, "
            f"{report.stat().st_size / 1e6:.2f} MB, browser process {wall:.1f} s, "
            f"dedup {seconds:.0f} s, screenshot {png.relative_to(REPO)}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
