"""`fitrep dedup`: the embedded default writes one line per item, a report and a summary."""

from __future__ import annotations

import json

from fitrep.cli import app
from typer.testing import CliRunner


def _write_catalogue(path, items):
    path.write_text("".join(json.dumps(r) + "\n" for r in items), encoding="utf-8")


def test_dedup_writes_clusters_for_every_item_and_a_report(tmp_path):
    rows = [
        {"id": "a", "title": "Canon PIXMA MX700 all-in-one printer", "price": "99"},
        {
            "id": "b",
            "title": "canon pixma mx700 multifunction printer",
            "description": "print scan copy fax",
        },
        {"id": "c", "title": "Epson T0441 black ink cartridge"},
        {"id": "d", "title": "Epson T0442 cyan ink cartridge"},
    ]
    _write_catalogue(tmp_path / "cat.jsonl", rows)
    result = CliRunner().invoke(
        app, ["dedup", str(tmp_path / "cat.jsonl"), "--out", str(tmp_path / "run"), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in (tmp_path / "run" / "clusters.jsonl").read_text().splitlines()]
    assert [x["id"] for x in lines] == ["a", "b", "c", "d"]
    by_id = {x["id"]: x["cluster_id"] for x in lines}
    assert by_id["c"] != by_id["d"]  # black vs cyan cartridge: variants, not duplicates
    assert "FITRep dedup report" in (tmp_path / "run" / "report.html").read_text()
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["items"] == 4


def test_non_utf8_input_is_one_clear_line(tmp_path):
    path = tmp_path / "cat.csv"
    path.write_bytes("id,title\n1,caf\xe9\n".encode("latin-1"))
    result = CliRunner().invoke(
        app, ["dedup", str(path), "--out", str(tmp_path / "run"), "--no-progress"]
    )
    assert result.exit_code == 2
    assert "cat.csv:2" in result.output and "--encoding" in result.output
    assert "Traceback" not in result.output
    ok = CliRunner().invoke(
        app,
        [
            "dedup",
            str(path),
            "--encoding",
            "latin-1",
            "--out",
            str(tmp_path / "run"),
            "--no-progress",
        ],
    )
    assert ok.exit_code == 0, ok.output


def test_dedup_names_a_representative_per_cluster_by_the_chosen_policy(tmp_path):
    """#20: representative_id in clusters.jsonl and the report; `first` unless told otherwise."""
    rows = [
        {"id": "a", "title": "Canon PIXMA MX700 all-in-one printer", "price": "99"},
        {"id": "b", "title": "canon pixma mx700 all-in-one printer", "price": "129,90"},
        {"id": "c", "title": "Epson T0441 black ink cartridge"},
    ]
    _write_catalogue(tmp_path / "cat.jsonl", rows)

    def run(*extra):
        out = tmp_path / "run"
        result = CliRunner().invoke(
            app, ["dedup", str(tmp_path / "cat.jsonl"), "--out", str(out), "--no-progress", *extra]
        )
        assert result.exit_code == 0, result.output
        lines = [json.loads(x) for x in (out / "clusters.jsonl").read_text().splitlines()]
        return {x["id"]: x for x in lines}, (out / "report.html").read_text()

    first, report = run()
    assert first["a"]["cluster_id"] == first["b"]["cluster_id"]
    assert first["a"]["representative_id"] == first["b"]["representative_id"] == "a"
    assert first["c"]["representative_id"] == "c"
    assert '"rep":"a"' in report  # the page marks it
    by_price, _ = run("--representative", "column:price")
    assert by_price["a"]["representative_id"] == by_price["b"]["representative_id"] == "b"
    bad = CliRunner().invoke(
        app, ["dedup", str(tmp_path / "cat.jsonl"), "--representative", "cheapest"]
    )
    assert bad.exit_code == 2 and "--representative: 'cheapest' is not one of" in bad.output
