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
    read = read_catalogue(path, skip_bad=True)
    assert [it.id for it in read.items] == ["a", "d"]
    assert [str(e).split(": ")[0] for e in read.skipped] == [f"{path}:{n}" for n in (2, 3, 4)]
    csv_path = tmp_path / "c.csv"
    csv_path.write_text("id,title\n1,ok\n2," + "x" * 200_000 + "\n3,fine\n")  # a runaway field
    with pytest.raises(CatalogueError, match=rf"^{csv_path}:3: malformed CSV: field larger"):
        read_items(csv_path)
    read = read_catalogue(csv_path, skip_bad=True)
    assert [it.id for it in read.items] == ["1", "3"] and len(read.skipped) == 1


def test_unreadable_images_stop_with_the_item_or_drop_the_image(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Under --skip-bad an item whose only fault is its image is kept without it (#17)."""
    (tmp_path / "ok.png").write_bytes(png())
    (tmp_path / "bad.png").write_bytes(corrupt_png())
    path = tmp_path / "c.jsonl"
    rows = [
        {"id": "a", "image": "ok.png"},
        {"id": "b", "image": "bad.png"},
        {"id": "c", "title": "Oatly oat drink 1 l", "image": "bad.png"},
        {"id": "d", "title": "Oatly oat drink 1 l", "image": "missing.png"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows[:3]))
    with pytest.raises(InvalidInput, match=rf"{path}:2: item .b. image .*bad\.png: corrupt image"):
        load_items(path, "utf-8")
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(InvalidInput, match=rf"{path}:4: image file not found: .*missing\.png"):
        load_items(path, "utf-8")
    read = load_items(path, "utf-8", skip_bad=True, image_bytes=True)
    assert [it.id for it in read.items] == ["a", "c", "d"] and read.items[0].image == png()
    assert read.items[1].image is None and read.items[2].image is None
    assert [(e.field, e.item_id) for e in read.dropped_images] == [
        (f"{path}:4", "d"),  # missing: found by the reader
        (f"{path}:2", "b"),
        (f"{path}:3", "c"),
    ]
    ((skipped,),) = [read.skipped]  # b had nothing but its image
    assert skipped.to_json() == {
        "line": f"{path}:2",
        "id": "b",
        "reason": "item 'b' has no readable text (no letter or digit) and no image",
    }
    err = " ".join(capsys.readouterr().err.split())
    assert "skipped 1 bad line(s)" in err and "kept 3 item(s) without their unreadable image" in err


@pytest.mark.parametrize(
    "title", ["\U0001f600\U0001f389", "\u200b\u200c\u2060", "\u2728 \u2764\ufe0f", "  "]
)
def test_a_title_without_letters_or_digits_is_a_bad_line(tmp_path: Path, title: str) -> None:
    path = tmp_path / "c.jsonl"
    rows = [{"id": "a", "title": "Canon PIXMA MX700"}, {"id": "e", "title": title}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(CatalogueError, match=rf"^{path}:2: item 'e' has no") as err:
        read_items(path)
    assert err.value.item_id == "e"
    read = read_catalogue(path, skip_bad=True)
    assert [it.id for it in read.items] == ["a"] and read.skipped[0].item_id == "e"
    assert [it.id for it in read_items_ok(path, title)] == ["a", "e"]


def read_items_ok(path: Path, title: str) -> list:  # type: ignore[type-arg]
    """The same line with a digit in it, or an image beside it, is readable."""
    (path.parent / "i.png").write_bytes(png())
    rows = [
        {"id": "a", "title": "Canon PIXMA MX700"},
        {"id": "e", "title": title, "image": "i.png"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return read_items(path)


def test_dedup_skips_an_emoji_line_and_lists_every_skipped_line(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "title": "Canon PIXMA MX700 all-in-one printer"},
        {"id": "b", "title": "\U0001f600\U0001f600"},
        {"id": "c", "title": "canon pixma mx700 multifunction printer"},
        {"id": "d", "title": "\u200b"},
        {"id": "e", "title": "Epson T0441 ink", "image": "gone.png"},
    ]
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "not json\n")
    runner = CliRunner()
    out = tmp_path / "run"
    stopped = runner.invoke(app, ["dedup", str(path), "--out", str(out), "--no-progress"])
    assert f"{path}:2: item 'b' has no readable text" in _one_line_error(stopped)
    result = runner.invoke(
        app, ["dedup", str(path), "--out", str(out), "--no-progress", "--skip-bad"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["items"] == 3
    assert [(s["line"], s["id"]) for s in summary["skipped"]] == [
        (f"{path}:2", "b"),
        (f"{path}:4", "d"),
        (f"{path}:6", None),
    ]
    assert [(s["line"], s["id"]) for s in summary["images_dropped"]] == [(f"{path}:5", "e")]
