"""The candidate pairs of a run worth asking about, read through the index's read API.

Retrieval already proposed every pair the run judged (each item's nearest neighbours), and the
index can explain any pair: level cosines, evidence, gates, clusters and the verifier's
feature row. So the pool is ``query`` (neighbours of every item) narrowed to the pairs nearest
the threshold, then ``explain`` of each: nothing is recomputed here, and a verifier whose
features change is followed without a change to this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from fitrep.domain import EmbeddedItem, Explanation, Neighbor, NotFound
from fitrep.labelling.labels import pair_key
from fitrep.labelling.selection import margins
from index_server.scoring.calibration_layer import logits

Progress = Callable[[str, int, int], None]
_QUERY_BATCH = 256


class PairReader(Protocol):
    """The index's read side (``IndexEngine``) as the pool uses it."""

    def query(
        self, item_ids: Sequence[str] = (), items: Sequence[EmbeddedItem] = (), k: int = 10
    ) -> list[tuple[str, list[Neighbor]]]: ...

    def explain(self, item_a: str, item_b: str) -> Explanation: ...


def groups_of(exp: Explanation) -> tuple[str, ...]:
    """What a batch should not ask about twice: the pair's two clusters and two items."""
    return (
        f"cluster:{exp.cluster_a}" if exp.cluster_a else f"item:{exp.item_a}",
        f"cluster:{exp.cluster_b}" if exp.cluster_b else f"item:{exp.item_b}",
        f"item:{exp.item_a}",
        f"item:{exp.item_b}",
    )


@dataclass
class CandidatePool:
    """Explained pairs (scores under the base calibration) and what the loop reads of them."""

    pairs: list[Explanation] = field(default_factory=list)
    base_logits: np.ndarray = field(default_factory=lambda: np.zeros(0))
    rows: list[dict[str, float]] = field(default_factory=list)
    groups: list[tuple[str, ...]] = field(default_factory=list)
    position: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, exp: Explanation) -> int:
        """Index of the pair ``exp`` explains, added when new."""
        key = pair_key(exp.item_a, exp.item_b)
        if key not in self.position:
            self.position[key] = len(self.pairs)
            self.pairs.append(exp)
            self.base_logits = np.append(self.base_logits, logits([exp.score]))
            self.rows.append(dict(exp.features))
            self.groups.append(groups_of(exp))
        return self.position[key]

    def __len__(self) -> int:
        return len(self.pairs)


def gather(
    reader: PairReader,
    item_ids: Sequence[str],
    threshold: float,
    neighbours: int = 5,
    size: int = 1000,
    include: Iterable[tuple[str, str]] = (),
    progress: Progress | None = None,
) -> CandidatePool:
    """The ``size`` retrieved pairs (``neighbours`` per item) closest to ``threshold``,
    explained, plus the pairs of ``include`` (e.g. those already labelled) that the index
    still holds."""
    found: dict[tuple[str, str], float] = {}
    for start in range(0, len(item_ids), _QUERY_BATCH):
        for qid, near in reader.query(item_ids[start : start + _QUERY_BATCH], k=neighbours):
            for nb in near:
                found.setdefault(pair_key(qid, nb.item_id), nb.similarity)
        if progress:
            progress("neighbours", min(start + _QUERY_BATCH, len(item_ids)), len(item_ids))
    keys = list(found)
    margin = margins(logits([found[k] for k in keys]), threshold)
    chosen = [keys[i] for i in np.argsort(margin, kind="stable")[:size].tolist()]
    pool = CandidatePool()
    for n, (a, b) in enumerate(chosen, start=1):
        if not vetoed(exp := reader.explain(a, b)):
            pool.add(exp)
        if progress and (n % 100 == 0 or n == len(chosen)):
            progress("explain", n, len(chosen))
    for a, b in include:
        if (a, b) not in pool.position:
            try:
                exp = reader.explain(a, b)
            except NotFound:
                continue  # an item no longer in this run: its label stays in the file, unused
            if not vetoed(exp):
                pool.add(exp)
    return pool


def vetoed(exp: Explanation) -> bool:
    """A hard gate (another size, colour, flavour...) decided the pair: no label can change
    that, so the loop never asks about it nor fits on it."""
    return any(g.fired and g.hard for g in exp.gates)
