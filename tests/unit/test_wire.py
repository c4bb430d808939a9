"""Round trips domain -> protobuf -> domain, and errors that name the field at fault."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fitrep import wire
from fitrep.domain import (
    Assignment,
    Cluster,
    ConceptSet,
    EmbeddedItem,
    Explanation,
    GateResult,
    IndexInfo,
    InvalidInput,
    Item,
    Level,
    LevelEmbeddings,
    LevelScore,
    Neighbor,
)
from fitrep.v1 import common_pb2 as cpb


def _embedded(item_id: str = "a", dim: int = 8) -> EmbeddedItem:
    rng = np.random.default_rng(0)
    concepts = ConceptSet(
        item_id=item_id,
        levels={Level.PRIMARY: ["usb cable", "anker"], Level.SUBJECTIVE: ["great"]},
        anchors={"code": ["a8432"], "quantity": ["1m"]},
        image_features={
            "phash": np.arange(8, dtype=np.uint8),
            "hist": rng.random((2, 3)).astype(np.float32),
        },
        backend="rules",
        version="1",
    )
    vectors = {lv: rng.random(dim).astype(np.float32) for lv in (Level.PRIMARY, Level.SUBJECTIVE)}
    return EmbeddedItem(concepts, LevelEmbeddings(item_id, vectors))


def test_item_round_trip_bytes_and_path() -> None:
    a = Item("1", "Cable", "text", b"\x89PNG", {"brand": "anker"})
    b = Item("2", "Cable", image=Path("/data/img.jpg"))
    assert wire.item_from_pb(wire.item_to_pb(a)) == a
    msg = wire.item_to_pb(b)
    assert msg.image_uri == "/data/img.jpg" and not msg.image
    assert wire.item_from_pb(msg) == b


def test_embedded_item_round_trip() -> None:
    src = _embedded()
    back = wire.embedded_from_pb(wire.embedded_to_pb(src))
    assert back.concepts.levels == src.concepts.levels
    assert back.concepts.anchors == src.concepts.anchors
    for key, arr in src.concepts.image_features.items():
        got = back.concepts.image_features[key]
        assert got.dtype == arr.dtype and got.shape == arr.shape
        np.testing.assert_array_equal(got, arr)
    assert back.embeddings.present == src.embeddings.present
    for lv, vec in src.embeddings.vectors.items():
        np.testing.assert_array_equal(back.embeddings.vectors[lv], vec)
        assert back.embeddings.vectors[lv].flags.writeable


def test_vectors_are_packed_little_endian_float32() -> None:
    msg = wire.embeddings_to_pb(LevelEmbeddings("a", {Level.PRIMARY: np.array([1.0, -2.0])}))
    assert msg.vectors[0].dim == 2
    assert msg.vectors[0].data == np.array([1.0, -2.0], dtype="<f4").tobytes()


def test_results_round_trip() -> None:
    a = Assignment("x", "c1", "y", 0.75, {Level.PRIMARY: 0.5}, False, 0.875)
    assert wire.assignment_from_pb(wire.assignment_to_pb(a)) == a
    e = Explanation(
        "x", "y", 0.5, 0.625, False,
        [LevelScore(Level.PRIMARY, 0.25, 0.5, True)],
        [GateResult("code_conflict", True, "a1 != a2")],
        "c1", "c2", {"code_agree": 0.0},
    )  # fmt: skip
    assert wire.explanation_from_pb(wire.explanation_to_pb(e)) == e
    c = Cluster("c1", ["x", "y"], ["c0"])
    assert wire.cluster_from_pb(wire.cluster_to_pb(c)) == c
    q = [("x", [Neighbor("y", "c1", 0.5)])]
    assert wire.neighbor_lists_from_pb(wire.neighbor_lists_to_pb(q)) == q
    info = IndexInfo(3, 2, "identity", "Flat", 1, {"PRIMARY": 0.5}, 0.75, "0.1.0")
    assert wire.index_info_from_pb(wire.index_info_to_pb(info)) == info


def test_concept_info_names_levels() -> None:
    info = {"backend": "rules", "level_dims": {Level.PRIMARY: 384}, "stats": {"items": 3}}
    back = wire.concept_info_from_pb(wire.concept_info_to_pb(info, 256, "0.1.0"))
    assert back["level_dims"] == {"PRIMARY": 384} and back["max_batch"] == 256


def test_bad_vector_length_names_the_field() -> None:
    msgs = [wire.embedded_to_pb(_embedded("a")), wire.embedded_to_pb(_embedded("b"))]
    msgs[1].embeddings.vectors[0].data = msgs[1].embeddings.vectors[0].data[:-4]
    with pytest.raises(InvalidInput) as err:
        wire.embedded_items_from_pb(msgs, start=2)
    assert err.value.field == "items[3].embeddings.vectors[PRIMARY].data"
    assert "28 bytes is not 4*dim (dim=8)" in str(err.value)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda m: setattr(m.embeddings.vectors[0], "level", 42), "items[0].embeddings.vectors[0]"),
        (lambda m: setattr(m.embeddings, "item_id", "other"), "items[0].embeddings.item_id"),
        (lambda m: m.embeddings.ClearField("vectors"), "items[0].embeddings.vectors"),
        (lambda m: setattr(m.concepts, "item_id", ""), "items[0].concepts.item_id"),
        (
            lambda m: setattr(m.concepts.image_features["hist"], "dtype", "nope"),
            "items[0].concepts.image_features[hist].dtype",
        ),
    ],
)
def test_bad_embedded_item_names_the_field(mutate, field: str) -> None:  # type: ignore[no-untyped-def]
    msg = wire.embedded_to_pb(_embedded())
    mutate(msg)
    with pytest.raises(InvalidInput) as err:
        wire.embedded_items_from_pb([msg])
    assert err.value.field.startswith(field)


def test_nan_and_duplicates_are_rejected() -> None:
    src = _embedded()
    src.embeddings.vectors[Level.PRIMARY][0] = np.nan
    with pytest.raises(InvalidInput, match="NaN"):
        wire.embedded_from_pb(wire.embedded_to_pb(src))
    with pytest.raises(InvalidInput) as err:
        wire.items_from_pb([cpb.Item(id="x", title="t"), cpb.Item(id="x", title="u")])
    assert err.value.field == "items[1].id"


def test_empty_item_is_rejected() -> None:
    with pytest.raises(InvalidInput) as err:
        wire.items_from_pb([cpb.Item(id="x", title="t"), cpb.Item(id="y")])
    assert err.value.field == "items[1]"


def test_upsert_and_representative_fields_round_trip() -> None:
    """#20: the item profile, what a call did with an item, and representatives travel."""
    from fitrep.domain import ItemChange, ItemProfile, RepresentativeChange

    item = _embedded()
    item.concepts.profile = ItemProfile(4, 640 * 480, {"price": 12.5})
    back = wire.embedded_from_pb(wire.embedded_to_pb(item))
    assert back.concepts.profile == item.concepts.profile
    a = Assignment(
        "a",
        "c00000002",
        "b",
        0.5,
        confidence=0.25,
        is_new_cluster=False,
        previous_cluster_id="c00000001",
        change=ItemChange.UPDATED,
        representative_id="b",
    )
    assert wire.assignment_from_pb(wire.assignment_to_pb(a)) == a and a.moved
    c = Cluster("c00000002", ["b", "a"], representative_id="b")
    assert wire.cluster_from_pb(wire.cluster_to_pb(c)) == c
    r = RepresentativeChange("c00000002", "b", "a")
    assert wire.representative_change_from_pb(wire.representative_change_to_pb(r)) == r
    bad = wire.embedded_to_pb(item)
    bad.concepts.profile.numbers["price"] = float("nan")
    with pytest.raises(InvalidInput, match=r"concepts\.profile\.numbers\[price\]: not finite"):
        wire.embedded_from_pb(bad)


