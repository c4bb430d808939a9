"""report.html: the page a person checks a run on.

A summary with histograms of match scores and cluster sizes, then every cluster largest
first (filter box, paging), each member with its thumbnail, per-level bars, the gates that
fired and how to explain the pair it joined via. One self-contained file: no network.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

from fitrep.domain import Assignment, Explanation, Item
from fitrep.report.data import (
    Concepts,
    Explain,
    Pair,
    build_payload,
    explain_pairs,
    long_fields,
    select_clusters,
)
from fitrep.report.page import render_page
from fitrep.report.thumbnails import make_thumbnails

__all__ = ["explain_pairs", "write_report"]


def write_report(
    path: Path,
    items: Sequence[Item],
    assignments: Sequence[Assignment],
    summary: Mapping[str, object],
    concepts: Concepts | None = None,
    explanations: Mapping[Pair, Explanation] | None = None,
    run_dir: Path | None = None,
    max_clusters: int = 2000,
    max_singletons: int = 5000,
    explain: Explain | None = None,
) -> Path:
    """Write the report for a run.

    ``concepts``: item id -> level name -> concepts (or a function of the item id, asked for
    the items the page shows only); ``explanations``: (item id, the id it
    joined via) -> Explanation (see ``explain_pairs``); ``run_dir`` goes into the copyable
    ``fitrep explain`` commands (default: the report's folder). ``summary["threshold"]``, when
    present, marks the score histogram. ``explain``: instead of ``explanations``, explain the
    joins of the clusters the page shows, and only those (a 100k run joins ~50k pairs at
    ~1.6 ms each; the page shows at most ``max_clusters`` clusters).
    """
    clusters, omitted = select_clusters(items, assignments, max_clusters, max_singletons)
    if explain is not None:
        explanations = explain_pairs(explain, [a for _, members in clusters for _, a in members])
    thumbs = make_thumbnails(item for _, members in clusters for item, _ in members)
    threshold = summary.get("threshold")
    cut = float(threshold) if isinstance(threshold, int | float) else None
    payload = {
        "clusters": build_payload(clusters, concepts, explanations, thumbs.uris),
        "omitted": omitted,
        "threshold": cut,
        # The page builds each pair's `fitrep explain ID_A ID_B --run DIR` from this.
        "run": shlex.quote(str(run_dir or path.parent)),
    }
    joined = [a.similarity for a in assignments if not a.is_new_cluster]
    rejected = [a.similarity for a in assignments if a.is_new_cluster]
    sizes: dict[str, int] = {}
    for a in assignments:
        sizes[a.cluster_id] = sizes.get(a.cluster_id, 0) + 1
    shown = (item for _, members in clusters for item, _ in members)
    page = render_page(
        summary,
        payload,
        (joined, rejected),
        list(sizes.values()),
        cut,
        thumbs.failed,
        long_fields(shown),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
