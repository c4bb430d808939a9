"""Writing run results: clusters.jsonl (one line per input item, input order)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from fitrep.domain import Assignment, Item


def assignment_record(item: Item, a: Assignment) -> dict[str, object]:
    return {
        "id": item.id,
        "cluster_id": a.cluster_id,
        "family_id": a.family_id,
        "nearest_id": a.nearest_item_id or None,
        "similarity": round(float(a.similarity), 4),
        "confidence": round(float(a.confidence), 4),
        "is_new_cluster": a.is_new_cluster,
        "per_level": {level.name.lower(): round(float(s), 4) for level, s in a.per_level.items()},
    }


def write_clusters(out_dir: Path, items: Sequence[Item], assignments: Sequence[Assignment]) -> Path:
    """Write ``out_dir/clusters.jsonl`` via a temp file, so a crash never leaves half a file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "clusters.jsonl"
    tmp = path.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for item, a in zip(items, assignments, strict=True):
            fh.write(json.dumps(assignment_record(item, a), ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path


def summarise(assignments: Sequence[Assignment]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    families: set[str] = set()
    for a in assignments:
        sizes[a.cluster_id] = sizes.get(a.cluster_id, 0) + 1
        families.add(a.family_id)
    return {
        "items": len(assignments),
        "clusters": len(sizes),
        "families": len(families),
        "duplicates": sum(s - 1 for s in sizes.values()),
        "clusters_with_duplicates": sum(1 for s in sizes.values() if s > 1),
        "largest_cluster": max(sizes.values(), default=0),
    }
