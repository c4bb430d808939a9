"""What the join rule decides for a row (``Decision``) and what it asks of its caller: pair
probabilities (``ScoreFn``) and variant conflicts (``ConflictFn``). Shared by ``join_rule``,
``batch_join`` (the rule over a batch, compiled) and the reference that decides one row at a
time (``tests/join_reference.py``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

# (row, rows) -> same-item probabilities, or (same-item, family) probabilities
ScoreFn = Callable[[int, Sequence[int]], "np.ndarray | tuple[np.ndarray, np.ndarray]"]
# A family is looser than a cluster: its first member need only score half the threshold
# with the variant gates relaxed (siblings differ in more words than re-listings do).
FAMILY_REP = 0.5
ConflictFn = Callable[[int, Sequence[int]], np.ndarray]  # (row, rows) -> (m,) bool


@dataclass
class Decision:
    row: int
    cluster: int
    nearest_row: int  # -1 when a new cluster was opened
    probability: float  # agreement with the joined cluster (mean over checked members)
    best_pair: float  # the best single-pair probability behind the decision
    is_new: bool
    family: int = 0  # the family's number (the cluster that founded it)
