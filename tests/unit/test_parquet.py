"""Parquet in and out (#26): a .parquet catalogue reads under the same column rules as jsonl
and CSV (errors name the row, --skip-bad, ids, images), a row group at a time; --format parquet
writes clusters.parquet beside clusters.jsonl."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fitrep.cli import app
from fitrep.cli.inputs import load_items
from fitrep.domain import InvalidInput
from fitrep.parquet_io import parquet_records
from fitrep.readers import CatalogueError, read_catalogue
from typer.testing import CliRunner

from tests.unit.test_image_intake import corrupt_png, png

ROWS = [
    {"id": "a", "title": "Canon PIXMA MX700 all-in-one printer", "price": "99"},
    {"id": "b", "title": "canon pixma mx700 multifunction printer", "description": "print scan"},
    {"id": "c", "title": "Epson T0441 black ink cartridge", "price": "12.5"},
    {"id": "d", "title": "Epson T0442 cyan ink cartridge"},
    {"id": "e", "title": "Epson T0441 black ink cartridge genuine", "price": "13"},
]


def _parquet(path: Path, rows: list[dict[str, object]], **kwargs: object) -> Path:
    """Every key of any row is a column (``from_pylist`` takes the first row's keys only)."""
    names = list(dict.fromkeys(k for r in rows for k in r))
    pq.write_table(pa.table({k: [r.get(k) for r in rows] for k in names}), path, **kwargs)
    return path


def _dedup(catalogue: Path, out: Path, *extra: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(
        app, ["dedup", str(catalogue), "--out", str(out), "--no-progress", *extra]
    )
    assert result.exit_code == 0, result.output
    return [json.loads(x) for x in (out / "clusters.jsonl").read_text().splitlines()]


def test_a_parquet_catalogue_gives_the_jsonl_decisions_and_clusters_parquet_the_same_records(
    tmp_path: Path,
) -> None:
    jsonl = tmp_path / "cat.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    from_jsonl = _dedup(jsonl, tmp_path / "j")
    parquet = _parquet(tmp_path / "cat.parquet", ROWS, row_group_size=2)
    from_parquet = _dedup(parquet, tmp_path / "p", "--format", "parquet")
    assert from_parquet == from_jsonl
    assert len({r["cluster_id"] for r in from_jsonl}) < len(ROWS)  # some duplicates were found
    table = pq.read_table(tmp_path / "p" / "clusters.parquet")
    assert table.column_names == list(from_jsonl[0])
    back = table.to_pylist()
    for row in back:  # a level absent from an item is a null field of the struct
        row["per_level"] = {k: v for k, v in row["per_level"].items() if v is not None}
    assert back == from_parquet
    assert not (tmp_path / "j" / "clusters.parquet").exists()  # only with --format parquet


def test_a_bad_row_is_named_or_skipped(tmp_path: Path) -> None:
    rows = [ROWS[0], {"id": None, "title": "no id"}, {"id": "a", "title": "again"}, ROWS[3]]
    path = _parquet(tmp_path / "cat.parquet", rows)
    with pytest.raises(CatalogueError, match=rf"^{path} row 2: missing 'id'$"):
        read_catalogue(path)
    read = read_catalogue(path, skip_bad=True)
    assert [it.id for it in read.items] == ["a", "d"]
    assert [str(e) for e in read.skipped] == [
        f"{path} row 2: missing 'id'",
        f"{path} row 3: duplicate id 'a' (first at {path} row 1)",
    ]
    assert read.lines == {"a": f"{path} row 1", "d": f"{path} row 4"}
    result = CliRunner().invoke(app, ["dedup", str(path), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert result.output.splitlines() == [f"error: {path} row 2: missing 'id'"]
    no_id = _parquet(tmp_path / "no-id.parquet", [{"sku": "1", "title": "x"}])
    with pytest.raises(CatalogueError, match="the schema must have an 'id' column; its columns"):
        read_catalogue(no_id)
    not_parquet = tmp_path / "fake.parquet"
    not_parquet.write_text("id,title\n1,x\n")
    with pytest.raises(CatalogueError, match=rf"^{not_parquet}: not a readable Parquet file"):
        read_catalogue(not_parquet)


def test_types_ids_and_images_follow_the_column_rules(tmp_path: Path) -> None:
    """Ids and numbers become text; lists are no attribute; an image is a path relative to
    the file or, in a binary column, the image itself, checked like a file's."""
    (tmp_path / "ok.png").write_bytes(png())
    paths = _parquet(tmp_path / "paths.parquet", [{"id": 7, "title": "Oat", "image": "ok.png"}])
    (item,) = read_catalogue(paths).items
    assert item.id == "7" and item.image == tmp_path / "ok.png"
    rows = [
        {"id": 8, "title": "Oatly oat drink 1 l", "image": png(), "price": 1.5, "tags": ["x"]},
        {"id": 9, "title": "Alpro soya 1 l", "image": corrupt_png(), "price": None, "tags": []},
    ]
    path = _parquet(tmp_path / "cat.parquet", rows)
    items = read_catalogue(path).items
    assert [it.id for it in items] == ["8", "9"]
    assert items[0].image == png() and items[0].attributes == {"price": "1.5"}
    assert items[1].attributes == {}
    with pytest.raises(InvalidInput, match=rf"{path} row 2: item .9. image \(\d+ bytes\)"):
        load_items(path, "utf-8")
    kept = load_items(path, "utf-8", skip_bad=True)
    assert [it.image is None for it in kept.items] == [False, True]
    struct = [{"id": "s", "title": "Oat", "image": {"bytes": png(), "path": "x.png"}}]
    assert read_catalogue(_parquet(tmp_path / "hf.parquet", struct)).items[0].image == png()


def _no_bad_rows(error: CatalogueError) -> None:
    raise error


def test_a_multi_row_group_file_streams_a_batch_at_a_time(tmp_path: Path) -> None:
    """Arrow never holds the whole table: its memory stays near one batch of rows."""
    rng = random.Random(7)
    n, width = 4000, 2000  # ~8 MB of incompressible text
    rows = [
        {"id": str(i), "title": "".join(rng.choices(string.ascii_letters, k=width))}
        for i in range(n)
    ]
    path = _parquet(tmp_path / "big.parquet", rows, row_group_size=100)
    del rows
    assert pq.ParquetFile(path).metadata.num_row_groups == 40
    before, peak, seen = pa.total_allocated_bytes(), 0, []
    for where, record in parquet_records(path, _no_bad_rows, batch_rows=100):
        seen.append((where, record["id"]))
        peak = max(peak, pa.total_allocated_bytes() - before)
    assert seen == [(f"{path} row {i + 1}", str(i)) for i in range(n)]
    assert peak < n * width / 8, peak  # a whole-table read allocates all 8 MB
    assert [it.id for it in read_catalogue(path).items] == [str(i) for i in range(n)]


def test_a_row_group_that_cannot_be_decoded_is_named_or_skipped(tmp_path: Path) -> None:
    path = _parquet(
        tmp_path / "cat.parquet",
        [{"id": str(i), "title": f"item number {i} " * 5} for i in range(300)],
        row_group_size=100,
    )
    data = bytearray(path.read_bytes())
    start = pq.ParquetFile(path).metadata.row_group(1).column(1).data_page_offset
    data[start + 40 : start + 200] = b"\xff" * 160  # the second group's title page header
    path.write_bytes(bytes(data))
    with pytest.raises(CatalogueError) as error:
        read_catalogue(path)
    assert str(error.value).startswith(
        f"{path} row 101: row group 2 cannot be decoded from this row on ("
    )
    assert "\n" not in str(error.value)
    read = read_catalogue(path, skip_bad=True)
    assert [it.id for it in read.items] == [str(i) for i in (*range(100), *range(200, 300))]
    assert read.lines["200"] == f"{path} row 201"
