"""`fitrep match` and `fitrep calibrate` on tiny in-code pair files."""

from __future__ import annotations

import json

from fitrep.cli import app
from typer.testing import CliRunner

_OFFERS = [
    ("canon pixma mx700 all-in-one printer", "canon pixma mx700 multifunction printer"),
    ("epson t0441 black ink cartridge", "epson t0442 cyan ink cartridge"),
    ("sony dsc-w120 digital camera silver", "sony cybershot dsc-w120 7.2mp camera"),
    ("lg 42lg60 42 inch lcd tv", "samsung ln46a650 46 inch lcd tv"),
]


def _side(title: str) -> str:
    return f"COL name VAL {title} COL description VAL  COL price VAL 10"


def test_match_writes_one_line_per_pair_in_order_without_reading_labels(tmp_path):
    path = tmp_path / "pairs.txt"
    # labels deliberately wrong: they must not be read
    path.write_text("".join(f"{_side(a)}\t{_side(b)}\t9\n" for a, b in _OFFERS))
    out = tmp_path / "decisions.jsonl"
    result = CliRunner().invoke(app, ["match", str(path), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["line"] for x in lines] == [0, 1, 2, 3]
    assert all(set(x) == {"line", "score", "duplicate"} for x in lines)
    assert lines[0]["score"] > lines[1]["score"]  # same model vs conflicting codes


def test_calibrate_writes_a_loadable_calibration(tmp_path):
    from index_server.scoring.calibration import Calibration

    path = tmp_path / "train.txt"
    rows = []
    for i in range(12):
        a, b = _OFFERS[i % 4]
        rows.append(f"{_side(a)} {i}\t{_side(a)} {i}\t1\n")
        rows.append(f"{_side(a)} {i}\t{_side(b)} x{i}\t0\n")
    path.write_text("".join(rows))
    out = tmp_path / "cal.json"
    result = CliRunner().invoke(app, ["calibrate", str(path), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    cal = Calibration.load(out)
    assert 0.0 < cal.threshold < 1.0 and cal.notes["pairs"] == 24
