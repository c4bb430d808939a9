"""CLI input: one clear line for a directory input or a file as --out, BOM CSVs, bad lines
named by number or skipped with a count, unreadable images never dropped silently."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fitrep.cli import app
from fitrep.cli.inputs import load_items
from fitrep.domain import InvalidInput
from fitrep.readers import CatalogueError, read_catalogue, read_items
from typer.testing import CliRunner

from tests.unit.test_image_intake import corrupt_png, png


def _one_line_error(result) -> str:  # type: ignore[no-untyped-def]
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    text = " ".join(result.output.split())
    assert text.startswith("error: ")
    return text


def test_directory_input_and_file_as_out_are_one_clear_line(tmp_path: Path) -> None:
    runner = CliRunner()
    text = _one_line_error(runner.invoke(app, ["dedup", str(tmp_path), "--no-progress"]))
    assert "is a directory" in text
    catalogue = tmp_path / "c.jsonl"
    catalogue.write_text(json.dumps({"id": "a", "title": "x"}) + "\n")
    (tmp_path / "taken").write_text("a file")
    for cmd in (["dedup"], ["assign"]):
        result = runner.invoke(app, [*cmd, str(catalogue), "--out", str(tmp_path / "taken")])
        assert "taken is a file; give a directory" in _one_line_error(result)


def test_csv_with_a_utf8_bom_has_its_id_column(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes("id,title\n1,Widget\n".encode("utf-8-sig"))
    (item,) = read_items(path)
    assert item.id == "1" and item.title == "Widget"
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_bytes(('{"id": "2", "title": "x"}\n').encode("utf-8-sig"))
    assert read_items(jsonl)[0].id == "2"


def test_bad_lines_are_named_or_skipped_with_a_count(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_bytes(
        b'{"id": "a", "title": "ok"}\n{"id": "b", "title": \n[1, 2]\n'
        b'{"id": "c", "title": "caf\xe9"}\n{"id": "d", "title": "fine"}\n'
    )
    with pytest.raises(CatalogueError, match=rf"^{path}:2: invalid JSON"):
        read_items(path)
    items, skipped = read_catalogue(path, skip_bad=True)
    assert [it.id for it in items] == ["a", "d"]
    assert [str(e).split(": ")[0] for e in skipped] == [f"{path}:{n}" for n in (2, 3, 4)]
    csv_path = tmp_path / "c.csv"
    csv_path.write_text("id,title\n1,ok\n2," + "x" * 200_000 + "\n3,fine\n")  # a runaway field
    with pytest.raises(CatalogueError, match=rf"^{csv_path}:3: malformed CSV: field larger"):
        read_items(csv_path)
    items, skipped = read_catalogue(csv_path, skip_bad=True)
    assert [it.id for it in items] == ["1", "3"] and len(skipped) == 1


def test_unreadable_images_stop_with_the_item_or_are_skipped(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "ok.png").write_bytes(png())
    (tmp_path / "bad.png").write_bytes(corrupt_png())
    path = tmp_path / "c.jsonl"
    rows = [{"id": "a", "image": "ok.png"}, {"id": "b", "image": "bad.png"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(InvalidInput, match=r"item .b. image .*bad\.png: corrupt image"):
        load_items(path, "utf-8")
    items = load_items(path, "utf-8", skip_bad=True, image_bytes=True)
    assert [it.id for it in items] == ["a"] and items[0].image == png()
    assert "skipped 1 bad line(s) or image(s)" in " ".join(capsys.readouterr().err.split())
