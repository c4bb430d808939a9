"""Which pairs a person labels next: uncertainty sampling, spread over clusters.

A label teaches the most where the model is least sure: the pair whose logit lies closest
to the threshold's (uncertainty sampling). Taken alone that rule spends a whole batch on one
big cluster whose members all sit near the boundary, and those ten labels say one thing.
So within a batch every pair must touch groups (clusters, items) no earlier pair of the
batch touched; when the diverse pairs run out, the most uncertain of the rest fill in.
Measured against random picks in ``benchmarks/label.py``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import numpy.typing as npt


def margins(logits: npt.ArrayLike, threshold: float) -> np.ndarray:
    """|logit - logit(threshold)| per pair, shape (n,): 0 is the most uncertain."""
    t = min(max(threshold, 1e-7), 1 - 1e-7)
    return np.abs(np.asarray(logits, np.float64) - np.log(t / (1 - t)))


def select(
    margin: npt.ArrayLike,
    groups: Sequence[Collection[str]],
    k: int,
    exclude: Collection[int] = (),
    blocked: Collection[str] = (),
) -> list[int]:
    """Up to ``k`` pair indices, most uncertain first (smallest ``margin``, ties by index),
    none in ``exclude`` (pairs already decided), each touching none of the ``groups`` of the
    pairs chosen before it nor ``blocked`` (groups of the current batch's decided pairs)."""
    order = np.argsort(np.asarray(margin, np.float64), kind="stable").tolist()
    done = set(exclude)
    used = set(blocked)
    chosen: list[int] = []
    for i in order:
        if len(chosen) == k:
            return chosen
        if i in done or used.intersection(groups[i]):
            continue
        chosen.append(i)
        used.update(groups[i])
    taken = done | set(chosen)
    rest = [i for i in order if i not in taken]
    return chosen + rest[: k - len(chosen)]
