"""``fitrep --version`` prints the package version, the same as pyproject's."""

from __future__ import annotations

import re
from pathlib import Path

import fitrep
from fitrep.cli import app
from typer.testing import CliRunner

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_version_prints_and_exits_zero() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output == f"fitrep {fitrep.__version__}\n"


def test_version_is_pyprojects() -> None:
    match = re.search(r'^version = "([^"]+)"', PYPROJECT.read_text(encoding="utf-8"), re.M)
    assert match and match[1] == fitrep.__version__
