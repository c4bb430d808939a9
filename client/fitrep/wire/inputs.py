"""What the tiers send, domain <-> ``fitrep.v1`` protobuf: items, arrays, concepts, embeddings.

Servicers call ``*_from_pb`` on requests (which validates and raises ``InvalidInput`` naming the
field at fault, e.g. ``items[3].embeddings.vectors[PRIMARY].data``) and ``*_to_pb`` on results;
the SDK does the reverse. Vectors travel as packed little-endian float32 bytes, arrays as
``Array{dtype, shape, data}`` in little-endian C order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from fitrep.domain import (
    Anchors,
    ConceptSet,
    EmbeddedItem,
    InvalidInput,
    Item,
    ItemProfile,
    Level,
    LevelEmbeddings,
)
from fitrep.v1 import common_pb2 as cpb

_LE_F32 = np.dtype("<f4")


def _level(value: int, where: str) -> Level:
    try:
        return Level(value)
    except ValueError:
        raise InvalidInput(where, f"unknown level {value}") from None


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
