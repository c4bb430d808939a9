"""Writing run results: clusters.jsonl (one line per input item, input order), and with
``--format parquet`` clusters.parquet beside it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from fitrep.domain import Assignment, InvalidInput, Item, ItemChange

FORMATS = ("jsonl", "parquet")  # --format of fitrep dedup and fitrep assign


def assignment_record(item: Item, a: Assignment, changes: bool = False) -> dict[str, object]:
    """One clusters.jsonl line; ``changes`` (``fitrep assign``): what the call did with the
    item and, for a changed one, the cluster it was in before."""
    record: dict[str, object] = {
        "id": item.id,
        "cluster_id": a.cluster_id,
        "family_id": a.family_id,
        "representative_id": a.representative_id or None,
        "nearest_id": a.nearest_item_id or None,
        "similarity": round(float(a.similarity), 4),
        "confidence": round(float(a.confidence), 4),
        "is_new_cluster": a.is_new_cluster,
        "per_level": {level.name.lower(): round(float(s), 4) for level, s in a.per_level.items()},
    }
    if changes:
        record["change"] = a.change.name.lower()
        record["previous_cluster_id"] = a.previous_cluster_id or None
    return record


def check_format(fmt: str) -> None:
    """``--format`` is checked before a run starts, not when its results are written."""
    if fmt not in FORMATS:
        raise InvalidInput("--format", f"{fmt!r} is not one of {', '.join(FORMATS)}")


def write_clusters(
    out_dir: Path,
    items: Sequence[Item],
    assignments: Sequence[Assignment],
    changes: bool = False,
    fmt: str = "jsonl",
) -> list[Path]:
    """Write ``out_dir/clusters.jsonl`` via a temp file, so a crash never leaves half a file;
    ``fmt="parquet"``: ``clusters.parquet`` (the same records) beside it. clusters.jsonl is
    always written: ``fitrep label`` and other tools read a run by it. Returns the paths."""
    check_format(fmt)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "clusters.jsonl"
    tmp = path.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for item, a in zip(items, assignments, strict=True):
            fh.write(json.dumps(assignment_record(item, a, changes), ensure_ascii=False) + "\n")
    tmp.replace(path)
    if fmt == "jsonl":
        return [path]
    from fitrep.parquet_io import write_parquet

    records = (assignment_record(it, a, changes) for it, a in zip(items, assignments, strict=True))
    return [path, write_parquet(out_dir / "clusters.parquet", records, changes)]


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


def summarise_changes(assignments: Sequence[Assignment]) -> dict[str, int]:
    """What an assign call did: items added, updated (of which moved) and unchanged, and the
    clusters it opened (a resent item's stored ``is_new_cluster`` opened nothing now)."""
    fresh = (ItemChange.ADDED, ItemChange.UPDATED, ItemChange.UNSPECIFIED)
    return {
        "added": sum(a.change == ItemChange.ADDED for a in assignments),
        "updated": sum(a.change == ItemChange.UPDATED for a in assignments),
        "moved": sum(a.moved for a in assignments),
        "unchanged": sum(a.change == ItemChange.UNCHANGED for a in assignments),
        "opened": sum(a.is_new_cluster and a.change in fresh for a in assignments),
    }
