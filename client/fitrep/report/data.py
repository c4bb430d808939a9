"""What the report page shows, as plain JSON-ready dicts: clusters sorted by size, members.

The page's script renders from this payload (a page of clusters at a time), so a big run
costs one JSON parse at load, not tens of thousands of DOM nodes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from fitrep.domain import Assignment, Explanation, Item

Pair = tuple[str, str]
Explain = Callable[[str, str], Explanation]


def explain_pairs(explain: Explain, assignments: Sequence[Assignment]) -> dict[Pair, Explanation]:
    """``explain`` of every member and the member it joined via (what the report links to)."""
    return {
        (a.item_id, a.nearest_item_id): explain(a.item_id, a.nearest_item_id)
        for a in assignments
        if not a.is_new_cluster and a.nearest_item_id
    }


def _explanation(exp: Explanation) -> dict[str, object]:
    # Cosines are in ``levels`` and gate indicators in ``gates``: the rest is lexical evidence.
    gates = {g.name for g in exp.gates}
    evidence = {
        k: round(v, 3)
        for k, v in exp.features.items()
        if not k.startswith("cos_") and k != "weighted_cos" and k not in gates
    }
    return {
        "score": round(exp.score, 4),
        "threshold": round(exp.threshold, 4),
        "duplicate": exp.duplicate,
        "levels": [
            [s.level.name.lower(), round(s.similarity, 3), round(s.weight, 2), s.present]
            for s in exp.per_level
        ],
        "gates": [[g.name, g.detail, g.hard] for g in exp.gates if g.fired],
        "evidence": evidence,
        "verdict": exp.verdict,
    }


# What the page shows of one field at most: a 5 MB title went into report.html whole. The
# catalogue keeps every field whole; the page says how many it shortened (``long_fields``).
TITLE_CHARS = 300
COLUMN_CHARS = 120  # one "column: value" of the second line
TEXT_CHARS = 110  # the start of the text, on the second line


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in "…" when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def long_fields(items: Iterable[Item]) -> int:
    """How many titles and column values the page shows shortened (text is always a start)."""
    return sum(
        (len(item.title) > TITLE_CHARS)
        + sum(len(f"{k}: {v}") > COLUMN_CHARS for k, v in list(item.attributes.items())[:4])
        for item in items
    )


def _subtitle(item: Item) -> str:
    """Attributes (manufacturer, price, ...) and the start of the text, for the second line."""
    bits = [clip(f"{k}: {v}", COLUMN_CHARS) for k, v in item.attributes.items()][:4]
    if item.title and item.text:
        bits.append(clip(item.text, TEXT_CHARS))
    return " · ".join(bits)


def _concepts(levels: Mapping[str, list[str]]) -> str:
    return "; ".join(f"{name.lower()}: {' | '.join(vals)}" for name, vals in levels.items())[:240]


Members = list[tuple[Item, Assignment]]


def select_clusters(
    items: Sequence[Item],
    assignments: Sequence[Assignment],
    max_clusters: int = 2000,
    max_singletons: int = 5000,
) -> tuple[list[tuple[str, Members]], dict[str, int]]:
    """Clusters largest first (ties by id), each member in arrival order.

    Clusters with duplicates are kept up to ``max_clusters``, single items up to
    ``max_singletons``; the second value counts what was left out so the page can say so.
    """
    by_cluster: dict[str, Members] = {}
    for item, a in zip(items, assignments, strict=True):
        by_cluster.setdefault(a.cluster_id, []).append((item, a))
    ordered = sorted(by_cluster.items(), key=lambda c: (-len(c[1]), c[0]))
    multi = [c for c in ordered if len(c[1]) > 1]
    single = [c for c in ordered if len(c[1]) == 1]
    omitted = {
        "clusters": max(len(multi) - max_clusters, 0),
        "singletons": max(len(single) - max_singletons, 0),
    }
    return multi[:max_clusters] + single[:max_singletons], omitted


# item id -> level name -> concepts: a mapping, or a function asked for the items shown only
Concepts = Mapping[str, Mapping[str, list[str]]] | Callable[[str], Mapping[str, list[str]]]


def build_payload(
    clusters: Sequence[tuple[str, Members]],
    concepts: Concepts | None = None,
    explanations: Mapping[Pair, Explanation] | None = None,
    thumbnails: Mapping[str, str] | None = None,
) -> list[dict[str, object]]:
    """One dict per cluster: ``id``, ``rep`` (its representative's id) and ``members`` (what
    the page script renders)."""
    explanations = explanations or {}
    concepts_of = (
        concepts if callable(concepts) else (concepts or {}).get
    )  # a run's index is asked for the items shown only (~7,000 of 1M)
    out: list[dict[str, object]] = []
    for cluster_id, members in clusters:
        rows = []
        for item, a in members:
            row: dict[str, object] = {
                "id": item.id,
                "title": clip(item.title, TITLE_CHARS) or clip(item.text, 120),
                "sub": _subtitle(item),
                "sim": round(a.similarity, 4),
                "conf": round(a.confidence, 4),
                "levels": {lv.name.lower(): round(v, 3) for lv, v in a.per_level.items()},
            }
            if not a.is_new_cluster and a.nearest_item_id:
                row["via"] = a.nearest_item_id
                exp = explanations.get((item.id, a.nearest_item_id))
                if exp is not None:
                    row["explain"] = _explanation(exp)
            if item.image is not None:
                row["img"] = (thumbnails or {}).get(item.id, "")
            if levels := concepts_of(item.id):
                row["concepts"] = _concepts(levels)
            rows.append(row)
        # every member carries its cluster's representative; "" from an older server
        rep = next((a.representative_id for _, a in members if a.representative_id), "")
        family = members[0][1].family_id
        out.append({"id": cluster_id, "family": family, "rep": rep, "members": rows})
    return out
