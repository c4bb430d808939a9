"""report.html: one self-contained file; clusters largest first; thumbnails; filter; charts."""

from __future__ import annotations

import base64
import io
import json
import re
import shlex
from pathlib import Path

import pytest
from fitrep.domain import Assignment, Explanation, GateResult, Item, Level, LevelScore
from fitrep.report import explain_pairs, write_report
from fitrep.report.charts import size_bins
from PIL import Image


def _photo(path: Path, colour: tuple[int, int, int]) -> Path:
    Image.new("RGB", (640, 480), colour).save(path, "JPEG")
    return path


def _explanation(a: str, b: str) -> Explanation:
    return Explanation(
        item_a=a,
        item_b=b,
        score=0.9,
        threshold=0.5,
        duplicate=True,
        per_level=[LevelScore(Level.PRIMARY, 0.95, 0.6, True)],
        gates=[GateResult("code_conflict", False), GateResult("edition_mismatch", True, "pro")],
        features={"cos_primary": 0.95, "token_jaccard": 0.8, "edition_mismatch": 1.0},
    )


@pytest.fixture
def run(tmp_path: Path) -> tuple[Path, dict[str, object], str]:
    """Clusters of 1, 3 and 2 items (in that arrival order), two photos and a broken image."""
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    items = [
        Item(id="solo", title="Lonely item"),
        Item(id="p1", title="Oat drink 1 l", image=_photo(tmp_path / "p1.jpg", (200, 180, 40))),
        Item(id="p2", title="Oat drink 1l", image=_photo(tmp_path / "p2.jpg", (190, 170, 50))),
        Item(id="p3", title="Oat drink </script><b>x</b>", image=broken),
        Item(id="q1", title="Canon PIXMA MX700", attributes={"price": "99"}),
        Item(id="q2", title="canon pixma mx700 printer"),
    ]
    levels = {Level.PRIMARY: 0.95, Level.VISUAL: 0.8}
    assignments = [
        Assignment("solo", "c1", similarity=0.1),
        Assignment("p1", "c2"),
        Assignment("p2", "c2", "p1", 0.9, levels, False, 0.8),
        Assignment("p3", "c2", "p1", 0.7, levels, False, 0.6),
        Assignment("q1", "c3"),
        Assignment("q2", "c3", "q1", 0.85, {Level.PRIMARY: 0.9}, False, 0.7),
    ]
    explanations = explain_pairs(_explanation, assignments)
    summary = {"items": 6, "clusters": 3, "duplicates": 3, "threshold": 0.5, "backend": "rules"}
    path = write_report(
        tmp_path / "report.html", items, assignments, summary, None, explanations, tmp_path
    )
    page = path.read_text(encoding="utf-8")
    match = re.search(r"<script type='application/json' id='report-data'>(.*?)</script>", page)
    assert match is not None
    return tmp_path, json.loads(match.group(1)), page


def test_the_file_is_self_contained(run) -> None:
    _, _, page = run
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "<link" not in page and not re.search(r"<script[^>]+src=", page)
    assert "@import" not in page and "url(http" not in page


def test_clusters_are_sorted_by_size_largest_first(run) -> None:
    _, data, _ = run
    clusters = data["clusters"]
    assert [c["id"] for c in clusters] == ["c2", "c3", "c1"]
    assert [m["id"] for m in clusters[0]["members"]] == ["p1", "p2", "p3"]


def test_image_items_get_embedded_thumbnails_and_unreadable_ones_are_named(run) -> None:
    _, data, page = run
    members = {m["id"]: m for c in data["clusters"] for m in c["members"]}
    uri = members["p1"]["img"]
    assert uri.startswith("data:image/jpeg;base64,")
    thumb = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert max(thumb.size) == 96 and len(uri) < 8000
    assert members["p3"]["img"] == ""  # unreadable: no thumbnail, and the page says so
    assert "could not be read" in page and "p3" in page
    assert "img" not in members["q1"]  # no image at all


def test_filter_box_paging_and_histograms_are_present(run) -> None:
    _, _, page = run
    assert "id='filter'" in page and "id='next'" in page
    assert page.count("<svg class='chart'") == 2
    assert "Histogram of match scores" in page and "Histogram of cluster sizes" in page
    assert "threshold 0.50" in page


def test_a_joined_member_links_to_its_explanation(run) -> None:
    tmp_path, data, page = run
    p2 = data["clusters"][0]["members"][1]
    assert p2["via"] == "p1"
    assert data["run"] == shlex.quote(str(tmp_path))  # the page shows `fitrep explain p2 p1 --run`
    assert "fitrep explain ${shell(m.id)} ${shell(m.via)} --run ${data.run}" in page
    assert p2["explain"]["gates"] == [["edition_mismatch", "pro", False]]  # soft: no veto
    assert p2["explain"]["evidence"] == {"token_jaccard": 0.8}
    assert p2["levels"] == {"primary": 0.95, "visual": 0.8}
    assert "explain" not in data["clusters"][0]["members"][0]  # the first member joined nothing


