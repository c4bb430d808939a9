"""What a new user tripped over (#24): every CLI message is one line whatever the terminal, a
skip-bad run that skips everything says why, ``--representative column:NAME`` names a column
that exists, ``fitrep calibrate`` never overwrites the shipped calibration by default."""

from __future__ import annotations

import importlib
import json
import pkgutil
from pathlib import Path

import fitrep.cli
from fitrep.cli import app
from rich.console import Console
from typer.testing import CliRunner


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def test_an_error_is_one_line_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    """Rich assumes 80 columns for a pipe or a file: the line broke before `no image`."""
    path = _write(tmp_path / "catalogue.jsonl", [{"id": "emoji-only", "title": "🙂🙂"}])
    result = CliRunner().invoke(
        app, ["dedup", str(path), "--out", str(tmp_path / "run"), "--no-progress"]
    )
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ") and len(lines[0]) > 80
    assert lines[0].endswith("has no readable text (no letter or digit) and no image")


def test_a_warning_is_one_line_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    rows = [{"id": "ok", "title": "Oatly oat drink 1 l"}, {"id": "bad", "title": "🙂"}]
    path = _write(tmp_path / "catalogue-with-one-unreadable-title.jsonl", rows)
    result = CliRunner().invoke(
        app, ["dedup", str(path), "--out", str(tmp_path / "run"), "--no-progress", "--skip-bad"]
    )
    assert result.exit_code == 0, result.output
    (warning,) = [ln for ln in result.output.splitlines() if ln.startswith("warning:")]
    assert warning.endswith("and no image") and len(warning) > 80


def test_every_cli_console_soft_wraps() -> None:
    """Each module's consoles (errors, warnings, progress, summaries, explain's results)."""
    consoles = []
    for info in pkgutil.iter_modules(fitrep.cli.__path__):
        module = importlib.import_module(f"fitrep.cli.{info.name}")
        consoles += [v for v in vars(module).values() if isinstance(v, Console)]
    assert len(consoles) >= 5
    assert all(c.soft_wrap for c in consoles)


def test_a_broken_json_line_names_the_column_where_it_breaks(tmp_path: Path) -> None:
    """A line cut short broke at its end, not at `(column 1)` of the line the newline opens."""
    from fitrep.readers import CatalogueError, read_items

    cut = '{"id": "b", "title": "Oatly"'
    path = tmp_path / "c.jsonl"
    path.write_text('{"id": "a", "title": "ok"}\n' + cut + "\n" + '{"id": "c", "title": "x"}\r\n')
    try:
        read_items(path)
    except CatalogueError as exc:
        assert str(exc) == (
            f"{path}:2: invalid JSON: Expecting ',' delimiter (column {len(cut) + 1})"
        )
    else:
        raise AssertionError("the cut line was read")
    path.write_text('{"id": "a", "title": }\r\n')
    try:
        read_items(path)
    except CatalogueError as exc:
        assert str(exc).endswith("(column 22)")


def test_skip_bad_that_skips_every_line_says_so_and_why(tmp_path: Path) -> None:
    """A latin-1 CSV read as UTF-8 under --skip-bad printed only `no items`."""
    path = tmp_path / "c.csv"
    path.write_bytes("id,title\n1,Café crème\n2,Crème brûlée\n".encode("latin-1"))
    result = CliRunner().invoke(
        app, ["dedup", str(path), "--out", str(tmp_path / "run"), "--no-progress", "--skip-bad"]
    )
    assert result.exit_code == 2
    (line,) = result.output.splitlines()
    assert line.startswith(f"error: {path}: no items: every line was skipped as bad (2 line(s))")
    assert "2 of them not valid in the encoding: pass --encoding (e.g. --encoding latin-1)" in line
    assert f"first: {path}:2: not valid utf-8 (byte 0xe9 at column 6)" in line


def test_representative_column_must_name_a_column_of_numbers(tmp_path: Path) -> None:
    """`column:NOSUCH` and `column:brand` (no numbers) ranked every member alike, silently."""
    rows = [
        {"id": "a", "title": "Canon PIXMA MX700 printer", "price": "99", "brand": "Canon"},
        {"id": "b", "title": "canon pixma mx700 printer", "price": "129,90", "brand": "Canon"},
    ]
    path = _write(tmp_path / "cat.jsonl", rows)

    def error(spec: str) -> str:
        result = CliRunner().invoke(
            app, ["dedup", str(path), "--out", str(tmp_path / "run"), "--no-progress",
                  "--representative", spec],
        )  # fmt: skip
        assert result.exit_code == 2, result.output
        (line,) = result.output.splitlines()
        return line

    assert error("column:NOSUCH") == (
        f"error: --representative: {path} has no column 'nosuch'; columns with numbers: price "
        "(other columns: brand)"
    )
    assert error("column:brand").startswith(
        f"error: --representative: column 'brand' of {path} holds no number; columns with "
        "numbers: price"
    )
    assert error("column:title") == (
        "error: --representative: 'title' is an item field, not a column of numbers"
    )
    assert not (tmp_path / "run").exists()


def test_serve_refuses_an_item_field_as_the_rank_column() -> None:
    """Its columns arrive with the items, so only names that can never be a column are known
    wrong up front; it refuses them before starting anything."""
    result = CliRunner().invoke(app, ["serve", "--representative", "column:Title"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: --representative: 'title' is an item field, not a column of numbers"
    )


def test_calibrate_writes_into_the_current_directory_by_default(
    tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """The default was the shipped index_server/scoring/calibration.json: run in a checkout,
    it overwrote the calibration every other command loads."""
    from tests.unit.test_cli_quality import _OFFERS, _side

    rows = []
    for i in range(12):
        a, b = _OFFERS[i % 4]
        rows += [f"{_side(a)} {i}\t{_side(a)} {i}\t1\n", f"{_side(a)} {i}\t{_side(b)} x{i}\t0\n"]
    (tmp_path / "train.txt").write_text("".join(rows))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["calibrate", "train.txt", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith("-> calibration.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calibration.json", "train.txt"]


def test_help_names_arguments_in_capitals_and_no_internal_module() -> None:
    """typer wrote `Usage: fitrep dedup [OPTIONS] {file}`; the dedup help named fitrep.run_dir
    and lost `[ocr]` to rich markup (`the  extra is installed`)."""
    runner = CliRunner(env={"COLUMNS": "250"})
    usages = {
        "dedup": "FILE",
        "assign": "FILE",
        "explain": "ITEM_A ITEM_B",
        "label": "RUN",
        "match": "PAIRS_FILE",
        "calibrate": "PAIRS_FILE...",
        "serve": "",
    }
    for command, arguments in usages.items():
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0, result.output
        usage = f"Usage: fitrep {command} [OPTIONS] {arguments}".rstrip()
        assert usage + " " in result.output, command
        assert "{" not in result.output and "fitrep.run_dir" not in result.output, command
    dedup = runner.invoke(app, ["dedup", "--help"]).output
    assert "the ocr extra is installed" in " ".join(dedup.split())
