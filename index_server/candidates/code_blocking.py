"""Blocking on model codes: a second candidate channel beside the vector search.

Embeddings barely tell "me5085y" from "me5086y", and two offers of one product may sit far
apart in the vector space when one title is long; items sharing a title code are proposed
too. Rows are appended in order, so each code's row list is sorted.
"""

from __future__ import annotations

import bisect
from collections.abc import Container

from fitrep.domain import Anchors

RECENT = 64  # of the rows sharing a code, only the most recent ones are proposed


class CodeBlocks:
    """model code -> rows that mention it (title codes and codes anywhere)."""

    def __init__(self) -> None:
        self._rows: dict[str, list[int]] = {}
        # the title codes of each row that has some: ``earlier`` reads them without the
        # row's anchors (unpacking them was 4.6 s of a 100k build)
        self._title: dict[int, tuple[str, ...]] = {}

    def add(self, row: int, anchors: Anchors) -> None:
        for code in dict.fromkeys([*anchors.code, *(anchors.code_any or ())]):
            self._rows.setdefault(code, []).append(row)
        if anchors.code:
            self._title[row] = anchors.code

    def earlier(self, row: int, taken: set[int], deleted: Container[int]) -> list[int]:
        """Earlier live rows sharing one of ``row``'s title codes (``row`` added), not in
        ``taken`` (which grows with them): per code the most recent ``RECENT``, newest
        first."""
        found: list[int] = []
        for code in self._title.get(row, ()):
            rows = self._rows.get(code, [])
            end = bisect.bisect_left(rows, row)
            for other in reversed(rows[max(0, end - RECENT) : end]):
                if other not in taken and other not in deleted:
                    taken.add(other)
                    found.append(other)
        return found
