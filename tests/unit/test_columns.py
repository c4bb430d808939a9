"""Column roles: inferred by name and by data, overridable, and listing columns never decide."""

from __future__ import annotations

import json

import pytest
from fitrep.column_names import role_by_name
from fitrep.columns import ColumnRole, ColumnRoles, infer_roles, parse_columns
from fitrep.domain import InvalidInput, Item
from fitrep.pipeline import Pipeline
from fitrep.synthetic import SyntheticCatalogue, multilingual

from tests.conftest import hash_embed

L, ID, T = ColumnRole.LISTING, ColumnRole.IDENTITY, ColumnRole.TEXT


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("price", L), ("Sale_Price", L), ("salePrice", L), ("Verkaufspreis", L), ("prix", L),
        ("precio", L), ("cena", L), ("价格", L), ("rating", L), ("Bewertung", L), ("hodnocení", L),
        ("评分", L), ("review_count", L), ("Lagerbestand", L), ("seller", L), ("url", L),
        ("brand_url", L), ("last_seen", L), ("shipping", L),
        ("brand", ID), ("Marke", ID), ("marque", ID), ("EAN", ID), ("mpn", ID), ("Farbe", ID),
        ("couleur", ID), ("talla", ID), ("velikost", ID), ("颜色", ID), ("capacity", ID),
        ("description", T), ("Beschreibung", T), ("popis", T), ("描述", T),
    ],
)  # fmt: skip
def test_role_by_name_in_several_languages(name, role):
    assert role_by_name(name) is not None
    assert role_by_name(name)[0] is role


def test_names_match_whole_words_only():
    assert role_by_name("caprice") is None  # "price" inside another word
    assert role_by_name("zz_abv") is None


def _offer(i: str, title: str, **columns: str) -> Item:
    return Item(i, title, attributes=columns)


def test_unknown_column_that_differs_among_one_titles_records_is_listing():
    items = [
        _offer("a1", "Kestor olive oil 1 l", zq="12.90", herkunft="italia"),
        _offer("a2", "Kestor olive oil 1 l", zq="13.40", herkunft="italia"),
        _offer("b1", "Lumex kettle 1.7 l", zq="29.00", herkunft="china"),
        _offer("b2", "lumex KETTLE 1.7 l", zq="31.50", herkunft="china"),
        _offer("c1", "Tavira tea 20 bags", zq="3.10", herkunft="india"),
    ]
    roles = infer_roles(items)
    assert roles.role("zq") is L
    assert "differ in 2 of 2" in roles.decision("zq").reason
    assert roles.role("herkunft") is ID  # agrees within each group: describes the product


def test_unknown_column_without_groups_stays_identity_and_prose_is_text():
    items = [
        _offer("a", "Kestor olive oil 1 l", zq="12.90", blurb=" ".join(["word"] * 40)),
        _offer("b", "Lumex kettle", zq="29.00", blurb=" ".join(["other"] * 40)),
    ]
    roles = infer_roles(items)
    assert roles.role("zq") is ID
    assert roles.role("blurb") is T


def test_repeated_categorical_values_that_differ_are_a_variant_not_the_listing():
    items = [
        _offer(f"{k}{n}", f"Basic tee {k}", ausf=colour)
        for k in "ab"
        for n, colour in enumerate(("navy", "beige", "navy"))
    ]
    assert infer_roles(items).role("ausf") is ID


def test_codes_group_records_too():
    items = [
        _offer("a", "Kestor olive oil", ean="4006381333931", qq="9.90"),
        _offer("b", "olive oil by Kestor 1l", ean="4006381333931", qq="10.90"),
        _offer("c", "Lumex kettle", ean="5012345678900", qq="30"),
        _offer("d", "Kettle LUMEX steel", ean="5012345678900", qq="28"),
    ]
    assert infer_roles(items).role("qq") is L


def test_override_wins_over_name_and_data():
    items = [_offer("a", "x", price="1"), _offer("b", "y", price="2")]
    roles = infer_roles(items, parse_columns("PRICE=identity"))
    assert roles.role("price") is ID
    assert roles.decision("price").reason == "set by --columns"


