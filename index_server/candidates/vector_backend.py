"""What a vector index backend is: the protocol candidate generation searches through, and
the check every backend makes of the vectors it is given.

Its own module so that the backends (``vector_index.FaissIndex``,
``torch_index.TorchExactIndex``) and the factory that picks one (``vector_index.create_index``)
import it without importing each other.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from fitrep.domain import F32, InvalidInput


class VectorIndex(Protocol):
    """What candidate generation needs of a backend."""

    @property
    def ntotal(self) -> int: ...

    def describe(self) -> str: ...

    def rebuild(self, vectors: F32) -> None: ...

    def add(self, vectors: F32) -> None: ...

    def search(self, queries: F32, k: int) -> tuple[F32, np.ndarray]: ...

    def serialize(self) -> bytes: ...

    def deserialize(self, data: bytes) -> None: ...


def check_vectors(vectors: np.ndarray, dim: int) -> F32:
    """float32, C-contiguous, shape (n, dim), or InvalidInput naming the shape."""
    if vectors.ndim != 2 or vectors.shape[1] != dim:
        raise InvalidInput("vectors", f"expected shape (n, {dim}), got {vectors.shape}")
    return np.ascontiguousarray(vectors, dtype=np.float32)
