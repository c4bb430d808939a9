"""``fitrep dedup --engine``: the engine choice, and one clear line when Ray is not installed."""

from __future__ import annotations

import sys

import pytest
from fitrep.cli import app
from fitrep.engines import RAY_EXTRA_HINT
from typer.testing import CliRunner


def _catalogue(tmp_path):
    path = tmp_path / "cat.jsonl"
    path.write_text('{"id": "a", "title": "Canon PIXMA MX700 printer"}\n', encoding="utf-8")
    return path


def test_engine_ray_without_the_extra_is_one_clear_line(tmp_path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as when not installed
    monkeypatch.delitem(sys.modules, "fitrep.engines.ray_engine", raising=False)
    result = CliRunner().invoke(
        app,
        ["dedup", str(_catalogue(tmp_path)), "--out", str(tmp_path / "run"), "--engine", "ray"],
    )
    assert result.exit_code == 2
    assert RAY_EXTRA_HINT in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_unknown_engine_names_the_choices(tmp_path):
    result = CliRunner().invoke(
        app,
        ["dedup", str(_catalogue(tmp_path)), "--out", str(tmp_path / "run"), "--engine", "spark"],
    )
    assert result.exit_code == 2
    assert "--engine" in result.output and "embedded" in result.output


def test_ocr_on_without_the_extra_is_one_clear_line(tmp_path, monkeypatch: pytest.MonkeyPatch):
    from mllm_server.chie import ocr

    monkeypatch.setattr(ocr, "ocr_available", lambda: False)
    args = ["dedup", str(_catalogue(tmp_path)), "--out", str(tmp_path / "run"), "--no-progress"]
    result = CliRunner().invoke(app, [*args, "--ocr", "on"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert ocr.OCR_EXTRA_HINT in " ".join(result.output.split())
    assert not (tmp_path / "run").exists()
    unknown = CliRunner().invoke(app, [*args, "--ocr", "sometimes"])
    assert unknown.exit_code == 2 and "auto, on, off" in unknown.output
    # auto without the extra: the run goes on without reading pictures
    assert CliRunner().invoke(app, args).exit_code == 0