def test_parse_columns():
    assert parse_columns("price=listing, EAN = identity,,notes=ignore") == {
        "price": L,
        "ean": ID,
        "notes": ColumnRole.IGNORE,
    }
    assert parse_columns(["a=text", "b=listing"]) == {"a": T, "b": L}
    assert parse_columns(None) == {}


@pytest.mark.parametrize(
    ("spec", "named"),
    [("price=listing,rating", "'rating'"), ("price=cheap", "'price=cheap'"), ("=listing", "")],
)
def test_parse_columns_names_the_bad_entry(spec, named):
    with pytest.raises(InvalidInput) as err:
        parse_columns(spec)
    assert err.value.field == "--columns"
    assert named in str(err.value)
    assert "identity, listing, text, ignore" in str(err.value)


def test_identity_view_leaves_listing_and_ignored_columns_out():
    columns = {"price": "9", "brand": "Kestor", "uuid": "x1", "popis": "olej"}
    item = Item("a", "Kestor olive oil", "extra virgin", attributes=columns)
    view = ColumnRoles().identity_view(item)
    assert view.attributes == {"brand": "Kestor", "popis": "olej"}
    assert view.text == "extra virgin"  # a text column keeps its place when there is text ...
    view = ColumnRoles().identity_view(Item("b", "t", attributes={"popis": "olej"}))
    assert view.text == "olej"  # ... and stands in for an empty one
    assert item.attributes["price"] == "9"  # the item itself keeps every column


def _fast_pipeline() -> Pipeline:
    from index_server.engine import IndexEngine
    from mllm_server.chie.encoder import LevelEncoder
    from mllm_server.chie.engine import ConceptEngine
    from mllm_server.chie.rules import RulesExtractor

    concepts = ConceptEngine(RulesExtractor(), LevelEncoder(embed=hash_embed))
    return Pipeline(concepts, IndexEngine(None))


def _clusters(items: list[Item]) -> set[frozenset[str]]:
    pipeline = _fast_pipeline()
    try:
        groups: dict[str, set[str]] = {}
        for a in pipeline.dedup(items):
            groups.setdefault(a.cluster_id, set()).add(a.item_id)
        return {frozenset(g) for g in groups.values()}
    finally:
        pipeline.close()


def _items(rows: list[dict[str, object]]) -> list[Item]:
    """Generated rows as ``fitrep dedup`` reads them (column names lower-cased)."""
    out = []
    for row in rows:
        columns = {k.lower(): str(v) for k, v in row.items() if k not in ("id", "title")}
        out.append(Item(str(row["id"]), str(row["title"]), attributes=columns))
    return out


def test_listing_columns_do_not_change_a_decision():
    with_cols = multilingual.generate(3)
    without = multilingual.generate(3, listing_columns=False)
    assert len(with_cols.rows[0]) > len(without.rows[0])
    assert _clusters(_items(with_cols.rows)) == _clusters(_items(without.rows))


def test_a_brand_may_sell_several_product_types_of_one_axis():
    """``brand_types=2``: one brand's items in two families that share the variant axis (the
    negative a translated product word must be told from); the default is one type a brand."""

    def brand_families(cat: SyntheticCatalogue) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for row in cat.rows:
            product = str(row["id"]).split("-")[1]  # "3" or "3.1": the brand is the number
            out.setdefault(product.split(".")[0], set()).add(cat.family[str(row["id"])])
        return out

    assert all(len(f) == 1 for f in brand_families(multilingual.generate(5)).values())
    two = multilingual.generate(5, brand_types=2)
    assert max(len(f) for f in brand_families(two).values()) == 2
    for row in two.rows:  # a sku lies within its family
        item = str(row["id"])
        assert two.sku[item].startswith(two.family[item] + "-")
    held = [(("rice", "Reis", "riz", "arroz", "rýže", "大米"), "weight", [("1 kg",)], 3.0)]
    assert {
        str(r["title"]).lower().count("1 kg") for r in multilingual.generate(1, types=held).rows
    } == {1}


def test_listing_columns_stay_readable_for_the_representative(fast_items):
    pipeline = _fast_pipeline()
    try:
        out = pipeline.concepts.process([_offer("a", "Kestor olive oil 1 l", rating="4.5")])
    finally:
        pipeline.close()
    assert out[0].concepts.profile.numbers["rating"] == 4.5
    assert "rating" not in " ".join(out[0].concepts.anchors.fields)


