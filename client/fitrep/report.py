"""report.html: every cluster with duplicates, its members, and why each joined (per level).

Self-contained static HTML (no scripts, no external assets) so it opens anywhere.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path

from fitrep.domain import Assignment, Item

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em} table{border-collapse:collapse;margin:.4em 0 1.4em}
td,th{border:1px solid #ccc;padding:.25em .5em;font-size:.9em;vertical-align:top}
th{background:#f3f3f3;text-align:left} .c{font-family:monospace} .lv{color:#555;font-size:.8em}
.summary td{border:none;padding:.1em 1em .1em 0}
"""


def _esc(value: object) -> str:
    return html.escape(str(value))


def write_report(
    path: Path,
    items: Sequence[Item],
    assignments: Sequence[Assignment],
    summary: Mapping[str, object],
    concepts: Mapping[str, Mapping[str, list[str]]] | None = None,
    max_clusters: int = 2000,
) -> Path:
    """Write the report; ``concepts`` maps item id -> level name -> concepts (optional)."""
    by_cluster: dict[str, list[tuple[Item, Assignment]]] = {}
    for item, a in zip(items, assignments, strict=True):
        by_cluster.setdefault(a.cluster_id, []).append((item, a))
    dup_clusters = sorted(
        (c for c in by_cluster.items() if len(c[1]) > 1), key=lambda c: (-len(c[1]), c[0])
    )
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>FITRep report</title>",
        f"<style>{_STYLE}</style></head><body><h1>FITRep dedup report</h1><table class='summary'>",
    ]
    parts += [f"<tr><td>{_esc(k)}</td><td><b>{_esc(v)}</b></td></tr>" for k, v in summary.items()]
    parts.append("</table>")
    if len(dup_clusters) > max_clusters:
        parts.append(f"<p>Showing the {max_clusters} largest of {len(dup_clusters)} clusters.</p>")
    for cluster_id, members in dup_clusters[:max_clusters]:
        parts.append(f"<h3 class='c'>{_esc(cluster_id)} — {len(members)} items</h3><table>")
        parts.append(
            "<tr><th>id</th><th>title</th><th>joined via</th><th>score</th><th>per level</th></tr>"
        )
        for item, a in members:
            levels = ", ".join(f"{lv.name.lower()} {s:.2f}" for lv, s in a.per_level.items())
            concept_line = ""
            if concepts and item.id in concepts:
                shown = "; ".join(
                    f"{name.lower()}: {' | '.join(vals)}"
                    for name, vals in concepts[item.id].items()
                )
                concept_line = f"<div class='lv'>{_esc(shown)}</div>"
            via = "first member" if a.is_new_cluster else _esc(a.nearest_item_id)
            parts.append(
                f"<tr><td class='c'>{_esc(item.id)}</td><td>{_esc(item.title or item.text[:80])}"
                f"{concept_line}</td><td class='c'>{via}</td><td>{a.similarity:.3f}</td>"
                f"<td class='lv'>{_esc(levels)}</td></tr>"
            )
        parts.append("</table>")
    if not dup_clusters:
        parts.append("<p>No duplicates found.</p>")
    parts.append("</body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
