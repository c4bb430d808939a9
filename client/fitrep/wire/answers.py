"""What the index answers, domain <-> ``fitrep.v1`` protobuf: assignments, explanations,
neighbours, clusters and both tiers' info (the servicers encode, the SDK decodes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fitrep.domain import (
    Assignment,
    Cluster,
    Explanation,
    GateResult,
    IndexInfo,
    ItemChange,
    Level,
    LevelScore,
    Neighbor,
    RepresentativeChange,
)
from fitrep.v1 import common_pb2 as cpb
from fitrep.v1 import concept_service_pb2 as spb
from fitrep.v1 import index_service_pb2 as ipb


def _name(key: Any) -> str:
    # str() of an IntEnum member is its number on Python >= 3.11; the wire wants the name.
    return key.name if isinstance(key, Level) else str(key)


def level_score_to_pb(s: LevelScore) -> cpb.LevelScore:
    return cpb.LevelScore(
        level=Level(s.level).name, similarity=s.similarity, weight=s.weight, present=s.present
    )


def level_score_from_pb(msg: cpb.LevelScore) -> LevelScore:
    return LevelScore(
        level=Level(msg.level), similarity=msg.similarity, weight=msg.weight, present=msg.present
    )


def assignment_to_pb(a: Assignment) -> cpb.Assignment:
    """``per_level`` holds already-weighted cosines, so the proto's weight is left at 0."""
    return cpb.Assignment(
        item_id=a.item_id,
        cluster_id=a.cluster_id,
        nearest_item_id=a.nearest_item_id,
        similarity=a.similarity,
        per_level=[
            cpb.LevelScore(level=Level(lv).name, similarity=v, present=True)
            for lv, v in sorted(a.per_level.items())
        ],
        is_new_cluster=a.is_new_cluster,
        confidence=a.confidence,
        family_id=a.family_id,
        previous_cluster_id=a.previous_cluster_id,
        change=cpb.ItemChange.Name(int(a.change)),
        representative_id=a.representative_id,
    )


def assignment_from_pb(msg: cpb.Assignment) -> Assignment:
    try:
        change = ItemChange(msg.change)
    except ValueError:  # a newer server's value: not one this client knows
        change = ItemChange.UNSPECIFIED
    return Assignment(
        item_id=msg.item_id,
        cluster_id=msg.cluster_id,
        nearest_item_id=msg.nearest_item_id,
        similarity=msg.similarity,
        per_level={Level(s.level): s.similarity for s in msg.per_level},
        is_new_cluster=msg.is_new_cluster,
        confidence=msg.confidence,
        family_id=msg.family_id,
        previous_cluster_id=msg.previous_cluster_id,
        change=change,
        representative_id=msg.representative_id,
    )


def representative_change_to_pb(c: RepresentativeChange) -> cpb.RepresentativeChange:
    return cpb.RepresentativeChange(
        cluster_id=c.cluster_id, previous_id=c.previous_id, representative_id=c.representative_id
    )


def representative_change_from_pb(msg: cpb.RepresentativeChange) -> RepresentativeChange:
    return RepresentativeChange(msg.cluster_id, msg.previous_id, msg.representative_id)


def explanation_to_pb(e: Explanation) -> ipb.Explanation:
    return ipb.Explanation(
        item_a=e.item_a,
        item_b=e.item_b,
        score=e.score,
        threshold=e.threshold,
        duplicate=e.duplicate,
        per_level=[level_score_to_pb(s) for s in e.per_level],
        gates=[cpb.Gate(name=g.name, fired=g.fired, detail=g.detail, hard=g.hard) for g in e.gates],
        cluster_a=e.cluster_a,
        cluster_b=e.cluster_b,
        features={k: float(v) for k, v in e.features.items()},
        verdict=e.verdict,
        pair_duplicate=e.pair_duplicate,
        family_score=e.family_score,
        family_a=e.family_a,
        family_b=e.family_b,
    )