def test_the_price_gap_reads_a_listing_price_in_any_language():
    pipeline = _fast_pipeline()
    try:
        process = pipeline.concepts.process
        listed = process([_offer("a", "Kestor olive oil 1 l", **{"Verkaufspreis": "12,90 €"})])
        assert listed[0].concepts.anchors.price == ("12.9",)
        assert "12" not in repr(listed[0].concepts.levels)  # never compared as words
        pipeline.concepts.columns = ColumnRoles(overrides={"verkaufspreis": ColumnRole.IGNORE})
        ignored = process([_offer("a", "Kestor olive oil 1 l", **{"Verkaufspreis": "12,90 €"})])
        assert ignored[0].concepts.anchors.price == ()
    finally:
        pipeline.close()


def test_cli_columns_flag_summary_and_bad_entry(tmp_path):

    from fitrep.cli import app
    from typer.testing import CliRunner

    rows = [
        {"id": "a", "title": "Canon PIXMA MX700 printer", "Bewertung": "4.5", "zq": "1"},
        {"id": "b", "title": "canon pixma mx700 printer", "Bewertung": "3.0", "zq": "2"},
    ]
    path = tmp_path / "cat.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "run"
    args = ["dedup", str(path), "--out", str(out), "--no-progress"]
    bad = CliRunner().invoke(app, [*args, "--columns", "zq=listing,bewertung=cheap"])
    assert bad.exit_code == 2
    assert "'bewertung=cheap'" in bad.output and "Traceback" not in bad.output
    ok = CliRunner().invoke(app, [*args, "--columns", "zq=ignore"])
    assert ok.exit_code == 0, ok.output
    columns = json.loads((out / "summary.json").read_text())["columns"]
    assert columns["bewertung"] == {"role": "listing", "reason": "name says 'bewertung'"}
    assert columns["zq"] == {"role": "ignore", "reason": "set by --columns"}
    assert "bewertung: listing" in (out / "report.html").read_text()
    clusters = [json.loads(x) for x in (out / "clusters.jsonl").read_text().splitlines()]
    assert clusters[0]["cluster_id"] == clusters[1]["cluster_id"]  # ratings differ: one item


def test_explain_lines_say_each_columns_role_and_use(tmp_path):
    from fitrep.columns import column_lines

    roles = infer_roles([_offer("a", "t", preis="9", bewertung="4", marke="x")])
    (tmp_path / "summary.json").write_text(json.dumps({"columns": roles.to_json()}))
    lines = column_lines(tmp_path / "summary.json")
    assert "column bewertung: listing (name says 'bewertung'); never evidence" in lines[0]
    assert "column marke: identity (name says 'marke')" == lines[1]
    assert lines[2].endswith("counts only as a price gap of 1.5x or more")
    assert column_lines(tmp_path / "missing.json") == []


def test_concept_server_flag(capsys):
    from mllm_server.config import config_from_args

    cfg = config_from_args(["--columns", "price=identity", "--columns", "zq=listing"])
    assert cfg.columns == {"price": ID, "zq": L}
    with pytest.raises(SystemExit) as err:
        config_from_args(["--columns", "price=free"])
    assert "'price=free'" in str(err.value)


def test_assign_sends_a_server_what_its_names_cannot_tell_it():
    items = [
        _offer("a1", "Kestor olive oil 1 l", zq="12.90", price="13", brand="Kestor"),
        _offer("a2", "Kestor olive oil 1 l", zq="13.40", price="14", brand="Kestor"),
        _offer("b1", "Lumex kettle", zq="29.00", price="30", brand="Lumex"),
        _offer("b2", "lumex kettle", zq="31.50", price="31", brand="Lumex"),
    ]
    roles = infer_roles(items)
    assert roles.role("zq") is L  # by the data: a server alone would compare it
    sent = roles.wire_view(items[0])
    # price stays: the server knows it by name, and reads it for the profile and price gap
    assert sent.attributes == {"price": "13", "brand": "Kestor"}
