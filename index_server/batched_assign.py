"""Many callers' ``AssignItems`` served by one engine call (``serving.batching``).

Requests are merged when they agree on ``if_absent`` and share no item id (an id sent twice at
once must be judged in the order the callers' batches would have been). A merged call that fails
is retried call by call, so one caller's bad item is that caller's error alone: the engine checks
a batch before it writes and rolls a failed write back, so a retry starts from the same state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fitrep.domain import AssignResult, EmbeddedItem, RepresentativeChange

from index_server.engine import IndexEngine


@dataclass(frozen=True)
class AssignCall:
    """One caller's request: its items, in order, and whether known ids are an error."""

    items: Sequence[EmbeddedItem]
    if_absent: bool = False


def merge_groups(calls: Sequence[AssignCall]) -> list[list[int]]:
    """Indices of ``calls`` in groups that can share an engine call, in arrival order."""
    groups: list[list[int]] = []
    ids_of: list[set[str]] = []
    for i, call in enumerate(calls):
        ids = {item.item_id for item in call.items}
        last = groups[-1] if groups else None
        if last is not None and calls[last[0]].if_absent == call.if_absent and not ids & ids_of[-1]:
            last.append(i)
            ids_of[-1] |= ids
        else:
            groups.append([i])
            ids_of.append(ids)
    return groups


def _touches(result: AssignResult, cluster_id: str) -> bool:
    return any(cluster_id in (a.cluster_id, a.previous_cluster_id) for a in result.assignments)


def _route_changes(results: list[AssignResult], changes: Sequence[RepresentativeChange]) -> None:
    """Each representative change goes to the callers whose items are in, or left, its
    cluster (the first caller when none is)."""
    for change in changes:
        takers = [r for r in results if _touches(r, change.cluster_id)]
        for r in takers or results[:1]:
            r.representative_changes.append(change)


def assign_together(
    engine: IndexEngine, calls: Sequence[AssignCall]
) -> list[AssignResult | BaseException]:
    """One result (or the caller's exception) per call, in order."""
    out: list[AssignResult | BaseException] = [RuntimeError("not run")] * len(calls)
    for group in merge_groups(calls):
        items = [item for i in group for item in calls[i].items]
        try:
            merged = engine.assign_items(items, if_absent=calls[group[0]].if_absent)
        except Exception as exc:
            if len(group) == 1:
                out[group[0]] = exc
                continue
            for i in group:  # alone, so only the faulty caller fails
                try:
                    out[i] = engine.assign_items(calls[i].items, if_absent=calls[i].if_absent)
                except Exception as single:
                    out[i] = single
            continue
        results, start = [], 0
        for i in group:
            end = start + len(calls[i].items)
            results.append(AssignResult(merged.assignments[start:end]))
            start = end
        _route_changes(results, merged.representative_changes)
        for i, result in zip(group, results, strict=True):
            out[i] = result
    return out
