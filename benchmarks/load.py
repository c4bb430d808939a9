"""Sustained load on both servers (loopback): throughput, p50/p99 latency, errors, RSS.

    .venv/bin/python benchmarks/load.py              # 5 minutes at 80 % of the measured peak
    .venv/bin/python benchmarks/load.py --seconds 30 # shorter

1. Starts ``mllm_server`` (rules) and ``index_server`` as ``fitrep serve`` does.
2. Peak: both tiers driven at once by closed loops (``--threads`` per tier) for
   ``--peak-seconds``; the peak is the requests/s each tier sustained.
3. Load: both tiers at ``--fraction`` (0.8) of their peak, paced open loops (each request has
   a start time; a bounded pool of threads sends them), for ``--seconds``.
   Concept: ExtractConcepts of ``--batch`` synthetic items (titles drawn from a small
   vocabulary, so the string cache sees hits and misses). Index: AssignItems of ``--batch``
   new items (pre-embedded once), so the index grows during the run.
4. RSS of each server after the peak phase and at the end (flat = no leak), written with the
   rest to ``benchmarks/results/load.md``.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from fitrep.client import Client
from fitrep.domain import EmbeddedItem, Item
from fitrep.launch import LocalServers, free_port
from results_io import write_markdown

OUT = Path(__file__).parent / "results" / "load.md"
BRANDS = "sony canon epson logitech sandisk bose adobe norton ikea duracell".split()
KINDS = "camera printer cartridge keyboard mouse drive headphones software lamp battery".split()
WORDS = "black white pro mini wireless usb 32gb 64gb 2 pack deluxe compact silver".split()


def items(rng: random.Random, prefix: str, n: int) -> list[Item]:
    out = []
    for i in range(n):
        title = " ".join(
            [rng.choice(BRANDS), rng.choice(KINDS), *rng.sample(WORDS, 3), str(rng.randint(1, 999))]
        )
        out.append(Item(f"{prefix}{i}", title))
    return out


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    late: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, seconds: float, error: str | None) -> None:
        with self.lock:
            if error is None:
                self.latencies.append(seconds)
            else:
                self.errors[error] = self.errors.get(error, 0) + 1

    def summary(self, elapsed: float, batch: int) -> dict[str, float]:
        lat = np.array(self.latencies) * 1000 if self.latencies else np.zeros(1)
        ok = len(self.latencies)
        return {
            "requests": ok + sum(self.errors.values()),
            "req_s": ok / elapsed,
            "items_s": ok * batch / elapsed,
            "p50_ms": float(np.percentile(lat, 50)),
            "p99_ms": float(np.percentile(lat, 99)),
            "errors": sum(self.errors.values()),
        }


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _as(e: EmbeddedItem, item_id: str) -> EmbeddedItem:
    return EmbeddedItem(
        replace(e.concepts, item_id=item_id), replace(e.embeddings, item_id=item_id)
    )


class Driver:
    """One tier's request: concept = extract; index = assign of pre-embedded items, a mix
    (``mix``: shares of new ids, re-sent ids with their content, ids sent again with other
    content) as a catalogue service sends them."""

    def __init__(
        self,
        tier: str,
        client: Client,
        batch: int,
        pool: list[EmbeddedItem],
        mix: tuple[float, float, float] = (1.0, 0.0, 0.0),
    ) -> None:
        self.tier, self.client, self.batch, self.pool = tier, client, batch, pool
        self.mix = mix
        self.counter = 0
        self.content: dict[str, int] = {}  # id -> pool index of the content the index holds
        self.ids: list[str] = []
        self.lock = threading.Lock()

    def once(self) -> None:
        with self.lock:
            self.counter += 1
            n = self.counter
        if self.tier == "concept":
            self.client.extract(items(random.Random(n), f"x{n}-", self.batch))
            return
        rng, call = random.Random(n), {}
        for j in range(self.batch):
            kind = rng.choices(("new", "resent", "changed"), weights=self.mix)[0]
            with self.lock:
                old = self.ids[rng.randrange(len(self.ids))] if self.ids else None
                held = self.content.get(old, 0) if old is not None else 0
            if kind == "new" or old is None or old in call:
                call[f"a{n}-{j}"] = (n * self.batch + j) % len(self.pool)
            elif kind == "resent":
                call[old] = held
            else:
                call[old] = (held + 1 + rng.randrange(len(self.pool) - 1)) % len(self.pool)
        self.client.assign_embedded([_as(self.pool[at], i) for i, at in call.items()])
        with self.lock:
            for item_id, at in call.items():
                if item_id not in self.content:
                    self.ids.append(item_id)
                self.content[item_id] = at

    def timed(self, tally: Tally) -> None:
        started = time.perf_counter()
        try:
            self.once()
        except Exception as exc:  # counted, the run goes on
            tally.record(0.0, type(exc).__name__)
        else:
            tally.record(time.perf_counter() - started, None)


def extract_pool(client: Client, n: int) -> list[EmbeddedItem]:
    """``n`` distinct item contents, extracted by the concept tier in 1,024-item calls."""
    wanted = items(random.Random(0), "p", n)
    return [e for s in range(0, n, 1024) for e in client.extract(wanted[s : s + 1024])]


def preload(client: Client, pool: list[EmbeddedItem], n: int) -> None:
    """Index ``n`` items (``pool`` contents in turn, ids ``pre<i>``) before anything is timed."""
    for s in range(0, n, 1024):
        chunk = range(s, min(s + 1024, n))
        client.assign_embedded([_as(pool[i % len(pool)], f"pre{i}") for i in chunk])


def closed_loop(drivers: list[Driver], threads: int, seconds: float) -> dict[str, Tally]:
    tallies = {d.tier: Tally() for d in drivers}
    deadline = time.monotonic() + seconds

    def loop(d: Driver) -> None:
        while time.monotonic() < deadline:
            d.timed(tallies[d.tier])

    workers = [threading.Thread(target=loop, args=(d,)) for d in drivers for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return tallies


def paced(drivers: list[Driver], rates: dict[str, float], seconds: float, threads: int) -> dict:
    """Open loop per tier at ``rates`` requests/s; a request whose slot passed while all
    ``threads`` were busy counts as late (sent as soon as a thread frees up)."""
    tallies = {d.tier: Tally() for d in drivers}
    pools = {d.tier: futures.ThreadPoolExecutor(threads) for d in drivers}
    start = time.monotonic()

    def schedule(d: Driver) -> None:
        interval, n, inflight = 1.0 / rates[d.tier], 0, []
        end = start + seconds  # stop at the deadline even when the server lags behind
        while (slot := start + n * interval) < end and time.monotonic() < end:
            now = time.monotonic()
            if slot > now:
                time.sleep(slot - now)
            inflight = [f for f in inflight if not f.done()]
            if len(inflight) >= threads:
                tallies[d.tier].late += 1
                futures.wait(inflight, return_when=futures.FIRST_COMPLETED)
            inflight.append(pools[d.tier].submit(d.timed, tallies[d.tier]))
            n += 1
        futures.wait(inflight, timeout=120)

    schedulers = [threading.Thread(target=schedule, args=(d,)) for d in drivers]
    for s in schedulers:
        s.start()
    for s in schedulers:
        s.join()
    for p in pools.values():
        p.shutdown(wait=True)
    return tallies


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=300.0, help="load phase, seconds")
    ap.add_argument("--peak-seconds", type=float, default=30.0)
    ap.add_argument("--fraction", type=float, default=0.8)
    ap.add_argument("--batch", type=int, default=16, help="items per request")
    ap.add_argument("--threads", type=int, default=4, help="client threads per tier")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--tiers", default="concept,index", help="which tiers to drive")
    ap.add_argument(
        "--mix",
        default="0.7,0.2,0.1",
        help="index calls: shares of new ids, re-sent ids (same content), changed content",
    )
    ap.add_argument("--rss-every", type=float, default=60.0, help="seconds between RSS readings")
    ap.add_argument(
        "--pool",
        type=int,
        default=512,
        help="distinct item contents the index calls draw from (extracted once, at the start)",
    )
    ap.add_argument(
        "--preload",
        type=int,
        default=64,
        help="items indexed before the peak phase (1,024 an assign call; ids of their own), so "
        "the run starts from an index of that size",
    )
    ap.add_argument(
        "--index-arg",
        action="append",
        default=[],
        help="a flag for the index server, e.g. --index-arg=--max-batch=16 (one request per "
        "engine call: no batching across requests); repeatable",
    )
    ap.add_argument(
        "--section",
        default="",
        help="append this run to --out as a section of that title (runs compared in one file) "
        "instead of writing the file anew",
    )
    args = ap.parse_args()
    tiers = args.tiers.split(",")

    with tempfile.TemporaryDirectory() as tmp:
        servers = LocalServers("127.0.0.1", free_port(), free_port())
        servers.start(Path(tmp) / "index", log_dir=Path(tmp) / "logs", index_args=args.index_arg)
        try:
            servers.wait_healthy(180)
            pids = {n: p.pid for n, p in servers.processes.items()}
            with Client(servers.concept, servers.index, timeout=60, retries=1) as client:
                pool = extract_pool(client, args.pool)
                preload(client, pool, args.preload)
                mix = tuple(float(x) for x in args.mix.split(","))
                drivers = [Driver(tier, client, args.batch, pool, mix) for tier in tiers]  # type: ignore[arg-type]
                peak = closed_loop(drivers, args.threads, args.peak_seconds)
                peak_rates = {t: len(x.latencies) / args.peak_seconds for t, x in peak.items()}
                rss_start = {n: rss_mb(pid) for n, pid in pids.items()}
                items_start = client.index_info().items
                rates = {t: max(r * args.fraction, 0.1) for t, r in peak_rates.items()}
                started = time.monotonic()
                readings: list[tuple[float, dict[str, float], int]] = []
                stop = threading.Event()

                def sample() -> None:
                    while not stop.wait(args.rss_every):
                        now = time.monotonic() - started
                        rss = {n: rss_mb(pid) for n, pid in pids.items()}
                        readings.append((now, rss, client.index_info().items))

                sampler = threading.Thread(target=sample, daemon=True)
                sampler.start()
                load = paced(drivers, rates, args.seconds, args.threads * 2)
                elapsed = time.monotonic() - started
                stop.set()
                sampler.join()
                rss_end = {n: rss_mb(pid) for n, pid in pids.items()}
                items_end = client.index_info().items
        finally:
            servers.stop()
    write(args, peak, peak_rates, rates, load, elapsed, rss_start, rss_end, items_start, items_end)
    if readings:
        servers_seen = list(readings[0][1])
        table = [
            "",
            f"RSS during the load phase, every {args.rss_every:g} s (MB), and the items the "
            "index holds then:",
            "",
            "| s | " + " | ".join(servers_seen) + " | index items |",
            "|---|" + "---|" * len(servers_seen) + "---|",
            *(
                f"| {t:.0f} | "
                + " | ".join(f"{r[n]:.0f}" for n in servers_seen)
                + f" | {n_items} |"
                for t, r, n_items in readings
            ),
        ]
        with args.out.open("a") as fh:
            fh.write("\n".join(table) + "\n")


def write(args, peak, peak_rates, rates, load, elapsed, rss_start, rss_end, i0, i1) -> None:  # type: ignore[no-untyped-def]
    tiers = {"concept": "mllm_server", "index": "index_server"}
    tiers = {t: server for t, server in tiers.items() if t in load}
    call = {"concept": "ExtractConcepts", "index": "AssignItems"}
    flags = " ".join(f"--index-arg={a}" for a in args.index_arg)
    lines = [
        f"## {args.section}" if args.section else "# Sustained load, both servers on loopback",
        "",
        f"`benchmarks/load.py --seconds {args.seconds:g} --peak-seconds {args.peak_seconds:g} "
        f"--threads {args.threads} --tiers {args.tiers} --mix {args.mix} --pool {args.pool} "
        f"--preload {args.preload} --fraction {args.fraction:g} {flags}`, "
        f"{time.strftime('%Y-%m-%d %H:%M')}: rules backend, {args.batch} items per request, "
        f"{' and '.join(tiers)} driven at once. Machine: 2 CPU "
        "cores **shared with other developers' jobs** while this ran, so absolute numbers are "
        "noisy; the client, both servers and any other work compete for the same cores.",
        "",
        f"Peak: closed loops, {args.threads} threads per tier, {args.peak_seconds:g} s. Load: "
        f"paced at {args.fraction:.0%} of that peak for {elapsed:.0f} s.",
        "",
        "| tier (call) | peak req/s | target req/s | achieved req/s | items/s | p50 ms "
        "| p99 ms | requests | errors | late | RSS start MB | RSS end MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for tier, server in tiers.items():
        s = load[tier].summary(elapsed, args.batch)
        lines.append(
            f"| {tier} ({call[tier]}) | {peak_rates[tier]:.1f} | {rates[tier]:.1f} "
            f"| {s['req_s']:.1f} | {s['items_s']:.0f} | {s['p50_ms']:.0f} | {s['p99_ms']:.0f} "
            f"| {s['requests']:.0f} | {s['errors']:.0f} | {load[tier].late} "
            f"| {rss_start[server]:.0f} | {rss_end[server]:.0f} |"
        )
    errors = {t: x.errors for t, x in load.items() if x.errors}
    lines += [
        "",
        f"Errors by kind: {errors or 'none'}. Index items: {i0} after the peak phase, {i1} at "
        f"the end (index calls mix new ids, re-sent ids and changed content as {args.mix}: new "
        "ids and changed versions grow the index, so its RSS grows with them: vectors, anchors "
        "and the FAISS index; the concept tier's RSS has no such reason to grow).",
        "",
    ]
    if args.section:  # appended: the file's title and other sections are kept
        with args.out.open("a") as fh:
            fh.write("\n" + "\n".join(lines))
        print("\n".join(lines))
    else:
        write_markdown(args.out, lines)


if __name__ == "__main__":
    main()
