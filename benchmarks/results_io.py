"""The one way a benchmark script publishes its result: a markdown file and the same text on
stdout (so a run in a terminal shows what was written)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def write_markdown(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines)
    path.write_text(text)
    print(text)


def git_commit() -> str:
    """The checkout's short commit, with "(uncommitted changes)" when tracked files other than
    benchmarks/results/ differ: what a result row was measured on."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            # results files are what benchmarks write: not a change to what they measure
            [
                "git",
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ".",
                ":!benchmarks/results",
            ],
            cwd=root,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return head + (" (uncommitted changes)" if dirty else "")
