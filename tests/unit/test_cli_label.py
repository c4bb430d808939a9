"""`fitrep label RUN` on a real dedup run, driven by scripted answers on stdin."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fitrep.cli import app
from fitrep.labelling.labels import LabelLog
from fitrep.labelling.pool import gather
from fitrep.labelling.run import open_run
from fitrep.labelling.session import LabelSession
from typer.testing import CliRunner

from index_server.config import IndexConfig
from index_server.engine import IndexEngine
from index_server.scoring.calibration import Calibration
from tests.conftest import CATALOGUE


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One dedup run of the shared test catalogue (the input stays beside it)."""
    root = tmp_path_factory.mktemp("label")
    rows = [
        {"id": it.id, "title": it.title, "description": it.text, **it.attributes}
        for it in CATALOGUE
    ]
    (root / "cat.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ["dedup", str(root / "cat.jsonl"), "--out", str(root / "run"), "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return root / "run"


def _label(run, answers, *extra):
    args = ["label", str(run), "--no-progress", "--every", "2", "--neighbours", "4", *extra]
    return CliRunner().invoke(app, args, input=answers)


def test_label_saves_answers_refits_and_resumes(run):
    result = _label(run, "y\nn\ns\nu\nn\nq\n")
    assert result.exit_code == 0, result.output
    assert "cluster" in result.output and "primary" in result.output  # the pair side by side
    assert "p(duplicate)" in result.output and "refitted on 2 labels" in result.output
    labels = [a.label for a in LabelLog(run / "labels.jsonl")]
    assert labels == [1, 0, 0]
    cal = Calibration.load(run / "label-calibration.json")
    assert cal.notes["labels"] == 2 and cal.notes["layered_on"] == "shipped"

    again = _label(run, "q\n")
    assert again.exit_code == 0, again.output
    assert "3 labels (1 duplicates)" in again.output
    first_shown = again.output.split("┃")[2:4]  # the two item ids heading the table
    labelled = {a.key for a in LabelLog(run / "labels.jsonl")}
    assert tuple(sorted(s.strip() for s in first_shown)) not in labelled


def test_the_written_calibration_scores_as_the_session_does(run):
    """What `fitrep dedup --calibration FILE` would apply is the model the loop fitted."""
    _label(run, "n\ny\nq\n")
    folder = open_run(run)
    engine = IndexEngine(run / "index", IndexConfig(calibration=folder.base_path))
    try:
        log = LabelLog(run / "labels.jsonl")
        pool = gather(engine, folder.item_ids, folder.base.threshold, 4, 50, log.decided())
        session = LabelSession(pool, log, folder.base, every=2)
        expected = session.probabilities()
    finally:
        engine.close()
    layered = IndexEngine(run / "index", IndexConfig(calibration=run / "label-calibration.json"))
    try:
        got = [layered.explain(e.item_a, e.item_b).score for e in pool.pairs]
    finally:
        layered.close()
    bad = [(g, e) for g, e in zip(got, expected, strict=True) if abs(g - e) > 1e-4]
    assert np.allclose(got, expected, atol=1e-4), bad


def test_a_rerun_with_the_calibration_keeps_the_labels(run, tmp_path):
    _label(run, "y\nn\nq\n")
    before = (run / "labels.jsonl").read_text()
    manifest = json.loads((run / "run.json").read_text())
    cal = run / "label-calibration.json"
    args = ["dedup", manifest["input"], "--calibration", str(cal), "--out", str(run)]
    result = CliRunner().invoke(app, [*args, "--no-progress"])
    assert result.exit_code == 0, result.output
    assert (run / "labels.jsonl").read_text() == before and cal.is_file()
    # labelling the rerun layers on the shipped model again, not on the layered one
    assert open_run(run).base_path is None
    again = _label(run, "q\n")
    assert again.exit_code == 0, again.output


def test_not_a_run_is_one_clear_line(tmp_path):
    result = CliRunner().invoke(app, ["label", str(tmp_path), "--no-progress"], input="q\n")
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "is not a dedup run" in text and "Traceback" not in text
