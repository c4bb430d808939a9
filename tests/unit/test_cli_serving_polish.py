"""Serving polish (#20): `fitrep serve` passes --metrics-port, --image-root and
--representative to the servers; help texts and summary lines do not break mid-sentence or
mid-number; reported cosines stay in [-1, 1]."""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
from pathlib import Path

import pytest
from fitrep.cli import app, unwrap_paragraphs
from typer.testing import CliRunner

from index_server.engine import IndexEngine


def test_serve_passes_metrics_port_image_root_and_representative(tmp_path: Path, monkeypatch):
    from fitrep.launch import LocalServers

    seen: dict[str, object] = {}

    def start(self, data_dir, backend, options, **kwargs):  # type: ignore[no-untyped-def]
        seen.update(kwargs)
        return self

    def healthy(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt  # Ctrl-C right away: serve stops what it started

    monkeypatch.setattr(LocalServers, "start", start)
    monkeypatch.setattr(LocalServers, "wait_healthy", healthy)
    args = ["serve", "--data-dir", str(tmp_path / "d"), "--metrics-port", "9100"]
    args += ["--image-root", str(tmp_path), "--representative", "column:price"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert seen["concept_args"] == ["--metrics-port", "9100", "--image-root", str(tmp_path)]
    assert seen["index_args"] == ["--representative", "column:price", "--metrics-port", "9101"]
    bad = CliRunner().invoke(app, ["serve", "--image-root", str(tmp_path / "nope")])
    assert bad.exit_code == 2 and "--image-root" in bad.output and "Traceback" not in bad.output
    bad = CliRunner().invoke(app, ["serve", "--representative", "best"])
    assert bad.exit_code == 2 and "first, most-complete, column:NAME" in bad.output


def test_help_texts_keep_each_sentence_on_one_line() -> None:
    """Docstrings are wrapped at 100 columns in the source; on screen a paragraph must flow
    as one, not break where the source line ended."""
    runner = CliRunner()
    for command in app.registered_commands:
        name = command.name or command.callback.__name__
        doc = inspect.getdoc(command.callback) or ""
        result = runner.invoke(app, [name, "--help"], terminal_width=400, env={"COLUMNS": "400"})
        assert result.exit_code == 0, result.output
        shown = " ".join(line.strip(" │") for line in result.output.splitlines())
        for paragraph in unwrap_paragraphs(doc).split("\n\n"):
            assert paragraph in result.output, (name, paragraph, shown[:300])


def test_the_dedup_summary_line_never_breaks_inside_a_number(tmp_path: Path) -> None:
    rows = [{"id": str(i), "title": f"Widget model W{1000 + i} steel"} for i in range(12)]
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = CliRunner().invoke(
        app,
        ["dedup", str(path), "--out", str(tmp_path / "run"), "--no-progress"],
        env={"COLUMNS": "30"},
    )
    assert result.exit_code == 0, result.output
    summary = next(line for line in result.output.splitlines() if "items ->" in line)
    numbers = r"^12 items -> \d+ clusters in \d+ families, \d+ duplicates found "
    assert re.search(numbers + r"\(largest cluster \d+\) in \d+\.\d s$", summary), summary


def test_reported_cosines_stay_within_minus_one_and_one(fast_items) -> None:
    """float16 vectors give a cosine a hair past 1 (a vector against its own copy); what is
    reported, in assignments and in explain, is clipped to what a cosine can be."""
    from fitrep.domain import EmbeddedItem, Level, LevelEmbeddings

    from index_server.clustering.decision_log import DecisionLog

    log = DecisionLog(["a"])
    log.record(1, -1, 0.9, 0.9, False, {Level.PRIMARY: 1.0004, Level.CONTENT: -1.2})
    assert log[0].per_level == {Level.PRIMARY: 1.0, Level.CONTENT: -1.0}
    engine = IndexEngine()
    for item in fast_items:
        twin = EmbeddedItem(
            dataclasses.replace(item.concepts, item_id=f"{item.item_id}-twin"),
            LevelEmbeddings(f"{item.item_id}-twin", item.embeddings.vectors),
        )
        engine.assign([item, twin])
        exp = engine.explain(item.item_id, twin.item_id)
        assert all(-1.0 <= s.similarity <= 1.0 for s in exp.per_level)
        assert all(-1.0 <= v <= 1.0 for v in engine.assign([twin])[0].per_level.values())


@pytest.mark.parametrize("text", ["one\nsentence here.\n\nSecond\n  paragraph."])
def test_unwrap_paragraphs(text: str) -> None:
    assert unwrap_paragraphs(text) == "one sentence here.\n\nSecond paragraph."