def test_already_exists_and_no_space_map_to_their_status_and_back() -> None:
    import grpc
    from fitrep.domain import AlreadyExists, NoSpace, Overloaded
    from fitrep.rpc_errors import from_rpc_error, status_for

    class Err(grpc.RpcError):
        def __init__(self, code: grpc.StatusCode, details: str) -> None:
            self._code, self._details = code, details

        def code(self) -> grpc.StatusCode:
            return self._code

        def details(self) -> str:
            return self._details

    for exc, code in (
        (AlreadyExists("items[1]", "item x is stored with other content"), "ALREADY_EXISTS"),
        (NoSpace("no space left on /data (database or disk is full)"), "RESOURCE_EXHAUSTED"),
        (Overloaded("items: 9 items exceed max_batch 8"), "RESOURCE_EXHAUSTED"),
    ):
        status, details = status_for(exc)
        assert status.name == code and details == str(exc)
        back = from_rpc_error(Err(status, details))
        assert type(back) is type(exc) and str(back) == str(exc)


def test_an_item_without_readable_text_is_refused_naming_it() -> None:
    msgs = [cpb.Item(id="ok", title="kettle 1.7 l"), cpb.Item(id="e", title="\U0001f600\u200b")]
    with pytest.raises(InvalidInput) as err:
        wire.items_from_pb(msgs)
    assert err.value.field == "items[1]"
    assert err.value.message == "item 'e' has no readable text (no letter or digit) and no image"
    assert wire.items_from_pb([cpb.Item(id="d", title="\u2460")])[0].id == "d"  # NFKC: "1"
