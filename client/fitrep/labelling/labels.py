"""The label file: one JSON line per answer, in the order given, saved as it goes.

``{"item_a": "...", "item_b": "...", "label": 1}``: 1 duplicate, 0 not, null skipped. A
plain file a person can read, edit or feed to other tools, and the whole state of a labelling
session: restarting replays it (the next pair shown is the one that would have come next),
and undo drops its last line. Answers are appended and flushed to disk one by one, so a kill
loses at most the answer being written; a torn last line is ignored on the next start.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fitrep.domain import InvalidInput
from index_server.storage.atomic import atomic_write_text


@dataclass(frozen=True)
class Answer:
    """One answer about the pair (item_a, item_b); ``label`` None: skipped."""

    item_a: str
    item_b: str
    label: int | None

    @property
    def key(self) -> tuple[str, str]:
        return pair_key(self.item_a, self.item_b)

    def to_line(self) -> str:
        return json.dumps(
            {"item_a": self.item_a, "item_b": self.item_b, "label": self.label},
            ensure_ascii=False,
        )


def pair_key(a: str, b: str) -> tuple[str, str]:
    """The unordered pair: (a, b) and (b, a) are one question."""
    return (a, b) if a <= b else (b, a)


def _parse(line: str, where: str) -> Answer:
    try:
        data = json.loads(line)
        label = data["label"]
        if label not in (0, 1, None):
            raise ValueError(f"label {label!r} is not 0, 1 or null")
        return Answer(str(data["item_a"]), str(data["item_b"]), label)
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(where, f"not a label line ({exc})") from None


class LabelLog:
    """The answers of ``path`` (read at start) and every answer given since."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.answers: list[Answer] = []
        self.torn = False  # the last line was half written (a kill while saving)
        if path.exists():
            lines = path.read_text(encoding="utf-8").splitlines()
            for lineno, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    self.answers.append(_parse(line, f"{path}:{lineno}"))
                except InvalidInput:
                    if lineno < len(lines):
                        raise
                    self.torn = True
            if self.torn:
                self._rewrite()

    def __len__(self) -> int:
        return len(self.answers)

    def __iter__(self) -> Iterator[Answer]:
        return iter(self.answers)

    def add(self, answer: Answer) -> None:
        """Append ``answer`` and flush it to disk before returning."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(answer.to_line() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.answers.append(answer)

    def undo(self) -> Answer | None:
        """Drop the last answer (None when there is none)."""
        if not self.answers:
            return None
        last = self.answers.pop()
        self._rewrite()
        return last

    def labelled(self) -> list[Answer]:
        """The answers with a label (skips left out), in order; the latest answer about a
        pair wins when a hand-edited file holds it twice."""
        latest = {a.key: a for a in self.answers}
        return [a for a in self.answers if a.label is not None and latest[a.key] is a]

    def decided(self) -> set[tuple[str, str]]:
        """Pairs answered (labelled or skipped): not shown again."""
        return {a.key for a in self.answers}

    def _rewrite(self) -> None:
        atomic_write_text(self.path, "".join(a.to_line() + "\n" for a in self.answers))
