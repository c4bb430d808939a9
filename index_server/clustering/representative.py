"""Which member stands for a cluster: its representative, under a policy the operator picks.

Policies (``IndexConfig.representative``, ``fitrep dedup --representative``):

- ``first`` (default): the member that arrived first.
- ``most-complete``: the most filled fields (title, text, image, attributes), then the
  largest image.
- ``column:NAME``: the highest number in the user column NAME (a quality score, a bid);
  members without one rank below every member with one.

Ties go to the member whose item arrived first (an item that changed keeps the rank of its
first version), so a representative changes only when a strictly better member arrives
under the policy, or when it leaves. The representative is a pure function of the members,
their profiles and arrival ranks — all persisted with the rows — so it needs no state of its
own that could drift from the clusters, and survives restarts and rolled-back batches.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fitrep.domain import InvalidInput, ItemProfile

POLICIES = ("first", "most-complete", "column:NAME")
ITEM_FIELDS = ("id", "title", "text", "description", "image")  # fitrep.readers' fields
_IMAGE_SCALE = float(2**40)  # pixels below this (1e12) never reach the next filled field


@dataclass(frozen=True)
class RepresentativePolicy:
    """``kind`` is "first", "most-complete" or "column" (then ``column`` names it)."""

    kind: str = "first"
    column: str = ""

    @classmethod
    def parse(cls, text: str, where: str = "representative") -> RepresentativePolicy:
        spec = text.strip()
        if spec in ("first", "most-complete"):
            return cls(spec)
        name = spec.removeprefix("column:").strip().lower()
        if spec.startswith("column:") and name in ITEM_FIELDS:
            # never a column: the reader takes them as the item's fields, never as numbers
            raise InvalidInput(where, f"{name!r} is an item field, not a column of numbers")
        if spec.startswith("column:") and name:
            return cls("column", name)
        raise InvalidInput(where, f"{text!r} is not one of {', '.join(POLICIES)}")

    def __str__(self) -> str:
        return f"column:{self.column}" if self.kind == "column" else self.kind

    def key(self, profile: ItemProfile) -> float:
        """How good a member is under this policy: higher is better, equal keys tie."""
        if self.kind == "most-complete":
            return profile.filled_fields * _IMAGE_SCALE + min(profile.image_pixels, 2**40 - 1)
        if self.kind == "column":
            value = profile.numbers.get(self.column)
            return float(value) if value is not None and math.isfinite(value) else -math.inf
        return 0.0


class Representatives:
    """Each row's key under the policy and the row its item first arrived at; ``choose``
    picks a cluster's representative from its member rows."""

    def __init__(self, policy: RepresentativePolicy) -> None:
        self.policy = policy
        self.keys: list[float] = []  # by row
        self.since: dict[int, int] = {}  # row -> its item's first row, for rows of changed items

    def append(self, profile: ItemProfile, since: int | None = None) -> int:
        """Add the next row; ``since``: the first row of its item when it replaces an older
        version. Returns the row."""
        row = len(self.keys)
        self.keys.append(self.policy.key(profile))
        if since is not None and since != row:
            self.since[row] = since
        return row

    def truncate(self, n: int) -> None:
        """Forget rows from ``n`` on (a batch that was not committed)."""
        del self.keys[n:]
        self.since = {r: s for r, s in self.since.items() if r < n}

    def arrival(self, row: int) -> int:
        return self.since.get(row, row)

    def choose(self, members: Sequence[int]) -> int:
        """The best member: highest key, then earliest arrival; -1 for no members."""
        if not members:
            return -1
        keys, arrival = self.keys, self.arrival
        return min(members, key=lambda r: (-keys[r], arrival(r)))


def changed(before: Mapping[int, int], after: Mapping[int, int]) -> list[tuple[int, int, int]]:
    """(cluster, old row, new row) for every cluster whose representative differs; -1 for
    none (a cluster that opened or emptied)."""
    out = []
    for cluster in sorted(set(before) | set(after)):
        old, new = before.get(cluster, -1), after.get(cluster, -1)
        if old != new:
            out.append((cluster, old, new))
    return out
