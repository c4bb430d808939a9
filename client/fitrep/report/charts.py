"""Histograms as inline SVG (no libraries, no scripts): bars with a tooltip each, y gridlines.

``bars_svg`` draws precomputed bins (stacked when there are several series); the two helpers
bin what the report shows: match scores in [0, 1] and cluster sizes.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 480, 190
LEFT, RIGHT, TOP, BOTTOM = 44, 10, 12, 34


@dataclass
class Series:
    """One stacked layer: ``counts[i]`` falls in bin ``i``."""

    name: str
    counts: list[int]
    colour: str


def _nice_step(top: int, ticks: int = 4) -> int:
    raw = max(top / ticks, 1.0)
    magnitude = 10 ** math.floor(math.log10(raw))
    return int(next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw))


def bars_svg(
    labels: Sequence[str],
    series: Sequence[Series],
    title: str,
    marker: tuple[float, str] | None = None,
    label_every: int = 1,
) -> str:
    """``marker``: (position in bins, from 0 to len(labels), label) drawn as a dashed line."""
    n = len(labels)
    totals = [sum(s.counts[i] for s in series) for i in range(n)]
    step = _nice_step(max(totals, default=0))
    top = max(step, math.ceil(max(totals, default=0) / step) * step)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    bar_w = plot_w / max(n, 1)

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value / top)

    parts = [
        f"<svg class='chart' viewBox='0 0 {WIDTH} {HEIGHT}' role='img' "
        f"aria-label='{html.escape(title)}' xmlns='http://www.w3.org/2000/svg'>"
    ]
    for tick in range(0, top + 1, step):
        parts.append(
            f"<line class='grid' x1='{LEFT}' x2='{WIDTH - RIGHT}' y1='{y(tick):.1f}' "
            f"y2='{y(tick):.1f}'/><text class='ytick' x='{LEFT - 6}' y='{y(tick) + 4:.1f}'>"
            f"{tick:,}</text>"
        )
    for i, label in enumerate(labels):
        x, base = LEFT + i * bar_w, 0
        tip = ", ".join(f"{s.name} {s.counts[i]:,}" for s in series if s.counts[i])
        for s in series:
            if s.counts[i]:
                y0, y1 = y(base), y(base + s.counts[i])
                parts.append(
                    f"<rect x='{x + 1:.1f}' y='{y1:.1f}' width='{max(bar_w - 2, 1):.1f}' "
                    f"height='{max(y0 - y1, 0.5):.1f}' fill='{s.colour}'>"
                    f"<title>{html.escape(label)}: {html.escape(tip)}</title></rect>"
                )
                base += s.counts[i]
        if i % label_every == 0:
            parts.append(
                f"<text class='xtick' x='{x + bar_w / 2:.1f}' y='{HEIGHT - BOTTOM + 14}'>"
                f"{html.escape(label)}</text>"
            )
    parts.append(
        f"<line class='axis' x1='{LEFT}' x2='{WIDTH - RIGHT}' y1='{y(0):.1f}' y2='{y(0):.1f}'/>"
    )
    if marker is not None:
        mx = LEFT + marker[0] * bar_w
        parts.append(
            f"<line class='marker' x1='{mx:.1f}' x2='{mx:.1f}' y1='{TOP}' y2='{y(0):.1f}'/>"
            f"<text class='marker-label' x='{mx + 4:.1f}' y='{TOP + 10}'>"
            f"{html.escape(marker[1])}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def score_histogram(
    joined: Iterable[float], rejected: Iterable[float], threshold: float | None, bins: int = 20
) -> str:
    """Scores of the pairs that joined a cluster and of each new cluster's best rejected pair."""

    def counts(values: Iterable[float]) -> list[int]:
        out = [0] * bins
        for v in values:
            out[min(max(int(v * bins), 0), bins - 1)] += 1
        return out

    labels = [f"{i / bins:.2f}" for i in range(bins)]
    series = [
        Series("joined", counts(joined), "#2f6fdf"),
        Series("best rejected", counts(rejected), "#b9c2cf"),
    ]
    marker = None if threshold is None else (threshold * bins, f"threshold {threshold:.2f}")
    return bars_svg(labels, series, "Histogram of match scores", marker, label_every=4)


def size_bins(largest: int) -> list[tuple[int, int]]:
    """Bins of cluster sizes: 1 to 9 one by one, then doubling ranges (10-19, 20-39, ...)."""
    bins = [(s, s) for s in range(1, min(largest, 9) + 1)]
    low = 10
    while low <= largest:
        bins.append((low, low * 2 - 1))
        low *= 2
    return bins


def size_histogram(sizes: Iterable[int]) -> str:
    """How many clusters have each size (singletons included)."""
    sizes = list(sizes)
    bins = size_bins(max(sizes, default=1))
    counts = [0] * len(bins)
    for s in sizes:
        counts[next(i for i, (lo, hi) in enumerate(bins) if lo <= s <= hi)] += 1
    labels = [str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in bins]
    return bars_svg(labels, [Series("clusters", counts, "#2f6fdf")], "Histogram of cluster sizes")
