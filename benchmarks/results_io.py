"""The one way a benchmark script publishes its result: a markdown file and the same text on
stdout (so a run in a terminal shows what was written)."""

from __future__ import annotations

from pathlib import Path


def write_markdown(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines)
    path.write_text(text)
    print(text)
