"""The idf of a title token: one formula for the per-pair verifier, the index's document
frequencies and the chunk-wide features, so the three can never disagree.

Smoothed as scikit-learn's ``TfidfVectorizer(smooth_idf=True)``: ``log((docs + 1) /
(df + 1)) + 1``, where ``docs`` counts the items seen before and including the deciding one
(learned from each input itself: a brand on every item of a one-brand catalogue carries no
evidence, a model code two items share carries a lot).
"""

from __future__ import annotations

import math
from typing import overload

import numpy as np


@overload
def idf(docs: int, df: int) -> float: ...


@overload
def idf(docs: np.ndarray, df: np.ndarray) -> np.ndarray: ...


def idf(docs: int | np.ndarray, df: int | np.ndarray) -> float | np.ndarray:
    """Scalars (one token) or arrays (a chunk's tokens, each with its deciding row's counts)."""
    if isinstance(docs, np.ndarray) or isinstance(df, np.ndarray):
        return np.log((docs + 1) / (df + 1)) + 1.0
    return math.log((docs + 1) / (df + 1)) + 1.0


def idf_weight(docs: int | np.ndarray, df: int | np.ndarray) -> float | np.ndarray:
    """A token's weight in the idf overlaps: idf squared (binary tf, both sides weighted)."""
    return idf(docs, df) ** 2  # type: ignore[arg-type]
