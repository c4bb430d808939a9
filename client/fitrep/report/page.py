"""The report page: one self-contained HTML file (inline CSS, SVG, JSON and script).

Summary, run settings and histograms are static HTML; the cluster list is rendered by
``assets/report.js`` from the embedded JSON payload, a page at a time, with a filter box.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from importlib import resources

from fitrep.report.charts import score_histogram, size_histogram
from fitrep.report.data import COLUMN_CHARS, TITLE_CHARS
from fitrep.report.weights import weights_chart

# Summary keys shown as cards (label, key); every other key is a run setting.
CARDS = (
    ("items", "items"),
    ("clusters", "clusters"),
    ("duplicates found", "duplicates"),
    ("clusters with duplicates", "clusters_with_duplicates"),
    ("largest cluster", "largest_cluster"),
    ("seconds", "seconds"),
)


def _asset(name: str) -> str:
    return resources.files("fitrep.report").joinpath("assets", name).read_text(encoding="utf-8")


def _esc(value: object) -> str:
    return html.escape(str(value))


def _fmt(value: object) -> str:
    if isinstance(value, Mapping):
        return " · ".join(f"{str(k).lower()} {_fmt(v)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _summary(summary: Mapping[str, object]) -> str:
    cards = "".join(
        f"<div class='card'><div class='num'>{_esc(_fmt(summary[key]))}</div>"
        f"<div class='lab'>{_esc(label)}</div></div>"
        for label, key in CARDS
        if key in summary
    )
    shown = {key for _, key in CARDS}
    rows = "".join(
        f"<tr><th>{_esc(k.replace('_', ' '))}</th><td>{_esc(_fmt(v))}</td></tr>"
        for k, v in summary.items()
        if k not in shown and k != "self_calibration"  # drawn as a chart
    )
    return f"<div class='cards'>{cards}</div><table class='settings'>{rows}</table>"


def _zero_weights(summary: Mapping[str, object]) -> str:
    """Why a level weighs 0: the page listed "content 0 · form 0" without a word."""
    weights = summary.get("level_weights")
    if not isinstance(weights, Mapping):
        return ""
    zero = [str(k).lower() for k, v in weights.items() if isinstance(v, int | float) and v == 0]
    if not zero:
        return ""
    return (
        f"<p class='note'>Level weight 0 ({_esc(', '.join(zero))}): in the calibration's fit "
        "on labelled pairs these levels' similarity, beside the other levels', did not point "
        "to duplicates, so the weights that build the retrieval vector leave them out. The "
        "verifier still reads their similarity with its fitted coefficient (fitrep explain "
        "shows it per pair).</p>"
    )


def _json_script(payload: object) -> str:
    # "</" would end the script element early; "<\/" is the same string to the JSON parser.
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return f"<script type='application/json' id='report-data'>{text}</script>"


def render_page(
    summary: Mapping[str, object],
    payload: Mapping[str, object],
    scores: tuple[Sequence[float], Sequence[float]],
    sizes: Sequence[int],
    threshold: float | None,
    image_failures: Mapping[str, str],
    long_fields: int = 0,
) -> str:
    """The whole file. ``scores``: (joined pair scores, best rejected pair scores);
    ``long_fields``: how many fields the cluster list shows shortened."""
    notes = [_zero_weights(summary)]
    if long_fields:
        notes.append(
            f"<p class='note'>{long_fields:,} title(s) or column value(s) are longer than this "
            f"page shows ({TITLE_CHARS} / {COLUMN_CHARS} characters) and end in “…” here; the "
            "catalogue holds them whole.</p>"
        )
    if image_failures:
        listed = ", ".join(f"{k} ({v})" for k, v in list(image_failures.items())[:20])
        more = f" and {len(image_failures) - 20} more" if len(image_failures) > 20 else ""
        notes.append(
            f"<p class='note warn'>{len(image_failures):,} image(s) could not be read and have "
            f"no thumbnail: {_esc(listed)}{_esc(more)}.</p>"
        )
    return "".join(
        [
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
            "<meta name='viewport' content='width=device-width, initial-scale=1'>",
            "<title>FITRep dedup report</title>",
            f"<style>{_asset('report.css')}</style></head><body>",
            "<header><h1>FITRep dedup report</h1></header><main>",
            f"<section class='summary'>{_summary(summary)}</section>",
            "<section class='charts'>",
            "<figure><figcaption>Match scores <span class='legend'>",
            "<i class='sw joined'></i>joined a cluster <i class='sw rejected'></i>",
            "best rejected (new cluster)</span></figcaption>",
            score_histogram(scores[0], scores[1], threshold),
            "</figure><figure><figcaption>Cluster sizes (clusters per size)</figcaption>",
            size_histogram(sizes),
            "</figure><figure><figcaption>Match weights this catalogue is judged by (bits; "
            "tick: the shipped prior's)</figcaption>",
            weights_chart(summary.get("self_calibration")),  # type: ignore[arg-type]
            "</figure></section>",
            *notes,
            "<section class='clusters'><div class='toolbar'>",
            "<input id='filter' type='search' placeholder='Filter by id or title…' "
            "aria-label='Filter clusters by item id or title'>",
            "<label><input id='singles' type='checkbox'> include single items</label>",
            "<span id='count' class='count'></span>",
            "<span class='pager'><button id='prev' type='button'>‹ prev</button>",
            "<span id='page'></span><button id='next' type='button'>next ›</button></span>",
            "</div><div id='list'><noscript>The cluster list needs JavaScript.</noscript></div>",
            "<div class='toolbar bottom'><span class='pager'>",
            "<button id='prev2' type='button'>‹ prev</button>",
            "<button id='next2' type='button'>next ›</button></span></div></section>",
            "</main>",
            _json_script(payload),
            f"<script>{_asset('report.js')}</script></body></html>",
        ]
    )
