"""Domain objects <-> ``fitrep.v1`` protobuf: the one place where the two meet.

Servicers call ``*_from_pb`` on requests (which validates and raises ``InvalidInput`` naming the
field at fault, e.g. ``items[3].embeddings.vectors[PRIMARY].data``) and ``*_to_pb`` on results;
the SDK does the reverse. Vectors travel as packed little-endian float32 bytes, arrays as
``Array{dtype, shape, data}`` in little-endian C order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fitrep.domain import (
    Anchors,
    Assignment,
    Cluster,
    ConceptSet,
    EmbeddedItem,
    Explanation,
    GateResult,
    IndexInfo,
    InvalidInput,
    Item,
    ItemChange,
    ItemProfile,
    Level,
    LevelEmbeddings,
    LevelScore,
    Neighbor,
    RepresentativeChange,
)
from fitrep.v1 import common_pb2 as cpb
from fitrep.v1 import concept_service_pb2 as spb
from fitrep.v1 import index_service_pb2 as ipb

_LE_F32 = np.dtype("<f4")


def _level(value: int, where: str) -> Level:
    try:
        return Level(value)
    except ValueError:
        raise InvalidInput(where, f"unknown level {value}") from None


def _name(key: Any) -> str:
    # str() of an IntEnum member is its number on Python >= 3.11; the wire wants the name.
    return key.name if isinstance(key, Level) else str(key)


def check_unique_ids(ids: Iterable[str], where: str = "items", start: int = 0) -> None:
    """Reject a repeated item id: one request must not say two things about one item."""
    seen: set[str] = set()
    for i, item_id in enumerate(ids, start):
        if item_id in seen:
            raise InvalidInput(f"{where}[{i}].id", f"duplicate item id {item_id!r}")
        seen.add(item_id)


# --- items -------------------------------------------------------------------------------


def item_to_pb(item: Item) -> cpb.Item:
    """Bytes travel inline; a path travels as ``image_uri`` (read by the concept server)."""
    msg = cpb.Item(id=item.id, title=item.title, text=item.text, attributes=item.attributes)
    if isinstance(item.image, bytes | bytearray):
        msg.image = bytes(item.image)
    elif item.image is not None:
        msg.image_uri = str(item.image)
    return msg


def item_from_pb(msg: cpb.Item, where: str = "item") -> Item:
    image: bytes | Path | None = None
    if msg.image:
        image = bytes(msg.image)
    elif msg.image_uri:
        image = Path(msg.image_uri)
    item = Item(
        id=msg.id, title=msg.title, text=msg.text, image=image, attributes=dict(msg.attributes)
    )
    item.validate(where)
    return item


def items_from_pb(msgs: Sequence[cpb.Item], where: str = "items") -> list[Item]:
    items = [item_from_pb(m, f"{where}[{i}]") for i, m in enumerate(msgs)]
    check_unique_ids((it.id for it in items), where)
    return items


# --- arrays and vectors ------------------------------------------------------------------


def array_to_pb(arr: np.ndarray) -> cpb.Array:
    arr = np.asarray(arr)
    le = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
    return cpb.Array(dtype=arr.dtype.name, shape=list(arr.shape), data=le.tobytes())


def array_from_pb(msg: cpb.Array, where: str = "array") -> np.ndarray:
    try:
        dtype = np.dtype(msg.dtype)
    except TypeError:
        raise InvalidInput(f"{where}.dtype", f"unknown dtype {msg.dtype!r}") from None
    if dtype.hasobject or dtype.itemsize == 0:
        raise InvalidInput(f"{where}.dtype", f"dtype {msg.dtype!r} cannot travel as bytes")
    shape = tuple(int(s) for s in msg.shape)
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(msg.data) != expected:
        raise InvalidInput(
            f"{where}.data", f"{len(msg.data)} bytes is not {expected} for {msg.dtype}{list(shape)}"
        )
    arr = np.frombuffer(msg.data, dtype=dtype.newbyteorder("<")).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


def vector_to_bytes(vec: np.ndarray) -> bytes:
    return np.ascontiguousarray(vec, dtype=_LE_F32).tobytes()


def vector_from_bytes(data: bytes, dim: int, where: str) -> np.ndarray:
    """Decode ``dim`` packed float32 values; shape (dim,), native float32, writeable."""
    if dim <= 0:
        raise InvalidInput(f"{where}.dim", f"must be positive, got {dim}")
    if len(data) != 4 * dim:
        raise InvalidInput(f"{where}.data", f"{len(data)} bytes is not 4*dim (dim={dim})")
    vec = np.frombuffer(data, dtype=_LE_F32).astype(np.float32)
    if not np.isfinite(vec).all():
        raise InvalidInput(f"{where}.data", "contains NaN or infinity")
    return vec


# --- concepts and embeddings -------------------------------------------------------------


def concepts_to_pb(cs: ConceptSet) -> cpb.ConceptSet:
    return cpb.ConceptSet(
        item_id=cs.item_id,
        levels=[
            cpb.LevelConcepts(level=Level(lv).name, concepts=list(words))
            for lv, words in sorted(cs.levels.items())
        ],
        anchors={k: cpb.StringList(values=v) for k, v in cs.anchors.to_json().items()},
        image_features={k: array_to_pb(v) for k, v in cs.image_features.items()},
        backend=cs.backend,
        version=cs.version,
        profile=profile_to_pb(cs.profile),
    )


def profile_to_pb(p: ItemProfile) -> cpb.ItemProfile:
    return cpb.ItemProfile(
        filled_fields=p.filled_fields, image_pixels=p.image_pixels, numbers=dict(p.numbers)
    )


def profile_from_pb(msg: cpb.ItemProfile, where: str = "profile") -> ItemProfile:
    for column, value in msg.numbers.items():
        if not np.isfinite(value):
            raise InvalidInput(f"{where}.numbers[{column}]", "not finite (NaN or infinity)")
    return ItemProfile(msg.filled_fields, msg.image_pixels, dict(msg.numbers))


def concepts_from_pb(msg: cpb.ConceptSet, where: str = "concepts") -> ConceptSet:
    if not msg.item_id:
        raise InvalidInput(f"{where}.item_id", "must be a non-empty string")
    levels: dict[Level, list[str]] = {}
    for i, lc in enumerate(msg.levels):
        lv = _level(lc.level, f"{where}.levels[{i}].level")
        if lv in levels:
            raise InvalidInput(f"{where}.levels[{i}].level", f"{lv.name} given twice")
        levels[lv] = list(lc.concepts)
    return ConceptSet(
        item_id=msg.item_id,
        levels=levels,
        anchors=Anchors.from_json({k: list(v.values) for k, v in msg.anchors.items()}),
        image_features={
            k: array_from_pb(v, f"{where}.image_features[{k}]")
            for k, v in msg.image_features.items()
        },
        backend=msg.backend,
        version=msg.version,
        profile=profile_from_pb(msg.profile, f"{where}.profile"),
    )


def embeddings_to_pb(emb: LevelEmbeddings) -> cpb.LevelEmbeddings:
    return cpb.LevelEmbeddings(
        item_id=emb.item_id,
        vectors=[
            cpb.LevelVector(level=Level(lv).name, data=vector_to_bytes(v), dim=int(np.size(v)))
            for lv, v in sorted(emb.vectors.items())
        ],
        encoder=emb.encoder,
    )


def embeddings_from_pb(msg: cpb.LevelEmbeddings, where: str = "embeddings") -> LevelEmbeddings:
    vectors: dict[Level, np.ndarray] = {}
    for i, lv_msg in enumerate(msg.vectors):
        lv = _level(lv_msg.level, f"{where}.vectors[{i}].level")
        at = f"{where}.vectors[{lv.name}]"
        if lv in vectors:
            raise InvalidInput(f"{at}.level", f"{lv.name} given twice")
        vectors[lv] = vector_from_bytes(lv_msg.data, lv_msg.dim, at)
    return LevelEmbeddings(item_id=msg.item_id, vectors=vectors, encoder=msg.encoder)


def embedded_to_pb(item: EmbeddedItem) -> cpb.EmbeddedItem:
    return cpb.EmbeddedItem(
        concepts=concepts_to_pb(item.concepts), embeddings=embeddings_to_pb(item.embeddings)
    )


def embedded_from_pb(
    msg: cpb.EmbeddedItem, where: str = "item", require_vectors: bool = True
) -> EmbeddedItem:
    """``require_vectors``: the index tier needs at least one level vector per item."""
    concepts = concepts_from_pb(msg.concepts, f"{where}.concepts")
    emb = embeddings_from_pb(msg.embeddings, f"{where}.embeddings")
    if not emb.item_id:
        emb.item_id = concepts.item_id
    elif emb.item_id != concepts.item_id:
        raise InvalidInput(
            f"{where}.embeddings.item_id",
            f"{emb.item_id!r} differs from concepts.item_id {concepts.item_id!r}",
        )
    if require_vectors and not emb.vectors:
        raise InvalidInput(f"{where}.embeddings.vectors", "no level vector given")
    return EmbeddedItem(concepts=concepts, embeddings=emb)


def embedded_items_from_pb(
    msgs: Sequence[cpb.EmbeddedItem], where: str = "items", start: int = 0
) -> list[EmbeddedItem]:
    """Decode a batch; ``start`` numbers the items of a later stream chunk globally."""
    items = [embedded_from_pb(m, f"{where}[{i}]") for i, m in enumerate(msgs, start)]
    check_unique_ids((it.item_id for it in items), where, start)
    return items


# --- results -----------------------------------------------------------------------------


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
