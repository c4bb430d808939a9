"""The rules backend's concept cache: a re-run answers from it exactly as the code would."""

from __future__ import annotations

from pathlib import Path

import pytest
from fitrep.domain import ConceptSet, Item
from fitrep.readers import read_items
from fitrep.synthetic import electronics, multilingual, templates
from PIL import Image

from mllm_server.chie import concept_cache
from mllm_server.chie.rules import RulesExtractor


@pytest.fixture(scope="module")
def items(tmp_path_factory: pytest.TempPathFactory) -> list[Item]:
    """Catalogues of three shapes, with attributes, listing columns and several scripts."""
    root = tmp_path_factory.mktemp("catalogues")
    shapes = (templates.generate(200, seed=5), multilingual.generate(6), electronics.generate(7))
    return [it for c in shapes for it in read_items(c.write_jsonl(root / f"{c.name}.jsonl"))]


def _same(a: ConceptSet, b: ConceptSet) -> bool:
    return (a.item_id, a.levels, a.anchors, a.backend, a.version) == (
        b.item_id,
        b.levels,
        b.anchors,
        b.backend,
        b.version,
    )


def test_a_rerun_answers_from_the_cache_with_the_same_concepts(
    items: list[Item], tmp_path: Path
) -> None:
    plain = RulesExtractor(cache_path="").extract(items)
    first = RulesExtractor(cache_path=tmp_path / "c.sqlite")
    assert all(_same(a, b) for a, b in zip(plain, first.extract(items), strict=True))
    first.close()
    again = RulesExtractor(cache_path=tmp_path / "c.sqlite")  # a new process's view: the file
    answers = again.extract(items)
    assert again.cache_hits == len(items)
    assert again.stats()["concept_cache_hits"] == len(items)
    assert all(_same(a, b) for a, b in zip(plain, answers, strict=True))
    # The id is the caller's, not the cached item's: same content under a new id still hits.
    renamed = again.extract(
        [Item("new-id", items[0].title, items[0].text, attributes=items[0].attributes)]
    )
    assert renamed[0].item_id == "new-id" and again.cache_hits == len(items) + 1


def test_changed_code_misses_the_cache(
    items: list[Item], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    RulesExtractor(cache_path=tmp_path / "c.sqlite").extract(items[:20])
    monkeypatch.setattr(concept_cache, "code_fingerprint", lambda: "edited code")
    monkeypatch.setattr("mllm_server.chie.rules.code_fingerprint", lambda: "edited code")
    again = RulesExtractor(cache_path=tmp_path / "c.sqlite")
    again.extract(items[:20])
    assert again.cache_hits == 0


def test_fingerprint_reads_the_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The digest moves when a module of the backend changes (here: a copy of the package)."""
    before = concept_cache.code_fingerprint()
    fake = tmp_path / "chie"
    fake.mkdir()
    (fake / "concept_cache.py").write_text("# edited\n")
    monkeypatch.setattr(concept_cache, "__file__", str(fake / "concept_cache.py"))
    concept_cache.code_fingerprint.cache_clear()
    try:
        assert concept_cache.code_fingerprint() != before
    finally:
        monkeypatch.undo()
        concept_cache.code_fingerprint.cache_clear()
    assert concept_cache.code_fingerprint() == before


def test_env_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FITREP_CONCEPT_CACHE", "")
    assert RulesExtractor().cache is None


def test_pictures_are_not_cached(tmp_path: Path) -> None:
    """A picture item's words come from OCR and its pixel features are recomputed."""
    image = tmp_path / "p.png"
    Image.new("RGB", (64, 48), (200, 40, 40)).save(image)
    extractor = RulesExtractor(cache_path=tmp_path / "c.sqlite", ocr="off")
    item = Item("p", "some product 500 ml", image=image)
    extractor.extract([item])
    extractor.extract([item])
    assert extractor.cache_hits == 0


def test_an_unusable_cache_file_is_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A cache only saves time: a path that cannot hold one leaves the backend without it."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache's folder would be")
    extractor = RulesExtractor(cache_path=blocker / "c.sqlite")
    assert extractor.cache is None and "concept cache" in caplog.text
    assert extractor.extract([Item("a", "Kestor olive oil 500 ml")])[0].levels


def test_stats_report_the_cache_before_it_holds_anything(tmp_path: Path) -> None:
    """An empty cache (nothing in memory yet) still reports its hits: 0, not missing."""
    assert RulesExtractor(cache_path=tmp_path / "c.sqlite").stats()["concept_cache_hits"] == 0
    assert "concept_cache_hits" not in RulesExtractor(cache_path="").stats()
