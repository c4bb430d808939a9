"""The catalogue's match weights as inline SVG (like Splink's match weights chart).

One row per comparison level the catalogue's candidate pairs showed: a bar from 0 to the
weight this catalogue judges it by (bits, log2 m/u: right = evidence for a duplicate, left =
against: the shipped prior's plus the catalogue's correction), and a tick at the shipped
prior's. ``summary.json``'s
``self_calibration`` is the input; an unfitted catalogue gets a sentence instead.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

WIDTH, ROW, LABEL, PAD = 480, 16, 150, 10


def weights_chart(fit: Mapping[str, object] | None) -> str:
    """The figure's body: an SVG chart, or why there is none."""
    if not fit:
        return "<p class='note'>No self-calibration in this run.</p>"
    if not fit.get("fitted"):
        reason = html.escape(str(fit.get("reason", "")))
        return f"<p class='note'>Not fitted ({reason}): the shipped calibration decided.</p>"
    table = fit.get("weights_bits")
    rows: list[tuple[str, float, float, float]] = []
    if isinstance(table, Mapping):
        for name, levels in table.items():
            for level, w in levels.items():
                shipped, fitted = float(w["shipped_weight"]), float(w["weight"])
                weight = float(w.get("applied", fitted))
                if weight or shipped:  # a level no candidate pair showed has no weight
                    rows.append((f"{name}: {level}", weight, shipped, fitted))
    span = max((max(abs(w), abs(s)) for _, w, s, _ in rows), default=1.0) or 1.0
    plot = WIDTH - LABEL - 2 * PAD
    zero = LABEL + PAD + plot / 2
    height = ROW * len(rows) + 2 * PAD

    def x(value: float) -> float:
        return zero + value / span * plot / 2

    parts = [
        f"<svg class='chart' viewBox='0 0 {WIDTH} {height}' role='img' "
        "aria-label='Match weights of this catalogue' xmlns='http://www.w3.org/2000/svg'>",
        f"<line class='axis' x1='{zero:.1f}' x2='{zero:.1f}' y1='{PAD}' y2='{height - PAD}'/>",
    ]
    for i, (label, weight, shipped, fitted) in enumerate(rows):
        y = PAD + i * ROW
        left, right = sorted((zero, x(weight)))
        colour = "#2f6fdf" if weight >= 0 else "#d9534f"
        tip = html.escape(
            f"{label}: {weight:+.2f} bits here, {shipped:+.2f} shipped, EM fit {fitted:+.2f}"
        )
        parts.append(
            f"<text class='ytick' x='{LABEL}' y='{y + ROW - 4}'>{html.escape(label)}</text>"
            f"<rect x='{left:.1f}' y='{y + 3}' width='{max(right - left, 0.5):.1f}' "
            f"height='{ROW - 6}' fill='{colour}'><title>{tip}</title></rect>"
            f"<line class='marker' x1='{x(shipped):.1f}' x2='{x(shipped):.1f}' y1='{y + 1}' "
            f"y2='{y + ROW - 1}'/>"
        )
    parts.append("</svg>")
    return "".join(parts)