def test_text_cannot_close_the_data_script(run) -> None:
    _, data, page = run
    assert "<b>x</b>" not in page
    assert data["clusters"][0]["members"][2]["title"] == "Oat drink </script><b>x</b>"


def test_size_bins_cover_every_size_once() -> None:
    bins = size_bins(45)
    assert bins[:3] == [(1, 1), (2, 2), (3, 3)] and bins[-1] == (40, 79)
    assert all(sum(lo <= s <= hi for lo, hi in bins) == 1 for s in range(1, 46))


def test_a_huge_field_is_shortened_on_the_page_with_a_note(tmp_path: Path) -> None:
    """A 5 MB title went into report.html whole (#24)."""
    huge = "Oat drink " * 500_000
    items = [
        Item(id="big", title=huge, attributes={"notes": "x" * 10_000, "price": "9"}),
        Item(id="ok", title="Oat drink 1 l"),
    ]
    assignments = [Assignment("big", "c1"), Assignment("ok", "c2")]
    page = write_report(tmp_path / "report.html", items, assignments, {"items": 2}).read_text()
    assert len(page) < 100_000
    match = re.search(r"<script type='application/json' id='report-data'>(.*?)</script>", page)
    assert match is not None
    members = {m["id"]: m for c in json.loads(match.group(1))["clusters"] for m in c["members"]}
    title, sub = members["big"]["title"], members["big"]["sub"]
    assert len(title) == 300 and title.endswith("…") and huge.startswith(title[:-1])
    assert sub.startswith("notes: xxx") and "…" in sub and sub.endswith("price: 9")
    assert members["ok"]["title"] == "Oat drink 1 l"
    assert "2 title(s) or column value(s) are longer than this page shows" in page


def test_a_level_weight_of_zero_is_explained(tmp_path: Path) -> None:
    items = [Item(id="a", title="Oat drink 1 l")]
    summary = {"items": 1, "level_weights": {"PRIMARY": 0.7, "CONTENT": 0.0, "FORM": 0.0}}
    page = write_report(tmp_path / "r.html", items, [Assignment("a", "c1")], summary).read_text()
    assert "Level weight 0 (content, form): in the calibration's fit" in page
    summary["level_weights"] = {"PRIMARY": 1.0}
    page = write_report(tmp_path / "r.html", items, [Assignment("a", "c1")], summary).read_text()
    assert "Level weight 0" not in page


def test_only_the_joins_the_page_shows_are_explained(tmp_path) -> None:
    """A big run explains the clusters on the page, not every joined pair (~1.6 ms each)."""
    items = [Item(id=f"i{n}", title=f"item {n}") for n in range(6)]
    assignments = [
        Assignment("i0", "c1"),
        Assignment("i1", "c1", "i0", 0.9, {}, False, 0.8),
        Assignment("i2", "c1", "i0", 0.9, {}, False, 0.8),
        Assignment("i3", "c2"),
        Assignment("i4", "c2", "i3", 0.9, {}, False, 0.8),
        Assignment("i5", "c3"),
    ]
    asked: list[tuple[str, str]] = []

    def explain(a: str, b: str) -> Explanation:
        asked.append((a, b))
        return _explanation(a, b)

    summary = {"items": 6, "clusters": 3, "duplicates": 3, "threshold": 0.5}
    write_report(tmp_path / "r.html", items, assignments, summary, max_clusters=1, explain=explain)
    assert asked == [("i1", "i0"), ("i2", "i0")]  # c2 is not on the page


def test_concepts_are_read_for_the_items_the_page_shows_only(tmp_path) -> None:
    """A run's concepts come from its index, one read an item: only for the items shown."""
    items = [Item(id=f"i{n}", title=f"item {n}") for n in range(6)]
    assignments = [
        Assignment("i0", "c1"),
        Assignment("i1", "c1", "i0", 0.9, {}, False, 0.8),
        Assignment("i2", "c2"),
        Assignment("i3", "c2", "i2", 0.9, {}, False, 0.8),
        Assignment("i4", "c3"),
        Assignment("i5", "c4"),
    ]
    asked: list[str] = []

    def concepts(item_id: str) -> dict[str, list[str]]:
        asked.append(item_id)
        return {"primary": [f"thing {item_id}"]} if item_id != "i1" else {}

    summary = {"items": 6, "clusters": 4, "duplicates": 2, "threshold": 0.5}
    path = write_report(
        tmp_path / "r.html", items, assignments, summary, concepts, max_clusters=1, max_singletons=1
    )
    assert asked == ["i0", "i1", "i4"]  # c2 and the second single item are not on the page
    page = path.read_text(encoding="utf-8")
    assert "thing i0" in page and "thing i4" in page and "thing i2" not in page