def explanation_from_pb(msg: ipb.Explanation) -> Explanation:
    return Explanation(
        item_a=msg.item_a,
        item_b=msg.item_b,
        score=msg.score,
        threshold=msg.threshold,
        duplicate=msg.duplicate,
        per_level=[level_score_from_pb(s) for s in msg.per_level],
        gates=[
            GateResult(name=g.name, fired=g.fired, detail=g.detail, hard=g.hard) for g in msg.gates
        ],
        cluster_a=msg.cluster_a,
        cluster_b=msg.cluster_b,
        features=dict(msg.features),
        verdict=msg.verdict,
        pair_duplicate=msg.pair_duplicate,
        family_score=msg.family_score,
        family_a=msg.family_a,
        family_b=msg.family_b,
    )


def neighbor_to_pb(n: Neighbor) -> ipb.Neighbor:
    return ipb.Neighbor(item_id=n.item_id, cluster_id=n.cluster_id, similarity=n.similarity)


def neighbor_from_pb(msg: ipb.Neighbor) -> Neighbor:
    return Neighbor(item_id=msg.item_id, cluster_id=msg.cluster_id, similarity=msg.similarity)


def neighbor_lists_to_pb(
    results: Sequence[tuple[str, list[Neighbor]]],
) -> ipb.QueryNeighborsResponse:
    return ipb.QueryNeighborsResponse(
        results=[
            ipb.NeighborList(query_id=qid, neighbors=[neighbor_to_pb(n) for n in ns])
            for qid, ns in results
        ]
    )


def neighbor_lists_from_pb(msg: ipb.QueryNeighborsResponse) -> list[tuple[str, list[Neighbor]]]:
    return [(r.query_id, [neighbor_from_pb(n) for n in r.neighbors]) for r in msg.results]


def cluster_to_pb(c: Cluster) -> ipb.Cluster:
    return ipb.Cluster(
        cluster_id=c.cluster_id,
        member_ids=c.member_ids,
        aliases=c.aliases,
        family_id=c.family_id,
        representative_id=c.representative_id,
    )


def cluster_from_pb(msg: ipb.Cluster) -> Cluster:
    return Cluster(
        cluster_id=msg.cluster_id,
        member_ids=list(msg.member_ids),
        aliases=list(msg.aliases),
        family_id=msg.family_id,
        representative_id=msg.representative_id,
    )


def index_info_to_pb(info: IndexInfo) -> ipb.IndexInfo:
    return ipb.IndexInfo(
        items=info.items,
        clusters=info.clusters,
        reducer=info.reducer,
        faiss_index=info.faiss_index,
        index_version=info.index_version,
        level_weights={k: float(v) for k, v in info.level_weights.items()},
        threshold=info.threshold,
        server_version=info.server_version,
    )


def index_info_from_pb(msg: ipb.IndexInfo) -> IndexInfo:
    return IndexInfo(
        items=msg.items,
        clusters=msg.clusters,
        reducer=msg.reducer,
        faiss_index=msg.faiss_index,
        index_version=msg.index_version,
        level_weights=dict(msg.level_weights),
        threshold=msg.threshold,
        server_version=msg.server_version,
    )


def concept_info_to_pb(
    info: dict[str, Any], max_batch: int, server_version: str
) -> spb.ConceptInfo:
    """``info`` is ``ConceptEngine.info()``: backend, versions, encoder, level_dims, stats."""
    return spb.ConceptInfo(
        backend=str(info.get("backend", "")),
        backend_version=str(info.get("backend_version", "")),
        encoder=str(info.get("encoder", "")),
        level_dims={_name(k): int(v) for k, v in info.get("level_dims", {}).items()},
        max_batch=max_batch,
        server_version=server_version,
        stats={str(k): float(v) for k, v in info.get("stats", {}).items()},
    )


def concept_info_from_pb(msg: spb.ConceptInfo) -> dict[str, Any]:
    """The same keys as ``ConceptEngine.info()`` plus max_batch and server_version."""
    return {
        "backend": msg.backend,
        "backend_version": msg.backend_version,
        "encoder": msg.encoder,
        "level_dims": dict(msg.level_dims),
        "max_batch": msg.max_batch,
        "server_version": msg.server_version,
        "stats": dict(msg.stats),
    }
