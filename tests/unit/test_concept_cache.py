"""ConceptCache: keyed by content (not id), model and prompt version; LRU; SQLite-backed."""

from __future__ import annotations

from pathlib import Path

from fitrep.domain import ConceptSet, Item, Level

from mllm_server.chie.concept_cache import ConceptCache, content_hash


def _concepts(item_id: str) -> ConceptSet:
    return ConceptSet(
        item_id,
        {Level.PRIMARY: ["usb cable", "anker"], Level.FORM: ["nylon"]},
        anchors={"brand": ["anker"], "code": ["a8132"]},
        backend="vllm",
        version="tiny+concepts_v1",
    )


def test_content_hash_covers_image_bytes_and_ignores_id(tmp_path: Path) -> None:
    a = Item("a", "cable", image=b"\x89PNG one")
    assert content_hash(a) == content_hash(Item("b", "cable", image=b"\x89PNG one"))
    assert content_hash(a) != content_hash(Item("a", "cable", image=b"\x89PNG two"))
    assert content_hash(a) != content_hash(Item("a", "cable", attributes={"colour": "red"}))
    path = tmp_path / "img.png"
    path.write_bytes(b"\x89PNG one")
    assert content_hash(Item("c", "cable", image=path)) == content_hash(a)


def test_hit_returns_a_copy_under_the_callers_id() -> None:
    cache = ConceptCache(max_entries=10)
    cache.put(Item("a", "cable"), "tiny", "concepts_v1", _concepts("a"))
    hit = cache.get(Item("b", "cable"), "tiny", "concepts_v1")
    assert hit is not None and hit.item_id == "b"
    assert hit.levels == _concepts("a").levels and hit.anchors.to_json()["code"] == ["a8132"]
    assert hit.backend == "vllm" and hit.version == "tiny+concepts_v1"
    assert cache.get(Item("a", "cable"), "tiny", "concepts_v2") is None  # new prompt: miss
    assert cache.get(Item("a", "cable"), "other-model", "concepts_v1") is None


def test_lru_evicts_the_oldest() -> None:
    cache = ConceptCache(max_entries=2)
    for name in ("x", "y"):
        cache.put(Item(name, name), "m", "p", _concepts(name))
    cache.get(Item("x", "x"), "m", "p")  # x is now the newest
    cache.put(Item("z", "z"), "m", "p", _concepts("z"))
    assert len(cache) == 2
    assert cache.get(Item("y", "y"), "m", "p") is None
    assert cache.get(Item("x", "x"), "m", "p") is not None


def test_sqlite_file_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "concepts.sqlite"
    first = ConceptCache(max_entries=1, path=db)
    first.put(Item("a", "cable"), "m", "p", _concepts("a"))
    first.put(Item("b", "mouse"), "m", "p", _concepts("b"))  # evicts "a" from memory only
    assert first.get(Item("a", "cable"), "m", "p") is not None
    first.close()
    second = ConceptCache(path=db)
    assert second.get(Item("a2", "mouse"), "m", "p") is not None
    second.close()
